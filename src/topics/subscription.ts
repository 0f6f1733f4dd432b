// Step: topic → one subscriber. History then live events, the overlap dropped, at most maxPending waiting.
import type { Endable } from '../context.js';
import { fed, FEED_END, FEED_IDLE, whenLive, type Feed } from '../source.js';
import { wakeAtTickEnd } from './tickEnd.js';
import type { DeliveredEvent, EventRun, TopicEvent, TopicReset } from './topicEvent.js';

/** The history a subscription starts with: the kept events after its position, decoded. */
export interface History {
  readonly events: readonly TopicEvent[];
  /** False when the position was unknown: a reset event goes first. */
  readonly exact: boolean;
}

/** What a subscription needs from its topic. */
export interface SubscriptionHost {
  /** Orders two event ids of the topic. */
  compareIds(a: string, b: string): number;
  /** Called once when the subscription ends, however it ends. */
  remove(subscription: Subscription): void;
}

/** What ends a subscription besides its consumer: an `AbortSignal`, or the request context it was made in. */
export type Stopper = AbortSignal | { watch(watcher: Endable): void; unwatch(watcher: Endable): void };

/** What a subscription yields. */
type Yielded = TopicEvent | TopicReset;

type Waiter = { resolve(result: IteratorResult<Yielded>): void; reject(error: unknown): void };

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
/** `ready` once live, shared: a live subscription holds no promise of its own. */
const LIVE = Promise.resolve();
const ignore = (): void => {};
/** Events up to which an emptied queue keeps its elements' room for the next ones. */
const KEPT_CAPACITY = 8;

/**
 * One subscriber's view of a topic, as an async iterator. Live events arrive through
 * {@link deliver} from the moment it exists; {@link start} adds the history read after them, and
 * from then on a live event at or before the last event read is dropped: nothing missed between
 * history and live, nothing twice. A topic may have thousands: what one holds is kept small.
 */
export class Subscription implements AsyncIterableIterator<Yielded>, Feed {
  /** Live events not yet taken, oldest first (from `head`). */
  private queue: DeliveredEvent[] = [];
  private head = 0;
  /** History and the reset event, taken before the queue. */
  private replay: Yielded[] | undefined;
  private replayed = 0;
  /** Live events at or before this id were read as history. */
  private boundary: string | undefined;
  private started = false;
  private ended = false;
  private failure: { error: unknown } | undefined;
  /** The `next()` calls waiting for an event, oldest first: a caller may ask again before an answer. */
  private waiters: Waiter[] | undefined;
  /** The pump parked on it (`sse()` reads it as a {@link Feed}), woken once when there is more. */
  private woken: { wake(): void } | undefined;
  /** `ready`, made when first asked for (`sse()` asks before the headers), and how to settle it. */
  private readyPromise: Promise<void> | undefined;
  private settleReadyPromise: ((failure?: { error: unknown }) => void) | undefined;

  constructor(
    private readonly host: SubscriptionHost,
    private readonly maxPending: number,
    private readonly stopper: Stopper | undefined,
  ) {
    if (stopper instanceof AbortSignal) {
      // An 'abort' listener added to an aborted signal never runs: such a subscription ends at once.
      if (stopper.aborted) this.end();
      else stopper.addEventListener('abort', this, { once: true });
    } else stopper?.watch(this);
  }

  /**
   * Resolves once it receives every event published from then on; see `TopicSubscription.ready`.
   * Made on first use, and let go once settled (a live subscription answers a shared promise).
   */
  get ready(): Promise<void> {
    if (this.readyPromise !== undefined) return this.readyPromise;
    if (this.started || (this.ended && this.failure === undefined)) return LIVE;
    // A store's failure is passed on as it is, whatever it is.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    if (this.failure !== undefined) this.readyPromise = Promise.reject(this.failure.error);
    else {
      this.readyPromise = new Promise((resolve, reject) => {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        this.settleReadyPromise = (failure) => (failure === undefined ? resolve() : reject(failure.error));
      });
    }
    // Awaited by whoever needs it (sse() before the headers); a failure also rejects next().
    this.readyPromise.catch(ignore);
    return this.readyPromise;
  }

  /** The headers of a stream of it wait for `ready`. */
  get [whenLive](): Promise<void> {
    return this.ready;
  }

  /** `sse()` reads it as a {@link Feed}: without a promise per event. */
  get [fed](): Feed {
    return this;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /**
   * Begins delivery: with `read` (history after the subscriber's position), its events first (and a
   * reset event when the position was unknown) and the live events that follow them.
   */
  start(read: History | undefined, after: string | undefined): void {
    if (this.ended) return;
    if (read !== undefined && after !== undefined) {
      // Events published during the read may have trimmed the history past the first live one:
      // the live queue has every event from its first on, so history gives only what comes before.
      const firstLive = this.queue[this.head]?.id;
      const events =
        firstLive === undefined
          ? read.events
          : read.events.filter((event) => this.host.compareIds(event.id, firstLive) < 0);
      const reset: Yielded[] = read.exact ? [] : [{ event: 'reset', data: { lastEventId: after } }];
      // concat, not push(...events): a call's arguments go on the stack, which overflows at about 130,000.
      const replay = reset.concat(events);
      if (replay.length > 0) this.replay = replay;
      const last = events.at(-1)?.id;
      this.boundary = last ?? (read.exact ? after : undefined);
      if (this.boundary !== undefined) this.dropThrough(this.boundary);
    }
    this.started = true;
    this.settleReady();
    this.wake();
  }

  /** A live event: queued, or dropped when history already holds it; past `maxPending` waiting, the subscriber is dropped. */
  deliver(event: DeliveredEvent): void {
    if (this.ended) return;
    if (this.started && this.boundary !== undefined && this.host.compareIds(event.id, this.boundary) <= 0) return;
    if (this.queue.push(event) - this.head > this.maxPending) {
      // Too slow: its stream ends and the browser resumes from history with Last-Event-ID. Not an error.
      this.end();
      return;
    }
    if (this.started) this.wake();
  }

  /** Ends the subscription with `error`, thrown by the next `next()`. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = { error };
    this.settleReady(this.failure);
    this.end();
  }

  next(): Promise<IteratorResult<Yielded>> {
    const value = this.shift();
    if (value !== undefined) return Promise.resolve({ done: false, value });
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the store's failure, as it is
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => (this.waiters ??= []).push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<Yielded>> {
    this.end();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  take(room: number): Yielded | EventRun | typeof FEED_IDLE | typeof FEED_END {
    // Several live events waiting, for sse(): one run, framed once for the subscribers that have it.
    if (room > 0 && this.started && !this.ended && this.replay === undefined && this.queue.length - this.head > 1) {
      const run = this.queue[this.head]!.runFrom(this.queue, this.head, room);
      if (run !== undefined) {
        this.advance(run.count);
        return run;
      }
    }
    const value = this.shift();
    if (value !== undefined) return value;
    if (this.failure !== undefined) throw this.failure.error;
    return this.ended ? FEED_END : FEED_IDLE;
  }

  onReady(pump: { wake(): void }): void {
    this.woken = pump;
  }

  /** Its `AbortSignal` aborted: it ends (the subscription is its own listener, so no closure per subscriber). */
  handleEvent(): void {
    this.end();
  }

  /** Ends it: what it holds is freed, a pending `next()` settles, the topic forgets it. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    // Ended before it started: there is nothing to wait for.
    this.settleReady();
    this.queue.length = 0;
    this.head = 0;
    this.replay = undefined;
    if (this.stopper instanceof AbortSignal) this.stopper.removeEventListener('abort', this);
    else this.stopper?.unwatch(this);
    this.host.remove(this);
    this.wake();
  }

  private settleReady(failure?: { error: unknown }): void {
    const settle = this.settleReadyPromise;
    this.settleReadyPromise = undefined;
    settle?.(failure);
    // Kept when it rejected, so that `ready` keeps saying why; let go when it resolved.
    if (failure === undefined) this.readyPromise = undefined;
  }

  /** The next event or reset, or `undefined` while none waits (or once it ended). */
  private shift(): Yielded | undefined {
    if (!this.started || this.ended) return undefined;
    const { replay, queue } = this;
    if (replay !== undefined) {
      const value = replay[this.replayed++]!;
      if (this.replayed === replay.length) {
        this.replay = undefined;
        this.replayed = 0;
      }
      return value;
    }
    if (this.head === queue.length) return undefined;
    const value = queue[this.head]!;
    this.advance(1);
    return value;
  }

  /** `count` queued events were taken: the queue is emptied in place, or compacted once mostly taken. */
  private advance(count: number): void {
    const { queue } = this;
    this.head += count;
    if (this.head === queue.length) {
      // Emptied in place. A short queue is popped empty rather than cut to length 0, which would
      // free its elements and make V8 allocate new ones for the next event: one per event and subscriber.
      if (queue.length > KEPT_CAPACITY) queue.length = 0;
      else while (queue.pop() !== undefined);
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > queue.length) {
      queue.splice(0, this.head);
      this.head = 0;
    }
  }

  private wake(): void {
    const woken = this.woken;
    if (woken !== undefined && (this.ended || this.holdsEvents)) {
      this.woken = undefined;
      wakeAtTickEnd(woken);
    }
    const { waiters } = this;
    while (waiters !== undefined && waiters.length > 0) {
      const value = this.shift();
      if (value === undefined && !this.ended) return;
      const waiter = waiters.shift()!;
      if (value !== undefined) waiter.resolve({ done: false, value });
      else if (this.failure !== undefined) waiter.reject(this.failure.error);
      else waiter.resolve(DONE);
    }
  }

  private get holdsEvents(): boolean {
    return this.started && (this.replay !== undefined || this.head < this.queue.length);
  }

  /** Drops the queued live events at or before `id`: they were read as history. */
  private dropThrough(id: string): void {
    this.queue = this.queue.slice(this.head).filter((event) => this.host.compareIds(event.id, id) > 0);
    this.head = 0;
  }
}
