import { AsyncLocalStorage } from 'node:async_hooks';
import express from 'express';
import {
  createTopic,
  lastEventId,
  memoryStore,
  ndjson,
  sse,
  type TopicEvent,
  type TopicReset,
  type TopicStore,
} from '../../src/index.js';
import * as encodeEvent from '../../src/sse/encodeEvent.js';
import { recordErrors, watchProcess } from '../helpers/app.js';
import { useStreamRequest } from '../helpers/connections.js';
import { settle } from '../helpers/deferred.js';
import { within } from '../helpers/within.js';
import { heapAfterGc, MiB } from '../reliability/heap.js';
import { recordWrites } from '../helpers/writes.js';

type Received = TopicEvent | TopicReset;

/** Takes `count` values from a subscription, failing if it ends first. */
async function take(iterator: AsyncIterator<Received>, count: number): Promise<Received[]> {
  const values: Received[] = [];
  while (values.length < count) {
    const step = await iterator.next();
    if (step.done === true) throw new Error(`the subscription ended after ${values.length} of ${count} events`);
    values.push(step.value);
  }
  return values;
}

const dataOf = (events: readonly Received[]): unknown[] => events.map((event) => event.data);

describe('createTopic(name, options)', () => {
  // Over the whole file: the last test checks that none of the others left a rejection behind.
  let watcher: ReturnType<typeof watchProcess>;
  beforeAll(() => {
    watcher = watchProcess();
  });
  afterAll(() => watcher.stop());
  const streamRequest = useStreamRequest();

  describe('topic.subscribe()', () => {
    it('delivers every event published after it, in order, with the ids publish resolved', async () => {
      const topic = createTopic<{ n: number }>('orders', { store: memoryStore() });
      const subscription = topic.subscribe();
      const ids = [await topic.publish({ n: 1 }), await topic.publish({ n: 2 }, { event: 'tick' })];
      expect(await take(subscription, 2)).toEqual([
        { id: ids[0], data: { n: 1 }, event: undefined },
        { id: ids[1], data: { n: 2 }, event: 'tick' },
      ]);
      expect(topic.subscriberCount).toBe(1);
      await subscription.return!();
      expect(topic.subscriberCount).toBe(0);
    });

    it('delivers nothing published before it subscribed', async () => {
      const topic = createTopic('before', { store: memoryStore() });
      await topic.publish('old');
      const subscription = topic.subscribe();
      await topic.publish('new');
      expect(dataOf(await take(subscription, 1))).toEqual(['new']);
      topic.close();
    });

    // Found in review: a second next() replaced the first one's resolver, which then never settled.
    it('answers next() calls made before the previous one settled, in order', async () => {
      const topic = createTopic('concurrent', { store: memoryStore() });
      const subscription = topic.subscribe();
      await subscription.ready;
      const [first, second, third] = [subscription.next(), subscription.next(), subscription.next()];
      await topic.publish(1);
      await topic.publish(2);
      expect(await within(first, 'the first next()')).toMatchObject({ done: false, value: { data: 1 } });
      expect(await within(second, 'the second next()')).toMatchObject({ done: false, value: { data: 2 } });
      topic.close();
      expect(await within(third, 'the third next()')).toEqual({ done: true, value: undefined });
    });

    it('gives every subscriber the same event object: the data is decoded once per process', async () => {
      const topic = createTopic('shared', { store: memoryStore() });
      const [a, b] = [topic.subscribe(), topic.subscribe()];
      await topic.publish({ big: 'x'.repeat(100) });
      const [[fromA], [fromB]] = await Promise.all([take(a, 1), take(b, 1)]);
      expect(fromA).toBe(fromB);
      topic.close();
    });
  });

  describe('topic.subscribe({ after })', () => {
    it('resumes after the id: the kept events after it, then live ones', async () => {
      const topic = createTopic('resume', { store: memoryStore() });
      const ids: string[] = [];
      for (const n of [1, 2, 3, 4]) ids.push(await topic.publish(n));
      const subscription = topic.subscribe({ after: ids[1] });
      await topic.publish(5);
      expect(dataOf(await take(subscription, 3))).toEqual([3, 4, 5]);
      topic.close();
    });

    it('delivers an event published while the history is read once, not twice', async () => {
      const topic = createTopic('overlap', { store: memoryStore() });
      const first = await topic.publish(1);
      const subscription = topic.subscribe({ after: first });
      // Published before the history read: it is both live (queued) and history.
      const published = topic.publish(2);
      await published;
      await topic.publish(3);
      expect(dataOf(await take(subscription, 2))).toEqual([2, 3]);
      topic.close();
      expect(await subscription.next()).toEqual({ done: true, value: undefined });
    });

    it("with '0', starts with every kept event", async () => {
      const topic = createTopic('from-start', { store: memoryStore(), history: 3 });
      for (const n of [1, 2, 3]) await topic.publish(n);
      const subscription = topic.subscribe({ after: '0' });
      expect(dataOf(await take(subscription, 3))).toEqual([1, 2, 3]);
      topic.close();
    });

    it.each([
      ['an id of another topic', async () => createTopic('other', { store: memoryStore() }).publish('x')],
      [
        'an id from before a restart of the store',
        async () => createTopic('reset', { store: memoryStore() }).publish('x'),
      ],
      ['an id that is not one of ours', () => Promise.resolve('1700000000000-0')],
    ])('for %s, sends a reset event with no id, then every kept event', async (_name, foreignId) => {
      const store = memoryStore();
      const topic = createTopic('reset', { store });
      await topic.publish('a');
      await topic.publish('b');
      const after = await foreignId();
      const subscription = topic.subscribe({ after });
      const events = await take(subscription, 3);
      expect(events[0]).toEqual({ event: 'reset', data: { lastEventId: after } });
      expect(events[0]!.id).toBeUndefined();
      expect(dataOf(events.slice(1))).toEqual(['a', 'b']);
      topic.close();
    });

    it('for an id older than the kept history, sends a reset event, then the kept events', async () => {
      const topic = createTopic('trimmed', { store: memoryStore(), history: 2 });
      const first = await topic.publish(1);
      const second = await topic.publish(2);
      for (const n of [3, 4]) await topic.publish(n);
      // 2 is the last event before the kept ones (3, 4): resuming from it misses nothing.
      expect(dataOf(await take(topic.subscribe({ after: second }), 2))).toEqual([3, 4]);
      const events = await take(topic.subscribe({ after: first }), 3);
      expect(events[0]).toEqual({ event: 'reset', data: { lastEventId: first } });
      expect(dataOf(events.slice(1))).toEqual([3, 4]);
      topic.close();
    });
    // Found by the property tests: events published in the tick of subscribe() reach the subscriber
    // live before it reads the history, and when they trim it (more of them than `history`), the ones
    // no longer kept were dropped as if the history had held them.
    describe('when events published while the history is read trim it', () => {
      it("with '0', delivers every one of them, with no reset", async () => {
        const topic = createTopic('burst', { store: memoryStore(), history: 1 });
        const subscription = topic.subscribe({ after: '0' });
        void topic.publish(1);
        await topic.publish(2);
        await topic.publish(3);
        expect(dataOf(await take(subscription, 2))).toEqual([1, 2]);
        topic.close();
      });

      it('after an id trimmed by them, sends a reset, then every one of them', async () => {
        const topic = createTopic('burst-resume', { store: memoryStore(), history: 1 });
        const last = await topic.publish(1);
        const subscription = topic.subscribe({ after: last });
        void topic.publish(2);
        await topic.publish(3);
        await topic.publish(4);
        const events = await take(subscription, 3);
        expect(events[0]).toEqual({ event: 'reset', data: { lastEventId: last } });
        expect(dataOf(events.slice(1))).toEqual([2, 3]);
        topic.close();
      });
    });
  });

  describe('when the history read of one subscriber fails', () => {
    /** memoryStore(), with a readAfter that rejects while `failing` is set. */
    function flakyStore(): { store: TopicStore; failing: boolean } {
      const memory = memoryStore();
      const flaky: { store: TopicStore; failing: boolean } = {
        failing: false,
        store: {
          append: (topic, event, history) => memory.append(topic, event, history),
          readAfter: (topic, after) =>
            flaky.failing ? Promise.reject(new Error('the history is unreachable')) : memory.readAfter(topic, after),
          listen: (topic, deliver) => memory.listen(topic, deliver),
          compareIds: (a, b) => memory.compareIds(a, b),
        } satisfies TopicStore,
      };
      return flaky;
    }

    it('rejects its ready and next() with the error', async () => {
      const flaky = flakyStore();
      const topic = createTopic('flaky', { store: flaky.store });
      flaky.failing = true;
      const subscription = topic.subscribe({ after: '0' });
      await expect(subscription.ready).rejects.toThrow('the history is unreachable');
      await expect(subscription.next()).rejects.toThrow('the history is unreachable');
      expect(topic.subscriberCount).toBe(0);
    });

    // The failed subscriber stopped the topic's one store listener, which the others share: they
    // stayed open and counted, and received nothing more.
    it('keeps delivering to the subscribers already live', async () => {
      const flaky = flakyStore();
      const topic = createTopic('flaky-shared', { store: flaky.store });
      const live = topic.subscribe();
      await live.ready;
      flaky.failing = true;
      await expect(topic.subscribe({ after: '0' }).ready).rejects.toThrow('the history is unreachable');
      flaky.failing = false;
      await topic.publish('still here');
      expect(dataOf(await within(take(live, 1), 'the event after the failed read'))).toEqual(['still here']);
      topic.close();
    });
  });

  describe('with a history longer than a call can take as arguments', () => {
    // Found in review: the history was added with push(...events), whose arguments go on the
    // stack, so resuming failed with "Maximum call stack size exceeded" from about 130,000 events.
    it("resumes from '0' with every kept event", async () => {
      const count = 200_000;
      const topic = createTopic<number>('long', { store: memoryStore(), history: count });
      for (let n = 1; n < count; n++) void topic.publish(n);
      await topic.publish(count);
      const subscription = topic.subscribe({ after: '0' });
      await subscription.ready;
      const [first] = await take(subscription, 1);
      expect(first!.data).toBe(1);
      topic.close();
    });
  });

  describe('topic.subscribe({ signal })', () => {
    // Found by the property tests: an 'abort' listener added to an aborted signal never runs, and
    // such a subscription stayed open, counted, with next() pending for ever.
    it('ends at once, and is never counted, when the signal is already aborted', async () => {
      const topic = createTopic('aborted', { store: memoryStore() });
      const controller = new AbortController();
      controller.abort();
      const subscription = topic.subscribe({ signal: controller.signal });
      expect(topic.subscriberCount).toBe(0);
      await topic.publish('x');
      expect(await subscription.next()).toEqual({ done: true, value: undefined });
    });
  });

  describe('memoryStore()', () => {
    // Found in review: subscribing created the topic's log, which stayed after the last subscriber
    // left even with nothing in it: a per-user topic grew the process by one log per user, for ever.
    it('keeps nothing of a topic that was never published to, once its subscribers have left', async () => {
      const store = memoryStore();
      const visit = async (first: number): Promise<void> => {
        for (let n = first; n < first + 20_000; n++) {
          const subscription = createTopic(`user:${n}`, { store }).subscribe({ after: '0' });
          await subscription.ready;
          await subscription.return!();
        }
      };
      await visit(0);
      const before = await heapAfterGc();
      await visit(20_000);
      expect((await heapAfterGc()) - before).toBeLessThan(MiB);
    });
  });

  describe('memoryStore().delete(name)', () => {
    // Found by the property tests: delete() restarted the topic's count, and compareIds, which only
    // compares counts, took each new event for one the subscriber already had, up to its old count.
    it('keeps delivering the new events to a subscriber that resumed from an id', async () => {
      const store = memoryStore();
      const topic = createTopic('deleted', { store });
      const first = await topic.publish('a');
      const subscription = topic.subscribe({ after: first });
      await topic.publish('b');
      expect(dataOf(await take(subscription, 1))).toEqual(['b']);
      store.delete('deleted');
      await topic.publish('c');
      expect(dataOf(await within(take(subscription, 1), 'the event published after delete()'))).toEqual(['c']);
      topic.close();
    });
  });

  describe('a slow subscriber', () => {
    it('is dropped once more than maxPending events wait, and the others get every event', async () => {
      const topic = createTopic('slow', { store: memoryStore(), maxPending: 3 });
      const slow = topic.subscribe();
      const fast = topic.subscribe();
      const received: unknown[] = [];
      const reading = (async () => {
        for await (const event of fast) received.push(event.data);
      })();
      for (const n of [1, 2, 3, 4, 5]) {
        await topic.publish(n);
        await settle(1);
      }
      expect(topic.subscriberCount).toBe(1);
      // What it held is freed: it ends without the events it had waiting.
      expect(await slow.next()).toEqual({ done: true, value: undefined });
      topic.close();
      await reading;
      expect(received).toEqual([1, 2, 3, 4, 5]);
    });
  });

  describe('sse((req) => topic.subscribe({ after: lastEventId(req) }))', () => {
    function chatApp(topic: ReturnType<typeof createTopic>): express.Express {
      const app = express();
      app.get(
        '/events',
        sse((req) => topic.subscribe({ after: lastEventId(req) })),
      );
      return app;
    }

    it('streams each event with its id, so that the browser resumes from it', async () => {
      const topic = createTopic<{ text: string }>('chat', { store: memoryStore() });
      const client = await streamRequest(chatApp(topic), '/events');
      const id = await topic.publish({ text: 'hi\nthere' }, { event: 'message' });
      expect((await client.receive())!.toString()).toBe(`event: message\nid: ${id}\ndata: {"text":"hi\\nthere"}\n\n`);
      await client.disconnect();
      topic.close();
    });

    it('resumes a reconnecting client from Last-Event-ID with nothing lost or repeated', async () => {
      const topic = createTopic('feed', { store: memoryStore() });
      const app = chatApp(topic);
      const first = await streamRequest(app, '/events');
      const id = await topic.publish('one');
      expect(await first.receiveEvent()).toEqual({ id, data: 'one' });
      await first.disconnect();
      await topic.publish('two');
      await topic.publish('three');
      const second = await streamRequest(app, '/events', { headers: { 'Last-Event-ID': id } });
      expect((await second.receiveEvent())!.data).toBe('two');
      expect((await second.receiveEvent())!.data).toBe('three');
      await second.disconnect();
      topic.close();
    });

    it('ends the subscription when the client leaves', async () => {
      const topic = createTopic('leave', { store: memoryStore() });
      const client = await streamRequest(chatApp(topic), '/events');
      await topic.publish('x');
      await client.receiveEvent();
      expect(topic.subscriberCount).toBe(1);
      await client.disconnect();
      expect(topic.subscriberCount).toBe(0);
    });

    it('serialises an event sent to many streams once, and frames it once', async () => {
      const topic = createTopic('once', { store: memoryStore() });
      const app = chatApp(topic);
      const clients = await Promise.all([1, 2, 3].map(() => streamRequest(app, '/events')));
      await settle();
      const stringify = jest.spyOn(JSON, 'stringify');
      const format = jest.spyOn(encodeEvent, 'formatEvent');
      try {
        const id = await topic.publish({ n: 1 });
        for (const client of clients) expect(await client.receiveEvent()).toEqual({ id, data: '{"n":1}' });
        expect(stringify).toHaveBeenCalledTimes(1);
        // One event frame for the three streams (formatEvent is the one place frames are built).
        expect(format.mock.calls.filter(([event]) => !(event instanceof encodeEvent.FramedEvent))).toHaveLength(1);
      } finally {
        stringify.mockRestore();
        format.mockRestore();
      }
      await Promise.all(clients.map((client) => client.disconnect()));
      topic.close();
    });

    it('drops a client that stops reading once maxPending events wait: its stream ends cleanly, and it resumes', async () => {
      const topic = createTopic<string>('stalled', { store: memoryStore(), maxPending: 4 });
      const app = chatApp(topic);
      const stalled = await streamRequest(app, '/events');
      const reader = await streamRequest(app, '/events');
      stalled.pause();
      const ids: string[] = [];
      // 256 KiB events: the socket buffers fill, then the waiting ones pile up in the subscription.
      const big = 'x'.repeat(256 * 1024);
      const received: string[] = [];
      while (topic.subscriberCount === 2) {
        ids.push(await topic.publish(`${ids.length} ${big}`));
        received.push((await reader.receiveEvent())!.id!);
        await settle(2);
      }
      // Memory stays bounded: the other client got every event, the stalled one is no longer held.
      expect(received).toEqual(ids);
      expect(topic.subscriberCount).toBe(1);
      stalled.resume();
      const seen: string[] = [];
      for (let event = await stalled.receiveEvent(); event !== null; event = await stalled.receiveEvent()) {
        seen.push(event.id!);
      }
      // What it got before the drop is a gap-free start of the topic; the end is a clean end of the body.
      expect(seen).toEqual(ids.slice(0, seen.length));
      expect(seen.length).toBeLessThan(ids.length);
      const resumed = await streamRequest(app, '/events', { headers: { 'Last-Event-ID': seen.at(-1)! } });
      const rest: string[] = [];
      while (rest.length < ids.length - seen.length) rest.push((await resumed.receiveEvent())!.id!);
      expect(rest).toEqual(ids.slice(seen.length));
      await Promise.all([resumed.disconnect(), reader.disconnect()]);
      topic.close();
    });

    it('opens the stream and then breaks it when the store cannot be read, so that EventSource retries', async () => {
      const store = memoryStore();
      const failure = new Error('the store is unreachable');
      const failing = {
        ...store,
        compareIds: store.compareIds.bind(store),
        listen: store.listen.bind(store),
        append: store.append.bind(store),
        readAfter: () => Promise.reject(failure),
      };
      const topic = createTopic('unreadable', { store: failing });
      const app = chatApp(topic);
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/events', { headers: { 'Last-Event-ID': '0' } });
      // Not a 500: EventSource gives up for good on an error status, but reconnects after a broken stream.
      expect(client.status).toBe(200);
      expect(await client.readToEnd()).toEqual({ body: Buffer.alloc(0), aborted: true });
      expect(errors).toEqual([failure]);
      expect(topic.subscriberCount).toBe(0);
    });

    it('coalesces events published in one tick into one write', async () => {
      const topic = createTopic('tick', { store: memoryStore() });
      const app = express();
      const record = recordWrites();
      app.use(record.middleware);
      app.get(
        '/events',
        sse(() => topic.subscribe()),
      );
      const client = await streamRequest(app, '/events');
      await settle();
      void topic.publish('a');
      void topic.publish('b');
      void topic.publish('c');
      const text = (await client.receive())!.toString();
      expect(text).toMatch(/^id: .*\ndata: a\n\nid: .*\ndata: b\n\nid: .*\ndata: c\n\n$/);
      expect(record.texts()).toEqual([text]);
      await client.disconnect();
      topic.close();
    });
  });

  describe('sse(() => topic.subscribe()) with many subscribers', () => {
    it('writes the events published in one tick to each subscriber in one write', async () => {
      const topic = createTopic('burst', { store: memoryStore() });
      const app = express();
      const record = recordWrites();
      app.use(record.middleware);
      app.get(
        '/events',
        sse(() => topic.subscribe()),
      );
      const clients = await Promise.all([1, 2, 3].map(() => streamRequest(app, '/events')));
      await settle();
      for (let n = 0; n < 50; n++) void topic.publish(`event ${n}`);
      const texts = await Promise.all(clients.map(async (client) => (await client.receive())!.toString()));
      const expected = Array.from({ length: 50 }, (_, n) => `data: event ${n}\n\n`);
      for (const text of texts) expect(text.replace(/id: .*\n/g, '').split(/(?<=\n\n)/)).toEqual(expected);
      expect(record.texts()).toEqual(texts);
      await Promise.all(clients.map((client) => client.disconnect()));
      topic.close();
    });

    it('sends a burst in writes of about 16 KiB at most, each event once and in order, whichever event a subscriber joined at', async () => {
      const topic = createTopic('big-burst', { store: memoryStore() });
      const app = express();
      const record = recordWrites();
      app.use(record.middleware);
      app.get(
        '/events',
        sse(() => topic.subscribe()),
      );
      const early = await streamRequest(app, '/events');
      await settle();
      // 1,000-byte events: 300 of them are about 18 runs of 16 KiB.
      const text = (n: number): string => `${String(n).padStart(4, '0')} ${'x'.repeat(995)}`;
      for (let n = 0; n < 100; n++) void topic.publish(text(n));
      const late = await streamRequest(app, '/events');
      for (let n = 100; n < 300; n++) void topic.publish(text(n));
      const read = async (client: typeof early, count: number): Promise<string[]> => {
        const data: string[] = [];
        while (data.length < count) data.push(String((await client.receiveEvent())!.data));
        return data;
      };
      const all = Array.from({ length: 300 }, (_, n) => text(n));
      expect(await read(early, 300)).toEqual(all);
      expect(await read(late, 200)).toEqual(all.slice(100));
      // As for events one by one: a batch is written once it reaches 16 KiB, so with one event more at most.
      expect(Math.max(...record.writes.map(({ chunk }) => chunk.length))).toBeLessThanOrEqual(16 * 1024 + 1100);
      await Promise.all([early.disconnect(), late.disconnect()]);
      topic.close();
    });

    it('gives ndjson() each event of a burst as a value of its own', async () => {
      const topic = createTopic<{ n: number }>('lines', { store: memoryStore() });
      const app = express();
      app.get(
        '/lines',
        ndjson(() => topic.subscribe()),
      );
      // ndjson() sends its head with the first line: the request is answered once events come.
      const pending = streamRequest(app, '/lines');
      await within(
        (async () => {
          while (topic.subscriberCount === 0) await settle(1);
        })(),
        'the subscription',
      );
      await settle();
      const ids = [1, 2, 3].map((n) => topic.publish({ n }));
      const client = await pending;
      const lines = (await client.receive())!.toString().split('\n');
      expect(lines.map((line) => (line === '' ? line : JSON.parse(line)))).toEqual([
        ...(await Promise.all(ids)).map((id, i) => ({ id, data: { n: i + 1 } })),
        '',
      ]);
      await client.disconnect();
      topic.close();
    });

    it('holds events back while a client does not read, and sends each once, in order, when it reads again', async () => {
      const topic = createTopic<string>('paused', { store: memoryStore() });
      const app = express();
      const record = recordWrites();
      app.use(record.middleware);
      app.get(
        '/events',
        sse(() => topic.subscribe()),
      );
      const paused = await streamRequest(app, '/events');
      paused.pause();
      // 64 KiB events, more than the loopback socket buffers hold: the stream must wait for 'drain'.
      const big = 'x'.repeat(64 * 1024);
      const ids: string[] = [];
      for (let n = 0; n < 80; n++) {
        ids.push(await topic.publish(`${n} ${big}`));
        await settle(1);
      }
      expect(topic.subscriberCount).toBe(1);
      expect(record.writes.some((write) => !write.accepted)).toBe(true);
      paused.resume();
      const seen: string[] = [];
      while (seen.length < ids.length) seen.push((await paused.receiveEvent())!.id!);
      expect(seen).toEqual(ids);
      await paused.disconnect();
      topic.close();
    });

    it("runs errorEvent and the app's error handler in the request's async context when the store fails", async () => {
      const store = memoryStore();
      let lose: ((error: unknown) => void) | undefined;
      const failing: TopicStore = {
        append: store.append.bind(store),
        readAfter: store.readAfter.bind(store),
        compareIds: store.compareIds.bind(store),
        listen(name, deliver, lost) {
          lose = lost;
          return store.listen(name, deliver);
        },
      };
      const topic = createTopic('lost', { store: failing });
      const requestIds = new AsyncLocalStorage<string>();
      const app = express();
      app.use((req, _res, next) => requestIds.run(String(req.headers['x-request-id']), next));
      app.get(
        '/events',
        sse(() => topic.subscribe(), {
          errorEvent: () => ({ event: 'failed', data: requestIds.getStore() ?? 'no request' }),
        }),
      );
      const seenByHandler: (string | undefined)[] = [];
      app.use((_error: unknown, _req: express.Request, _res: express.Response, next: express.NextFunction) => {
        seenByHandler.push(requestIds.getStore());
        next();
      });
      const client = await streamRequest(app, '/events', { headers: { 'x-request-id': 'req-7' } });
      const id = await topic.publish('before');
      expect(await client.receiveEvent()).toEqual({ id, data: 'before' });
      // Outside any request: as a store's reader would, on its own connection.
      requestIds.run('the store', () => lose!(new Error('the store went away')));
      expect(await client.receiveEvent()).toMatchObject({ event: 'failed', data: 'req-7' });
      expect(await client.readToEnd()).toMatchObject({ aborted: true });
      expect(seenByHandler).toEqual(['req-7']);
    });

    it('ends a subscription that a generator of the handler iterates as soon as its client leaves', async () => {
      const topic = createTopic('wrapped', { store: memoryStore() });
      const app = express();
      app.get(
        '/events',
        sse(async function* () {
          for await (const event of topic.subscribe()) yield { data: `seen: ${String(event.data)}` };
        }),
      );
      const client = await streamRequest(app, '/events');
      await within(
        (async () => {
          while (topic.subscriberCount === 0) await settle(1);
        })(),
        'the subscription',
      );
      // No event comes: only the request's context can end the subscription the generator waits on.
      await client.disconnect();
      expect(topic.subscriberCount).toBe(0);
      topic.close();
    });
  });

  it('leaves no unhandled rejection or logged error behind', () => {
    expect(watcher.unhandled).toEqual([]);
  });
});
