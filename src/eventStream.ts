import { describeValue } from './describe.js';
import { formatEvent, type SseEvent } from './encodeEvent.js';
import { isPromiseLike, type ChunkSource } from './source.js';
import type { Timeout } from './timeout.js';

/** How an event stream behaves: resolved `sse()` options. */
export interface EventStreamConfig {
  /** Milliseconds of waiting for an event before a keep-alive comment, or `null` for none. */
  readonly keepAlive: Timeout;
  /** `false`, `true` (a fixed error event) or a function mapping the error to the event to send. */
  readonly errorEvent: boolean | ((error: unknown) => SseEvent | string);
}

// WHATWG HTML §9.2.7: a comment line every 15 seconds or so keeps legacy proxies from dropping the connection.
const KEEP_ALIVE_FRAME = ': keep-alive\n\n';
// Fixed text: an internal error message is not the client's to read.
const ERROR_FRAME = 'event: error\ndata: Internal Server Error\n\n';
// setTimeout() stores its delay in a signed 32-bit integer; larger values fire after 1 ms.
const MAX_DELAY = 2 ** 31 - 1;
const ABORTED = Symbol('aborted');
const KEEP_ALIVE_DUE = Symbol('keep-alive due');

type Wait = IteratorResult<unknown> | typeof ABORTED | typeof KEEP_ALIVE_DUE;

/**
 * Validates the `keepAlive` and `errorEvent` options of `sse()`.
 *
 * @throws TypeError or RangeError naming the option.
 */
export function resolveEventStreamConfig(keepAlive: unknown, errorEvent: unknown): EventStreamConfig {
  if (errorEvent !== undefined && typeof errorEvent !== 'boolean' && typeof errorEvent !== 'function') {
    throw new TypeError(
      `sse(): \`errorEvent\` must be a boolean or a function (error) => event, but received ${describeValue(errorEvent)}.`,
    );
  }
  return {
    keepAlive: resolveKeepAlive(keepAlive),
    errorEvent: (errorEvent ?? false) as EventStreamConfig['errorEvent'],
  };
}

function resolveKeepAlive(value: unknown): Timeout {
  if (value === undefined) return 15_000;
  if (value === null || value === Infinity) return null;
  if (typeof value !== 'number') {
    throw new TypeError(
      `sse(): \`keepAlive\` must be a number of milliseconds or null (no keep-alive comments), but received ${describeValue(value)}.`,
    );
  }
  if (!(value >= 1 && value <= MAX_DELAY)) {
    throw new RangeError(
      `sse(): \`keepAlive\` must be between 1 and ${MAX_DELAY} milliseconds, but received ${describeValue(value)}. ` +
        'Use null to send no keep-alive comments.',
    );
  }
  return value;
}

/**
 * The `text/event-stream` body that `sse()` hands to asyncStream: the events of `source`, encoded,
 * with keep-alive comments while waiting. `signal` (the request's `currentSignal()`) ends a wait
 * when the stream is abandoned. Its `return()` also closes `source` when the stream is dropped
 * before its first pull (a HEAD request, a client gone meanwhile), which an async generator that
 * never started would not do.
 */
export function createEventStream(
  source: ChunkSource,
  config: EventStreamConfig,
  signal: AbortSignal,
): AsyncIterableIterator<string> {
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    source.cancel(undefined);
  };
  const generator = encodeEvents(source, config, signal, close);
  return {
    next: () => generator.next(),
    return: (value?: unknown) => {
      close();
      return generator.return(value as undefined);
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

async function* encodeEvents(source: ChunkSource, config: EventStreamConfig, signal: AbortSignal, close: () => void) {
  try {
    yield* pullEvents(source, config.keepAlive, signal);
  } catch (error) {
    const frame = errorFrame(config.errorEvent, error);
    // The session flushes what was written before it cuts the connection, so the frame arrives.
    if (frame !== undefined && !signal.aborted) yield frame;
    throw error;
  } finally {
    close();
  }
}

/**
 * Yields each encoded event, and a keep-alive comment whenever `keepAlive` ms pass while waiting
 * for one. The comment comes from this same generator, so it waits behind backpressure like an
 * event; the pending `next()` is kept, so the event it brings later is not lost.
 */
async function* pullEvents(source: ChunkSource, keepAlive: Timeout, signal: AbortSignal) {
  let pending: PromiseLike<IteratorResult<unknown>> | undefined;
  for (let index = 0; ; ) {
    const next = pending ?? source.next();
    const step = isPromiseLike(next) ? await nextOrKeepAlive(next, keepAlive, signal) : next;
    if (step === ABORTED) return;
    if (step === KEEP_ALIVE_DUE) {
      pending = next as PromiseLike<IteratorResult<unknown>>;
      yield KEEP_ALIVE_FRAME;
      continue;
    }
    pending = undefined;
    if (step.done) return;
    yield formatEvent(step.value, `sse(): event ${index++}`);
  }
}

/** Settles with the next step, when a keep-alive is due, or when `signal` aborts, whichever comes first. */
function nextOrKeepAlive(next: PromiseLike<IteratorResult<unknown>>, keepAlive: Timeout, signal: AbortSignal): Promise<Wait> {
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise<Wait>((resolve, reject) => {
    const timer = keepAlive === null ? undefined : setTimeout(() => settle(KEEP_ALIVE_DUE), keepAlive);
    // Like the idle timer: the server's socket, not this timer, keeps the process alive.
    timer?.unref();
    const onAbort = (): void => settle(ABORTED);
    signal.addEventListener('abort', onAbort);
    function stop(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    function settle(outcome: Wait): void {
      stop();
      resolve(outcome);
    }
    next.then(settle, function onEventsError(error: unknown) {
      stop();
      reject(error);
    });
  });
}

function errorFrame(errorEvent: EventStreamConfig['errorEvent'], error: unknown): string | undefined {
  if (errorEvent === false) return undefined;
  if (errorEvent === true) return ERROR_FRAME;
  try {
    return formatEvent(errorEvent(error), 'sse(): the event returned by `errorEvent`');
  } catch (failure) {
    process.emitWarning(
      `sse(): \`errorEvent\` threw ${describeError(failure)}, so no error event was sent before the stream was ` +
        'closed. Make it return an event object or a string.',
      'AsyncStreamWarning',
    );
    return undefined;
  }
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name} (${error.message})` : describeValue(error);
}
