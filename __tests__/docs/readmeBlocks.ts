import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');

function tsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]!);
}

/** The README's ```ts code block that contains `marker`; fails the test if there is not exactly one. */
export function readmeBlock(marker: string): string {
  const found = tsBlocks(readme).filter((block) => block.includes(marker));
  if (found.length !== 1) throw new Error(`README.md has ${found.length} ts blocks containing ${JSON.stringify(marker)}, expected 1.`);
  return found[0]!;
}

/** Every ```ts code block of the README section under the `## ` heading `heading`; throws if there is no such section. */
export function readmeSectionBlocks(heading: string): string[] {
  const start = readme.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section ${JSON.stringify(`## ${heading}`)}.`);
  const end = readme.indexOf('\n## ', start + 1);
  return tsBlocks(readme.slice(start, end < 0 ? undefined : end));
}

const ownModules: Record<string, string> = {
  'express-async-stream': '../../src/index',
  'express-async-stream/testing': '../../src/testing/index',
};

/**
 * Runs a README block as a CommonJS module whose `express-async-stream` (and its `/testing`) is this
 * checkout's source, with the free variables it uses (`app`, `it`…) given by the test.
 */
export function runReadmeBlock(block: string, globals: Record<string, unknown>): void {
  const { outputText } = ts.transpileModule(block, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  const requireFromBlock = (id: string): unknown => require(ownModules[id] ?? id);
  const names = Object.keys(globals);
  new Function('require', 'exports', ...names, outputText)(requireFromBlock, {}, ...names.map((name) => globals[name]));
}
