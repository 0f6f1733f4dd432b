import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import { createClient, createCluster } from 'redis';
import {
  AsyncStreamError,
  asyncStream,
  createTopic,
  currentRequest,
  makeResponse,
  memoryStore,
  ndjson,
  sse,
  TIMEOUT_SETTING,
  withContext,
  type TopicStore,
  type TopicSubscription,
} from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { ReceiveTimeoutError } from '../../src/testing/index.js';
import { recordErrors } from '../helpers/app.js';
import { useConnections } from './connections.js';
import { docPage, runBlock } from './docPage.js';

const page = docPage('docs/options.md');
afterAll(() => page.expectEveryBlockUsed());
const streamRequest = useConnections();

const handler = async function* () {
  yield 'x';
};

describe('docs/options.md: the examples', () => {
  it('types the route parameters: GET /users/42 streams "user 42"', async () => {
    const app = express();
    runBlock(page.block('asyncStream<{ id: string }>'), { app });
    expect(await (await streamRequest(app, '/users/42')).text()).toBe('user 42\n');
  });

  it("timeout: null keeps a silent route open past the app's idle timeout", async () => {
    const app = express();
    app.set(TIMEOUT_SETTING, 50);
    runBlock(page.block("app.get('/slow'"), { app });
    const errors = recordErrors(app);
    const connection = await streamRequest(app, '/slow');
    expect(await connection.receiveLine()).toMatch(/^\d+$/);
    // Four times the app's 50 ms: nothing arrives, and the connection is not cut.
    await expect(connection.receive({ timeout: 200 })).rejects.toThrow(ReceiveTimeoutError);
    await connection.disconnect();
    expect(errors).toEqual([]);
  });

  it('TIMEOUT_SETTING is the app setting the block sets', () => {
    const app = express();
    runBlock(page.block('app.set(TIMEOUT_SETTING, 30_000)'), { app });
    expect(TIMEOUT_SETTING).toBe('stream timeout');
    expect(app.get('stream timeout')).toBeNull();
  });
});

describe('docs/options.md: the edge values it states', () => {
  it.each([0, -1, NaN, 2 ** 31])('asyncStream timeout %p is a RangeError', (timeout) => {
    expect(() => asyncStream(handler, { timeout })).toThrow(RangeError);
    expect(() => asyncStream(handler, { timeout })).toThrow('must be between 1 and 2147483647 milliseconds');
  });

  it.each([null, Infinity, 1, 2 ** 31 - 1])('asyncStream timeout %p is accepted', (timeout) => {
    expect(() => asyncStream(handler, { timeout })).not.toThrow();
  });

  it('a timeout that is not a number is a TypeError', () => {
    expect(() => asyncStream(handler, { timeout: '60s' as unknown as number })).toThrow(TypeError);
  });

  it('response.timeout = Infinity reads back as null', () => {
    const response = makeResponse('x');
    response.timeout = Infinity;
    expect(response.timeout).toBeNull();
  });

  it.each([
    [{ keepAlive: 0 }, RangeError],
    [{ keepAlive: -1 }, RangeError],
    [{ keepAlive: '15s' }, TypeError],
    [{ timeout: 0 }, RangeError],
    [{ errorEvent: 'stream-error' }, TypeError],
  ])('sse options %p throw a %p', (options, errorClass) => {
    expect(() => sse(handler, options as never)).toThrow(errorClass);
  });

  it.each([
    { keepAlive: null },
    { keepAlive: Infinity },
    { timeout: Infinity },
    { errorEvent: true },
    { errorEvent: () => 'gone' },
  ])('sse options %p are accepted', (options) => {
    expect(() => sse(handler, options)).not.toThrow();
  });

  it('a withContext generator created outside any request runs outside any, even when a request iterates it', async () => {
    const path = withContext(async function* () {
      yield currentRequest().path;
    });
    const outside = path();
    const app = express();
    app.get(
      '/inside',
      asyncStream(() => outside),
    );
    const errors = recordErrors(app);
    expect((await streamRequest(app, '/inside')).status).toBe(500);
    expect(errors).toEqual([
      expect.objectContaining({ message: expect.stringContaining('outside a request context') }),
    ]);
  });

  it("ndjson takes asyncStream's options only", () => {
    expect(() => ndjson(handler, { keepAlive: 1 } as never)).toThrow(TypeError);
  });

  it.each([199, 600, 103, 200.5])('status %p is a TypeError', (status) => {
    expect(() => makeResponse('x', status)).toThrow(TypeError);
  });

  it('an invalid app setting fails each request that relies on it, through next(err)', async () => {
    const app = express();
    app.set(TIMEOUT_SETTING, '60s');
    app.get('/', asyncStream(handler));
    const errors = recordErrors(app);
    expect((await streamRequest(app, '/')).status).toBe(500);
    expect(errors).toEqual([expect.any(TypeError)]);
  });
});

/** The data of the next event of `subscription`, or 'ended'. */
async function nextData(subscription: TopicSubscription): Promise<unknown> {
  const step = await subscription.next();
  return step.done === true ? 'ended' : step.value.data;
}

describe('docs/options.md: the edge values it states for topics', () => {
  const store = memoryStore();

  it.each(['chat', 'user:42', 'answer/7f3a', 'café', 'a_b.c:d@e/f+g=h-i', 'x'.repeat(200)])(
    'createTopic accepts the name %p',
    (name) => {
      expect(createTopic(name, { store }).name).toBe(name);
    },
  );

  it.each(['', 'x'.repeat(201), 'a b', 'a?b', 'a#b'])('createTopic name %p is a RangeError', (name) => {
    expect(() => createTopic(name, { store })).toThrow(RangeError);
  });

  it('a name that is not a string is a TypeError', () => {
    expect(() => createTopic(42 as never)).toThrow(TypeError);
  });

  it.each(['history', 'maxPending'])('%s: 0, negative, fractions, NaN and Infinity are RangeErrors', (option) => {
    for (const value of [0, -1, 1.5, NaN, Infinity])
      expect(() => createTopic('edges', { store, [option]: value })).toThrow(RangeError);
    expect(() => createTopic('edges', { store, [option]: '10' as never })).toThrow(TypeError);
    for (const value of [1, Number.MAX_SAFE_INTEGER])
      expect(() => createTopic('edges', { store, [option]: value })).not.toThrow();
  });

  it('store: an object without the four methods is a TypeError; a hand-written TopicStore is accepted', () => {
    expect(() => createTopic('edges', { store: {} as never })).toThrow(TypeError);
    const inner = memoryStore();
    const own: TopicStore = {
      append: (topic, event, history) => inner.append(topic, event, history),
      readAfter: (topic, after) => inner.readAfter(topic, after),
      listen: (topic, deliver) => inner.listen(topic, deliver),
      compareIds: (a, b) => inner.compareIds(a, b),
    };
    expect(() => createTopic('edges', { store: own })).not.toThrow();
  });

  it('each publish trims the history to its own topic object’s history', async () => {
    const shared = memoryStore();
    const [long, short] = [
      createTopic('trim', { store: shared, history: 5 }),
      createTopic('trim', { store: shared, history: 2 }),
    ];
    for (const n of [1, 2, 3, 4]) await long.publish(n);
    await short.publish(5);
    const subscription = long.subscribe({ after: '0' });
    await subscription.ready;
    expect([await nextData(subscription), await nextData(subscription)]).toEqual([4, 5]);
    long.close();
  });

  it('maxPending events may wait; one more drops the subscriber, which just ends', async () => {
    const topic = createTopic('pending', { store, maxPending: 2 });
    const subscription = topic.subscribe();
    await subscription.ready;
    await topic.publish(1);
    await topic.publish(2);
    expect(topic.subscriberCount).toBe(1);
    await topic.publish(3);
    expect(topic.subscriberCount).toBe(0);
    expect(await subscription.next()).toEqual({ done: true, value: undefined });
  });

  it.each([
    ['a BigInt', 10n],
    [
      'a cycle',
      (() => {
        const cycle: Record<string, unknown> = {};
        cycle.self = cycle;
        return cycle;
      })(),
    ],
    ['undefined', undefined],
    ['a function', () => 1],
    ['a symbol', Symbol('s')],
  ])('publish(data) throws a TypeError at once for %s', (_label, data) => {
    expect(() => createTopic('edges', { store }).publish(data)).toThrow(TypeError);
  });

  it('publish(data) sends a string as it is and any other value as JSON, received as JSON.parse gives it back', async () => {
    const topic = createTopic('data', { store });
    const subscription = topic.subscribe();
    await subscription.ready;
    await topic.publish('{"not":"parsed"}');
    await topic.publish({ at: new Date(0), gone: undefined, n: null });
    expect(await nextData(subscription)).toBe('{"not":"parsed"}');
    expect(await nextData(subscription)).toEqual({ at: '1970-01-01T00:00:00.000Z', n: null });
    topic.close();
  });

  it.each([
    [{ event: 'reset' }, RangeError],
    [{ event: 5 }, TypeError],
    [{ event: 'a\nb' }, TypeError],
    [{ event: 'a\rb' }, TypeError],
  ])('publish options %p throw a %p at once', (options, errorClass) => {
    expect(() => createTopic('edges', { store }).publish('x', options as never)).toThrow(errorClass);
  });

  it.each([[{ after: 5 }], [{ after: null }], [{ signal: {} }], [{ signal: 'abort' }]])(
    'subscribe options %p are a TypeError',
    (options) => {
      expect(() => createTopic('edges', { store }).subscribe(options as never)).toThrow(TypeError);
    },
  );

  it('an already aborted signal gives a subscription that has ended', async () => {
    const topic = createTopic('edges', { store });
    const subscription = topic.subscribe({ signal: AbortSignal.abort() });
    await topic.publish('x');
    expect(await subscription.next()).toEqual({ done: true, value: undefined });
    expect(topic.subscriberCount).toBe(0);
  });

  it('after close(), publish rejects and subscribe throws, with an AsyncStreamError; a second close() does nothing', async () => {
    const topic = createTopic('closed', { store });
    const subscription = topic.subscribe();
    topic.close();
    topic.close();
    expect(await subscription.next()).toEqual({ done: true, value: undefined });
    await expect(topic.publish('x')).rejects.toThrow(AsyncStreamError);
    expect(() => topic.subscribe()).toThrow(AsyncStreamError);
  });

  it('ready rejects when the store cannot be read, and sse() sends its headers, then breaks the stream and passes the error to next(err)', async () => {
    const failure = new Error('the store is down');
    const failing: TopicStore = {
      append: () => Promise.reject(failure),
      readAfter: () => Promise.reject(failure),
      listen: () => ({ ready: Promise.reject(failure), stop() {} }),
      compareIds: () => 0,
    };
    const topic = createTopic('down', { store: failing });
    const subscription = topic.subscribe();
    await expect(subscription.ready).rejects.toBe(failure);
    await expect(subscription.next()).rejects.toBe(failure);
    const app = express();
    app.get(
      '/events',
      sse(() => topic.subscribe()),
    );
    const errors = recordErrors(app);
    const client = await streamRequest(app, '/events');
    expect(client.status).toBe(200);
    expect(await client.readToEnd()).toEqual({ body: Buffer.alloc(0), aborted: true });
    expect(errors).toEqual([failure]);
  });

  describe('redisStore(client, options)', () => {
    // Never connected: the store's options are checked without a server.
    const client = createClient();

    it.each(['', 'a b', 'tab\there', 'x'.repeat(101)])('prefix %p is a RangeError', (prefix) => {
      expect(() => redisStore(client, { prefix })).toThrow(RangeError);
    });

    it('a prefix that is not a string is a TypeError; 100 characters are accepted', () => {
      expect(() => redisStore(client, { prefix: 5 as never })).toThrow(TypeError);
      expect(redisStore(client, { prefix: 'x'.repeat(100) }).keyOf('chat')).toBe(`${'x'.repeat(100)}chat`);
    });

    it("the default prefix is 'express-async-stream:topic:'", () => {
      expect(redisStore(client).keyOf('chat')).toBe('express-async-stream:topic:chat');
    });

    it('a URL, a promise of a client or a cluster is a TypeError', () => {
      expect(() => redisStore('redis://localhost:6379')).toThrow(TypeError);
      expect(() => redisStore(Promise.resolve(client))).toThrow(TypeError);
      expect(() => redisStore(createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] }))).toThrow(TypeError);
    });

    it('publish rejects with an AsyncStreamError while the client is not connected', async () => {
      const topic = createTopic('offline', { store: redisStore(client) });
      await expect(topic.publish('x')).rejects.toThrow(AsyncStreamError);
    });
  });
});

describe('docs/options.md: the Types table', () => {
  const markdown = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'options.md'), 'utf8');
  const index = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'index.ts'), 'utf8');
  const typeNames = [...index.matchAll(/\btype (\w+)/g)].map((match) => match[1]!);

  it.each(typeNames)('defines %s', (name) => {
    expect(markdown).toMatch(new RegExp(`^\\| \`${name}[<\`]`, 'm'));
  });
});
