// Step: graceful shutdown. Every stream open in the process, so that a deploy can end them all cleanly.
import type { Response } from 'express';
import { checkMilliseconds, resolveOptions, type OptionRule, type OptionTable } from './arguments.js';

/** Options of {@link closeStreams}. */
export interface CloseStreamsOptions {
  /**
   * Milliseconds a byte stream (`asyncStream`, `ndjson`) may take to finish on its own; those still
   * running then are cut, never ended cleanly, so that a truncated body cannot pass for a complete
   * one (the bytes already written are delivered first, for at most 10 s more). Event streams
   * (`sse`) end at once. When the grace is over, the connection of any stream whose client stopped
   * reading is destroyed too. From `0` (cut at once) to 2^31-1; `null` and `Infinity` are refused:
   * a shutdown has to end.
   *
   * @default 10_000
   * @example
   * import { closeStreams } from 'express-async-stream';
   * await closeStreams({ grace: 30_000 }); // exports get half a minute to finish
   */
  readonly grace?: number | undefined;
}

const graceOption: OptionRule<number> = {
  default: 10_000,
  check: (value, label) => checkMilliseconds(value, label, { min: 0 })!,
};

const optionTable = { grace: graceOption } satisfies OptionTable<CloseStreamsOptions>;

/** What {@link closeStreams} asks of a stream it winds down. */
export interface ClosableStream {
  /** Ends or cuts the stream (see {@link CloseStreamsOptions.grace}); settles once it is released. */
  shutDown(grace: number): PromiseLike<void>;
}

interface Streams {
  readonly open: Set<ClosableStream>;
  closing: Promise<void> | undefined;
}

// One registry per process, even when both the CommonJS and the ES module build are loaded (or two
// copies of the package): closeStreams() from one must reach the streams of the other.
const streamsKey = Symbol.for('express-async-stream.streams');
type GlobalWithStreams = typeof globalThis & { [streamsKey]?: Streams };

function streams(): Streams {
  return ((globalThis as GlobalWithStreams)[streamsKey] ??= { open: new Set(), closing: undefined });
}

/** Counts `stream` as open until {@link untrackStream}. */
export function trackStream(stream: ClosableStream): void {
  streams().open.add(stream);
}

/** `stream` is done: {@link closeStreams} no longer waits for it. */
export function untrackStream(stream: ClosableStream): void {
  streams().open.delete(stream);
}

/** Whether {@link closeStreams} was called: new streams are refused. */
export function isShuttingDown(): boolean {
  return streams().closing !== undefined;
}

/**
 * Answers a request that reached a streaming route after {@link closeStreams}: `503`, with
 * `Retry-After` and `Connection: close`, so that the client retries, on another instance behind a
 * load balancer, without reusing this connection.
 */
export function refuseStream(res: Response): void {
  res.statusCode = 503;
  res.setHeader('Retry-After', '1');
  res.setHeader('Connection', 'close');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.end('Service Unavailable: the server is shutting down.\n');
}

/**
 * Winds down every stream open in this process, for a deploy or a restart: `sse()` streams end
 * cleanly at once (the browser reconnects with `Last-Event-ID`, to another instance behind the load
 * balancer); byte streams get `grace` ms to finish, then are cut; each producer's `currentSignal()`
 * aborts with a {@link ServerShutdownError} and its `finally` runs. From the call on, requests to an
 * `asyncStream`, `sse` or `ndjson` route get `503` with `Retry-After` and `Connection: close`, and their
 * handler is not called. Connections end after their stream, so that `server.close()` completes.
 *
 * The promise never rejects (bad options throw at once), and a second call returns the first call's
 * promise, whatever its options. It settles once every producer has finished: one that ignores
 * `currentSignal()` (an await nothing aborts) keeps it pending, so hand the signal to what it awaits.
 *
 * A browser's `EventSource` does not reconnect after a non-200 answer, so an `sse()` request that
 * gets the 503 ends that page's stream: take the instance out of the load balancer (fail its
 * readiness check) before calling this, so that reconnections go to the other instances.
 *
 * @param options - see {@link CloseStreamsOptions}.
 * @returns a promise that settles once every stream has been released.
 * @throws TypeError or RangeError at once when an option is invalid.
 * @example
 * import { closeStreams } from 'express-async-stream';
 * const server = app.listen(3000);
 * process.once('SIGTERM', () => {
 *   server.close(); // no new connections; resolves once the open ones have ended
 *   void closeStreams({ grace: 10_000 });
 * });
 */
export function closeStreams(options: CloseStreamsOptions = {}): Promise<void> {
  const { grace } = resolveOptions('closeStreams(options)', options, optionTable, 'closeStreams({ grace: 10_000 })');
  const state = streams();
  if (state.closing !== undefined) return state.closing;
  const released = [...state.open].map((stream) => stream.shutDown(grace));
  state.closing = Promise.all(released).then(() => undefined);
  return state.closing;
}
