// Step: body → source. One pull-based view of every kind of streamed body, closed the same way.
import { finished, Readable } from 'node:stream';
import { describeValue } from './arguments.js';
import type { Chunk } from './chunk.js';

/**
 * A pull-based view of any streamed body. `next()` may answer synchronously (sync generators),
 * which spares the pump a promise per chunk.
 */
export interface ChunkSource {
  // Function properties, not methods: they use no `this`, so `sse` and `ndjson` copy them into a
  // source of their own with `{ ...source, encode }`.
  readonly next: () => IteratorResult<unknown> | Promise<IteratorResult<unknown>>;
  /**
   * Stops the producer: runs a generator's `finally`, destroys a `Readable`, cancels a
   * `ReadableStream`. Resolves once it is closed; never throws or rejects: errors raised while
   * closing are not the client's concern.
   */
  readonly cancel: (reason: unknown) => Promise<void>;
  /**
   * Turns the `index`th value into the chunk to write (an `sse` event, an `ndjson` line); without
   * it, values are chunks. Done by the pump, so a values stream costs no promise of its own.
   *
   * @throws TypeError naming the value when it cannot be encoded.
   */
  readonly encode?: ((value: unknown, index: number) => Chunk) | undefined;
  /** A chunk the pump writes whenever `every` ms pass while it waits for a value (`sse` keep-alives). */
  readonly heartbeat?: { readonly every: number; readonly chunk: Chunk } | undefined;
  /** The last chunk to write when the values fail after the stream started (`sse` error events). */
  readonly lastWords?: ((error: unknown) => Chunk | undefined) | undefined;
  /** Set for a body that is fed rather than pulled: the pump reads it through this instead of `next()`. */
  readonly feed?: Feed | undefined;
  /**
   * Whether `encode` sends a `FramedEvent` (sse's events) by its `frame()`: a feed may then hand
   * several values as one, framed once for every subscriber of a topic.
   */
  readonly framed?: boolean | undefined;
}

/**
 * How the pump reads a body that is fed by others (a topic subscription, which a publisher fills):
 * it takes every value waiting, then the body wakes it once it holds more. Unlike `next()`, waiting
 * costs no promise per value and no suspended frame, which counts once per subscriber of a topic.
 */
export interface Feed {
  /**
   * The next value at once, or {@link FEED_IDLE} while none waits, or {@link FEED_END} once the
   * body is over. With `room` above 0 (for a source that is {@link ChunkSource.framed}), it may hand
   * several values waiting as one `FramedEvent` whose frame is at most `room` characters long.
   *
   * @throws what the body failed with.
   */
  take(room: number): unknown;
  /**
   * Calls `pump.wake()` once `take()` has an answer again, at the end of the tick in which it came
   * (after the microtasks): the values fed in one tick are taken, and written, together.
   */
  onReady(pump: { wake(): void }): void;
}

/** What {@link Feed.take} returns while no value waits. */
export const FEED_IDLE = Symbol('express-async-stream.feedIdle');
/** What {@link Feed.take} returns once the body is over. */
export const FEED_END = Symbol('express-async-stream.feedEnd');

/** A body keeps its {@link Feed} under this key (as a getter): the pump then reads it through that. */
export const fed = Symbol('express-async-stream.fed');

const ignore = (): void => {};

/** Whether `value` is a Node `Readable` (checked before async iterables: we destroy it to cancel). */
export function isReadable(value: object): value is Readable {
  return value instanceof Readable;
}

/** Whether `value` is a web `ReadableStream`, from this realm or another (duck-typed). */
export function isReadableStream(value: object): value is ReadableStream<unknown> {
  return (
    typeof (value as ReadableStream).getReader === 'function' && typeof (value as ReadableStream).cancel === 'function'
  );
}

/** A source over an async iterable, e.g. an async generator. */
export function fromAsyncIterable(iterable: AsyncIterable<unknown>): ChunkSource {
  const iterator = iterable[Symbol.asyncIterator]();
  return {
    next: () => iterator.next(),
    // An async generator queues return() behind a next() still running; the abort signal is
    // what reaches a generator stuck in an await.
    cancel: () => closeIterator(iterator),
  };
}

/** A source over a sync iterable: its steps answer synchronously. */
export function fromIterable(iterable: Iterable<unknown>): ChunkSource {
  const iterator = iterable[Symbol.iterator]();
  return { next: () => iterator.next(), cancel: () => closeIterator(iterator) };
}

/** A source over a Node `Readable`. */
export function fromReadable(readable: Readable): ChunkSource {
  const iterator = readable[Symbol.asyncIterator]();
  // destroy() rather than return(): the iterator's return() waits for a pending read that a
  // stalled stream may never answer.
  return { next: () => iterator.next(), cancel: () => destroyReadable(readable) };
}

/** A source over a web `ReadableStream`, read through a reader it keeps locked. */
export function fromReadableStream(stream: ReadableStream<unknown>): ChunkSource {
  const reader = stream.getReader();
  return {
    next: () => reader.read() as Promise<IteratorResult<unknown>>,
    // cancel() settles a pending read() with done, unlike the async iterator's return().
    cancel: (reason) => reader.cancel(reason).then(ignore, ignore),
  };
}

const closed = Promise.resolve();

function closeIterator(iterator: Iterator<unknown> | AsyncIterator<unknown>): Promise<void> {
  if (typeof iterator.return !== 'function') return closed;
  try {
    const result = iterator.return();
    if (isPromiseLike(result)) return Promise.resolve(result).then(ignore, ignore);
  } catch {
    // A generator whose finally throws while being closed, or a sync generator that is running
    // (it closed the response itself): the stream is over either way; the pump closes it again.
  }
  return closed;
}

function destroyReadable(readable: Readable): Promise<void> {
  readable.destroy();
  return new Promise((resolve) => finished(readable, () => resolve()));
}

/** Whether `value` is a thenable: `await` would wait for it. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === 'function';
}

/**
 * Checks what a handler of `sse` or `ndjson` returned: values (events, JSON values) as an async or
 * sync iterable. Checked before the headers are set; the source is made later, by {@link valueSource}.
 *
 * @param values - what the values are, as the message names them: `values`, `events (objects or strings)`.
 * @throws TypeError naming the result when it is not an async or sync iterable.
 */
export function assertValues(result: unknown, where: string, values: string): asserts result is Values {
  if (typeof result === 'object' && result !== null && !(result instanceof Uint8Array)) {
    if (Symbol.asyncIterator in result || Symbol.iterator in result) return;
  }
  throw new TypeError(
    `${where}: the handler returned ${describeValue(result)}. It must return (or be a generator function ` +
      `yielding) an async or sync iterable of ${values}, or undefined when it answered the request itself.`,
  );
}

/**
 * The promise a body keeps under this key resolves once it is live: the headers wait for it, so a
 * client that sees the stream open misses nothing (a topic subscription whose position in a Redis
 * stream is being fixed). A rejection changes nothing: the body fails at its first read instead.
 */
export const whenLive = Symbol('express-async-stream.whenLive');

/** The promise `value` keeps under {@link whenLive}, if any. */
export function liveness(value: unknown): Promise<void> | undefined {
  if (typeof value !== 'object' || value === null || !(whenLive in value)) return undefined;
  return (value as { [whenLive]: Promise<void> })[whenLive];
}

/** What a handler of `sse` or `ndjson` returns. */
export type Values = AsyncIterable<unknown> | Iterable<unknown>;

/** How a format (`sse`, `ndjson`) turns its values into chunks: the same for every stream of a route. */
export type ValueFormat = Pick<ChunkSource, 'encode' | 'heartbeat' | 'lastWords' | 'framed'>;

/**
 * A source over values checked by {@link assertValues}, for the format's `encode` to turn into
 * chunks. A fed body (a topic subscription) is read through its {@link Feed}.
 */
export function valueSource(values: Values, format: ValueFormat = {}): ChunkSource {
  if (fed in values) {
    // One object per stream: a topic may have thousands of subscribers.
    const iterator = (values as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    const feed = (values as Fed)[fed];
    return { ...format, next: () => iterator.next(), cancel: () => closeIterator(iterator), feed };
  }
  return { ...format, ...(Symbol.asyncIterator in values ? fromAsyncIterable(values) : fromIterable(values)) };
}

type Fed = { readonly [fed]: Feed };
