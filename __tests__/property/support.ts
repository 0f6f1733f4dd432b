import { inspect } from 'node:util';
import type { ErrorRequestHandler, Express } from 'express';
import fc from 'fast-check';
import { openStream, type Outcome } from '../helpers/client.js';

/**
 * fast-check parameters for one property. A failure prints its seed and path; to replay it, run
 * `FC_SEED=<seed> FC_PATH=<path> npx jest __tests__/property/<file>`. Without them every run draws
 * new values (Date.now() seed), so the suite keeps exploring.
 */
export function runs<T>(numRuns: number): fc.Parameters<T> {
  const seed = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
  const path = process.env.FC_PATH;
  return { numRuns, ...(seed === undefined ? {} : { seed }), ...(path === undefined ? {} : { path }) };
}

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
    const name = (value as object).constructor?.name;
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
    fc.constantFrom(
      () => new Date(0),
      () => /re/g,
      () => new Error('boom'),
      () => new Widget(),
      () => new WeakMap(),
      () => new Number(7),
      () => new Boolean(false),
    ).map((make) => make()),
  )
  .map((value) => ({ value, name: nameOf(value) }));

/** What a client saw of one response. */
export interface Received {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  readonly outcome: Outcome;
}

/** GETs `path` over a fresh connection and reads the whole body, however it ends. */
export async function fetchAll(baseUrl: string, path: string): Promise<Received> {
  const client = await openStream(baseUrl, path);
  const body = await client.rest();
  return { status: client.status, headers: client.headers, body, outcome: await client.outcome };
}

/**
 * Appends an error handler that records the errors passed to `next(err)`, by request URL, and
 * hands them on to Express's default handler (a 500, or a cut connection once streaming started).
 */
export function recordErrorsByUrl(app: Express): Map<string, unknown[]> {
  const errors = new Map<string, unknown[]>();
  const record: ErrorRequestHandler = (error, req, _res, next) => {
    errors.set(req.originalUrl, [...(errors.get(req.originalUrl) ?? []), error]);
    next(error);
  };
  app.use(record);
  return errors;
}

/** A fresh path per run, so that an error is attributed to the request that caused it. */
export function pathFor(run: number): string {
  return `/?run=${run}`;
}
