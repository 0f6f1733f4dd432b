// Where the topic examples keep their events: Redis when REDIS_URL is set, else this process's memory.
import { createClient } from 'redis';
import { memoryStore, type TopicStore } from 'express-async-stream';
import { redisStore } from 'express-async-stream/redis';

/** A topic store the examples can also ask to forget a topic (both stores can). */
export type ForgettingStore = TopicStore & { delete(topic: string): void | Promise<void> };

/** The store an example runs on, and how to let go of it at shutdown. */
export interface ExampleStore {
  readonly store: ForgettingStore;
  /** Where the events live, for the startup line. */
  readonly description: string;
  /** Closes the Redis connection, if any, so that the process can exit: call it after `closeStreams()`. */
  close(): Promise<void>;
}

/** The examples' keys in a Redis they may share with other apps: `express-async-stream:example:chat`. */
const PREFIX = 'express-async-stream:example:';

/** Opens the store `REDIS_URL` names, or a memory store when it is unset or empty. */
export async function openTopicStore(url = process.env.REDIS_URL ?? ''): Promise<ExampleStore> {
  if (url === '') {
    return {
      store: memoryStore(),
      description: 'in this process (set REDIS_URL to share them between processes)',
      close: () => Promise.resolve(),
    };
  }
  const client = createClient({ url });
  // node-redis reconnects by itself; without a listener, its 'error' event would end the process.
  client.on('error', (error: Error) => console.error(`Redis: ${error.message}`));
  await client.connect();
  return {
    store: redisStore(client, { prefix: PREFIX }),
    description: `in Redis at ${new URL(url).host}`,
    close: () => client.close(),
  };
}
