import { once, type EventEmitter } from 'node:events';
import { Cluster, Redis } from 'ioredis';
import { createClient, createCluster, RESP_TYPES } from 'redis';
import { isAsyncStreamError } from '../../src/index.js';
import { toRedisConnection, type RedisConnection } from '../../src/redis/redisClient.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';
import { fromImmediate } from '../helpers/within.js';

/** A user's client as the user made it, with the 'error' listener every user must add. */
interface UserClient {
  readonly client: EventEmitter;
  /** The errors the client emitted. */
  readonly errors: Error[];
  /** Closes the client; call it while Redis runs. Idempotent. */
  close(): Promise<void>;
}

/** How a user of one library makes a connected client. */
interface ClientKind {
  readonly name: string;
  readonly library: RedisConnection['library'];
  /** `retryOnce`: the client gives up after one failed reconnection attempt (by default it never does). */
  open(url: string, options?: { retryOnce?: boolean }): Promise<UserClient>;
}

function withErrors<C extends EventEmitter>(client: C, close: (client: C) => Promise<void>): UserClient {
  const errors: Error[] = [];
  client.on('error', (error: Error) => errors.push(error));
  return { client, errors, close: () => close(client) };
}

const nodeRedis = (name: string, options: Parameters<typeof createClient>[0] = {}): ClientKind => ({
  name,
  library: 'redis',
  async open(url, { retryOnce = false } = {}) {
    const reconnectStrategy = (retries: number): number | false => (retries < 1 ? 10 : false);
    const socket = retryOnce ? { reconnectStrategy } : {};
    const user = withErrors(createClient({ ...options, url, socket }), async (client) => {
      if (client.isOpen) client.destroy();
    });
    await (user.client as ReturnType<typeof createClient>).connect();
    return user;
  },
});

const ioredis = (name: string, options: { lazyConnect?: boolean } = {}): ClientKind => ({
  name,
  library: 'ioredis',
  async open(url, { retryOnce = false } = {}) {
    const retryStrategy = (times: number): number | null => (times <= 1 ? 10 : null);
    const user = withErrors(new Redis(url, { ...options, ...(retryOnce && { retryStrategy }) }), async (client) => {
      if (client.status === 'end') return;
      // disconnect() between two reconnection attempts arms a 2 s timer (disconnectTimeout) for a
      // socket that is closed already, and emits no 'end' (ioredis 5.11): close it once back.
      if (client.status !== 'ready') await nextEvent(client, 'ready');
      client.disconnect();
    });
    const client = user.client as Redis;
    if (options.lazyConnect) await client.connect();
    else await once(client, 'ready');
    return user;
  },
});

const kinds: ClientKind[] = [
  nodeRedis('node-redis'),
  nodeRedis('node-redis with RESP: 3', { RESP: 3 }),
  ioredis('ioredis'),
  ioredis('ioredis with lazyConnect', { lazyConnect: true }),
];

/**
 * Resolves on the next `event` of `emitter`. Unlike `events.once()`, an 'error' emitted first does
 * not reject it: node-redis emits one before 'reconnecting'.
 */
function nextEvent(emitter: EventEmitter, event: string): Promise<void> {
  return new Promise((resolve) => emitter.once(event, () => resolve()));
}

/** Resolves once `condition` resolves true, checking it again on each turn of the event loop. */
async function until(condition: () => Promise<boolean>): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setImmediate(resolve));
}

/** An entry id, as XADD answers. */
const ENTRY_ID = expect.stringMatching(/^\d+-\d+$/);

describeWithRedis('toRedisConnection(client)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis.stop());

  describe.each(kinds)('over a $name client', (kind) => {
    let user: UserClient;
    let connection: RedisConnection;
    const opened: RedisConnection[] = [];
    /** A duplicate that the test's end closes. */
    const duplicate = async (): Promise<RedisConnection> => {
      const copy = await connection.duplicate();
      opened.push(copy);
      return copy;
    };
    let key: string;
    let keyCount = 0;
    beforeEach(async () => {
      user = await kind.open(redis.url);
      connection = toRedisConnection(user.client);
      key = `stream:${kind.name}:${++keyCount}`;
    });
    afterEach(async () => {
      for (const copy of opened.splice(0)) copy.close();
      // A test that failed while Redis was down leaves it down; the next one needs it.
      if (!redis.isRunning) await redis.start();
      await user.close();
    });

    it('names its library', () => {
      expect(connection.library).toBe(kind.library);
    });

    describe('send(args)', () => {
      it('resolves the id XADD gives a new entry', async () => {
        expect(await connection.send(['XADD', key, '*', 'data', 'x'])).toEqual(ENTRY_ID);
      });

      it('resolves XRANGE as [id, [field, value, …]] pairs of strings', async () => {
        const id = await connection.send(['XADD', key, '*', 'data', 'x', 'event', 'tick']);
        expect(await connection.send(['XRANGE', key, '-', '+'])).toEqual([[id, ['data', 'x', 'event', 'tick']]]);
      });

      it('resolves XREAD as [key, entries] pairs in the order of its keys (RESP2 shape, even under RESP3)', async () => {
        const other = `${key}:other`;
        const first = await connection.send(['XADD', key, '*', 'data', 'a']);
        const second = await connection.send(['XADD', other, '*', 'data', 'b']);
        expect(await connection.send(['XREAD', 'COUNT', '10', 'STREAMS', other, key, '0', '0'])).toEqual([
          [other, [[second, ['data', 'b']]]],
          [key, [[first, ['data', 'a']]]],
        ]);
      });

      it('resolves HGETALL as the flat [field, value, …] array (RESP2 shape, even under RESP3)', async () => {
        await connection.send(['HSET', key, 'b', '2', 'a', '1']);
        expect(await connection.send(['HGETALL', key])).toEqual(['b', '2', 'a', '1']);
      });

      it('resolves XREAD with nothing new as null', async () => {
        expect(await connection.send(['XREAD', 'STREAMS', key, '0'])).toBeNull();
      });

      it('resolves integer replies as numbers', async () => {
        await connection.send(['XADD', key, '*', 'data', 'x']);
        expect(await connection.send(['XLEN', key])).toBe(1);
      });

      it('rejects with the error Redis answers', async () => {
        await expect(connection.send(['XADD', key, '0-0', 'data', 'x'])).rejects.toThrow(
          'The ID specified in XADD must be greater than 0-0',
        );
      });

      it('rejects a command without a name with a TypeError', async () => {
        await expect(connection.send([])).rejects.toThrow(
          new TypeError('redisStore: a Redis command needs a name, but received [].'),
        );
      });
    });

    describe('transaction(commands)', () => {
      it("resolves each command's reply in order, in RESP2 shape", async () => {
        const hash = `${key}:hash`;
        const replies = await connection.transaction([
          ['XADD', key, '*', 'data', 'x'],
          ['XLEN', key],
          ['XREAD', 'STREAMS', key, '0'],
          ['HSET', hash, 'b', '2'],
          ['HGETALL', hash],
        ]);
        expect(replies).toEqual([ENTRY_ID, 1, [[key, [[replies[0], ['data', 'x']]]]], 1, ['b', '2']]);
      });

      it("rejects with the failed command's error", async () => {
        await connection.send(['SET', key, 'not a stream']);
        await expect(
          connection.transaction([
            ['GET', key],
            ['XLEN', key],
          ]),
        ).rejects.toThrow('WRONGTYPE Operation against a key holding the wrong kind of value');
      });
    });

    describe('isReady and whenReady()', () => {
      it('is ready once the client is connected', async () => {
        expect(connection.isReady).toBe(true);
        await expect(connection.whenReady()).resolves.toBeUndefined();
      });

      it('is not ready while Redis is down, and whenReady() resolves once it is back', async () => {
        const reconnecting = nextEvent(user.client, 'reconnecting');
        await redis.shutdown();
        await reconnecting;
        expect(connection.isReady).toBe(false);
        let ready = false;
        const back = connection.whenReady().then(() => (ready = true));
        expect(await fromImmediate(() => ready)).toBe(false);
        await redis.start();
        await back;
        expect(connection.isReady).toBe(true);
      });

      it('adds no listener to the client once whenReady() has settled', async () => {
        const counts = (): number[] => ['ready', 'end', 'error'].map((event) => user.client.listenerCount(event));
        const before = counts();
        const reconnecting = nextEvent(user.client, 'reconnecting');
        await redis.shutdown();
        await reconnecting;
        const back = connection.whenReady();
        await redis.start();
        await back;
        expect(counts()).toEqual(before);
      });

      it('whenReady() rejects once the client is closed', async () => {
        const ended = nextEvent(user.client, 'end');
        await user.close();
        await ended;
        expect(connection.isReady).toBe(false);
        await expect(connection.whenReady()).rejects.toThrow(`the ${kind.library} client is closed`);
      });

      it('a pending whenReady() rejects when the client stops reconnecting', async () => {
        await user.close();
        user = await kind.open(redis.url, { retryOnce: true });
        connection = toRedisConnection(user.client);
        const reconnecting = nextEvent(user.client, 'reconnecting');
        await redis.shutdown();
        await reconnecting;
        await expect(connection.whenReady()).rejects.toThrow(
          `redisStore: the ${kind.library} client is closed (it was closed, never connected, or stopped reconnecting)`,
        );
      });
    });

    describe('duplicate()', () => {
      it('opens a ready connection of its own, which can block while the first one sends', async () => {
        const reader = await duplicate();
        expect(reader.isReady).toBe(true);
        const read = reader.send(['XREAD', 'BLOCK', '0', 'STREAMS', key, '$']);
        const id = await connection.send(['XADD', key, '*', 'data', 'x']);
        expect(await read).toEqual([[key, [[id, ['data', 'x']]]]]);
      });

      it('rejects when Redis is down and the client gives up reconnecting', async () => {
        await user.close();
        user = await kind.open(redis.url, { retryOnce: true });
        connection = toRedisConnection(user.client);
        const reconnecting = nextEvent(user.client, 'reconnecting');
        await redis.shutdown();
        await reconnecting;
        await expect(connection.duplicate()).rejects.toThrow();
      });

      it('survives a restart of Redis without an unhandled error, and reads the data again', async () => {
        const unhandled = jest.spyOn(console, 'error');
        const reader = await duplicate();
        const id = await connection.send(['XADD', key, '*', 'data', 'x']);
        // The user's client stands in for the duplicate: both lose the same server at once.
        const refused = nextEvent(user.client, 'error');
        await redis.shutdown();
        await refused;
        await redis.start();
        await reader.whenReady();
        expect(await reader.send(['XRANGE', key, '-', '+'])).toEqual([[id, ['data', 'x']]]);
        // ioredis prints "[ioredis] Unhandled error event" where node-redis would throw.
        expect(unhandled).not.toHaveBeenCalled();
        unhandled.mockRestore();
      });

      it('closes it and rejects when its signal aborts before it is ready', async () => {
        const reconnecting = nextEvent(user.client, 'reconnecting');
        await redis.shutdown();
        await reconnecting;
        const controller = new AbortController();
        const opening = connection.duplicate(controller.signal);
        controller.abort();
        // node-redis may reject first with the refused connection; either way, nothing stays open.
        await expect(opening).rejects.toThrow();
      });

      it('counts its connections in connects, so that a reader knows it reconnected', async () => {
        const reader = await duplicate();
        expect(reader.connects).toBe(1);
        await redis.shutdown();
        await until(() => Promise.resolve(!reader.isReady));
        await redis.start();
        await reader.whenReady();
        expect(reader.connects).toBe(2);
        // The user's client gets no listener for it.
        expect(connection.connects).toBe(0);
      });
    });

    describe('across an outage, as each library does by default', () => {
      it('sends a command given while Redis is down once it is back', async () => {
        const reconnecting = nextEvent(user.client, 'reconnecting');
        await redis.shutdown();
        await reconnecting;
        const pong = connection.send(['PING']);
        await redis.start();
        expect(await pong).toBe('PONG');
      });

      it(
        kind.library === 'redis'
          ? 'rejects a blocking read that was in flight (node-redis)'
          : 'sends a blocking read that was in flight again once Redis is back (ioredis)',
        async () => {
          const reader = await duplicate();
          const read = reader.send(['XREAD', 'BLOCK', '0', 'STREAMS', key, '0-0']);
          read.catch(() => {});
          await until(async () => /blocked_clients:1\r/.test(String(await connection.send(['INFO', 'clients']))));
          const reconnecting = nextEvent(user.client, 'reconnecting');
          await redis.shutdown();
          await reconnecting;
          await redis.start();
          await connection.whenReady();
          const id = await connection.send(['XADD', key, '*', 'data', 'x']);
          if (kind.library === 'redis') await expect(read).rejects.toThrow('Socket closed unexpectedly');
          else expect(await read).toEqual([[key, [[id, ['data', 'x']]]]]);
        },
      );
    });

    describe('close()', () => {
      it("rejects a duplicate's pending command at once", async () => {
        const reader = await duplicate();
        const read = reader.send(['XREAD', 'BLOCK', '0', 'STREAMS', key, '$']);
        reader.close();
        await expect(read).rejects.toThrow();
        expect(reader.isReady).toBe(false);
      });

      it("rejects what is sent to a closed duplicate, and leaves the user's client ready", async () => {
        const reader = await duplicate();
        reader.close();
        await expect(reader.send(['PING'])).rejects.toThrow();
        await expect(reader.transaction([['PING']])).rejects.toThrow();
        expect(connection.isReady).toBe(true);
      });

      it('makes whenReady() reject, and does nothing the second time', async () => {
        const reader = await duplicate();
        reader.close();
        reader.close();
        await expect(reader.whenReady()).rejects.toThrow('this Redis connection was closed');
      });

      it('rejects a pending whenReady() with an error of this package', async () => {
        const reconnecting = nextEvent(user.client, 'reconnecting');
        await redis.shutdown();
        await reconnecting;
        const waiting = connection.whenReady().catch((error: unknown) => error);
        connection.close();
        expect(isAsyncStreamError(await waiting)).toBe(true);
        await redis.start();
      });

      it("leaves the user's own client open", async () => {
        connection.close();
        expect(connection.isReady).toBe(false);
        expect(await toRedisConnection(user.client).send(['PING'])).toBe('PONG');
      });
    });
  });

  describe('over a node-redis client that maps strings to Buffers', () => {
    const typeMapping = { [RESP_TYPES.BLOB_STRING]: Buffer };
    let user: UserClient;
    beforeEach(async () => {
      user = await nodeRedis('node-redis', { RESP: 3, commandOptions: { typeMapping } }).open(redis.url);
    });
    afterEach(() => user.close());

    it('still resolves strings', async () => {
      const connection = toRedisConnection(user.client);
      await connection.send(['SET', 'buffered', 'x']);
      expect(await connection.send(['GET', 'buffered'])).toBe('x');
      expect(await connection.transaction([['GET', 'buffered']])).toEqual(['x']);
    });
  });
});

describe('toRedisConnection(client) given something else', () => {
  const fix = 'Pass a connected client of `redis` (redisStore(await createClient({ url }).connect()))';

  it.each([
    ['undefined', undefined, 'received undefined'],
    ['an empty object', {}, 'received object ({})'],
    ['a URL', 'redis://127.0.0.1:6379', "received string ('redis://127.0.0.1:6379')"],
  ])('throws a TypeError naming %s and the fix', (_name, value, received) => {
    expect(() => toRedisConnection(value)).toThrow(TypeError);
    expect(() => toRedisConnection(value)).toThrow(
      `redisStore(client) expects a Redis client, but ${received}. ${fix}`,
    );
  });

  it('says a URL is not a client', () => {
    expect(() => toRedisConnection('redis://127.0.0.1:6379')).toThrow(
      'A URL is not a client: give it to createClient({ url }) or new Redis(url).',
    );
  });

  it('asks whether `await` is missing, given a promise', () => {
    expect(() => toRedisConnection(Promise.resolve())).toThrow('Did you forget `await`?');
  });

  it('refuses a node-redis cluster', () => {
    const cluster = createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:6379' }] });
    expect(() => toRedisConnection(cluster)).toThrow(
      'redisStore(client) does not support a Redis Cluster, but received a node-redis cluster (createCluster())',
    );
  });

  it("refuses an ioredis client with a keyPrefix, and names the store's prefix option instead", () => {
    const client = new Redis({ lazyConnect: true, keyPrefix: 'app:' });
    try {
      expect(() => toRedisConnection(client)).toThrow(
        "does not support an ioredis client with a keyPrefix, but received one with keyPrefix string ('app:'). " +
          'Pass a client without it, and give the store the prefix: redisStore(client, { prefix: "app:" }).',
      );
    } finally {
      client.disconnect();
    }
  });

  it('refuses an ioredis cluster', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 6379 }], { lazyConnect: true });
    try {
      expect(() => toRedisConnection(cluster)).toThrow(TypeError);
      expect(() => toRedisConnection(cluster)).toThrow('received an ioredis cluster (new Redis.Cluster())');
    } finally {
      cluster.disconnect();
    }
  });
});
