// Step: the factory for any body. Its options, and a result read as a body, tuple or StreamResponse.
import type { RequestHandler } from 'express';
import { assertHandler, resolveOptions, type OptionTable } from './arguments.js';
import { resolveBody } from './body.js';
import { timeoutOption } from './idleTimeout.js';
import { toStreamResponse, type HandlerResult } from './result.js';
import {
  createStreamHandler,
  type ParamsDictionary,
  type Query,
  type RequestBody,
  type StreamFormat,
  type StreamHandler,
} from './streamHandler.js';

/** Options of {@link asyncStream}. */
export interface AsyncStreamOptions {
  /**
   * Idle timeout in milliseconds: when no chunk is written for this long (the producer is silent
   * or the client stopped reading), the stream is abandoned and a `StreamTimeoutError` goes to
   * `next(err)`. `null` (or `Infinity`) switches it off for this route. A response can override
   * it with `makeResponse(body).timeout`.
   *
   * @default the app's `app.set('stream timeout', ms)` setting, else 60_000
   */
  readonly timeout?: number | null | undefined;
}

const optionTable = { timeout: timeoutOption } satisfies OptionTable<AsyncStreamOptions>;

/**
 * A route handler for {@link asyncStream}: a function, async function, or (async) generator
 * function. Its result is described by {@link HandlerResult}.
 */
export type AsyncStreamHandler<P = ParamsDictionary, ReqBody = RequestBody, ReqQuery = Query> = StreamHandler<
  HandlerResult,
  P,
  ReqBody,
  ReqQuery
>;

/**
 * Turns a handler that returns (or is) an async generator, or any other body or tuple, into an
 * Express handler that streams it with chunked `res.write` calls: backpressure, client
 * disconnects, errors before and after the headers, and an idle timeout handled.
 *
 * @param handler - called as `handler(req, res, next)` inside the request context.
 * @param options - see {@link AsyncStreamOptions}.
 * @throws TypeError or RangeError at once (at route definition) when an argument is invalid.
 * @example
 * import express from 'express';
 * import { asyncStream } from 'express-async-stream';
 * const app = express();
 * app.get('/count', asyncStream(async function* () {
 *   for (let i = 1; i <= 3; i++) yield `${i}\n`;
 * }));
 * // curl -N localhost:3000/count → 1 2 3, one line at a time
 */
export function asyncStream<P = ParamsDictionary, ReqBody = RequestBody, ReqQuery = Query>(
  handler: AsyncStreamHandler<P, ReqBody, ReqQuery>,
  options: AsyncStreamOptions = {},
): RequestHandler<P, unknown, ReqBody, ReqQuery> {
  assertHandler(handler, 'asyncStream', 'rows');
  const { timeout } = resolveOptions(
    'asyncStream(handler, options)',
    options,
    optionTable,
    'asyncStream(handler, { timeout: 30_000 })',
  );
  return createStreamHandler(handler, bodyFormat(timeout));
}

/** Reads a result as a body, a `[body, status, headers]` tuple or a `StreamResponse`. */
function bodyFormat(timeout: number | null | undefined): StreamFormat {
  return {
    timeout,
    endsAtShutdown: false,
    toReply: (result) => toStreamResponse(result, 'asyncStream()'),
    toBody: (body) => resolveBody(body, 'asyncStream()'),
  };
}
