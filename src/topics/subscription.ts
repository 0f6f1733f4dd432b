// Step: topic → one subscriber. History then live events, the overlap dropped, at most maxPending waiting.
import { whenLive } from '../source.js';
import type { TopicEvent, TopicReset } from './topicEvent.js';

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

/** What a subscription yields. */
type Yielded = TopicEvent | TopicReset;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * One subscriber's view of a topic, as an async iterator. Live events arrive through
 * {@link deliver} from the moment it exists; {@link start} adds the history read after them, and
 * from then on a live event at or before the last event read is dropped: nothing missed between
 * history and live, nothing twice.
 */
export class Subscription implements AsyncIterableIterator<Yielded> {
  /** Live events not yet taken, oldest first (from `head`). */
  private queue: TopicEvent[] = [];
  private head = 0;
  /** History and the reset event, taken before the queue. */
  private replay: Yielded[] = [];
  private replayed = 0;
  /** Live events at or before this id were read as history. */
  private boundary: string | undefined;
  private started = false;
  private ended = false;
  private failure: { error: unknown } | undefined;
  /** The `next()` calls waiting for an event, oldest first: a caller may ask again before an answer. */
  private waiters: { resolve(result: IteratorResult<Yielded>): void; reject(error: unknown): void }[] = [];
  private settleReady!: (error?: { error: unknown }) => void;
  /** Resolves once it receives every event published from then on; see `TopicSubscription.ready`. */
  readonly ready = new Promise<void>((resolve, reject) => {
    // A store's failure is passed on as it is, whatever it is.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
    this.settleReady = (failure) => (failure === undefined ? resolve() : reject(failure.error));
  });

  constructor(
    private readonly host: SubscriptionHost,
    private readonly maxPending: number,
    private readonly signal: AbortSignal | undefined,
  ) {
    // Awaited by whoever needs it (sse() before the headers); a failure also rejects next().
    this.ready.catch(() => {});
    // An 'abort' listener added to an aborted signal never runs: such a subscription ends at once.
    if (signal?.aborted === true) {
      this.ended = true;
      this.settleReady();
    } else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  /** The headers of a stream of it wait for `ready`. */
  get [whenLive](): Promise<void> {
    return this.ready;
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
      if (!read.exact) this.replay.push({ event: 'reset', data: { lastEventId: after } });
      // Events published during the read may have trimmed the history past the first live one:
      // the live queue has every event from its first on, so history gives only what comes before.
      const firstLive = this.queue[this.head]?.id;
      const events =
        firstLive === undefined
          ? read.events
          : read.events.filter((event) => this.host.compareIds(event.id, firstLive) < 0);
      // concat, not push(...events): a call's arguments go on the stack, which overflows at about 130,000.
      this.replay = this.replay.concat(events);
      const last = events.at(-1)?.id;
      this.boundary = last ?? (read.exact ? after : undefined);
      if (this.boundary !== undefined) this.dropThrough(this.boundary);
    }
    this.started = true;
    this.settleReady();
    this.wake();
  }

  /** A live event: queued, or dropped when history already holds it; past `maxPending` waiting, the subscriber is dropped. */
  deliver(event: TopicEvent): void {
    if (this.ended) return;
    if (this.started && this.boundary !== undefined && this.host.compareIds(event.id, this.boundary) <= 0) return;
    this.queue.push(event);
    if (this.queue.length - this.head > this.maxPending) {
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
    const step = this.take();
    if (step !== undefined) return Promise.resolve(step);
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the store's failure, as it is
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.resolve(DONE);
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<Yielded>> {
    this.end();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends it: what it holds is freed, a pending `next()` settles, the topic forgets it. Idempotent. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    // Ended before it started: there is nothing to wait for.
    this.settleReady();
    this.queue = [];
    this.head = 0;
    this.replay = [];
    this.signal?.removeEventListener('abort', this.onAbort);
    this.host.remove(this);
    this.wake();
  }

  private readonly onAbort = (): void => this.end();

  private take(): IteratorResult<Yielded> | undefined {
    if (!this.started || this.ended) return undefined;
    if (this.replayed < this.replay.length) {
      const value = this.replay[this.replayed++]!;
      if (this.replayed === this.replay.length) {
        this.replay = [];
        this.replayed = 0;
      }
      return { done: false, value };
    }
    if (this.head < this.queue.length) {
      const value = this.queue[this.head++]!;
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      return { done: false, value };
    }
    return undefined;
  }

  private wake(): void {
    while (this.waiters.length > 0) {
      const step = this.take();
      if (step === undefined && !this.ended) return;
      const waiter = this.waiters.shift()!;
      if (step !== undefined) waiter.resolve(step);
      else if (this.failure !== undefined) waiter.reject(this.failure.error);
      else waiter.resolve(DONE);
    }
  }

  /** Drops the queued live events at or before `id`: they were read as history. */
  private dropThrough(id: string): void {
    const kept = this.queue.slice(this.head).filter((event) => this.host.compareIds(event.id, id) > 0);
    this.queue = kept;
    this.head = 0;
  }
}
