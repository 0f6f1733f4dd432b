import { inspect } from 'node:util';
import fc from 'fast-check';

/**
 * Room for shrinking: each shrink step of a socket property is a request, and a failure must be
 * reported with its smallest counterexample rather than cut by jest's timeout.
 */
export const PROPERTY_TIMEOUT = 90_000;

/**
 * How the package names a value in an error message (`number (42)`, `Date object`, `null`),
 * written from the README's examples. For objects only the prefix is given: the preview after it
 * is Node's `inspect()` and not part of the contract.
 */
export function nameOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return `function (${value.name || 'anonymous'})`;
  if (Array.isArray(value)) return `array of length ${value.length}`;
  if (typeof value === 'object') {
    const name = value.constructor?.name;
    return name && name !== 'Object' ? `${name} object` : 'object';
  }
  return `${typeof value} (${inspect(value)})`;
}

/** A value that is not a body, with how the package must name it. */
export interface Named {
  readonly value: unknown;
  readonly name: string;
}

class Widget {
  readonly size = 3;
}

function namedFunction(name: string): () => void {
  return { [name]: () => {} }[name]!;
}

const identifier = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,8}$/);

/**
 * Values that are neither a body, a tuple nor a headers object, from each kind JavaScript has:
 * primitives other than strings, functions, and class instances without an iterator.
 * `undefined` is left out: as a handler's whole result it means "answered by itself".
 */
export const notABody: fc.Arbitrary<Named> = fc
  .oneof(
    fc.oneof(fc.integer(), fc.double(), fc.constantFrom(0, -0, NaN, Infinity, 200, 404)),
    fc.boolean(),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    identifier.map((description) => Symbol(description)),
    fc.constant(null),
    identifier.map(namedFunction),
    fc
      .constantFrom(
        () => new Date(0),
        () => /re/g,
        () => new Error('boom'),
        () => new Widget(),
        () => new WeakMap(),
        () => new Number(7),
        () => new Boolean(false),
      )
      .map((make) => make()),
  )
  .map((value) => ({ value, name: nameOf(value) }));

/** A fresh path per run, so that an error is attributed to the request that caused it. */
export function pathFor(run: number): string {
  return `/?run=${run}`;
}
