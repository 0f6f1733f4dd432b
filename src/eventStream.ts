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
 * with keep-alive comments while waiting for one. Its `return()` (the session closing the body,
 * whatever the reason) closes `source` and ends a wait at once, also when the stream is dropped
 * before its first pull (a HEAD request, a client gone meanwhile).
 *
 * A hand-written iterator rather than an async generator: the pump pulls one event at a time, and
 * this costs two promises per event that has to be waited for (none for a sync source), one timer
 * per stream re-armed with `refresh()`, and no listener per event.
 */
export function createEventStream(source: ChunkSource, config: EventStreamConfig): AsyncIterableIterator<string> {
  return new EventStream(source, config);
}

type Step = IteratorResult<string, undefined>;
/** A failure to throw from the next pull, after the error frame. */
type Failure = { readonly error: unknown };

const DONE: Step = Object.freeze({ value: undefined, done: true });

class EventStream implements AsyncIterableIterator<string> {
  private index = 0;
  private closed = false;
  /** A `source.next()` still running, possibly across keep-alives. */
  private inFlight = false;
  /** What came while nobody waited: a step, or an error frame and then its failure. */
  private readonly queue: (Step | Failure)[] = [];
  private waiter: { resolve(step: Step): void; reject(error: unknown): void } | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly source: ChunkSource,
    private readonly config: EventStreamConfig,
  ) {}

  [Symbol.asyncIterator](): this {
    return this;
  }

  // Typed as the promise AsyncIterator asks for, but answers synchronously when it can, which the
  // pump accepts (it awaits only what is a promise).
  next(): Promise<Step> {
    return this.pull() as Promise<Step>;
  }

  return(): Promise<Step> {
    this.close();
    this.queue.length = 0;
    // A wait ends at once: the session no longer reads, and must not hang on a stuck producer.
    this.settle(DONE);
    return Promise.resolve(DONE);
  }

  private pull(): Step | Promise<Step> {
    const queued = this.queue.shift();
    if (queued !== undefined) {
      if ('error' in queued) throw queued.error;
      return queued;
    }
    if (this.closed) return DONE;
    if (!this.inFlight) {
      let next: IteratorResult<unknown> | PromiseLike<IteratorResult<unknown>>;
      try {
        next = this.source.next();
        if (!isPromiseLike(next)) return this.encode(next);
      } catch (error) {
        this.fail(error);
        return this.pull();
      }
      this.inFlight = true;
      next.then(this.onStep, this.onError);
    }
    this.startKeepAlive();
    return new Promise<Step>((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private readonly onStep = (step: IteratorResult<unknown>): void => {
    this.inFlight = false;
    if (this.closed) return;
    try {
      this.settle(this.encode(step));
    } catch (error) {
      this.onError(error);
    }
  };

  private readonly onError = (error: unknown): void => {
    this.inFlight = false;
    if (this.closed) return;
    this.fail(error);
    const first = this.queue.shift()!;
    if ('error' in first) this.settle(undefined, first);
    else this.settle(first);
  };

  private encode(step: IteratorResult<unknown>): Step {
    if (step.done) {
      this.close();
      return DONE;
    }
    const index = this.index++;
    return { value: formatEvent(step.value, () => `sse(): event ${index}`), done: false };
  }

  /** Closes the source and queues the error frame (if any), then `error`. */
  private fail(error: unknown): void {
    this.close();
    const frame = errorFrame(this.config.errorEvent, error);
    if (frame !== undefined) this.queue.push({ value: frame, done: false });
    this.queue.push({ error });
  }

  /** Answers the pending wait with `step` (or `failure`), or queues it for the next pull. */
  private settle(step: Step | undefined, failure?: Failure): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter === undefined) {
      if (step !== DONE) this.queue.unshift((step ?? failure)!);
    } else if (failure !== undefined) {
      waiter.reject(failure.error);
    } else {
      waiter.resolve(step!);
    }
  }

  /** Counts `keepAlive` ms from now; the timer does nothing if it fires while nobody waits. */
  private startKeepAlive(): void {
    const { keepAlive } = this.config;
    if (keepAlive === null) return;
    if (this.timer !== undefined) {
      this.timer.refresh();
      return;
    }
    this.timer = setTimeout(this.onKeepAliveDue, keepAlive);
    // Like the idle timer: the server's socket, not this timer, keeps the process alive.
    this.timer.unref();
  }

  private readonly onKeepAliveDue = (): void => {
    // The source's pending step stays in flight: the event it brings later is not lost.
    if (this.waiter !== undefined) this.settle({ value: KEEP_ALIVE_FRAME, done: false });
  };

  /** Stops the keep-alives and closes the source (a generator's `finally` runs). */
  private close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.source.cancel(undefined);
  }
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
