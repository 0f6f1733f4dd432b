// Step: topics on Redis Streams. XADD to publish, XRANGE to resume, one shared reader for live events.
import { describeValue, resolveOptions, type OptionTable } from '../arguments.js';
import { AsyncStreamError } from '../errors.js';
import {
  START,
  type HistoryRead,
  type StoredEvent,
  type StoreListener,
  type TopicStore,
} from '../topics/topicStore.js';
import { toRedisConnection, type RedisConnection } from './redisClient.js';
import { doorbellOf } from './doorbells.js';
import { StreamAppender } from './streamAppender.js';
import { compareStreamIds, entryFields, eventsOf, STREAM_ID } from './streamEntry.js';
import { StreamReader } from './streamReader.js';

/**
 * Options of {@link redisStore}.
 *
 * @example
 * import { redisStore, type RedisStoreOptions } from 'express-async-stream/redis';
 * const options: RedisStoreOptions = { prefix: 'myapp:topic:' };
 * const store = redisStore(client, options);
 */
export interface RedisStoreOptions {
  /**
   * What every topic's key starts with: the topic `chat` is the stream `<prefix>chat`. Give each app
   * sharing a Redis its own prefix. 1 to 100 characters, no spaces or control characters.
   *
   * @default 'express-async-stream:topic:'
   */
  readonly prefix?: string | undefined;
}

/** The store {@link redisStore} creates. */
export interface RedisStore extends TopicStore {
  /** The key of `topic`'s stream: the prefix, then the name. */
  keyOf(topic: string): string;
  /** Deletes `topic`'s stream (`DEL`): its history is gone, and resuming from one of its ids resets. */
  delete(topic: string): Promise<void>;
}

const PREFIX = /^[^\s\p{Cc}]{1,100}$/u;

const optionTable = {
  prefix: {
    default: 'express-async-stream:topic:',
    check(value, label) {
      if (typeof value !== 'string' || !PREFIX.test(value)) {
        throw new (typeof value === 'string' ? RangeError : TypeError)(
          `${label} must be 1 to 100 characters without spaces or control characters, but received ` +
            `${describeValue(value)}. E.g. { prefix: 'myapp:topic:' }.`,
        );
      }
      return value;
    },
  },
} satisfies OptionTable<RedisStoreOptions>;

/** One reader per client and process, however many stores share the client. */
const readers = new WeakMap<object, StreamReader>();

/**
 * A topic store on Redis Streams (Redis 6.2 or later, or Valkey), shared by every process that uses
 * the same Redis: an event published in one reaches the subscribers of all, and a browser moved to
 * another process resumes from its `Last-Event-ID`.
 *
 * Each topic is one stream (`<prefix><name>`), trimmed with `XADD … MAXLEN ~ history`; event ids
 * are the stream's ids. Each publish also rings the store's doorbell (`<prefix>#doorbell`, a
 * stream of the keys published to); each process reads it with one blocking `XREAD`, on a second
 * connection made with `client.duplicate()`, and reads the topics it names that have subscribers
 * here, resuming from the last id it delivered when the connection comes back. `publish` rejects
 * while the client is not connected. Redis Cluster is not supported (one `XREAD` reads keys of many
 * slots).
 *
 * @param client - a connected client of `redis` (`createClient()`, then `await client.connect()`)
 *   or `ioredis` (`new Redis(url)`). It stays yours: the store never closes it, and its `'error'`
 *   listener is yours to add (without one, node-redis crashes the process when the connection is lost).
 * @param options - see {@link RedisStoreOptions}.
 * @throws TypeError or RangeError for a client of neither library, or a bad option.
 * @example
 * import { createClient } from 'redis';
 * import { createTopic } from 'express-async-stream';
 * import { redisStore } from 'express-async-stream/redis';
 * const client = await createClient({ url: process.env.REDIS_URL }).on('error', console.error).connect();
 * const chat = createTopic('chat', { store: redisStore(client) });
 */
export function redisStore(client: unknown, options: RedisStoreOptions = {}): RedisStore {
  const connection = toRedisConnection(client);
  const { prefix } = resolveOptions('redisStore(client, options)', options, optionTable, "{ prefix: 'myapp:topic:' }");
  let reader = readers.get(client as object);
  if (reader === undefined) readers.set(client as object, (reader = new StreamReader(connection)));
  return new RedisTopics(connection, reader, prefix);
}

class RedisTopics implements RedisStore {
  private readonly appender: StreamAppender;

  constructor(
    private readonly connection: RedisConnection,
    private readonly reader: StreamReader,
    private readonly prefix: string,
  ) {
    this.appender = new StreamAppender(connection, prefix);
  }

  keyOf(topic: string): string {
    return this.prefix + topic;
  }

  async append(topic: string, event: Omit<StoredEvent, 'id'>, history: number): Promise<string> {
    const key = this.keyOf(topic);
    // A client that is reconnecting would queue the command until Redis is back: the caller
    // should know now that the event is not published.
    if (!this.connection.isReady) throw this.unreachable(`publish to ${key}`);
    try {
      return await this.appender.append(key, history, entryFields(event));
    } catch (error) {
      throw this.unreachable(`publish to ${key}`, error);
    }
  }

  async readAfter(topic: string, after: string): Promise<HistoryRead> {
    const key = this.keyOf(topic);
    if (after === START)
      return { events: eventsOf(await this.connection.send(['XRANGE', key, '-', '+'])), exact: true };
    if (STREAM_ID.test(after)) {
      // One transaction: the position still kept, and what follows it (an exclusive start, Redis 6.2).
      const [found, following] = await this.connection.transaction([
        ['XRANGE', key, after, after],
        ['XRANGE', key, `(${after}`, '+'],
      ]);
      if (eventsOf(found).length === 1) return { events: eventsOf(following), exact: true };
    }
    // Not a position of this stream: every kept event, after a reset.
    return { events: eventsOf(await this.connection.send(['XRANGE', key, '-', '+'])), exact: false };
  }

  listen(
    topic: string,
    deliver: (event: StoredEvent) => void,
    lost?: (error: unknown) => void,
    history?: number,
  ): StoreListener {
    return this.reader.listen(
      { key: this.keyOf(topic), doorbell: doorbellOf(this.prefix), history: history ?? 1 },
      deliver,
      lost,
    );
  }

  compareIds(a: string, b: string): number {
    return compareStreamIds(a, b);
  }

  async delete(topic: string): Promise<void> {
    await this.connection.send(['DEL', this.keyOf(topic)]);
  }

  /**
   * Why a publish failed. Refused by Redis, or never sent: not stored. Sent, then the connection
   * broke (node-redis rejects what is in flight): Redis may have stored it before the break.
   */
  private unreachable(what: string, cause?: unknown): AsyncStreamError {
    const message = cause instanceof Error ? cause.message : describeValue(cause);
    const [reason, outcome] =
      cause === undefined
        ? ['the client is not connected', 'The event was not published; retry once Redis is reachable.']
        : isReplyError(cause)
          ? [`Redis refused the command: ${message}`, 'The event was not published.']
          : [
              `the connection broke before Redis answered: ${message}`,
              'The event may have been stored or not; a retry may publish it twice.',
            ];
    return new AsyncStreamError(`redisStore(): could not ${what} (${this.connection.library}): ${reason}. ${outcome}`, {
      cause,
    });
  }
}

/**
 * Whether Redis itself answered with an error (`ERR …`, `LOADING …`, `OOM …`): the command did
 * nothing. node-redis's `ErrorReply` (and its `SimpleError`, `BlobError`), ioredis's `ReplyError`.
 */
function isReplyError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return error.name === 'ReplyError' || ['ErrorReply', 'SimpleError', 'BlobError'].includes(error.constructor.name);
}
