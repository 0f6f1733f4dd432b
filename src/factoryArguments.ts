import { describeValue } from './describe.js';

/**
 * Checks the handler of a factory (`asyncStream`, `sse`, `ndjson`) at route definition.
 *
 * @param body - what the handler makes, as the message names it: `rows`, `events`.
 * @throws TypeError naming the value, e.g. a generator object passed instead of its function.
 */
export function assertHandler(handler: unknown, factory: string, body: string): void {
  if (typeof handler === 'function') return;
  throw new TypeError(
    `${factory}(handler) expects a function or a generator function, but received ${describeValue(handler)}. ` +
      `Pass the function itself: ${factory}(${body}), not ${factory}(${body}()).`,
  );
}

/**
 * Checks the options of a factory (`asyncStream`, `sse`, `ndjson`): a plain object whose keys are
 * all known, so that a misspelt option fails at route definition instead of being ignored.
 *
 * @param example - a call with options, shown in the message, e.g. `sse(handler, { keepAlive: 30_000 })`.
 * @throws TypeError naming the value, or the unknown key and the known ones.
 */
export function assertOptions(options: unknown, factory: string, known: readonly string[], example: string): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      `${factory}(handler, options): options must be an object, but received ${describeValue(options)}. ` +
        `Pass them by name, e.g. ${example}.`,
    );
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = known.find((name) => name.toLowerCase() === key.toLowerCase());
    throw new TypeError(
      `${factory}(handler, options): unknown option \`${key}\`. ` +
        `${near === undefined ? '' : `Did you mean \`${near}\`? `}The options are ${known.map((name) => `\`${name}\``).join(', ')}.`,
    );
  }
}
