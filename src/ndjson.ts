// Step: the factory for JSON values. Its options, and each value turned into one line of JSON.
import type { RequestHandler } from 'express';
import { assertHandler, describeValue, resolveOptions, type OptionTable } from './arguments.js';
import { timeoutOption } from './idleTimeout.js';
import { assertValues, valueSource, type Values } from './source.js';
import {
  createStreamHandler,
  type ParamsDictionary,
  type Query,
  type RequestBody,
  type StreamFormat,
  type StreamHandler,
} from './streamHandler.js';

/**
 * Options of {@link ndjson}.
 *
 * @example
 * import { ndjson, type NdjsonOptions } from 'express-async-stream';
 * const options: NdjsonOptions = { timeout: 30_000 };
 * app.get('/rows', ndjson(rows, options));
 */
export interface NdjsonOptions {
  /**
   * Idle timeout in milliseconds, as in `asyncStream`: when no line is written for this long (the
   * producer is silent or the client stopped reading), the stream is abandoned and a
   * `StreamTimeoutError` goes to `next(err)`. `null` (or `Infinity`) switches it off for this route.
   *
   * @default the app's `app.set('stream timeout', ms)` setting, else 60_000
   */
  readonly timeout?: number | null | undefined;
}

const optionTable = { timeout: timeoutOption } satisfies OptionTable<NdjsonOptions>;

/** What an {@link NdjsonHandler} produces: JSON-serialisable values. */
type NdjsonValues = AsyncIterable<unknown> | Iterable<unknown>;

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
export type NdjsonHandler<P = ParamsDictionary, ReqBody = RequestBody, ReqQuery = Query> = StreamHandler<
  NdjsonValues | undefined | void,
  P,
  ReqBody,
  ReqQuery
>;

/**
 * Turns a handler that yields values into an Express handler that streams them as newline-delimited
 * JSON: `JSON.stringify(value) + '\n'` per value, `Content-Type: application/x-ndjson` (unless the
 * handler set one), with what `asyncStream` gives (backpressure, disconnects, idle timeout). A value
 * that cannot be serialised is a `TypeError` naming its index: a 500 before the first line, a closed
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
export function ndjson<P = ParamsDictionary, ReqBody = RequestBody, ReqQuery = Query>(
  handler: NdjsonHandler<P, ReqBody, ReqQuery>,
  options: NdjsonOptions = {},
): RequestHandler<P, unknown, ReqBody, ReqQuery> {
  assertHandler(handler, 'ndjson', 'rows');
  const { timeout } = resolveOptions(
    'ndjson(handler, options)',
    options,
    optionTable,
    'ndjson(handler, { timeout: 30_000 })',
  );
  return createStreamHandler(handler, linesFormat(timeout));
}

function linesFormat(timeout: number | null | undefined): StreamFormat {
  return {
    timeout,
    endsAtShutdown: false,
    toReply(values, res) {
      // Checked before the header is set: a result that is not values is a 500 with the handler's headers.
      assertValues(values, 'ndjson()', 'values');
      if (!res.headersSent && res.getHeader('Content-Type') === undefined) {
        res.setHeader('Content-Type', 'application/x-ndjson');
      }
      return { body: values };
    },
    // The pump turns each value into its line: no promise per value on top of the source's own.
    toBody: (values) => ({ kind: 'stream', source: { ...valueSource(values as Values), encode: toLine } }),
  };
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
