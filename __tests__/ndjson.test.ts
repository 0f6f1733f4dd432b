import { currentSignal, ndjson, StreamTimeoutError } from '../src/index.js';
import { ResponseAbortedError } from '../src/testing/index.js';
import { recordErrors, useProcessWatch } from './helpers/app.js';
import { useStreamRequest } from './helpers/connections.js';
import { deferred, settle } from './helpers/deferred.js';
import { expressVersions } from './helpers/express.js';
import { createProducer } from './helpers/producer.js';
import { trackedIterable } from './helpers/trackedIterable.js';

describe.each(expressVersions)('ndjson(handler, options) (%s)', (_name, createApp) => {
  const watcher = useProcessWatch();
  const streamRequest = useStreamRequest();

  describe('with serialisable values', () => {
    it('sends one JSON line per value, as each is produced', async () => {
      const app = createApp();
      const producer = createProducer<unknown>();
      app.get('/', ndjson(producer.generate));
      producer.push({ id: 1, name: 'Ada' });
      const client = await streamRequest(app, '/');
      expect(client.headers['content-type']).toBe('application/x-ndjson');
      expect(client.headers['content-length']).toBeUndefined();
      expect((await client.receive())!.toString()).toBe('{"id":1,"name":"Ada"}\n');
      const steps: Array<[unknown, string]> = [
        ['two\nlines', '"two\\nlines"\n'],
        [3, '3\n'],
        [null, 'null\n'],
        [[true, { nested: [] }], '[true,{"nested":[]}]\n'],
        [new Date(0), '"1970-01-01T00:00:00.000Z"\n'],
      ];
      for (const [value, line] of steps) {
        producer.push(value);
        expect((await client.receive())!.toString()).toBe(line);
      }
      producer.end();
      expect(await client.receive()).toBeNull();
      expect((await client.readToEnd()).aborted).toBe(false);
    });

    it.each<[string, () => unknown]>([
      ['an array', () => [{ a: 1 }, 'b']],
      [
        'a sync generator',
        () =>
          (function* () {
            yield { a: 1 };
            yield 'b';
          })(),
      ],
      [
        'a promise of an async generator',
        async () =>
          (async function* () {
            yield { a: 1 };
            yield 'b';
          })(),
      ],
    ])('accepts %s', async (_kind, handler) => {
      const app = createApp();
      app.get('/', ndjson(handler as () => Iterable<unknown>));
      const client = await streamRequest(app, '/');
      expect(await client.text()).toBe('{"a":1}\n"b"\n');
      expect((await client.readToEnd()).aborted).toBe(false);
    });

    it('round-trips: every line parses back to the value sent', async () => {
      const values: unknown[] = [
        { text: 'line\nbreak\r\nand\u2028separator', emoji: '✓ 🎉' },
        [1, -2.5, 1e21, 'x', null, false],
        'a "quoted" \\ string',
        0,
        { deep: { deeper: { deepest: [[], {}] } } },
      ];
      const app = createApp();
      app.get(
        '/',
        ndjson(() => values),
      );
      const client = await streamRequest(app, '/');
      const lines = (await client.text()).split('\n');
      expect(lines.pop()).toBe('');
      expect(lines.map((line) => JSON.parse(line))).toEqual(values);
    });

    it('keeps a content type the handler set', async () => {
      const app = createApp();
      app.get(
        '/',
        ndjson((_req, res) => {
          res.setHeader('Content-Type', 'application/jsonl');
          return [1];
        }),
      );
      const client = await streamRequest(app, '/');
      expect(client.headers['content-type']).toBe('application/jsonl');
      expect(await client.text()).toBe('1\n');
    });

    it('sends an empty body, with its content type, for no values', async () => {
      const app = createApp();
      app.get(
        '/',
        ndjson(() => []),
      );
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(200);
      expect(client.headers['content-type']).toBe('application/x-ndjson');
      expect(await client.text()).toBe('');
      expect((await client.readToEnd()).aborted).toBe(false);
    });
  });

  describe('with a value that cannot be serialised', () => {
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    it.each<[string, unknown, string]>([
      ['a symbol', Symbol('s'), 'value 0 of the body is symbol'],
      ['a circular object', circular, 'value 0 of the body is object'],
    ])('answers 500 with a TypeError naming its index when it is the first value: %s', async (_kind, value, phrase) => {
      const app = createApp();
      const finalized = deferred();
      app.get(
        '/',
        ndjson(function* () {
          try {
            yield value;
            yield 'never';
          } finally {
            finalized.resolve();
          }
        }),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(500);
      expect(client.headers['content-type']).toMatch(/^text\/html/);
      expect(errors[0]).toBeInstanceOf(TypeError);
      expect((errors[0] as Error).message).toContain(`ndjson(): ${phrase}`);
      expect((errors[0] as Error).message).toContain('Yield JSON-serialisable values');
      await finalized.promise;
    });

    it('closes the connection after the lines already sent, and closes the generator', async () => {
      const app = createApp();
      const producer = createProducer<unknown>();
      app.get('/', ndjson(producer.generate));
      const errors = recordErrors(app);
      producer.push(1, 2);
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(200);
      let text = '';
      while (text.length < '1\n2\n'.length) text += (await client.receive())!.toString();
      expect(text).toBe('1\n2\n');
      await producer.waiting();
      producer.push({ total: 3n }, 'never');
      await expect(client.receive()).rejects.toThrow(ResponseAbortedError);
      await producer.finalized;
      expect(producer.produced).toBe(3);
      expect((errors[0] as Error).message).toContain('ndjson(): value 2 of the body is object ({ total: 3n })');
      expect((errors[0] as Error).message).toContain('Do not know how to serialize a BigInt');
      expect((errors[0] as Error).cause).toBeInstanceOf(TypeError);
    });
  });

  describe('when the handler does not return values', () => {
    it('answers a real 500 when it throws', async () => {
      const app = createApp();
      app.get(
        '/',
        ndjson(async () => {
          throw new Error('no database');
        }),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(500);
      expect((errors[0] as Error).message).toBe('no database');
    });

    it('answers 500 with a TypeError when it returns something that is not an iterable', async () => {
      const app = createApp();
      app.get('/', ndjson((() => 'not values') as () => Iterable<unknown>));
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(500);
      expect((errors[0] as Error).message).toContain("ndjson(): the handler returned string ('not values')");
    });

    it('lets next() hand the request on', async () => {
      const app = createApp();
      app.get(
        '/',
        ndjson((_req, _res, next) => next()),
        (_req, res) => res.type('text').send('plain'),
      );
      const client = await streamRequest(app, '/');
      expect(client.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(await client.text()).toBe('plain');
    });

    it('leaves a response the handler sent itself alone', async () => {
      const app = createApp();
      app.get(
        '/',
        ndjson((_req, res) => {
          res.json({ whole: true });
        }),
      );
      const client = await streamRequest(app, '/');
      expect(client.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(await client.text()).toBe('{"whole":true}');
    });
  });

  describe('when the stream ends early', () => {
    it('closes the generator when the client disconnects', async () => {
      const app = createApp();
      const producer = createProducer<unknown>();
      app.get(
        '/',
        ndjson(() => producer.generateUntil(currentSignal())),
      );
      const errors = recordErrors(app);
      producer.push({ first: true });
      const client = await streamRequest(app, '/');
      expect((await client.receive())!.toString()).toBe('{"first":true}\n');
      await producer.waiting();
      await client.disconnect();
      await producer.finalized;
      await settle();
      expect(errors).toEqual([]);
      expect(watcher.unhandled).toEqual([]);
    });

    it('closes the values of a HEAD request without pulling them', async () => {
      const app = createApp();
      const { iterable: values, calls } = trackedIterable<unknown>();
      app.get(
        '/',
        ndjson(() => values),
      );
      const client = await streamRequest(app, '/', { method: 'HEAD' });
      expect(client.headers['content-type']).toBe('application/x-ndjson');
      expect((await client.readToEnd()).aborted).toBe(false);
      await settle();
      expect(calls).toEqual({ next: 0, return: 1 });
    });
  });

  describe('with an idle timeout', () => {
    beforeEach(() => {
      jest.useFakeTimers({
        doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'],
      });
    });

    afterEach(() => {
      jest.useRealTimers();
    });

    it('answers 503 when no value comes within `timeout`', async () => {
      const app = createApp();
      const producer = createProducer<unknown>();
      app.get(
        '/',
        ndjson(() => producer.generateUntil(currentSignal()), { timeout: 1_000 }),
      );
      const errors = recordErrors(app);
      const pending = streamRequest(app, '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(999);
      expect(errors).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect((await pending).status).toBe(503);
      expect(errors[0]).toBeInstanceOf(StreamTimeoutError);
      await producer.finalized;
    });
  });
});
