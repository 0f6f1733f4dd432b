// Step: graceful shutdown. Every stream open in the process, so that a deploy can end them all cleanly.
import type { Response } from 'express';
import { checkMilliseconds, resolveOptions, type OptionRule, type OptionTable } from './arguments.js';

/** Options of {@link closeStreams}. */
export interface CloseStreamsOptions {
  /**
   * Milliseconds a byte stream (`asyncStream`, `ndjson`) may take to finish on its own; those still
   * running then are cut, never ended cleanly, so that a truncated body cannot pass for a complete
   * one. Event streams (`sse`) do not wait: they end at once. `0` cuts byte streams at once too.
   *
   * @default 10_000
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

/** Counts `stream` as open until the returned function is called. */
export function trackStream(stream: ClosableStream): () => void {
  const { open } = streams();
  open.add(stream);
  return () => open.delete(stream);
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
 * Calling it again returns the same promise. It never rejects for a stream that is already ending.
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
