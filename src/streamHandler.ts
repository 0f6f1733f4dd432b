// Step: the core of every factory. Request → handler → result → body → source → pump, in one place.
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { discardBody, type ResolvedBody } from './body.js';
import { runInContext } from './context.js';
import type { Head } from './head.js';
import { appTimeout, type Timeout } from './idleTimeout.js';
import { pumpFed } from './fedPump.js';
import { pump } from './pump.js';
import { isStreamResponse } from './response.js';
import { StreamSession } from './session.js';
import { isShuttingDown, refuseStream } from './shutdown.js';
import { isPromiseLike, liveness } from './source.js';
import { warnIgnoredResult } from './warn.js';

// Express's defaults, named without importing express-serve-static-core: our declarations may only
// depend on what a user installs (`@types/express`).
/** The route parameters Express gives a handler by default. */
export type ParamsDictionary = Request['params'];
/** The parsed query string Express gives a handler by default. */
export type Query = Request['query'];
/** The request body Express gives a handler by default: `any`, as body parsers decide its shape. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Express's own RequestHandler default.
export type RequestBody = any;

/**
 * A route handler of a streaming factory: called as `handler(req, res, next)` inside the request
 * context, it returns (or is a generator function making) `Result`, or a promise of it.
 * `AsyncStreamHandler`, `SseHandler` and `NdjsonHandler` are this shape with their own `Result`.
 *
 * @example
 * import { sse, type SseEvent, type StreamHandler } from 'express-async-stream';
 * const clock: StreamHandler<AsyncIterable<SseEvent>> = async function* () {
 *   yield { data: new Date().toISOString() };
 * };
 * app.get('/clock', sse(clock));
 */
export type StreamHandler<Result, P = ParamsDictionary, ReqBody = RequestBody, ReqQuery = Query> = (
  req: Request<P, unknown, ReqBody, ReqQuery>,
  res: Response,
  next: NextFunction,
) => Result | PromiseLike<Result>;

/** What a handler's result asks for: a body (or a promise of one), a head, an idle timeout. */
export interface Reply extends Head {
  readonly body: unknown;
  /** Replaces the route's idle timeout when the body starts; `undefined` keeps it. */
  readonly timeout?: Timeout | undefined;
}

/** How a factory (`asyncStream`, `sse`, `ndjson`) differs from the others: what the core asks it. */
export interface StreamFormat {
  /** The route's idle timeout; `undefined` reads the app's `stream timeout` setting on each request. */
  readonly timeout: Timeout | undefined;
  /** Whether `closeStreams()` ends it cleanly at once (an event stream) rather than after a grace period. */
  readonly endsAtShutdown: boolean;
  /**
   * The reply to a handler's result, once the result is known to be the stream's (not `undefined`,
   * and the handler did not answer by itself). May set headers on `res`.
   *
   * @throws TypeError naming the result when it cannot be sent.
   */
  readonly toReply: (result: unknown, res: Response) => Reply;
  /**
   * The reply's awaited body, as a whole answer for `res.send` or a source to pump.
   *
   * @throws TypeError naming the body when it cannot be sent.
   */
  readonly toBody: (body: unknown) => ResolvedBody;
}

/** The Express handler that streams what `handler` returns, as `format` reads it. */
export function createStreamHandler<P, ReqBody, ReqQuery>(
  handler: StreamHandler<unknown, P, ReqBody, ReqQuery>,
  format: StreamFormat,
): RequestHandler<P, unknown, ReqBody, ReqQuery> {
  return function streamHandler(req, res, next) {
    if (isShuttingDown()) return refuseStream(res);
    const session = new StreamSession(req as Request, res, next, format.endsAtShutdown);
    runInContext(session.context, () => {
      void respond(session, req as Request, res, handler as StreamHandler<unknown>, format);
    });
  };
}

async function respond(
  session: StreamSession,
  req: Request,
  res: Response,
  handler: StreamHandler<unknown>,
  format: StreamFormat,
): Promise<void> {
  // Whatever the handler produced that the session does not own yet: closed if we fail before.
  let unsent: unknown;
  // Once a pump has the body, the pump says when the response is done (see `pumped`).
  let pumping = false;
  try {
    session.arm(format.timeout !== undefined ? format.timeout : appTimeout(req));
    unsent = await handler(req, res, session.passOn);
    if (unsent === undefined) return session.awaitAnswer();
    const live = liveness(unsent);
    // A body that cannot go live fails at its first read, after the headers: an EventSource
    // retries a stream that broke, never one answered with an error status.
    if (live !== undefined) await live.catch(() => {});
    if (session.isAnsweredElsewhere) return ignoreResult(session, unsent);
    if (!session.isOpen) return discardResult(unsent);
    const reply = format.toReply(unsent, res);
    unsent = await reply.body;
    if (!session.isOpen) return discardBody(unsent);
    if (reply.timeout !== undefined) session.arm(reply.timeout);
    const body = format.toBody(unsent);
    unsent = undefined;
    if (body.kind === 'whole') return session.send(reply, body.value);
    session.attach(body.source);
    // RFC 9110 §9.3.2: HEAD gets the headers GET would, without content; and 204, 205 and 304
    // responses have none (§15.3.5, §15.3.6, §15.4.5). The body is never pulled, only closed.
    if (req.method === 'HEAD' || isBodiless(session.statusOf(reply))) {
      session.end(reply);
      return session.closeSource(undefined);
    }
    // Not awaited: an open stream keeps no suspended call of this function (a topic's thousands of
    // subscribers would each hold one).
    const { source } = body;
    if (source.feed === undefined) pump(session, source, reply, pumped);
    else pumpFed(session, source, source.feed, reply, pumped);
    pumping = true;
  } catch (error) {
    discardResult(unsent);
    session.fail(error);
  } finally {
    if (!pumping) session.finishResponding();
  }
}

/** The pump is done with the body: its failure goes to Express, then the session may tear down. */
function pumped(session: StreamSession, failure?: { error: unknown }): void {
  if (failure !== undefined) session.fail(failure.error);
  session.finishResponding();
}

function isBodiless(status: number): boolean {
  return status === 204 || status === 205 || status === 304;
}

/** A handler that answered (or called `next()`) and still returned a body: a bug worth a warning. */
function ignoreResult(session: StreamSession, result: unknown): void {
  discardResult(result);
  session.release();
  warnIgnoredResult(session.route);
}

function discardResult(result: unknown): void {
  if (result === undefined) return;
  const body = isStreamResponse(result) ? result.body : Array.isArray(result) ? (result as unknown[])[0] : result;
  if (isPromiseLike(body)) Promise.resolve(body).then(discardBody, () => {});
  else discardBody(body);
}
