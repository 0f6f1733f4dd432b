// Step: where a topic's events live. The interface every store implements (in-process, Redis Streams).

/** An event as a store keeps it: its data already in the form the wire carries. */
export interface StoredEvent {
  /** Its position in the topic, assigned by the store: ordered, and unique within the topic. */
  readonly id: string;
  /** The SSE event type, or `undefined` for `message`. */
  readonly event: string | undefined;
  /** The data as sent: the string itself, or the JSON text of any other value. */
  readonly text: string;
  /** Whether `text` is JSON (the published data was not a string). */
  readonly json: boolean;
}

/** What {@link TopicStore.readAfter} found. */
export interface HistoryRead {
  /** The kept events after the position, oldest first; every kept event when `exact` is false. */
  readonly events: readonly StoredEvent[];
  /**
   * Whether the position was one of this topic's kept events (or `'0'`, the start). False for an id
   * of another topic, of the store before a restart, or older than the kept history: events may
   * have been missed, so the subscriber is told to reset.
   */
  readonly exact: boolean;
}

/** New events of one topic being delivered to a listener, from {@link TopicStore.listen}. */
export interface StoreListener {
  /**
   * Resolves once every event appended from now on is delivered: an event appended after this
   * resolved (or, with one connection, after `listen` was called) reaches the listener. Rejects
   * when the store cannot start listening.
   */
  readonly ready: Promise<void>;
  /** Stops the delivery. Idempotent. */
  stop(): void;
}

/**
 * Keeps topics' events and delivers new ones: `memoryStore()` (one process) and `redisStore()`
 * (Redis Streams, any number of processes) implement it. A topic name reaches a store already
 * checked; a store that talks to a server maps it to a key of its own.
 *
 * @example
 * import { createTopic, memoryStore, type TopicStore } from 'express-async-stream';
 * const store: TopicStore = memoryStore();
 * const news = createTopic('news', { store });
 */
export interface TopicStore {
  /** Appends an event to `topic`, keeping at least the last `history` events; resolves its id. */
  append(topic: string, event: Omit<StoredEvent, 'id'>, history: number): Promise<string>;
  /** The kept events of `topic` after the event `after` (`'0'`: every kept event). */
  readAfter(topic: string, after: string): Promise<HistoryRead>;
  /**
   * Delivers each event appended to `topic`, in order, to `deliver` until `stop()`. A store that can
   * no longer do so calls `lost` once and delivers nothing more: with the error when the topic
   * cannot be read any more, with `undefined` when events went by undelivered (trimmed while it was
   * away from Redis, or because this process read too slowly). The topic then ends its
   * subscriptions, which fail with the error, if any. `history` is the topic's: a store that trims
   * can tell from it when events may have gone by unread (fewer than `history` entries after the
   * listener's position can never have been trimmed).
   */
  listen(
    topic: string,
    deliver: (event: StoredEvent) => void,
    lost?: (error: unknown) => void,
    history?: number,
  ): StoreListener;
  /** Orders two ids of one topic's events: negative when `a` comes first, 0 when equal, positive after. */
  compareIds(a: string, b: string): number;
}

/** The position before a topic's first event: `subscribe({ after: '0' })` reads every kept event. */
export const START = '0';
