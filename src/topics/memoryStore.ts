// Step: the in-process store. Each topic's history in memory, delivered at once to this process's listeners.
import { randomBytes } from 'node:crypto';
import { START, type HistoryRead, type StoredEvent, type StoreListener, type TopicStore } from './topicStore.js';

/**
 * The default store of `createTopic`: each topic's last `history` events in this process's memory.
 * Subscribers in this process only; use `redisStore` (from `express-async-stream/redis`) to share
 * topics between processes.
 *
 * Ids are `<log>-<n>`: `n` counts the topic's events, and `<log>` is random for each topic log,
 * so an id from before a restart (or from another topic) is never mistaken for a position: a
 * subscriber resuming from it gets a `reset` event, then every kept event.
 *
 * A topic's history stays in memory for the life of the store, with or without subscribers: for
 * many short-lived topics (one per job), `delete` them when done.
 *
 * @example
 * import { createTopic, memoryStore } from 'express-async-stream';
 * const store = memoryStore();
 * const jobs = createTopic('jobs', { store, history: 100 });
 */
export function memoryStore(): MemoryStore {
  return new MemoryTopics();
}

/** The store {@link memoryStore} creates. */
export interface MemoryStore extends TopicStore {
  /**
   * Forgets `topic`'s history: its subscribers stay and get new events, but its ids are no longer
   * positions (resuming from one resets). Frees a finished topic's memory.
   */
  delete(topic: string): void;
}

class MemoryTopics implements MemoryStore {
  private readonly logs = new Map<string, TopicLog>();

  append(topic: string, event: Omit<StoredEvent, 'id'>, history: number): Promise<string> {
    return Promise.resolve(this.logOf(topic).append(event, history));
  }

  readAfter(topic: string, after: string): Promise<HistoryRead> {
    // A topic without a log has no event: reading it creates none.
    return Promise.resolve(this.logs.get(topic)?.readAfter(after) ?? { events: [], exact: after === START });
  }

  listen(topic: string, deliver: (event: StoredEvent) => void): StoreListener {
    const log = this.logOf(topic);
    // A wrapper of our own, so that the same function listening twice is stopped once per listen().
    const listener = (event: StoredEvent): void => deliver(event);
    log.listeners.add(listener);
    const stop = (): void => {
      log.listeners.delete(listener);
      // Subscribing alone leaves nothing behind: a log that keeps no event goes with its last listener.
      if (log.listeners.size === 0 && log.isEmpty && this.logs.get(topic) === log) this.logs.delete(topic);
    };
    return { ready: Promise.resolve(), stop };
  }

  compareIds(a: string, b: string): number {
    return sequenceOf(a) - sequenceOf(b);
  }

  delete(topic: string): void {
    const log = this.logs.get(topic);
    if (log === undefined) return;
    if (log.listeners.size === 0) this.logs.delete(topic);
    else log.forget();
  }

  private logOf(topic: string): TopicLog {
    let log = this.logs.get(topic);
    if (log === undefined) this.logs.set(topic, (log = new TopicLog()));
    return log;
  }
}

function sequenceOf(id: string): number {
  return Number(id.slice(id.lastIndexOf('-') + 1));
}

/** One topic's kept events: a queue trimmed from the front, and who listens. */
class TopicLog {
  readonly listeners = new Set<(event: StoredEvent) => void>();
  private prefix = newLogPrefix();
  private count = 0;
  private events: StoredEvent[] = [];
  /** Index of the oldest kept event in `events` (trimmed lazily, so a trim is not a copy each time). */
  private first = 0;

  append(event: Omit<StoredEvent, 'id'>, history: number): string {
    const stored: StoredEvent = { id: `${this.prefix}${++this.count}`, ...event };
    this.events.push(stored);
    this.first = Math.max(this.first, this.events.length - history);
    if (this.first > 1024 && this.first * 2 > this.events.length) {
      this.events = this.events.slice(this.first);
      this.first = 0;
    }
    for (const listener of this.listeners) listener(stored);
    return stored.id;
  }

  /** Whether it keeps no event (never published to, or forgotten). */
  get isEmpty(): boolean {
    return this.events.length === this.first;
  }

  readAfter(after: string): HistoryRead {
    const kept = this.events.length - this.first;
    const oldest = this.count - kept + 1;
    let next: number | undefined;
    if (after === START) next = oldest;
    else if (after.startsWith(this.prefix)) {
      const sequence = after.slice(this.prefix.length);
      // Exact only for an event still kept (or the last one): an older id may have missed events.
      if (/^[1-9][0-9]*$/.test(sequence) && Number(sequence) >= oldest - 1 && Number(sequence) <= this.count)
        next = Number(sequence) + 1;
    }
    if (next === undefined) return { events: this.events.slice(this.first), exact: false };
    return { events: this.events.slice(this.first + next - oldest), exact: true };
  }

  /**
   * Drops the history: ids from before are no longer positions. The count goes on, so that
   * compareIds still puts the events after it behind those a subscriber already has.
   */
  forget(): void {
    this.prefix = newLogPrefix();
    this.events = [];
    this.first = 0;
  }
}

function newLogPrefix(): string {
  return `${randomBytes(4).toString('hex')}-`;
}
