// docs/topics.md, run: the chat app over real sockets, a subscription looped over outside a request,
// the page that rebuilds on a reset in Chromium, and the Redis Streams store against a real redis-server.
import express from 'express';
import type { Browser } from 'playwright-core';
import { createClient } from 'redis';
import {
  AsyncStreamError,
  createTopic,
  lastEventId,
  memoryStore,
  sse,
  type Topic,
  type TopicSubscription,
} from '../../src/index.js';
import { redisStore, type RedisStore } from '../../src/redis/index.js';
import type { StreamConnection } from '../../src/testing/index.js';
import { describeInChromium, launchChromium, until } from '../browser/chromium.js';
import { RestartableServer } from '../browser/restartableServer.js';
import { recordErrors, useProcessWatch } from '../helpers/app.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';
import { useConnections } from './connections.js';
import { docPage, runBlock } from './docPage.js';
import { awaitingBlock } from './topLevelAwait.js';

const page = docPage('docs/topics.md');
afterAll(() => page.expectEveryBlockUsed());

interface Message {
  user: string;
  text: string;
}

describe('docs/topics.md: the chat app', () => {
  const streamRequest = useConnections();
  const watch = useProcessWatch();

  /** The page's app, as the block builds it; the chat topic is the process's, on its default store. */
  function chatApp(): { app: express.Express; errors: unknown[] } {
    const { app } = runBlock(`${page.block("app.post('/chat'")}\nexport { app };`) as { app: express.Express };
    return { app, errors: recordErrors(app) };
  }

  /** POST /chat as a page would; resolves the id the app answers with. */
  async function post(app: express.Express, message: Message): Promise<string> {
    const response = await streamRequest(app, '/chat', { method: 'POST', body: { ...message } });
    expect(response.status).toBe(201);
    return (JSON.parse(await response.text()) as { id: string }).id;
  }

  /** The next `count` events of `connection`, failing if it ends first. */
  async function events(connection: StreamConnection, count: number) {
    const received = [];
    while (received.length < count) {
      const event = await connection.receiveEvent();
      if (event === null) throw new Error(`the stream ended after ${received.length} of ${count} events`);
      received.push(event);
    }
    return received;
  }

  const sent = (id: string, message: Message) => ({ id, data: JSON.stringify(message) });

  it('sends a message posted to POST /chat to every open event stream, as JSON, with the id POST answered', async () => {
    const { app, errors } = chatApp();
    const [ada, bob] = [await streamRequest(app, '/chat/events'), await streamRequest(app, '/chat/events')];
    expect(ada.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const message = { user: 'ada', text: 'hello' };
    const id = await post(app, message);
    expect(await events(ada, 1)).toEqual([sent(id, message)]);
    expect(await events(bob, 1)).toEqual([sent(id, message)]);
    expect(errors).toEqual([]);
    expect(watch.logged).toEqual([]);
  });

  it('resumes a browser that reconnects with Last-Event-ID: what it missed, then live messages, none twice', async () => {
    const { app, errors } = chatApp();
    const first = await streamRequest(app, '/chat/events');
    const one = { user: 'ada', text: 'one' };
    const oneId = await post(app, one);
    expect(await events(first, 1)).toEqual([sent(oneId, one)]);
    await first.disconnect();

    const missed = [
      { user: 'bob', text: 'two' },
      { user: 'ada', text: 'three' },
    ];
    const missedIds = [await post(app, missed[0]!), await post(app, missed[1]!)];
    const again = await streamRequest(app, '/chat/events', { headers: { 'Last-Event-ID': oneId } });
    const live = { user: 'bob', text: 'four' };
    const liveId = await post(app, live);
    expect(await events(again, 3)).toEqual([
      sent(missedIds[0]!, missed[0]!),
      sent(missedIds[1]!, missed[1]!),
      sent(liveId, live),
    ]);
    expect(errors).toEqual([]);
  });

  it('starts with one reset event, without an id, then every kept message, for an id it cannot place', async () => {
    const { app } = chatApp();
    const kept = { user: 'ada', text: 'kept' };
    const keptId = await post(app, kept);
    const connection = await streamRequest(app, '/chat/events', {
      headers: { 'Last-Event-ID': 'from-before-a-restart' },
    });
    const [reset] = await events(connection, 1);
    expect(reset).toEqual({ event: 'reset', data: JSON.stringify({ lastEventId: 'from-before-a-restart' }) });
    expect(reset).not.toHaveProperty('id');
    // The messages every test of this file posted to the process's chat topic, the last one last.
    const following = [];
    for (let event = await connection.receiveEvent(); ; event = await connection.receiveEvent()) {
      following.push(event);
      if (event?.id === keptId) break;
    }
    expect(following.at(-1)).toEqual(sent(keptId, kept));
    expect(following.filter((event) => event?.event !== undefined || event?.id === undefined)).toEqual([]);
  });
});

describe('docs/topics.md: the positions a subscription can start from', () => {
  it("after: '0' starts with every kept event; no after, or '', with the next live one", async () => {
    const topic = createTopic('positions', { store: memoryStore() });
    await topic.publish('kept');
    const [fromStart, live, empty] = [
      topic.subscribe({ after: '0' }),
      topic.subscribe(),
      topic.subscribe({ after: '' }),
    ];
    await Promise.all([fromStart.ready, live.ready, empty.ready]);
    await topic.publish('new');
    const next = async (subscription: TopicSubscription): Promise<unknown> => {
      const step = await subscription.next();
      return step.done === true ? 'ended' : step.value.data;
    };
    expect([await next(fromStart), await next(fromStart)]).toEqual(['kept', 'new']);
    expect(await next(live)).toBe('new');
    expect(await next(empty)).toBe('new');
    topic.close();
  });
});

describe('docs/topics.md: a subscription looped over outside a request', () => {
  /** Runs the block; the test sees its console.log calls and the AbortController it made. */
  function followJobs() {
    const log = jest.fn();
    const controllers: AbortController[] = [];
    class TrackedAbortController extends AbortController {
      constructor() {
        super();
        controllers.push(this);
      }
    }
    const block = awaitingBlock(page.block('for await (const event of jobs.subscribe('), ['jobs']);
    const { done } = runBlock(block, { console: { log }, AbortController: TrackedAbortController }) as {
      done: Promise<{ jobs: Topic }>;
    };
    expect(controllers).toHaveLength(1);
    return { done, log, controller: controllers[0]! };
  }

  it('logs the id and progress of each event another part of the process publishes, and leaves at 100', async () => {
    const { done, log } = followJobs();
    // The same name on the same (default) store: the same topic, as any module of the app would create it.
    const jobs = createTopic<{ job: string; done: number }>('jobs');
    const ids = [await jobs.publish({ job: 'import', done: 40 }), await jobs.publish({ job: 'import', done: 100 })];
    const { jobs: followed } = await done;
    expect(log.mock.calls).toEqual([
      [ids[0], 40],
      [ids[1], 100],
    ]);
    // Leaving the loop ended the subscription.
    expect(followed.subscriberCount).toBe(0);
    // Later events reach no one, and nothing waits for them.
    await jobs.publish({ job: 'import', done: 100 });
    expect(log).toHaveBeenCalledTimes(2);
  });

  it('ends the loop when its controller aborts', async () => {
    const { done, log, controller } = followJobs();
    controller.abort();
    const { jobs } = await done;
    expect(log).not.toHaveBeenCalled();
    expect(jobs.subscriberCount).toBe(0);
  });
});

describeInChromium('docs/topics.md: the page that rebuilds on reset, in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => (browser = await launchChromium()));
  afterAll(() => browser?.close());

  /** The page: a list, a render function for a message, and the block's script. */
  const html = (script: string): string => `<!doctype html>
<meta charset="utf-8">
<ul id="messages"></ul>
<script>
const messages = document.getElementById('messages');
const render = (message) => Object.assign(document.createElement('li'), { textContent: message.user + ': ' + message.text });
${script}
</script>`;

  it('drops what it shows when the server cannot place its Last-Event-ID, and shows the kept messages', async () => {
    // The process's topic, on an in-process store; a restart replaces both.
    let topic = createTopic<Message>('chat', { store: memoryStore() });
    const app = express();
    app.get('/', (_req, res) => res.type('html').send(html(page.block("addEventListener('reset'"))));
    app.get(
      '/chat/events',
      sse(async function* (req) {
        yield { retry: 100 }; // reconnect at once, not after the browser's default of seconds
        yield* topic.subscribe({ after: lastEventId(req) });
      }),
    );
    const server = new RestartableServer(app);
    const resumedFrom: (string | undefined)[] = [];
    server.onRequest((req) => {
      if (req.url === '/chat/events') resumedFrom.push(req.headers['last-event-id'] as string | undefined);
    });
    await server.start();
    const tab = await browser.newPage();
    tab.setDefaultTimeout(10_000);
    /** Resolves once the page shows exactly `expected`, in order. */
    const shown = async (expected: string[]): Promise<void> => {
      // An expression, evaluated in the page (whose DOM this program's types do not include).
      const lines = "[...document.querySelectorAll('#messages li')].map((li) => li.textContent)";
      await tab.waitForFunction(`JSON.stringify(${lines}) === ${JSON.stringify(JSON.stringify(expected))}`);
      expect(await tab.locator('#messages li').allTextContents()).toEqual(expected);
    };
    try {
      await tab.goto(server.url);
      await until(() => topic.subscriberCount === 1, 'the page subscribing');
      const firstId = await topic.publish({ user: 'ada', text: 'before the restart' });
      await shown(['ada: before the restart']);

      // The process restarts: a new in-process store, in which the page's last id is no position.
      const before = topic;
      topic = createTopic<Message>('chat', { store: memoryStore() });
      await topic.publish({ user: 'bob', text: 'after the restart' });
      before.close(); // its streams end, as they would on a deploy; the page reconnects
      await shown(['bob: after the restart']);
      expect(resumedFrom).toEqual([undefined, firstId]);
    } finally {
      await tab.close();
      topic.close();
      await server.stop();
    }
  });
});

describeWithRedis('docs/topics.md: Many processes: Redis Streams', () => {
  const watch = useProcessWatch();
  let redis: RedisServer;
  const urlBefore = process.env.REDIS_URL;
  const cleanup: (() => unknown)[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    // The block reads it, as a deployed app would.
    process.env.REDIS_URL = redis.url;
  });
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });
  afterAll(async () => {
    if (urlBefore === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = urlBefore;
    await redis?.stop();
  });

  type Client = ReturnType<typeof createClient>;

  /** The block, run as written; its client is closed and its stream deleted after the test. */
  async function runPageBlock(): Promise<{ client: Client; store: RedisStore; chat: Topic }> {
    const block = awaitingBlock(page.block("from 'express-async-stream/redis'"), ['client', 'store', 'chat']);
    const ran = await (runBlock(block).done as Promise<{ client: Client; store: RedisStore; chat: Topic }>);
    cleanup.push(
      () => ran.client.destroy(),
      () => ran.store.delete('chat'),
      () => ran.chat.close(),
    );
    return ran;
  }

  /** Another process of the app: its own client, store and chat topic on the same Redis. */
  async function otherProcess(): Promise<{ client: Client; chat: Topic }> {
    const client = createClient({ url: redis.url, socket: { reconnectStrategy: () => 20 } });
    client.on('error', () => {});
    await client.connect();
    const chat = createTopic('chat', { store: redisStore(client) });
    cleanup.push(
      () => client.destroy(),
      () => chat.close(),
    );
    return { client, chat };
  }

  it('shares the chat topic with every process on the same Redis, in one stream at express-async-stream:topic:chat', async () => {
    const { chat } = await runPageBlock();
    const other = await otherProcess();
    const subscription = other.chat.subscribe();
    await subscription.ready;
    const id = await chat.publish({ user: 'ada', text: 'hi' });
    expect(id).toMatch(/^\d+-\d+$/);
    expect(await subscription.next()).toEqual({
      done: false,
      value: { id, data: { user: 'ada', text: 'hi' }, event: undefined },
    });
    // One entry per event, with the fields type, data and (only when it has one) event.
    const textId = await chat.publish('plain', { event: 'notice' });
    expect(await other.client.sendCommand(['XRANGE', 'express-async-stream:topic:chat', '-', '+'])).toEqual([
      [id, ['type', 'json', 'data', '{"user":"ada","text":"hi"}']],
      [textId, ['type', 'text', 'data', 'plain', 'event', 'notice']],
    ]);
    expect(watch.logged).toEqual([]);
  });

  it('trims the stream with MAXLEN ~: at least history events kept, and at most about 100 more', async () => {
    const { client, store } = await runPageBlock();
    const short = createTopic('chat', { store, history: 10 });
    cleanup.push(() => short.close());
    for (let n = 1; n <= 250; n++) await short.publish(n);
    const length = Number(await client.sendCommand(['XLEN', 'express-async-stream:topic:chat']));
    expect(length).toBeGreaterThanOrEqual(10);
    expect(length).toBeLessThanOrEqual(110);
  });

  it('rejects publish with an AsyncStreamError while Redis is down, and delivers again once it is back', async () => {
    const { client, chat } = await runPageBlock();
    const other = await otherProcess();
    const subscription = other.chat.subscribe();
    await subscription.ready;
    await redis.shutdown();
    try {
      // Once the client knows: a publish sent on the closing socket fails otherwise ("may have been stored").
      await until(() => !client.isReady, "the block's client noticing the outage", 10_000);
      const rejected = chat.publish({ user: 'ada', text: 'lost' });
      await expect(rejected).rejects.toThrow(AsyncStreamError);
      await expect(rejected).rejects.toThrow('The event was not published; retry once Redis is reachable.');
    } finally {
      await redis.start();
    }
    await until(() => client.isReady, "the block's client reconnecting", 10_000);
    const id = await chat.publish({ user: 'ada', text: 'back' });
    expect(await subscription.next()).toEqual({
      done: false,
      value: { id, data: { user: 'ada', text: 'back' }, event: undefined },
    });
    // The block's client reported the outage through its own 'error' listener, as the block sets up.
    expect(watch.logged.length).toBeGreaterThan(0);
    expect(watch.logged.every(([label]) => label === 'Redis:')).toBe(true);
    watch.logged.splice(0);
  });
});
