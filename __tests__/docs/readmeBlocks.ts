import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

/** The README's ```ts code block that contains `marker`; fails the test if there is not exactly one. */
export function readmeBlock(marker: string): string {
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
  const found = blocks.filter((block) => block.includes(marker));
  if (found.length !== 1) throw new Error(`README.md has ${found.length} ts blocks containing ${JSON.stringify(marker)}, expected 1.`);
  return found[0]!;
}

/**
 * Runs a README block as a CommonJS module whose `express-async-stream` is this checkout's source,
 * with the free variables it uses (`app`…) given by the test.
 */
export function runReadmeBlock(block: string, globals: Record<string, unknown>): void {
  const { outputText } = ts.transpileModule(block, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
  const requireFromBlock = (id: string): unknown => (id === 'express-async-stream' ? require('../../src/index') : require(id));
  const names = Object.keys(globals);
  new Function('require', 'exports', ...names, outputText)(requireFromBlock, {}, ...names.map((name) => globals[name]));
}
