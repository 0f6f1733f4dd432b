import { AsyncStreamError, createTopic, type Topic } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { watchProcess } from '../helpers/app.js';
import { clientLibraries as libraries, take, type Received, type TestClient } from '../helpers/redisClients.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';

const dataOf = (events: readonly Received[]): unknown[] => events.map((event) => event.data);

/** How many connections Redis has from clients other than `inspector`. */
async function connectionCount(inspector: TestClient): Promise<number> {
  const list = String(await inspector.send(['CLIENT', 'LIST', 'TYPE', 'normal']));
  return list.trim().split('\n').length - 1;
}

describeWithRedis('redisStore(client, options)', () => {
  // Over the whole file: the last test checks that none of the others left a rejection behind.
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

  describe.each(libraries)('with a %s client', (_library, connect) => {
    async function client(): Promise<TestClient> {
      const connected = await connect(redis.url);
      open.push(connected);
      return connected;
    }

    /** A topic of a fresh name on its own client: one "process". */
    async function topicOn<T = unknown>(name: string, history?: number): Promise<Topic<T>> {
      const topic = createTopic<T>(name, { store: redisStore((await client()).client), history });
      topics.push(topic);
      return topic;
    }

    let serial = 0;
    const freshName = (): string => `t${Date.now()}-${++serial}`;

    it('delivers each event to subscribers of every process in the same order, with the stream ids', async () => {
      const name = freshName();
      const [a, b] = [await topicOn(name), await topicOn(name)];
      const [fromA, fromB] = [a.subscribe(), b.subscribe()];
      // Live in both processes: each fixed its place in the stream (sse() waits for this before its headers).
      await Promise.all([fromA.ready, fromB.ready]);
      const ids = [await a.publish({ n: 1 }), await b.publish('two', { event: 'text' }), await a.publish([3])];
      for (const id of ids) expect(id).toMatch(/^\d+-\d+$/);
      const expected = [
        { id: ids[0], data: { n: 1 }, event: undefined },
        { id: ids[1], data: 'two', event: 'text' },
        { id: ids[2], data: [3], event: undefined },
      ];
      expect(await take(fromA, 3)).toEqual(expected);
      expect(await take(fromB, 3)).toEqual(expected);
    });

    it('keeps the events in the stream <prefix><name>, trimmed to about history', async () => {
      const inspector = await client();
      const name = freshName();
      const topic = createTopic(name, { store: redisStore(inspector.client, { prefix: 'app:' }), history: 10 });
      topics.push(topic);
      for (let n = 0; n < 250; n++) await topic.publish(n);
      const length = Number(await inspector.send(['XLEN', `app:${name}`]));
      // MAXLEN ~ trims whole nodes of the stream: at least `history` kept, never all 250.
      expect(length).toBeGreaterThanOrEqual(10);
      expect(length).toBeLessThan(250);
      expect(await inspector.send(['EXISTS', name])).toBe(0);
    });

    it('resumes in another process from an id received in this one, nothing lost or repeated', async () => {
      const name = freshName();
      const [a, b] = [await topicOn(name), await topicOn(name)];
      const first = a.subscribe();
      await a.publish(1);
      const [seen] = await take(first, 1);
      await first.return!();
      await a.publish(2);
      await a.publish(3);
      const moved = b.subscribe({ after: seen!.id });
      await a.publish(4);
      expect(dataOf(await take(moved, 3))).toEqual([2, 3, 4]);
    });

    it.each([
      ['an id that was never in the stream', '1-0'],
      ['an id that is not a stream id', 'f00d-7'],
    ])('for %s, sends a reset event, then every kept event', async (_name, after) => {
      const topic = await topicOn(freshName());
      await topic.publish('a');
      await topic.publish('b');
      const events = await take(topic.subscribe({ after }), 3);
      expect(events[0]).toEqual({ event: 'reset', data: { lastEventId: after } });
      expect(dataOf(events.slice(1))).toEqual(['a', 'b']);
    });

    it('for an id trimmed from the stream, sends a reset event, then the kept events', async () => {
      const topic = await topicOn<number>(freshName(), 10);
      const first = await topic.publish(0);
      for (let n = 1; n < 250; n++) await topic.publish(n);
      const subscription = topic.subscribe({ after: first });
      const [reset] = await take(subscription, 1);
      expect(reset).toEqual({ event: 'reset', data: { lastEventId: first } });
      const kept = await take(subscription, 10);
      expect(kept[0]!.data).toBeGreaterThan(1);
    });

    // The reader continues from the last id it delivered, and XREAD answers with what is left: a
    // read of at least `history` entries is checked for a trim past that id before it is delivered.
    it('never skips events trimmed before its process read them: a live subscriber gets the next one, or ends', async () => {
      const inspector = await client();
      const name = freshName();
      const topic = await topicOn<number>(name, 1);
      const subscription = topic.subscribe();
      await subscription.ready;
      const last = await topic.publish(-1);
      await take(subscription, 1);
      // Another process appends 250 events at once; MAXLEN ~ 1 keeps the last block (up to 100).
      const burst =
        "for n = 0, 249 do redis.call('XADD', KEYS[1], 'MAXLEN', '~', '1', '*', 'type', 'json', 'data', n) end";
      await inspector.send(['EVAL', burst, '1', redisStore(inspector.client).keyOf(name)]);
      // The subscription ends, as a dropped one does: its browser resumes from its last id, and is told to reset.
      expect(await subscription.next()).toEqual({ done: true, value: undefined });
      const resumed = topic.subscribe({ after: last });
      const [reset, first] = await take(resumed, 2);
      expect(reset).toEqual({ event: 'reset', data: { lastEventId: last } });
      expect(first!.data).toBeGreaterThan(0);
      await resumed.return!();
    });

    it('delivers a burst of fewer than `history` entries read at once, with no reset', async () => {
      const inspector = await client();
      const name = freshName();
      const topic = await topicOn<number>(name, 300);
      const subscription = topic.subscribe();
      await subscription.ready;
      const burst =
        "for n = 0, 249 do redis.call('XADD', KEYS[1], 'MAXLEN', '~', '300', '*', 'type', 'json', 'data', n) end";
      await inspector.send(['EVAL', burst, '1', redisStore(inspector.client).keyOf(name)]);
      expect(dataOf(await take(subscription, 250))).toEqual(Array.from({ length: 250 }, (_, n) => n));
      expect(topic.subscriberCount).toBe(1);
    });

    it("with '0', starts with every kept event", async () => {
      const topic = await topicOn(freshName());
      await topic.publish('a');
      await topic.publish('b');
      expect(dataOf(await take(topic.subscribe({ after: '0' }), 2))).toEqual(['a', 'b']);
    });

    it('reads every topic of a process on one connection, closed when the last subscriber leaves', async () => {
      const inspector = await client();
      const shared = await client();
      const store = redisStore(shared.client);
      const before = await connectionCount(inspector);
      const many = Array.from({ length: 500 }, () => createTopic(freshName(), { store }));
      const subscriptions = many.map((topic) => topic.subscribe());
      const last = many.at(-1)!;
      const id = await last.publish('hello');
      expect(await take(subscriptions.at(-1)!, 1)).toEqual([{ id, data: 'hello', event: undefined }]);
      expect(await connectionCount(inspector)).toBe(before + 1);
      for (const subscription of subscriptions) await subscription.return!();
      await waitFor(async () => (await connectionCount(inspector)) === before, 'the reader connection closing');
    });

    it('wakes the blocked read for a topic subscribed meanwhile, rather than waiting for its block limit (5 s)', async () => {
      const store = redisStore((await client()).client);
      const [first, second] = [createTopic(freshName(), { store }), createTopic(freshName(), { store })];
      topics.push(first, second);
      const waiting = first.subscribe();
      await waiting.ready;
      await first.publish('read');
      await take(waiting, 1);
      // The reader has read the first topic, and blocks in XREAD on it alone.
      const subscription = second.subscribe();
      await subscription.ready;
      const started = Date.now();
      await second.publish('now');
      expect(dataOf(await take(subscription, 1))).toEqual(['now']);
      expect(Date.now() - started).toBeLessThan(2_500);
    });

    it('rejects publish while Redis is unreachable, and delivers again once it is back', async () => {
      const name = freshName();
      const topic = await topicOn(name);
      const subscription = topic.subscribe();
      const before = await topic.publish('before');
      await redis.shutdown();
      await expect(topic.publish('lost')).rejects.toThrow(AsyncStreamError);
      await expect(topic.publish('lost')).rejects.toThrow(/could not publish to .*The event was not published/);
      await redis.start();
      const after = await publishWhenReady(topic, 'after');
      expect(await take(subscription, 2)).toEqual([
        { id: before, data: 'before', event: undefined },
        { id: after, data: 'after', event: undefined },
      ]);
    });

    it('resumes its reader from the last id delivered when its connection drops: nothing Redis holds is lost', async () => {
      const inspector = await client();
      const name = freshName();
      const [reader, writer] = [await topicOn(name), await topicOn(name)];
      const subscription = reader.subscribe();
      // The writer is another connection: only once ready is its next event sure to come after the start.
      await subscription.ready;
      await writer.publish(1);
      expect(dataOf(await take(subscription, 1))).toEqual([1]);
      // Cut the reader's connection (the one blocked in XREAD) while events are published.
      await inspector.send(['CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes']);
      for (const n of [2, 3, 4]) await publishWhenReady(writer, n);
      expect(dataOf(await take(subscription, 3))).toEqual([2, 3, 4]);
    });
  });

  it('rejects a value that is not a client of either library, naming it', () => {
    expect(() => redisStore(undefined)).toThrow(TypeError);
    expect(() => redisStore({})).toThrow(/redisStore\(client\).*received/);
  });

  it('leaves no unhandled rejection or uncaught error behind', () => {
    expect(watcher.unhandled).toEqual([]);
  });
});

/** Publishes `data` once the topic's client has reconnected: publish rejects until then. */
async function publishWhenReady(topic: Topic, data: unknown): Promise<string> {
  let id: string | undefined;
  await waitFor(async () => {
    id = await topic.publish(data).catch(() => undefined);
    return id !== undefined;
  }, 'a publish after the reconnect');
  return id!;
}

/** Polls `check` on real time until it holds (a state Redis reports, with nothing to wait on). */
async function waitFor(check: () => Promise<boolean>, what = 'the condition'): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what} did not hold within 5 s`);
}
