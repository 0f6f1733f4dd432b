import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** One fenced code block of a Markdown page: its language tag (`ts`, `sh`, `nginx`…) and its text. */
export interface CodeBlock {
  readonly lang: string;
  readonly code: string;
}

/**
 * A Markdown page of this repository (README.md, a page of docs/) whose code blocks a test runs. Each
 * lookup marks the blocks it returns as used; `expectEveryBlockUsed()`, in the test file's `afterAll`,
 * fails for any block no test looked up, so a snippet added to the docs without a test fails the suite.
 */
export interface DocPage {
  /** The one code block that contains `marker`; throws unless there is exactly one. */
  block(marker: string): string;
  /** Every code block of the section under the heading `heading` (any level, text after the #s). */
  section(heading: string): string[];
  /** Every code block of the page, each marked used. */
  all(): CodeBlock[];
  /** Every code block in language `lang` (`sh`, `ts`…), each marked used; may be none. */
  blocks(lang: string): string[];
  /** Fails, naming each block's first line, if some block of the page was never looked up. */
  expectEveryBlockUsed(): void;
}

const root = path.join(__dirname, '..', '..');

function codeBlocks(markdown: string): { lang: string; code: string; offset: number }[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((match) => ({
    lang: match[1]!,
    code: match[2]!,
    offset: match.index,
  }));
}

/** The page at `relativePath` from the repository root, e.g. `docPage('docs/recipes.md')`. */
export function docPage(relativePath: string): DocPage {
  const markdown = fs.readFileSync(path.join(root, relativePath), 'utf8');
  const blocks = codeBlocks(markdown);
  const used = new Set<number>();
  const use = (found: typeof blocks): string[] => {
    for (const block of found) used.add(block.offset);
    return found.map((block) => block.code);
  };
  return {
    block(marker) {
      const found = blocks.filter((block) => block.code.includes(marker));
      if (found.length !== 1)
        throw new Error(
          `${relativePath} has ${found.length} code blocks containing ${JSON.stringify(marker)}, expected 1.`,
        );
      return use(found)[0]!;
    },
    section(heading) {
      const match = new RegExp(`^(#+) ${heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm').exec(markdown);
      if (!match) throw new Error(`${relativePath} has no heading ${JSON.stringify(heading)}.`);
      const next = new RegExp(`^#{1,${match[1]!.length}} `, 'gm');
      next.lastIndex = match.index + match[0].length;
      const end = next.exec(markdown)?.index ?? markdown.length;
      return use(blocks.filter((block) => block.offset > match.index && block.offset < end));
    },
    all() {
      use(blocks);
      return blocks.map(({ lang, code }) => ({ lang, code }));
    },
    blocks(lang) {
      return use(blocks.filter((block) => block.lang === lang));
    },
    expectEveryBlockUsed() {
      const unused = blocks
        .filter((block) => !used.has(block.offset))
        .map((block) => `\`\`\`${block.lang} ${block.code.split('\n')[0]}`);
      expect(unused).toEqual([]);
    },
  };
}

const ownModules: Record<string, string> = {
  'express-async-stream': '../../src/index',
  'express-async-stream/redis': '../../src/redis/index',
  'express-async-stream/testing': '../../src/testing/index',
};

/**
 * Runs a ```ts block as a CommonJS module whose `express-async-stream` (and its `/testing`) is this
 * checkout's source, with the free variables it uses (`app`, `it`…) given by the test. Returns its exports.
 */
export function runBlock(block: string, globals: Record<string, unknown> = {}): Record<string, unknown> {
  const { outputText } = ts.transpileModule(block, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  // The block's imports, resolved here so that `express-async-stream` is this checkout's source.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const requireFromBlock = (id: string): unknown => require(ownModules[id] ?? id);
  const names = Object.keys(globals);
  const exports: Record<string, unknown> = {};
  // A module scope for the transpiled block, whose free variables are the test's `globals`.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval, @typescript-eslint/no-unsafe-call
  new Function('require', 'exports', ...names, outputText)(
    requireFromBlock,
    exports,
    ...names.map((name) => globals[name]),
  );
  return exports;
}
