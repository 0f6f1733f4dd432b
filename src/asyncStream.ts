import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { discardBody, resolveBody } from './body.js';
import { runInContext } from './context.js';
import { assertHandler, assertOptions } from './factoryArguments.js';
import { applyHead, commitHead } from './head.js';
import { pump } from './pump.js';
import { isStreamResponse, type StreamResponse } from './response.js';
import { toStreamResponse, type HandlerResult } from './result.js';
import { StreamSession } from './session.js';
import { isPromiseLike, type ChunkSource } from './source.js';
import { warn } from './warn.js';
import { DEFAULT_TIMEOUT, resolveTimeout, TIMEOUT_SETTING, type Timeout } from './timeout.js';

// Express's defaults, named without importing express-serve-static-core: our declarations may only
// depend on what a user installs (`@types/express`).
type ParamsDictionary = Request['params'];
type Query = Request['query'];

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

// `any` for the request body, as Express's own RequestHandler does: body parsers decide its shape.
/**
 * A route handler for {@link asyncStream}: a function, async function, or (async) generator
 * function. Its result is described by {@link HandlerResult}.
 */
export type AsyncStreamHandler<P = ParamsDictionary, ReqBody = any, ReqQuery = Query> = (
  req: Request<P, unknown, ReqBody, ReqQuery>,
  res: Response,
  next: NextFunction,
) => HandlerResult | PromiseLike<HandlerResult>;

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
export function asyncStream<P = ParamsDictionary, ReqBody = any, ReqQuery = Query>(
  handler: AsyncStreamHandler<P, ReqBody, ReqQuery>,
  options: AsyncStreamOptions = {},
): RequestHandler<P, unknown, ReqBody, ReqQuery> {
  assertHandler(handler, 'asyncStream', 'rows');
  assertOptions(options, 'asyncStream', ['timeout'], 'asyncStream(handler, { timeout: 30_000 })');
  const routeTimeout = resolveTimeout(options.timeout, 'asyncStream(): `timeout`');
  return function asyncStreamHandler(req, res, next) {
    const session = new StreamSession(req as Request, res, next);
    runInContext(session.context, () => {
      void respond(session, handler as AsyncStreamHandler, routeTimeout);
    });
  };
}

async function respond(session: StreamSession, handler: AsyncStreamHandler, routeTimeout: Timeout | undefined): Promise<void> {
  const { req, res } = session;
  // Whatever the handler produced that the session does not own yet: closed if we fail before.
  let unsent: unknown;
  try {
    session.arm(routeTimeout !== undefined ? routeTimeout : appTimeout(req));
    unsent = await handler(req, res, session.passOn);
    if (unsent === undefined) return session.awaitAnswer();
    if (session.isAnsweredElsewhere) return ignoreResult(session, unsent);
    if (!session.isOpen) return discardResult(unsent);
    const response = toStreamResponse(unsent, 'asyncStream()');
    unsent = await response.body;
    if (!session.isOpen) return discardBody(unsent);
    if (response.timeout !== undefined) session.arm(response.timeout);
    const body = resolveBody(unsent, 'asyncStream()');
    unsent = undefined;
    if (body.kind === 'whole') return sendWhole(session, response, body.value);
    session.attach(body.source);
    // RFC 9110 §9.3.2: HEAD gets the headers GET would, without content; and 204, 205 and 304
    // responses have none (§15.3.5, §15.3.6, §15.4.5). The body is never pulled, only closed.
    if (req.method === 'HEAD' || isBodiless(response.status ?? res.statusCode)) {
      return endHead(session, response, body.source);
    }
    await pump(session, body.source, response);
  } catch (error) {
    discardResult(unsent);
    session.fail(error);
  } finally {
    session.finishResponding();
  }
}

// Built once: the app setting is read (and validated) on every request.
const APP_SETTING = `app.set('${TIMEOUT_SETTING}')`;

function appTimeout(req: Request): Timeout {
  const setting = resolveTimeout(req.app.get(TIMEOUT_SETTING), APP_SETTING);
  return setting === undefined ? DEFAULT_TIMEOUT : setting;
}

function sendWhole(session: StreamSession, response: StreamResponse, value: string | Buffer | object): void {
  const { res } = session;
  applyHead(res, response);
  session.release();
  if (typeof value === 'string' || Buffer.isBuffer(value)) res.send(value);
  else res.json(value);
}

function isBodiless(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}

function endHead(session: StreamSession, response: StreamResponse, source: ChunkSource): void {
  commitHead(session.res, response);
  session.end();
  session.closeSource(undefined);
}

/** A handler that answered (or called `next()`) and still returned a body: a bug worth a warning. */
function ignoreResult(session: StreamSession, result: unknown): void {
  discardResult(result);
  session.release();
  warn(
    'asyncStream()',
    `the handler for ${session.route} answered the request ` +
      'itself (or called next()) and also returned a body, which was closed unsent. Return undefined instead.',
  );
}

function discardResult(result: unknown): void {
  if (result === undefined) return;
  const body = isStreamResponse(result) ? result.body : Array.isArray(result) ? result[0] : result;
  if (isPromiseLike(body)) Promise.resolve(body).then(discardBody, () => {});
  else discardBody(body);
}
