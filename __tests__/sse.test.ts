import compression from 'compression';
import type { Express } from 'express';
import {
  currentSignal,
  encodeEvent,
  lastEventId,
  sse,
  StreamTimeoutError,
  type SseEvent,
  type SseOptions,
} from '../src/index.js';
import type { StreamConnection } from '../src/testing/index.js';
import { recordErrors, useProcessWatch } from './helpers/app.js';
import { deferred, settle } from './helpers/deferred.js';
import { useStreamRequest } from './helpers/connections.js';
import { expressVersions } from './helpers/express.js';
import { createProducer } from './helpers/producer.js';
import { trackedIterable } from './helpers/trackedIterable.js';
import { watchWarnings } from './helpers/warnings.js';
import { recordWrites, type RecordedWrite } from './helpers/writes.js';

type Event = SseEvent | string;

const fakeTimers: Parameters<typeof jest.useFakeTimers>[0] = {
  // Only timers are faked (keep-alive and idle); sockets, setImmediate (finalhandler) and nextTick run for real.
  doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'],
};

/**
 * Resolves once the server has stopped writing to a client that stopped reading: a write reported
 * a full buffer and no write followed over several turns of the event loop (the pump waits for a
 * 'drain' that cannot come while the client's socket buffers are full).
 */
async function untilStalled(writes: readonly RecordedWrite[]): Promise<void> {
  for (let stable = 0, seen = -1; stable < 3;) {
    await settle();
    stable = writes.length === seen ? stable + 1 : 0;
    seen = writes.length;
  }
}

/** Reads from `client` until the text received ends with `suffix`; returns all of it. */
async function readUntil(client: StreamConnection, suffix: string): Promise<string> {
  let text = '';
  while (!text.endsWith(suffix)) {
    const chunk = await client.receive();
    if (chunk === null)
      throw new Error(`the body ended before ${JSON.stringify(suffix)}: ${JSON.stringify(text.slice(-200))}`);
    text += chunk.toString();
  }
  return text;
}

describe.each(expressVersions)('sse(handler, options) (%s)', (_name, createApp) => {
  const watcher = useProcessWatch();
  const streamRequest = useStreamRequest();

  describe('when the handler returns its events', () => {
    it('sends status and headers before the first event, while the generator has yielded nothing', async () => {
      const app = createApp();
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate));
      const client = await streamRequest(app, '/');
      await producer.waiting();
      expect(producer.produced).toBe(0);
      expect(client.status).toBe(200);
      expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(client.headers['cache-control']).toBe('no-cache, no-transform');
      expect(client.headers['x-accel-buffering']).toBe('no');
      expect(client.headers['content-length']).toBeUndefined();
      expect(client.headers['transfer-encoding']).toBe('chunked');
      expect(client.receivedBytes).toBe(0);
      producer.end();
      expect((await client.readToEnd()).aborted).toBe(false);
    });

    it('sends each event as it is produced, byte-exact', async () => {
      const app = createApp();
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate));
      const client = await streamRequest(app, '/');
      const steps: Array<[Event, string]> = [
        [{ id: '1', data: 'one' }, 'id: 1\ndata: one\n\n'],
        ['a string is a data-only event', 'data: a string is a data-only event\n\n'],
        [{ event: 'json', data: { n: 3 } }, 'event: json\ndata: {"n":3}\n\n'],
        [{ data: 'two\nlines' }, 'data: two\ndata: lines\n\n'],
      ];
      for (const [event, frame] of steps) {
        producer.push(event);
        expect((await client.receive())!.toString()).toBe(frame);
      }
      producer.end();
      expect(await client.receive()).toBeNull();
      expect((await client.readToEnd()).aborted).toBe(false);
    });

    it.each<[string, () => unknown]>([
      [
        'a sync generator',
        () =>
          (function* () {
            yield { data: 'a' };
            yield 'b';
          })(),
      ],
      ['an array', () => [{ data: 'a' }, 'b']],
      [
        'a promise of an async generator',
        async () =>
          (async function* () {
            yield { data: 'a' };
            yield 'b';
          })(),
      ],
    ])('accepts %s', async (_kind, handler) => {
      const app = createApp();
      app.get('/', sse(handler as () => Iterable<Event>));
      const client = await streamRequest(app, '/');
      expect(await client.text()).toBe('data: a\n\ndata: b\n\n');
      expect((await client.readToEnd()).aborted).toBe(false);
    });

    it('runs the handler and its generator in the request context', async () => {
      const app = createApp();
      app.get(
        '/:name',
        sse(async function* (req) {
          yield { data: `hello ${req.params.name}` };
          yield { data: String(currentSignal().aborted) };
        }),
      );
      const client = await streamRequest(app, '/ada');
      expect(await client.text()).toBe('data: hello ada\n\ndata: false\n\n');
    });

    it('is not compressed by compression() and still streams event by event', async () => {
      const app = createApp();
      app.use(compression());
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate));
      const client = await streamRequest(app, '/', { headers: { 'Accept-Encoding': 'gzip' } });
      expect(client.headers['content-encoding']).toBeUndefined();
      producer.push('first');
      expect((await client.receive())!.toString()).toBe('data: first\n\n');
      producer.push('second');
      expect((await client.receive())!.toString()).toBe('data: second\n\n');
      producer.end();
      expect((await client.readToEnd()).aborted).toBe(false);
    });
  });

  describe('when the handler fails before returning its events', () => {
    it('answers a real 500, without the event-stream headers', async () => {
      const app = createApp();
      app.get(
        '/',
        sse(async () => {
          throw new Error('no database');
        }),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(500);
      expect(client.headers['content-type']).toMatch(/^text\/html/);
      expect(client.headers['x-accel-buffering']).toBeUndefined();
      expect((await client.readToEnd()).aborted).toBe(false);
      expect((errors[0] as Error).message).toBe('no database');
    });
  });

  describe('when the handler answers the request itself', () => {
    it('keeps headers it flushed itself, and streams the events after them', async () => {
      const app = createApp();
      app.get(
        '/',
        sse((_req, res) => {
          res.status(200).setHeader('Content-Type', 'text/event-stream');
          res.flushHeaders();
          return ['after my headers'];
        }),
      );
      const client = await streamRequest(app, '/');
      expect(client.headers['content-type']).toBe('text/event-stream');
      expect(client.headers['x-accel-buffering']).toBeUndefined();
      expect(await client.text()).toBe('data: after my headers\n\n');
    });

    it('leaves a response it sent alone', async () => {
      const app = createApp();
      app.get(
        '/',
        sse((_req, res) => {
          res.status(204).end();
        }),
      );
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(204);
      expect(client.headers['content-type']).toBeUndefined();
    });

    it('lets next() hand the request on without sending event-stream headers', async () => {
      const app = createApp();
      app.get(
        '/',
        sse((_req, _res, next) => next()),
        (_req, res) => res.type('text').send('plain'),
      );
      const client = await streamRequest(app, '/');
      expect(client.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(await client.text()).toBe('plain');
    });
  });

  describe('when the events fail after the stream started', () => {
    async function failAfterFirstEvent(options: SseOptions, error: unknown = new Error('secret internal detail')) {
      const app = createApp();
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate, options));
      const errors = recordErrors(app);
      producer.push('one');
      const client = await streamRequest(app, '/');
      expect((await client.receive())!.toString()).toBe('data: one\n\n');
      producer.fail(error);
      const { body, aborted } = await client.readToEnd();
      return { rest: body.toString(), aborted, errors, producer };
    }

    it('closes the connection by default (incomplete body) and passes the error to next(err)', async () => {
      const { rest, aborted, errors } = await failAfterFirstEvent({});
      expect(rest).toBe('');
      expect(aborted).toBe(true);
      expect((errors[0] as Error).message).toBe('secret internal detail');
    });

    it('with errorEvent: true, sends a fixed error event first and never the message', async () => {
      const { rest, aborted, errors } = await failAfterFirstEvent({ errorEvent: true });
      expect(rest).toBe('event: stream-error\ndata: Internal Server Error\n\n');
      expect(rest).not.toContain('secret');
      expect(aborted).toBe(true);
      expect((errors[0] as Error).message).toBe('secret internal detail');
    });

    it('with errorEvent: fn, sends the event it returns', async () => {
      const toEvent = jest.fn((error: unknown) => ({ event: 'failure', data: { kind: (error as Error).name } }));
      const { rest, aborted, errors } = await failAfterFirstEvent({ errorEvent: toEvent }, new RangeError('secret'));
      expect(rest).toBe('event: failure\ndata: {"kind":"RangeError"}\n\n');
      expect(toEvent).toHaveBeenCalledWith(errors[0]);
      expect(aborted).toBe(true);
    });

    it('with an errorEvent function that throws, warns and closes the connection', async () => {
      const warnings = watchWarnings();
      try {
        const { rest, aborted, errors } = await failAfterFirstEvent({
          errorEvent: () => {
            throw new Error('mapper bug');
          },
        });
        expect(rest).toBe('');
        expect(aborted).toBe(true);
        expect((errors[0] as Error).message).toBe('secret internal detail');
        await settle();
        expect(warnings.warnings.map((warning) => warning.message)).toEqual([
          expect.stringContaining('sse(): `errorEvent` threw Error (mapper bug), so no error event was sent'),
        ]);
      } finally {
        warnings.stop();
      }
    });

    it('treats an invalid event as an error naming its index, and closes the generator', async () => {
      const app = createApp();
      const finalized = deferred();
      app.get(
        '/',
        sse(
          async function* () {
            try {
              yield 'fine';
              yield { id: 'two\nlines', data: 'x' };
              yield 'never';
            } finally {
              finalized.resolve();
            }
          },
          { errorEvent: true },
        ),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      const { body: received, aborted } = await client.readToEnd();
      expect(received.toString()).toBe('data: fine\n\nevent: stream-error\ndata: Internal Server Error\n\n');
      expect(aborted).toBe(true);
      await finalized.promise;
      expect(errors[0]).toBeInstanceOf(TypeError);
      expect((errors[0] as Error).message).toContain('sse(): event 1: `id` must not contain CR, LF or NUL');
    });

    it.each([
      [
        'with errorEvent: true',
        { errorEvent: true },
        'data: fine\n\nevent: stream-error\ndata: Internal Server Error\n\n',
      ],
      ['by default', {}, 'data: fine\n\n'],
    ])('does the same for a sync generator that throws, %s', async (_name, options, expected) => {
      const app = createApp();
      let finallyRan = 0;
      app.get(
        '/',
        sse(function* () {
          try {
            yield 'fine';
            throw new Error('sync failure');
          } finally {
            finallyRan++;
          }
        }, options),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      const { body: received, aborted } = await client.readToEnd();
      expect(received.toString()).toBe(expected);
      expect(aborted).toBe(true);
      expect(finallyRan).toBe(1);
      expect((errors as Error[]).map((error) => error.message)).toEqual(['sync failure']);
    });
  });

  describe('when the client disconnects', () => {
    it('closes a generator parked in an await that listens to currentSignal() at once', async () => {
      const app = createApp();
      const producer = createProducer<Event>();
      app.get(
        '/',
        sse(() => producer.generateUntil(currentSignal())),
      );
      const errors = recordErrors(app);
      producer.push('one');
      const client = await streamRequest(app, '/');
      await client.receive();
      await producer.waiting();
      await client.disconnect();
      await producer.finalized;
      expect(producer.finallyCount).toBe(1);
      await settle();
      expect(errors).toEqual([]);
      expect(watcher.unhandled).toEqual([]);
      expect(watcher.logged).toEqual([]);
    });

    it('closes any other generator at its next yield, writing nothing more', async () => {
      const app = createApp();
      const record = recordWrites();
      app.use(record.middleware);
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate));
      producer.push('one');
      const client = await streamRequest(app, '/');
      await client.receive();
      await producer.waiting();
      // Resolves once the server is done: for a generator deaf to the signal, at its next yield.
      const disconnected = client.disconnect();
      await settle();
      producer.push('late');
      await disconnected;
      await settle();
      expect(record.texts()).toEqual(['data: one\n\n']);
    });

    it('closes the events of a HEAD request without pulling them', async () => {
      const app = createApp();
      const { iterable, calls } = trackedIterable<Event>();
      app.get(
        '/',
        sse(() => iterable),
      );
      const client = await streamRequest(app, '/', { method: 'HEAD' });
      expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      expect((await client.readToEnd()).aborted).toBe(false);
      await settle();
      expect(calls).toEqual({ next: 0, return: 1 });
    });
  });

  describe('with keep-alive comments', () => {
    beforeEach(() => {
      jest.useFakeTimers(fakeTimers);
    });

    afterEach(() => {
      jest.useRealTimers();
    });

    it('sends the first 15 to 16.875 seconds into the silence by default (1/8 of a period late at most), then one every 15 seconds', async () => {
      const app = createApp();
      const record = recordWrites();
      app.use(record.middleware);
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate));
      const client = await streamRequest(app, '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(14_999);
      expect(record.texts()).toEqual([]);
      await jest.advanceTimersByTimeAsync(1_876);
      expect((await client.receive())!.toString()).toBe(': keep-alive\n\n');
      await jest.advanceTimersByTimeAsync(14_999);
      expect(record.texts()).toEqual([': keep-alive\n\n']);
      await jest.advanceTimersByTimeAsync(1);
      expect((await client.receive())!.toString()).toBe(': keep-alive\n\n');
      expect(record.texts()).toEqual([': keep-alive\n\n', ': keep-alive\n\n']);
      producer.end();
      expect((await client.readToEnd()).aborted).toBe(false);
    });

    it('sends them only when idle, counting from the last event', async () => {
      const app = createApp();
      const record = recordWrites();
      app.use(record.middleware);
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate, { keepAlive: 1_000 }));
      const client = await streamRequest(app, '/');
      for (const data of ['a', 'b', 'c']) {
        await jest.advanceTimersByTimeAsync(900);
        producer.push(data);
        expect((await client.receive())!.toString()).toBe(`data: ${data}\n\n`);
      }
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(999);
      expect(record.texts()).toEqual(['data: a\n\n', 'data: b\n\n', 'data: c\n\n']);
      // Due 1,000 to 1,125 ms after the last write.
      await jest.advanceTimersByTimeAsync(126);
      expect((await client.receive())!.toString()).toBe(': keep-alive\n\n');
      // The event the wait was for still arrives after the keep-alive.
      producer.push('d');
      expect((await client.receive())!.toString()).toBe('data: d\n\n');
    });

    it('keeps each route to its own keepAlive when their periods differ', async () => {
      const app = createApp();
      const fast = createProducer<Event>();
      const slow = createProducer<Event>();
      app.get('/fast', sse(fast.generate, { keepAlive: 1_000 }));
      app.get('/slow', sse(slow.generate, { keepAlive: 3_000 }));
      const fastClient = await streamRequest(app, '/fast');
      const slowClient = await streamRequest(app, '/slow');
      await fast.waiting();
      await slow.waiting();
      // Slow: one 3,000 to 3,375 ms into the silence; fast: 1,000 to 1,125, then every 1,000.
      await jest.advanceTimersByTimeAsync(2_999);
      slow.push('now');
      expect(await readUntil(slowClient, 'data: now\n\n')).toBe('data: now\n\n');
      await slow.waiting();
      await jest.advanceTimersByTimeAsync(3_375);
      fast.push('now');
      slow.push('now');
      expect(await readUntil(fastClient, 'data: now\n\n')).toBe(`${': keep-alive\n\n'.repeat(6)}data: now\n\n`);
      expect(await readUntil(slowClient, 'data: now\n\n')).toBe(': keep-alive\n\ndata: now\n\n');
    });

    it('sends none with keepAlive: null', async () => {
      const app = createApp();
      const record = recordWrites();
      app.use(record.middleware);
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate, { keepAlive: null }));
      const pending = streamRequest(app, '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(3_600_000);
      expect(record.texts()).toEqual([]);
      producer.push('late');
      producer.end();
      expect(await (await pending).text()).toBe('data: late\n\n');
    });

    it('runs no timer with keepAlive: null', async () => {
      const app = createApp();
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate, { keepAlive: null }));
      const pending = streamRequest(app, '/');
      await producer.waiting();
      expect(jest.getTimerCount()).toBe(0);
      producer.end();
      expect(await (await pending).text()).toBe('');
    });

    it('writes none while the stream waits for a slow client to drain', async () => {
      const app = createApp();
      const record = recordWrites();
      app.use(record.middleware);
      const big = 'x'.repeat(64 * 1024);
      let stop = false;
      const producer = createProducer<Event>();
      app.get(
        '/',
        sse(
          async function* () {
            while (!stop) yield { data: big };
            yield 'after drain';
            yield* producer.generate();
          },
          { keepAlive: 1_000 },
        ),
      );
      const client = await streamRequest(app, '/');
      client.pause();
      await untilStalled(record.writes);
      const writesWhenStalled = record.writes.length;
      // The pump waits for 'drain' and pulls nothing: the keep-alive timer, counting from the
      // last write, fires once with nobody waiting, writes nothing, and is not re-armed.
      await jest.advanceTimersByTimeAsync(10_000);
      await settle();
      expect(jest.getTimerCount()).toBe(0);
      expect(record.writes.length).toBe(writesWhenStalled);
      expect(record.texts().every((chunk) => chunk === `data: ${big}\n\n`)).toBe(true);
      stop = true;
      client.resume();
      await readUntil(client, 'data: after drain\n\n');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(999);
      expect(record.texts().at(-1)).toBe('data: after drain\n\n');
      await jest.advanceTimersByTimeAsync(126);
      expect((await client.receive())!.toString()).toBe(': keep-alive\n\n');
    });

    it('clears its timer and closes the generator when the client disconnects', async () => {
      const app = createApp();
      const producer = createProducer<Event>();
      app.get(
        '/',
        sse(() => producer.generateUntil(currentSignal()), { keepAlive: 1_000 }),
      );
      const errors = recordErrors(app);
      producer.push('one');
      const client = await streamRequest(app, '/');
      await client.receive();
      await producer.waiting();
      expect(jest.getTimerCount()).toBe(1);
      await client.disconnect();
      await producer.finalized;
      await settle();
      expect(jest.getTimerCount()).toBe(0);
      expect(errors).toEqual([]);
    });
  });

  describe('after the socket refused a write made while waiting for an event', () => {
    it("sends keep-alives and events again once the client catches up (the 'drain' is not lost)", async () => {
      const app = createApp();
      const piece = 'x'.repeat(8 * 1024);
      const socketFull = deferred();
      const drainedOnServer = deferred();
      const producer = createProducer<Event>();
      app.get(
        '/',
        sse(
          async function* (_req, res) {
            // Events a turn apart: each is written at the end of its tick, while the pump waits for
            // this generator, until the socket refuses one.
            while (!res.writableNeedDrain) {
              yield piece;
              await new Promise((resolve) => setImmediate(resolve));
            }
            res.once('drain', () => drainedOnServer.resolve());
            socketFull.resolve();
            yield* producer.generate();
          },
          { keepAlive: 50 },
        ),
      );
      const client = await streamRequest(app, '/');
      client.pause();
      await socketFull.promise;
      client.resume();
      await drainedOnServer.promise;
      // Real timers: a keep-alive is due 50 ms into the silence; reading waits for it, however late.
      await readUntil(client, ': keep-alive\n\n');
      producer.push('after the drain');
      await readUntil(client, 'data: after the drain\n\n');
      producer.end();
      expect((await client.readToEnd()).aborted).toBe(false);
    });
  });

  describe('with an idle timeout', () => {
    beforeEach(() => {
      jest.useFakeTimers(fakeTimers);
    });

    afterEach(() => {
      jest.useRealTimers();
    });

    it('has none by default, whatever the app setting', async () => {
      const app = createApp();
      app.set('stream timeout', 1_000);
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate, { keepAlive: null }));
      const errors = recordErrors(app);
      const pending = streamRequest(app, '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(60_000);
      producer.push('still open');
      producer.end();
      expect(await (await pending).text()).toBe('data: still open\n\n');
      expect(errors).toEqual([]);
    });

    it('abandons a silent stream with `timeout`', async () => {
      const app = createApp();
      const producer = createProducer<Event>();
      app.get(
        '/',
        sse(() => producer.generateUntil(currentSignal()), { keepAlive: null, timeout: 1_000 }),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(1_000);
      expect((await client.readToEnd()).aborted).toBe(true);
      expect(errors[0]).toBeInstanceOf(StreamTimeoutError);
      await producer.finalized;
    });

    it('is kept from firing by keep-alive comments', async () => {
      const app = createApp();
      const producer = createProducer<Event>();
      app.get('/', sse(producer.generate, { keepAlive: 500, timeout: 1_000 }));
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      await producer.waiting();
      for (let elapsed = 0; elapsed < 5_000; elapsed += 100) await jest.advanceTimersByTimeAsync(100);
      expect(errors).toEqual([]);
      producer.end();
      const { body, aborted } = await client.readToEnd();
      expect(aborted).toBe(false);
      // One 500 to 562.5 ms into the silence, then one every 500 ms.
      expect(body.toString()).toBe(': keep-alive\n\n'.repeat(9));
    });
  });

  describe('lastEventId(req)', () => {
    function echoLastEventId(app: Express): void {
      app.get(
        '/',
        sse((req) => [{ data: JSON.stringify(lastEventId(req) ?? null) }]),
      );
    }

    it('returns the Last-Event-ID request header', async () => {
      const app = createApp();
      echoLastEventId(app);
      const client = await streamRequest(app, '/', { headers: { 'Last-Event-ID': '41' } });
      expect(await client.text()).toBe('data: "41"\n\n');
    });

    it('returns undefined when the header is absent', async () => {
      const app = createApp();
      echoLastEventId(app);
      const client = await streamRequest(app, '/');
      expect(await client.text()).toBe('data: null\n\n');
    });

    it('decodes the UTF-8 id a browser sends', async () => {
      const app = createApp();
      echoLastEventId(app);
      // The header's bytes as a browser sends them: the id encoded as UTF-8.
      const utf8Bytes = Buffer.from('café-✓', 'utf8').toString('latin1');
      const client = await streamRequest(app, '/', { headers: { 'Last-Event-ID': utf8Bytes } });
      expect(await client.text()).toBe('data: "café-✓"\n\n');
    });

    it('lets a numbered stream resume after the last event the client saw', async () => {
      const app = createApp();
      const log = ['a', 'b', 'c', 'd', 'e'];
      let available = 2;
      app.get(
        '/log',
        sse(async function* (req) {
          for (let n = Number(lastEventId(req) ?? 0) + 1; n <= log.length; n++) {
            if (n > available) {
              // Park until the client leaves, like a feed waiting for news.
              await new Promise((resolve) => currentSignal().addEventListener('abort', resolve));
              return;
            }
            yield { id: n, data: log[n - 1] };
          }
        }),
      );
      const first = await streamRequest(app, '/log');
      const seen = await readUntil(first, 'id: 2\ndata: b\n\n');
      await first.disconnect();
      available = log.length;
      const resumed = await streamRequest(app, '/log', { headers: { 'Last-Event-ID': '2' } });
      const rest = await resumed.text();
      expect(seen + rest).toBe(log.map((data, i) => encodeEvent({ id: i + 1, data })).join(''));
    });
  });
});

describe('lastEventId(req) on a plain request object', () => {
  it.each<[string, Record<string, string>, string | undefined]>([
    ['no header', {}, undefined],
    ['an id', { 'last-event-id': '17' }, '17'],
    ['an empty id', { 'last-event-id': '' }, ''],
  ])('reads %s', (_name, headers, expected) => {
    expect(lastEventId({ headers })).toBe(expected);
  });
});
