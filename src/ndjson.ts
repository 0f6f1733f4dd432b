import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { asyncStream, type AsyncStreamOptions } from './asyncStream.js';
import { describeValue } from './describe.js';
import { assertHandler, assertOptions } from './factoryArguments.js';
import { asSourceBody } from './source.js';
import { resolveTimeout } from './timeout.js';
import { callValuesHandler } from './valuesHandler.js';

type ParamsDictionary = Request['params'];
type Query = Request['query'];

/**
 * Options of {@link ndjson}: those of `asyncStream` (the idle `timeout`).
 *
 * @example
 * import { ndjson, type NdjsonOptions } from 'express-async-stream';
 * const options: NdjsonOptions = { timeout: 30_000 };
 * app.get('/rows', ndjson(rows, options));
 */
export type NdjsonOptions = AsyncStreamOptions;

/**
 * A route handler for {@link ndjson}: returns (or is a generator function yielding) JSON-serialisable
 * values, as an async or sync iterable (an array too), or returns `undefined` when it answered the
 * request itself.
 *
 * @example
 * import { ndjson, type NdjsonHandler } from 'express-async-stream';
 * const squares: NdjsonHandler = function* () {
 *   for (let n = 1; n <= 3; n++) yield { n, square: n * n };
 * };
 * app.get('/squares', ndjson(squares));
 */
export type NdjsonHandler<P = ParamsDictionary, ReqBody = any, ReqQuery = Query> = (
  req: Request<P, unknown, ReqBody, ReqQuery>,
  res: Response,
  next: NextFunction,
) => NdjsonValues | undefined | void | PromiseLike<NdjsonValues | undefined | void>;

type NdjsonValues = AsyncIterable<unknown> | Iterable<unknown>;

/**
 * Turns a handler that yields values into an Express handler that streams them as newline-delimited
 * JSON: `JSON.stringify(value) + '\n'` per value, `Content-Type: application/x-ndjson` (unless the
 * handler set one), on top of `asyncStream` (backpressure, disconnects, idle timeout). A value that
 * cannot be serialised is a `TypeError` naming its index: a 500 before the first line, a closed
 * connection after it.
 *
 * @param handler - called as `handler(req, res, next)` inside the request context.
 * @param options - see {@link NdjsonOptions}.
 * @throws TypeError or RangeError at once (at route definition) when an argument is invalid.
 * @example
 * import { ndjson } from 'express-async-stream';
 * app.get('/rows', ndjson(async function* () {
 *   for await (const row of db.query('SELECT id, name FROM users')) yield row;
 * }));
 * // {"id":1,"name":"Ada"}\n{"id":2,"name":"Grace"}\n
 */
export function ndjson<P = ParamsDictionary, ReqBody = any, ReqQuery = Query>(
  handler: NdjsonHandler<P, ReqBody, ReqQuery>,
  options: NdjsonOptions = {},
): RequestHandler<P, unknown, ReqBody, ReqQuery> {
  assertHandler(handler, 'ndjson', 'rows');
  assertOptions(options, 'ndjson', ['timeout'], 'ndjson(handler, { timeout: 30_000 })');
  const timeout = resolveTimeout(options.timeout, 'ndjson(): `timeout`');
  return asyncStream<P, ReqBody, ReqQuery>(
    async function ndjsonHandler(req, res, next) {
      const values = await callValuesHandler(handler, req, res, next, 'ndjson()', 'values');
      if ('passThrough' in values) return values.passThrough;
      if (!res.headersSent && res.getHeader('Content-Type') === undefined) {
        res.setHeader('Content-Type', 'application/x-ndjson');
      }
      // The pump turns each value into its line: no promise per value on top of the source's own.
      return asSourceBody({ ...values.source, encode: toLine });
    },
    { timeout },
  );
}

function toLine(value: unknown, index: number): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw lineError(value, index, `JSON.stringify() threw: ${(error as Error).message}`, error);
  }
  // JSON.stringify() returns undefined for undefined, functions and symbols.
  if (json === undefined) throw lineError(value, index, 'JSON.stringify() turns it into nothing');
  // JSON text never holds a raw line break (they are escaped in strings), so each value is one line.
  return `${json}\n`;
}

function lineError(value: unknown, index: number, reason: string, cause?: unknown): TypeError {
  return new TypeError(
    `ndjson(): value ${index} of the body is ${describeValue(value)}, which cannot be sent as a JSON line ` +
      `(${reason}). Yield JSON-serialisable values: convert it first, or give it a toJSON() method.`,
    cause === undefined ? undefined : { cause },
  );
}
