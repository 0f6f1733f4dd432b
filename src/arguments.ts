// Step: route definition. Checks a factory's arguments once, and names values in every error message.
import { inspect } from 'node:util';

/**
 * Names a value for an error message: its type, then a short preview, e.g. `number (42)`,
 * `function (getRows)`, `Map object`, `array of length 4 ([ 'a', 1, 2, 3 ])`.
 */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function (${value.name || 'anonymous'})`;
  if (Array.isArray(value)) return `array of length ${value.length} (${preview(value)})`;
  if (typeof value === 'object') {
    const name = (value.constructor as { name?: string } | undefined)?.name;
    return `${name && name !== 'Object' ? `${name} object` : 'object'} (${preview(value)})`;
  }
  return `${typeof value} (${preview(value)})`;
}

function preview(value: unknown): string {
  return inspect(value, { depth: 1, breakLength: Infinity, maxArrayLength: 4, maxStringLength: 40 });
}

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

/** How one option is checked, and what it is when left out (`undefined`). */
export interface OptionRule<T> {
  /** Returns the value to use; throws a `TypeError` or `RangeError` whose message starts with `label`. */
  readonly check: (value: unknown, label: string) => T;
  readonly default: T;
}

/**
 * A factory's options, one rule per option of its public type `O`. Written with `satisfies
 * OptionTable<O>`, the compiler rejects a table that misses an option of `O` or has one `O` lacks,
 * so the type users see and the keys the factory accepts cannot drift apart.
 */
export type OptionTable<O> = { readonly [K in keyof O]-?: OptionRule<unknown> };

/** The checked options of a table: each rule's value, or its default. */
export type ResolvedOptions<T> = { readonly [K in keyof T]: T[K] extends OptionRule<infer V> ? V : never };

/**
 * Checks the options of a function against its table: a plain object whose keys are all known (a
 * misspelt option fails at once instead of being ignored), each value by its rule.
 *
 * @param call - the call as messages show it, e.g. `sse(handler, options)`.
 * @param example - a call with options, shown in the message, e.g. `sse(handler, { keepAlive: 30_000 })`.
 * @throws TypeError naming the value, or the unknown key and the known ones; what a rule throws.
 */
export function resolveOptions<T extends Record<string, OptionRule<unknown>>>(
  call: string,
  options: unknown,
  table: T,
  example: string,
): ResolvedOptions<T> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      `${call}: options must be an object, but received ${describeValue(options)}. ` +
        `Pass them by name, e.g. ${example}.`,
    );
  }
  const known = Object.keys(table);
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw unknownOptionError(call, key, known);
  }
  const name = call.slice(0, call.indexOf('('));
  const resolved: Record<string, unknown> = {};
  for (const [key, rule] of Object.entries(table)) {
    const value = (options as Record<string, unknown>)[key];
    resolved[key] = value === undefined ? rule.default : rule.check(value, `${name}(): \`${key}\``);
  }
  return resolved as ResolvedOptions<T>;
}

function unknownOptionError(call: string, key: string, known: readonly string[]): TypeError {
  const near = known.find((name) => name.toLowerCase() === key.toLowerCase());
  return new TypeError(
    `${call}: unknown option \`${key}\`. ` +
      `${near === undefined ? '' : `Did you mean \`${near}\`? `}The options are ${known.map((name) => `\`${name}\``).join(', ')}.`,
  );
}

// setTimeout() stores its delay in a signed 32-bit integer; larger values fire after 1 ms.
const MAX_DELAY = 2 ** 31 - 1;

/** What a delay accepts beyond 1 to 2^31-1 ms: `null` (what it means, how to ask for it), another minimum. */
export interface DelayRule {
  /** `null` and `Infinity` are accepted, as `null`: `{ means: 'no timeout', fix: 'switch the idle timeout off' }`. */
  readonly off?: { readonly means: string; readonly fix: string } | undefined;
  /** The smallest delay accepted, 0 or 1. @default 1 */
  readonly min?: 0 | 1 | undefined;
}

/**
 * Checks a delay in milliseconds: a number from 1 (or `rule.min`) to 2^31-1, or `null` when
 * `rule.off` says what it means.
 *
 * @throws TypeError when it is not a number (or null); RangeError when it is out of range.
 */
export function checkMilliseconds(value: unknown, label: string, rule: DelayRule = {}): number | null {
  const { off, min = 1 } = rule;
  if (off !== undefined && (value === null || value === Infinity)) return null;
  if (typeof value !== 'number') {
    const orNull = off === undefined ? '' : ` or null (${off.means})`;
    throw new TypeError(`${label} must be a number of milliseconds${orNull}, but received ${describeValue(value)}.`);
  }
  if (!(value >= min && value <= MAX_DELAY)) {
    throw new RangeError(
      `${label} must be between ${min} and ${MAX_DELAY} milliseconds, but received ${describeValue(value)}.` +
        (off === undefined ? '' : ` Use null to ${off.fix}.`),
    );
  }
  return value;
}

/** An option that is a delay in milliseconds, or `null` (or `Infinity`) for `off`. */
export function millisecondsOption<D extends number | null | undefined>(
  defaultValue: D,
  off: { means: string; fix: string },
): OptionRule<number | null | D> {
  return { default: defaultValue, check: (value, label) => checkMilliseconds(value, label, { off }) };
}
