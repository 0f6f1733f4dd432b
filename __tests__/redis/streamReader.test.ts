// The reader behind redisStore's live events: one blocking XREAD per process, and what it does when a
// key, an entry or its connection is not what it expects.
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { createTopic, type Topic } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { watchProcess } from '../helpers/app.js';
import { deferred, settle } from '../helpers/deferred.js';
import {
  blockedReaders,
  clientLibraries,
  take,
  waitFor,
  type Received,
  type TestClient,
} from '../helpers/redisClients.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';
import { watchWarnings } from '../helpers/warnings.js';
import { within } from '../helpers/within.js';

const dataOf = (events: readonly Received[]): unknown[] => events.map((event) => event.data);

describeWithRedis('redisStore(client): the reader of live events', () => {
  // Over the whole file: the last test checks that none of the others left anything behind.
  let watcher: ReturnType<typeof watchProcess>;
  beforeAll(() => {
    watcher = watchProcess();
  });
  afterAll(() => watcher.stop());
  let redis: RedisServer;
  const open: TestClient[] = [];
  const topics: Topic[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    for (const topic of topics.splice(0)) topic.close();
    await Promise.all(open.splice(0).map((client) => client.close()));
  });
  afterAll(async () => {
    await redis.stop();
  });

  let serial = 0;
  const freshName = (): string => `reader${Date.now()}-${++serial}`;

  describe.each(clientLibraries)('with a %s client', (_library, connect) => {
    async function client(): Promise<TestClient> {
      const connected = await connect(redis.url);
      open.push(connected);
      return connected;
    }

    /** A store on a client of its own (one "process"), and a topic of a fresh name on it. */
    async function topicOn(options: { history?: number } = {}): Promise<{ topic: Topic; key: string }> {
      const store = redisStore((await client()).client);
      const topic = createTopic(freshName(), { store, ...options });
      topics.push(topic);
      return { topic, key: store.keyOf(topic.name) };
    }

    // Found in review: the reader moved its position only past the entries it could read, so an
    // entry of another writer, last in the stream, was returned by every XREAD at once: a busy loop.
    it('skips an entry another writer added to the stream, and blocks again rather than read it over and over', async () => {
      const inspector = await client();
      const { topic, key } = await topicOn();
      const subscription = topic.subscribe();
      await subscription.ready;
      await waitFor(async () => (await blockedReaders(inspector)).length === 1, 'the reader blocking');
      const reads = await xreadCalls(inspector);
      await inspector.send(['XADD', key, '*', 'written-by', 'someone else']);
      await waitFor(
        async () => (await xreadCalls(inspector)) > reads && (await blockedReaders(inspector)).length === 1,
        'the reader blocking again after the foreign entry',
      );
      const id = await topic.publish('ours');
      expect(await take(subscription, 1)).toEqual([{ id, data: 'ours', event: undefined }]);
    });

    // Issue 13: one XREAD naming every key with subscribers cost each publish the whole key list
    // (about 55 bytes per key, 550 KB for 10,000 topics). A publish now rings its store's doorbell,
    // and the reader reads the keys the rings name.
    it('with 2,000 topics subscribed, costs each publish a few hundred bytes of commands, not the key list', async () => {
      const inspector = await client();
      const store = redisStore((await client()).client);
      const many = Array.from({ length: 2_000 }, () => createTopic(freshName(), { store }));
      topics.push(...many);
      const subscriptions = many.map((topic) => topic.subscribe());
      await Promise.all(subscriptions.map((subscription) => subscription.ready));
      const [busy, fromBusy] = [many[1_000]!, subscriptions[1_000]!];
      // An unmeasured publish first: the doorbell's block (and the read of every key after a quiet 5 s) restarts with it.
      await busy.publish(-1);
      await take(fromBusy, 1);
      const before = await inputBytes(inspector);
      for (let n = 0; n < 20; n++) {
        const id = await busy.publish(n);
        expect(await take(fromBusy, 1)).toEqual([{ id, data: n, event: undefined }]);
      }
      const perPublish = ((await inputBytes(inspector)) - before) / 20;
      // The publish script with its fields, the doorbell XREAD, one XREAD of one key, INFO: under 2 KB.
      // The whole key list would be over 100 KB.
      expect(perPublish).toBeLessThan(2_000);
    });

    it('reads an entry another writer added in the fields it writes, with no ring, after a quiet spell (5 s)', async () => {
      const inspector = await client();
      const { topic, key } = await topicOn();
      const subscription = topic.subscribe();
      await subscription.ready;
      const id = String(await inspector.send(['XADD', key, '*', 'type', 'text', 'data', 'by hand']));
      expect(await within(take(subscription, 1), 'the entry written by hand', 12_000)).toEqual([
        { id, data: 'by hand', event: undefined },
      ]);
    });

    // Found in review: the start position was the last entry the reader could read, so with an
    // entry of another writer last, it started from '0-0' and sent the whole stream as new events.
    it('starts after the last entry of the stream when another writer added it', async () => {
      const inspector = await client();
      const { topic, key } = await topicOn();
      await topic.publish('old');
      await inspector.send(['XADD', key, '*', 'written-by', 'someone else']);
      const subscription = topic.subscribe();
      await subscription.ready;
      const id = await topic.publish('new');
      expect(await take(subscription, 1)).toEqual([{ id, data: 'new', event: undefined }]);
    });

    // Found in review: XREAD fails as a whole with WRONGTYPE when one of its keys is not a stream,
    // and the reader retried it for ever: every topic of the process stopped receiving.
    it("keeps reading every other topic when one topic's key is overwritten with another type", async () => {
      const inspector = await client();
      const store = redisStore((await client()).client);
      const [broken, healthy] = [createTopic(freshName(), { store }), createTopic(freshName(), { store })];
      topics.push(broken, healthy);
      const [fromBroken, fromHealthy] = [broken.subscribe(), healthy.subscribe()];
      await Promise.all([fromBroken.ready, fromHealthy.ready]);
      await inspector.send(['SET', store.keyOf(broken.name), 'not a stream']);
      // The first publish may end an XREAD sent before the SET; the next XREAD names the broken key.
      for (const data of ['first', 'second']) {
        const id = await healthy.publish(data);
        expect(await within(take(fromHealthy, 1), `the event '${data}' of the healthy topic`)).toEqual([
          { id, data, event: undefined },
        ]);
      }
      // Its own subscribers learn that their topic cannot be read, when the reader reads every key
      // after a quiet spell (the 5 s block of its doorbell read): no publish rings for that key.
      await expect(within(fromBroken.next(), 'the broken topic failing', 12_000)).rejects.toThrow(
        /the key \S+ holds a string, not a stream/,
      );
      expect(broken.subscriberCount).toBe(0);
    });

    // Found in review: after a reconnect the reader went on from its last id even when Redis had
    // trimmed it meanwhile, and its subscribers skipped the trimmed events without a word.
    it('ends its subscribers, rather than skip events trimmed while it was reconnecting', async () => {
      const inspector = await client();
      const { topic: reader } = await topicOn({ history: 10 });
      const writer = createTopic(reader.name, {
        store: redisStore((await client()).client),
        history: 10,
      });
      topics.push(writer);
      const subscription = reader.subscribe();
      await subscription.ready;
      const first = await writer.publish(0);
      expect(dataOf(await take(subscription, 1))).toEqual([0]);
      await cutReaderOff(inspector, async () => {
        for (let n = 1; n < 250; n++) await writer.publish(n);
      });
      const received: unknown[] = [];
      await within(
        (async () => {
          for await (const event of subscription) received.push(event.data);
        })(),
        'the subscription ending',
      );
      // What it received before it ended follows 0 without a gap (here, nothing: 0 was trimmed).
      expect(received).toEqual(received.map((_data, index) => index + 1));
      // Its browser resumes from the last id it received, and learns from a reset that events are gone.
      const resumed = await take(reader.subscribe({ after: first }), 1);
      expect(resumed).toEqual([{ event: 'reset', data: { lastEventId: first } }]);
    });

    // Found in review: a connection still being opened when the last subscriber left was closed
    // only once it connected, so while Redis refused it, it went on reconnecting with nobody to read for.
    it('closes the connection it is still opening when the last subscriber leaves', async () => {
      const inspector = await client();
      const user = await client();
      const copies: unknown[] = [];
      const target = user.client as { duplicate(...args: unknown[]): unknown };
      const duplicate = target.duplicate.bind(target);
      jest.spyOn(target, 'duplicate').mockImplementation((...args) => {
        const copy = duplicate(...args);
        copies.push(copy);
        return copy;
      });
      try {
        const topic = createTopic(freshName(), { store: redisStore(user.client) });
        topics.push(topic);
        await refuseNewConnections(inspector, async () => {
          const subscription = topic.subscribe();
          await subscription.ready;
          await waitFor(() => copies.length === 1, 'the reader opening its connection');
          await subscription.return!();
          await waitFor(() => hasClosed(copies[0]), 'the connection being opened closing');
        });
      } finally {
        jest.restoreAllMocks();
      }
    });

    // Found in review: a live entry whose JSON does not parse was skipped with a warning, but the
    // same entry in the history failed every subscription that read it.
    it('skips an entry whose JSON does not parse when it reads the history, as it does live', async () => {
      const inspector = await client();
      const { topic, key } = await topicOn();
      const before = await topic.publish('before');
      await inspector.send(['XADD', key, '*', 'type', 'json', 'data', '{not json']);
      const after = await topic.publish('after');
      const warnings = watchWarnings();
      try {
        const subscription = topic.subscribe({ after: '0' });
        expect(await take(subscription, 2)).toEqual([
          { id: before, data: 'before', event: undefined },
          { id: after, data: 'after', event: undefined },
        ]);
        await settle();
        expect(warnings.warnings.map((warning) => warning.message)).toEqual([
          expect.stringMatching(
            /^createTopic\(\): the event \S+ of topic '.*' could not be decoded, so it was skipped/,
          ),
        ]);
      } finally {
        warnings.stop();
      }
    });
  });

  // Found in review: when the start of the last key failed, the key left without stopping the
  // reader, which waited for ever for a key to read, its connection open.
  it('closes its connection when the start of the only key left fails', async () => {
    const inspector = await clientLibraries[0]![1](redis.url);
    open.push(inspector);
    const user = createClient({ url: redis.url });
    user.on('error', () => {});
    await user.connect();
    try {
      const store = redisStore(user);
      const [first, second] = [createTopic(freshName(), { store }), createTopic(freshName(), { store })];
      topics.push(first, second);
      const before = await connectionCount(inspector);
      const fromFirst = first.subscribe();
      await fromFirst.ready;
      await waitFor(async () => (await blockedReaders(inspector)).length === 1, 'the reader blocking');
      // The second topic's start (XREVRANGE) waits until the test fails it.
      const held = deferred<unknown>();
      const sendCommand = user.sendCommand.bind(user);
      jest
        .spyOn(user, 'sendCommand')
        .mockImplementation((args, options) =>
          args[0] === 'XREVRANGE' && args[1] === store.keyOf(second.name) ? held.promise : sendCommand(args, options),
        );
      const fromSecond = second.subscribe();
      await fromFirst.return!();
      // The reader still reads the doorbell, for the second topic, whose start is pending.
      expect(await blockedReaders(inspector)).toHaveLength(1);
      held.reject(new Error('the start failed'));
      await expect(fromSecond.ready).rejects.toThrow('the start failed');
      await waitFor(async () => (await connectionCount(inspector)) === before, 'the reader connection closing');
    } finally {
      jest.restoreAllMocks();
      user.destroy();
    }
  });

  // Found in review: the reader kept the connection it had duplicated from the client even after
  // that connection stopped reconnecting for good, so no live event ever arrived again.
  describe('when its client stopped reconnecting, and the app connects it again', () => {
    const giveUpAfter = 3;

    it.each([
      [
        'redis',
        async () => {
          const client = createClient({
            url: redis.url,
            socket: {
              reconnectStrategy: (retries: number) => (retries >= giveUpAfter ? new Error('gave up') : 20),
            },
          });
          client.on('error', () => {});
          await client.connect();
          return {
            client,
            hasStopped: (): boolean => !client.isOpen,
            reconnect: async (): Promise<void> => void (await client.connect()),
            close: (): void => void (client.isOpen ? client.destroy() : undefined),
          };
        },
      ],
      [
        'ioredis',
        async () => {
          const client = new Redis(redis.url, {
            retryStrategy: (times: number) => (times > giveUpAfter ? null : 20),
            lazyConnect: true,
          });
          client.on('error', () => {});
          await client.connect();
          return {
            client,
            hasStopped: () => client.status === 'end',
            reconnect: () => client.connect(),
            close: () => client.disconnect(),
          };
        },
      ],
    ])('with a %s client, delivers live events again', async (_library, connectGivingUp) => {
      const inspector = await clientLibraries[0]![1](redis.url);
      open.push(inspector);
      const user = await connectGivingUp();
      try {
        const topic = createTopic(freshName(), {
          store: redisStore(user.client),
        });
        topics.push(topic);
        const subscription = topic.subscribe();
        await subscription.ready;
        await waitFor(async () => (await blockedReaders(inspector)).length === 1, 'the reader blocking');
        await redis.shutdown();
        await waitFor(() => user.hasStopped(), 'the client giving up');
        await redis.start();
        await user.reconnect();
        const id = await topic.publish('back');
        expect(await within(take(subscription, 1), 'the event after the reconnect', 12_000)).toEqual([
          { id, data: 'back', event: undefined },
        ]);
      } finally {
        user.close();
      }
    });
  });

  it('leaves no unhandled rejection or logged error behind', () => {
    expect(watcher.unhandled).toEqual([]);
    expect(watcher.logged).toEqual([]);
  });
});

/** How many XREAD commands Redis has run so far. */
async function xreadCalls(inspector: TestClient): Promise<number> {
  const stats = String(await inspector.send(['INFO', 'commandstats']));
  return Number(/cmdstat_xread:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

/**
 * Kills the reader's connection (the one blocked in XREAD) and keeps it from reconnecting while
 * `meanwhile` runs.
 */
async function cutReaderOff(inspector: TestClient, meanwhile: () => Promise<void>): Promise<void> {
  const [line] = await blockedReaders(inspector);
  const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
  if (id === undefined) throw new Error('no reader is blocked in XREAD');
  await refuseNewConnections(
    inspector,
    async () => {
      await inspector.send(['CLIENT', 'KILL', 'ID', id]);
      await meanwhile();
    },
    1,
  );
}

/**
 * Runs `meanwhile` while Redis refuses new connections, as a full server does: `maxclients` is the
 * number of connections now, less the `leaving` ones that `meanwhile` closes.
 */
async function refuseNewConnections(inspector: TestClient, meanwhile: () => Promise<void>, leaving = 0): Promise<void> {
  const [, maxclients] = (await inspector.send(['CONFIG', 'GET', 'maxclients'])) as [string, string];
  const connected = (await connectionCount(inspector)) + 1;
  await inspector.send(['CONFIG', 'SET', 'maxclients', String(connected - leaving)]);
  try {
    await meanwhile();
  } finally {
    await inspector.send(['CONFIG', 'SET', 'maxclients', maxclients]);
  }
}

/** How many connections Redis has from clients other than `inspector`. */
async function connectionCount(inspector: TestClient): Promise<number> {
  const list = String(await inspector.send(['CLIENT', 'LIST', 'TYPE', 'normal']));
  return list.trim().split('\n').length - 1;
}

/** Whether a client of either library was closed (node-redis `isOpen`, ioredis `status`). */
function hasClosed(client: unknown): boolean {
  const { isOpen, status } = client as { isOpen?: boolean; status?: string };
  return isOpen === false || status === 'end';
}

/** Bytes Redis has read from all its clients so far (`INFO stats`). */
async function inputBytes(inspector: TestClient): Promise<number> {
  const stats = String(await inspector.send(['INFO', 'stats']));
  return Number(/total_net_input_bytes:(\d+)/.exec(stats)?.[1] ?? NaN);
}
