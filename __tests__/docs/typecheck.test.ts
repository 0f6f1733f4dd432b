import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { docPage, type DocPage } from './docPage.js';

const root = path.join(__dirname, '..', '..');
const pagePaths = [
  'README.md',
  'CONTRIBUTING.md',
  ...fs
    .readdirSync(path.join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

// The free variables the blocks use, as the tests that run them provide them.
const freeVariables = `
import type { Express } from 'express';
import type { LanguageModel } from 'ai';
import type OpenAI from 'openai';
declare global {
  const app: Express;
  const openai: OpenAI;
  const model: LanguageModel;
  function prices(): AsyncIterable<string>;
  const db: { cursor(sql: string): AsyncIterable<{ id: number; name: string }> & { close(): Promise<void> } };
  function sales(): AsyncIterable<{ region: string; amount: number }>;
}
export {};
`;

/**
 * Type-checks every ```ts block of the pages, each as a module of its own (in memory, beside the
 * repository so that its node_modules resolve), with `express-async-stream` resolved to src/ through
 * `paths`: a snippet that calls the API wrongly fails here even where no test runs that path.
 */
function typeErrors(blocks: { file: string; code: string }[]): string[] {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts', 'lib.esnext.disposable.d.ts', 'lib.dom.d.ts'],
    module: ts.ModuleKind.Preserve,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    types: ['node', 'jest'],
    strict: true,
    esModuleInterop: true,
    skipLibCheck: true,
    noEmit: true,
    baseUrl: root,
    paths: {
      'express-async-stream': ['src/index.ts'],
      'express-async-stream/redis': ['src/redis/index.ts'],
      'express-async-stream/testing': ['src/testing/index.ts'],
    },
  };
  const virtual = new Map(blocks.map(({ file, code }) => [path.join(root, file), `${code}\nexport {};\n`]));
  virtual.set(path.join(root, '__doc_blocks__', 'freeVariables.ts'), freeVariables);
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (file) => virtual.has(file) || fileExists.call(host, file);
  host.readFile = (file) => virtual.get(file) ?? readFile.call(host, file);
  host.getSourceFile = (file, language, ...rest) =>
    virtual.has(file)
      ? ts.createSourceFile(file, virtual.get(file)!, language)
      : getSourceFile.call(host, file, language, ...rest);
  const program = ts.createProgram([...virtual.keys()], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((diagnostic) => diagnostic.file !== undefined && virtual.has(diagnostic.file.fileName))
    .map((diagnostic) => {
      const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start!);
      return `${path.relative(root, diagnostic.file!.fileName)}:${line + 1}: ${ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')}`;
    });
}

describe('the ts blocks of every page', () => {
  it('type-check against src/', () => {
    const blocks = pagePaths.flatMap((pagePath) => {
      // A fresh DocPage, not the one of the page's own test: this test does not mark blocks as run.
      const page: DocPage = docPage(pagePath);
      return page
        .blocks('ts')
        .map((code, index) => ({ file: `__doc_blocks__/${pagePath.replace(/\W/g, '_')}/block${index + 1}.ts`, code }));
    });
    expect(blocks.length).toBeGreaterThan(20);
    expect(typeErrors(blocks)).toEqual([]);
  });

  it('would catch a snippet that calls the API wrongly', () => {
    const wrong =
      "import { asyncStream, makeResponse } from 'express-async-stream';\nasyncStream(() => 'x', { timeot: 1 });\nmakeResponse('x').stauts = 201;";
    expect(typeErrors([{ file: '__doc_blocks__/wrong.ts', code: wrong }])).toEqual([
      expect.stringContaining("'timeot' does not exist"),
      expect.stringContaining("'stauts' does not exist"),
    ]);
  });
});
