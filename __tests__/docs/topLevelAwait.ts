/**
 * A block with top-level `await` (`await createClient(…).connect()`, `for await`), which the
 * CommonJS module of `runBlock()` cannot run, made into one that runs every statement as written,
 * in order, inside an async function: the imports stay at the top, `export` is dropped from the
 * declarations, and the module exports `done`, a promise of the top-level values named in `names`
 * once the last statement has run. The block's imports are one line each.
 */
export function awaitingBlock(block: string, names: readonly string[]): string {
  const lines = block.trimEnd().split('\n');
  const isImport = (line: string): boolean => line.startsWith('import ');
  const body = lines.filter((line) => !isImport(line)).map((line) => line.replace(/^export (const|let) /, '$1 '));
  return [
    ...lines.filter(isImport),
    'export const done = (async () => {',
    ...body,
    `return { ${names.join(', ')} };`,
    '})();',
  ].join('\n');
}
