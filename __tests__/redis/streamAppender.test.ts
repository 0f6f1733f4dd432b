// A publish is stored once, even when the client library sends its command again after a reconnect
// (ioredis's autoResendUnfulfilledCommands), against a real redis-server.
import { AsyncStreamError, createTopic } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { toRedisConnection, type RedisConnection } from '../../src/redis/redisClient.js';
import { StreamAppender } from '../../src/redis/streamAppender.js';
import { clientLibraries as libraries, type TestClient } from '../helpers/redisClients.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';

const PREFIX = 'append-test:';

/** A connection that sends every command twice, as ioredis does with one whose answer a broken connection lost. */
function resending(connection: RedisConnection, answers: unknown[]): RedisConnection {
  return {
    ...connection,
    send: async (args) => {
      answers.push(await connection.send(args));
      answers.push(await connection.send(args));
      return answers.at(-1);
    },
  };
}

/** The store's publisher hashes in Redis: `<prefix>#publisher:<random>`. */
async function publisherKeys(inspector: TestClient): Promise<string[]> {
  const [, keys] = (await inspector.send(['SCAN', '0', 'MATCH', `${PREFIX}#publisher:*`, 'COUNT', '1000'])) as [
    string,
    string[],
  ];
  return keys;
}

describeWithRedis('a publish on redisStore', () => {
  let redis: RedisServer;
  let open: TestClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(open.map((client) => client.close()));
    open = [];
  });
  afterAll(async () => {
    await redis.stop();
  });

  describe.each(libraries)('with a %s client', (_library, connect) => {
    async function client(): Promise<TestClient> {
      const connected = await connect(redis.url);
      open.push(connected);
      return connected;
    }

    it('sent twice, is stored once, and both answers are its id', async () => {
      const inspector = await client();
      await inspector.send(['FLUSHALL']);
      const answers: unknown[] = [];
      const appender = new StreamAppender(resending(toRedisConnection((await client()).client), answers), PREFIX);
      const id = await appender.append(`${PREFIX}t`, 10, ['type', 'text', 'data', 'once']);
      const entries = (await inspector.send(['XRANGE', `${PREFIX}t`, '-', '+'])) as [string, string[]][];
      expect(entries).toEqual([[id, ['type', 'text', 'data', 'once']]]);
      expect(answers).toEqual([id, id]);
    });

    it('remembers the ids of its latest 1,000 appends only, for 10 minutes after the last', async () => {
      const inspector = await client();
      await inspector.send(['FLUSHALL']);
      const topic = createTopic('t', { store: redisStore((await client()).client, { prefix: PREFIX }), history: 5 });
      for (let n = 0; n < 1_010; n += 1) await topic.publish(n);
      const [key, ...others] = await publisherKeys(inspector);
      expect(others).toEqual([]);
      expect(Number(await inspector.send(['HLEN', key!]))).toBe(1_000);
      const ttl = Number(await inspector.send(['PTTL', key!]));
      expect(ttl).toBeGreaterThan(9 * 60_000);
      expect(ttl).toBeLessThanOrEqual(10 * 60_000);
      // The stream itself keeps its history, trimmed as usual.
      expect(Number(await inspector.send(['XLEN', `${PREFIX}t`]))).toBeLessThan(200);
      topic.close();
    });

    it('refused by Redis, rejects saying the event was not published, and leaves nothing behind', async () => {
      const inspector = await client();
      await inspector.send(['FLUSHALL']);
      await inspector.send(['SET', `${PREFIX}t`, 'not a stream']);
      const topic = createTopic('t', { store: redisStore((await client()).client, { prefix: PREFIX }) });
      const rejected = topic.publish('x');
      await expect(rejected).rejects.toThrow(AsyncStreamError);
      await expect(rejected).rejects.toThrow(
        /^redisStore\(\): could not publish to append-test:t \((redis|ioredis)\): Redis refused the command: .*WRONGTYPE.*\. The event was not published\.$/,
      );
      for (const key of await publisherKeys(inspector)) expect(Number(await inspector.send(['HLEN', key]))).toBe(0);
      expect(await inspector.send(['GET', `${PREFIX}t`])).toBe('not a stream');
      topic.close();
    });
  });
});
