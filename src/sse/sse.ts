// Step: the factory for server-sent events. Its options, the event-stream head, and Last-Event-ID.
import type { IncomingMessage } from 'node:http';
import type { RequestHandler, Response } from 'express';
import { assertHandler, resolveOptions, type OptionTable } from '../arguments.js';
import { eventStreamTimeoutOption } from '../idleTimeout.js';
import { assertValues, type Values } from '../source.js';
import {
  createStreamHandler,
  type ParamsDictionary,
  type Query,
  type RequestBody,
  type StreamFormat,
  type StreamHandler,
} from '../streamHandler.js';
import type { SseEvent } from './encodeEvent.js';
import { errorEventOption, eventFormat, eventSource, keepAliveOption, type ErrorEventOption } from './eventSource.js';

/**
 * Options of {@link sse}.
 *
 * @example
 * import { sse, type SseOptions } from 'express-async-stream';
 * const options: SseOptions = { keepAlive: 30_000, errorEvent: true };
 * app.get('/events', sse(events, options));
 */
export interface SseOptions {
  /**
   * Milliseconds with nothing written after which a keep-alive comment (`: keep-alive`) is sent
   * while the stream waits for the next event, so that proxies do not drop the idle connection
   * (the WHATWG HTML standard suggests about 15 s). Every write restarts the count, the comment included;
   * none is sent while a slow client holds the stream back. The streams with the same `keepAlive` share
   * one timer ticking 8 times a period, so a comment may go out up to `keepAlive / 8` late, never early.
   * `null` (or `Infinity`) sends none.
   *
   * @default 15_000
   */
  readonly keepAlive?: number | null | undefined;
  /**
   * Idle timeout in milliseconds, as in `asyncStream`: the stream is abandoned when nothing is
   * written for this long. Keep-alive comments count as writes, so with a `keepAlive` shorter than
   * it, it only catches a client that stopped reading. `null` switches it off; the app's
   * `stream timeout` setting does not apply to SSE routes.
   *
   * @default null
   */
  readonly timeout?: number | null | undefined;
  /**
   * What to send when the events fail after the stream has started. `false` closes the connection
   * (the browser reconnects); `true` first sends `event: stream-error` (not `error`, the name of
   * EventSource's own event for a failed connection) with the fixed data
   * `Internal Server Error`, never the error's message; a function maps the error to the event to
   * send. The error goes to `next(err)` in every case. If that function throws, or returns an
   * event that cannot be encoded, no error event is sent and an `AsyncStreamWarning` is emitted.
   *
   * @default false
   */
  readonly errorEvent?: boolean | ((error: unknown) => SseEvent | string) | undefined;
}

const optionTable = {
  keepAlive: keepAliveOption,
  // The app's `stream timeout` setting is for byte streams: an event stream's default is no timeout.
  timeout: eventStreamTimeoutOption,
  errorEvent: errorEventOption,
} satisfies OptionTable<SseOptions>;

/** What an {@link SseHandler} produces: events, as {@link SseEvent} objects or data-only strings. */
type SseEvents = AsyncIterable<SseEvent | string> | Iterable<SseEvent | string>;

/**
 * A route handler for {@link sse}: returns (or is a generator function yielding) events, or
 * returns `undefined` when it answered the request itself.
 *
 * @example
 * import { sse, type SseHandler } from 'express-async-stream';
 * const greetings: SseHandler<{ name: string }> = async function* (req) {
 *   yield { event: 'greeting', data: `hello ${req.params.name}` };
 * };
 * app.get('/greet/:name', sse(greetings));
 */
export type SseHandler<P = ParamsDictionary, ReqBody = RequestBody, ReqQuery = Query> = StreamHandler<
  SseEvents | undefined | void,
  P,
  ReqBody,
  ReqQuery
>;

/**
 * Turns a handler that yields events into an Express handler that streams them as server-sent
 * events (https://html.spec.whatwg.org/multipage/server-sent-events.html), with what `asyncStream` gives: the headers go out as soon as the handler
 * has returned its events (so `EventSource` opens at once), then each event as it comes, with
 * keep-alive comments while idle, backpressure, and the events closed when the client leaves.
 *
 * @param handler - called as `handler(req, res, next)`; an error it throws becomes an error response.
 * @param options - see {@link SseOptions}.
 * @throws TypeError or RangeError at once (at route definition) when an argument is invalid.
 * @example
 * import { setTimeout } from 'node:timers/promises';
 * import { currentSignal, lastEventId, sse } from 'express-async-stream';
 * app.get('/ticks', sse(async function* (req) {
 *   // The id comes from the client: anything but a count of ours starts over at 1.
 *   const last = Number(lastEventId(req));
 *   for (let n = Number.isSafeInteger(last) && last > 0 ? last + 1 : 1; ; n++) {
 *     yield { id: n, event: 'tick', data: { n } }; // id: 1, event: tick, data: {"n":1}
 *     await setTimeout(1000, undefined, { signal: currentSignal() });
 *   }
 * }));
 */
export function sse<P = ParamsDictionary, ReqBody = RequestBody, ReqQuery = Query>(
  handler: SseHandler<P, ReqBody, ReqQuery>,
  options: SseOptions = {},
): RequestHandler<P, unknown, ReqBody, ReqQuery> {
  assertHandler(handler, 'sse', 'events');
  const { keepAlive, timeout, errorEvent } = resolveOptions(
    'sse(handler, options)',
    options,
    optionTable,
    'sse(handler, { keepAlive: 30_000 })',
  );
  return createStreamHandler(handler, eventsFormat(keepAlive, timeout, errorEvent));
}

function eventsFormat(keepAlive: number | null, timeout: number | null, errorEvent: ErrorEventOption): StreamFormat {
  const format = eventFormat(keepAlive, errorEvent);
  return {
    timeout,
    endsAtShutdown: true,
    toReply(events, res) {
      // Checked before the head goes out: a result that is not events is a 500, not a broken stream.
      assertValues(events, 'sse()', 'events (objects or strings)');
      openEventStream(res);
      return { body: events };
    },
    toBody: (events) => ({ kind: 'stream', source: eventSource(events as Values, format) }),
  };
}

/**
 * The id the browser resumes from: the `Last-Event-ID` request header
 * (https://html.spec.whatwg.org/multipage/server-sent-events.html#the-last-event-id-header), or
 * `undefined` on a first connection.
 *
 * @example
 * import { lastEventId, sse } from 'express-async-stream';
 * app.get('/feed', sse(async function* (req) {
 *   yield* feed.since(lastEventId(req)); // events after the last one this browser saw
 * }));
 */
export function lastEventId(req: Pick<IncomingMessage, 'headers'>): string | undefined {
  const value = req.headers['last-event-id'];
  if (typeof value !== 'string') return undefined;
  // The browser sends the id as UTF-8; Node decodes header bytes as Latin-1.
  return Buffer.from(value, 'latin1').toString('utf8');
}

function openEventStream(res: Response): void {
  // Headers the handler flushed itself are kept, as asyncStream keeps them.
  if (res.headersSent) return;
  res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
  // no-transform (RFC 9111 §5.2.2.6): proxies and the `compression` middleware must not buffer
  // the stream to re-encode it.
  res.setHeader('Cache-Control', 'no-cache, no-transform');
  // nginx buffers proxied responses unless told not to.
  res.setHeader('X-Accel-Buffering', 'no');
  // Sent now rather than with the first event: EventSource fires `open` on the headers
  // (https://html.spec.whatwg.org/multipage/server-sent-events.html#sse-processing-model).
  res.flushHeaders();
}
