import express from 'express';
import { createTopic, lastEventId, memoryStore, sse, type Topic, type TopicStore } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import type { ServerSentEvent, StreamConnection } from '../../src/testing/index.js';
import { watchProcess } from '../helpers/app.js';
import { useStreamRequest } from '../helpers/connections.js';
import { clientLibraries, type TestClient } from '../helpers/redisClients.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';

/**
 * A browser away while the history was trimmed past its last event resumes with `Last-Event-ID`
 * through `sse()` on a real socket: it must be told (`event: reset`), never handed the kept events
 * as if nothing were missing. The subscription-level cases are in __tests__/topics/topic.test.ts
 * and __tests__/redis/redisStore.test.ts; these follow the bytes a browser receives.
 */

const HISTORY = 10;
/** Enough for `MAXLEN ~ 10` to drop the first node of the stream (Redis packs 100 entries in one). */
const MAX_PUBLISHED = 2_000;

/** A store, and what it keeps of a topic, read without the store's own code where it can be. */
interface TrimStore {
  readonly store: TopicStore;
  /** The ids and data (JSON text) the store keeps for `topic`, oldest first. */
  kept(topic: string, published: readonly Published[]): Promise<Published[]>;
  /** Whether the store no longer keeps `id` nor any event before the ones after it (a resume from it resets). */
  trimmedPast(topic: string, id: string, published: readonly Published[]): Promise<boolean>;
}

interface Published {
  readonly id: string;
  readonly data: string;
}

describe('sse((req) => topic.subscribe({ after: lastEventId(req) })) after the history was trimmed', () => {
  // Over the whole file: the last test checks that none of the others left a rejection behind.
  let watcher: ReturnType<typeof watchProcess>;
  beforeAll(() => {
    watcher = watchProcess();
  });
  afterAll(() => watcher.stop());

  describe('on memoryStore()', () => {
    itResetsOnlyWhenTrimmed(() => {
      const store = memoryStore();
      return {
        store,
        // It keeps exactly the last `history` events.
        kept: (_topic, published) => Promise.resolve(published.slice(-HISTORY)),
        trimmedPast: (_topic, id, published) =>
          Promise.resolve(published.length - published.findIndex((event) => event.id === id) - 1 > HISTORY),
      };
    });
  });

  describeWithRedis('on redisStore()', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis.stop();
    });

    describe.each(clientLibraries)('with a %s client', (_library, connect) => {
      const clients: TestClient[] = [];
      let trimStore: TrimStore;
      beforeAll(async () => {
        const [app, inspector] = [await connect(redis.url), await connect(redis.url)];
        clients.push(app, inspector);
        const store = redisStore(app.client);
        const range = async (topic: string, from: string, to: string): Promise<Published[]> => {
          const entries = (await inspector.send(['XRANGE', store.keyOf(topic), from, to])) as [string, string[]][];
          return entries.map(([id, fields]) => ({ id, data: fields[fields.indexOf('data') + 1]! }));
        };
        trimStore = {
          store,
          kept: (topic) => range(topic, '-', '+'),
          trimmedPast: async (topic, id) => (await range(topic, id, id)).length === 0,
        };
      });
      afterAll(async () => {
        await Promise.all(clients.map((client) => client.close()));
      });

      itResetsOnlyWhenTrimmed(() => trimStore);
    });
  });

  it('leaves no unhandled rejection or logged error behind', () => {
    expect(watcher.unhandled).toEqual([]);
    expect(watcher.logged).toEqual([]);
  });
});

function itResetsOnlyWhenTrimmed(getStore: () => TrimStore): void {
  const streamRequest = useStreamRequest();
  const topics: Topic[] = [];
  afterEach(() => {
    for (const topic of topics.splice(0)) topic.close();
  });
  let serial = 0;

  /** A topic of a fresh name with an `sse()` route, and a browser that read three events and left. */
  async function awayBrowser(): Promise<{
    topic: Topic<{ n: number }>;
    app: express.Express;
    published: Published[];
    lastId: string;
    publish(): Promise<void>;
  }> {
    const topic = createTopic<{ n: number }>(`trim-${Date.now()}-${++serial}`, {
      store: getStore().store,
      history: HISTORY,
    });
    topics.push(topic);
    const app = express();
    app.get(
      '/events',
      sse((req) => topic.subscribe({ after: lastEventId(req) })),
    );
    const published: Published[] = [];
    const publish = async (): Promise<void> => {
      const n = published.length;
      published.push({ id: await topic.publish({ n }), data: JSON.stringify({ n }) });
    };
    const first = await streamRequest(app, '/events');
    for (let n = 0; n < 3; n++) await publish();
    const seen = await receive(first, 3);
    expect(seen).toEqual(published.map(({ id, data }) => ({ id, data })));
    // The browser goes away: its socket closes, and the server's stream with it.
    await first.disconnect();
    expect(topic.subscriberCount).toBe(0);
    return { topic, app, published, lastId: seen.at(-1)!.id!, publish };
  }

  it('sends `event: reset` naming the Last-Event-ID, then exactly the kept events, then the live ones', async () => {
    const { app, topic, published, lastId, publish } = await awayBrowser();
    const { kept, trimmedPast } = getStore();
    while (!(await trimmedPast(topic.name, lastId, published))) {
      if (published.length >= MAX_PUBLISHED) throw new Error(`${lastId} was still kept after ${MAX_PUBLISHED} events`);
      await publish();
    }
    const keptNow = await kept(topic.name, published);
    // What is kept starts well after the last event the browser had: there is a gap to report.
    expect(published.findIndex((event) => event.id === keptNow[0]!.id)).toBeGreaterThan(
      published.findIndex((event) => event.id === lastId) + 1,
    );

    const back = await streamRequest(app, '/events', { headers: { 'Last-Event-ID': lastId } });
    // No id: the browser keeps its Last-Event-ID until the first kept event.
    expect(await back.receiveEvent()).toEqual({ event: 'reset', data: JSON.stringify({ lastEventId: lastId }) });
    expect(await receive(back, keptNow.length)).toEqual(keptNow);
    await publish();
    expect(await back.receiveEvent()).toEqual(published.at(-1));
  });

  it(`sends no reset to a browser away for ${HISTORY} events (the history), only the events it missed`, async () => {
    const { app, topic, published, lastId, publish } = await awayBrowser();
    for (let n = 0; n < HISTORY; n++) await publish();
    expect(await getStore().trimmedPast(topic.name, lastId, published)).toBe(false);

    const back = await streamRequest(app, '/events', { headers: { 'Last-Event-ID': lastId } });
    await publish();
    expect(await receive(back, HISTORY + 1)).toEqual(published.slice(3));
  });
}

/** The next `count` events of `connection`, failing if the stream ends first. */
async function receive(connection: StreamConnection, count: number): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  while (events.length < count) {
    const event = await connection.receiveEvent();
    if (event === null) throw new Error(`the stream ended after ${events.length} of ${count} events`);
    events.push(event);
  }
  return events;
}
