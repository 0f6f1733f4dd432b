import { Readable } from 'node:stream';
import request from 'supertest';
import type { Express } from 'express';
import { asyncStream, makeResponse, StreamResponse, type AsyncStreamHandler } from '../src/index.js';
import { streamRequest } from '../src/testing/index.js';
import { recordErrors } from './helpers/app.js';
import { deferred, settle } from './helpers/deferred.js';
import { listen } from './helpers/server.js';
import { trackedIterable } from './helpers/trackedIterable.js';
import { expressVersions } from './helpers/express.js';

describe.each(expressVersions)('asyncStream(handler) (%s)', (_name, createApp) => {
  function appWith(handler: AsyncStreamHandler): { app: Express; errors: unknown[] } {
    const app = createApp();
    app.get('/', asyncStream(handler));
    return { app, errors: recordErrors(app) };
  }

  describe('with each kind of handler', () => {
    it.each<[string, AsyncStreamHandler]>([
      [
        'an async generator function',
        async function* () {
          yield 'a';
          yield 'b';
        },
      ],
      [
        'a sync generator function',
        function* () {
          yield 'a';
          yield 'b';
        },
      ],
      [
        'an async function returning a generator',
        async () =>
          (async function* () {
            yield 'a';
            yield 'b';
          })(),
      ],
      ['a function returning a Readable', () => Readable.from(['a', 'b'])],
      ['a function returning a ReadableStream', () => ReadableStream.from(['a', 'b'])],
    ])('streams the body of %s', async (_kind, handler) => {
      const response = await request(appWith(handler).app).get('/');
      expect(response.status).toBe(200);
      expect(response.text).toBe('ab');
      expect(response.headers['transfer-encoding']).toBe('chunked');
      expect(response.headers['content-length']).toBeUndefined();
    });

    it('passes req, res and next to the handler', async () => {
      const app = createApp();
      app.get(
        '/users/:id',
        asyncStream(async function* (req, res, next) {
          yield `${req.params.id} ${typeof res.setHeader} ${typeof next}`;
        }),
      );
      expect((await request(app).get('/users/7')).text).toBe('7 function function');
    });
  });

  describe('with a body sent in one piece', () => {
    it('sends a string with a Content-Length, like res.send()', async () => {
      const response = await request(appWith(() => 'hello').app).get('/');
      expect(response.text).toBe('hello');
      expect(response.headers['content-length']).toBe('5');
      expect(response.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(response.headers['transfer-encoding']).toBeUndefined();
    });

    it('sends a Buffer as application/octet-stream', async () => {
      const response = await request(appWith(() => Buffer.from([1, 2, 3])).app)
        .get('/')
        .buffer(true);
      expect(response.headers['content-type']).toBe('application/octet-stream');
      expect(response.headers['content-length']).toBe('3');
      expect(Buffer.from(response.body as Buffer)).toEqual(Buffer.from([1, 2, 3]));
    });

    it('sends a plain Uint8Array as bytes, not as JSON', async () => {
      const response = await request(appWith(() => new Uint8Array([104, 105])).app)
        .get('/')
        .buffer(true);
      expect(response.headers['content-type']).toBe('application/octet-stream');
      expect(Buffer.from(response.body as Buffer).toString()).toBe('hi');
    });

    it('sends a plain object as JSON', async () => {
      const response = await request(appWith(() => ({ ok: true, n: 1 })).app).get('/');
      expect(response.headers['content-type']).toBe('application/json; charset=utf-8');
      expect(response.body).toEqual({ ok: true, n: 1 });
    });

    it('sends a null-prototype object as JSON', async () => {
      const body = Object.assign(Object.create(null) as object, { a: 1 });
      expect((await request(appWith(() => body).app).get('/')).body).toEqual({ a: 1 });
    });

    it('sends an array inside a tuple as JSON', async () => {
      const response = await request(appWith(() => [[1, 'two'], 201]).app).get('/');
      expect(response.status).toBe(201);
      expect(response.body).toEqual([1, 'two']);
    });

    it('awaits a promise of a body, also inside a tuple', async () => {
      const response = await request(appWith(() => [Promise.resolve('later'), 202]).app).get('/');
      expect(response.status).toBe(202);
      expect(response.text).toBe('later');
    });
  });

  describe('with tuples and makeResponse()', () => {
    it.each<[string, AsyncStreamHandler]>([
      ['[body, status]', () => ['made', 201]],
      ['[body, status, headers]', () => ['made', 201, { 'X-Kind': 'tuple' }]],
      ['makeResponse(body, status, headers)', () => makeResponse('made', 201, { 'X-Kind': 'tuple' })],
    ])('sends the status of %s', async (_form, handler) => {
      const response = await request(appWith(handler).app).get('/');
      expect(response.status).toBe(201);
      expect(response.text).toBe('made');
    });

    it('sends the headers of [body, headers] with status 200', async () => {
      const response = await request(appWith(() => ['made', { 'X-Kind': 'tuple' }]).app).get('/');
      expect(response.status).toBe(200);
      expect(response.headers['x-kind']).toBe('tuple');
    });
  });

  describe('when the handler answers by itself', () => {
    it('leaves a response sent with res.send() alone', async () => {
      const { app, errors } = appWith((_req, res) => {
        res.status(203).send('by hand');
      });
      const response = await request(app).get('/');
      expect([response.status, response.text]).toEqual([203, 'by hand']);
      expect(errors).toEqual([]);
    });

    it('lets next() reach the following route', async () => {
      const app = createApp();
      app.get(
        '/',
        asyncStream((_req, _res, next) => next()),
      );
      app.get('/', (_req, res) => void res.send('next route'));
      expect((await request(app).get('/')).text).toBe('next route');
    });
  });

  describe('when the handler fails, or its body cannot be serialised', () => {
    it('passes a rejected promise to next(err)', async () => {
      const failure = new Error('query failed');
      const { app, errors } = appWith(async () => Promise.reject(failure));
      expect((await request(app).get('/')).status).toBe(500);
      expect(errors).toEqual([failure]);
    });

    it('passes a synchronous throw to next(err)', async () => {
      const failure = new Error('thrown');
      const { app, errors } = appWith(() => {
        throw failure;
      });
      expect((await request(app).get('/')).status).toBe(500);
      expect(errors).toEqual([failure]);
    });

    it('passes a JSON serialisation error to next(err)', async () => {
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const { app, errors } = appWith(() => circular);
      expect((await request(app).get('/')).status).toBe(500);
      expect(errors[0]).toBeInstanceOf(TypeError);
    });
  });

  describe('with a malformed tuple', () => {
    describe('that is really rows of data (a query resolving to an array)', () => {
      const users = (n: number) =>
        Array.from({ length: n }, (_, i) => ({ id: i + 1, name: `user${i + 1}`, email: `user${i + 1}@example.com` }));

      it.each([0, 1, 2, 3])('never sends a row as headers: %i rows answer 500 with a TypeError', async (n) => {
        const { app, errors } = appWith(async () => users(n) as never);
        const response = await request(app).get('/');
        expect(response.status).toBe(500);
        for (const name of ['id', 'name', 'email']) expect(response.headers).not.toHaveProperty(name);
        expect(response.text).not.toContain('"id":1'); // no row sent as the body
        expect(errors[0]).toBeInstanceOf(TypeError);
      });

      it('names the fix when two rows look like [body, headers]', async () => {
        const { app, errors } = appWith(async () => users(2) as never);
        await request(app).get('/');
        const message = (errors[0] as Error).message;
        expect(message).toContain("the handler returned [object ({ id: 1, name: 'user1'");
        expect(message).toContain('could be two items of data (rows from a query) as well as [body, headers]');
        expect(message).toContain('return [array, 200]');
        expect(message).toContain('[body, 200, headers] or makeResponse(body, 200, headers)');
      });

      it('sends the rows as JSON when returned as [rows, 200]', async () => {
        const { app } = appWith(async () => [users(2), 200]);
        const response = await request(app).get('/');
        expect(response.status).toBe(200);
        expect(response.body).toEqual(users(2));
        expect(response.headers).not.toHaveProperty('id');
      });

      it('still takes [stream, headers], [text, headers] and [JSON, Headers instance] as a body and its headers', async () => {
        for (const result of [
          [
            (function* () {
              yield 'streamed';
            })(),
            { 'X-Kind': 'pair' },
          ],
          ['text', { 'X-Kind': 'pair' }],
          [{ json: true }, new Headers({ 'X-Kind': 'pair' })],
        ]) {
          const { app, errors } = appWith(() => result as never);
          const response = await request(app).get('/');
          expect(response.status).toBe(200);
          expect(response.headers['x-kind']).toBe('pair');
          expect(errors).toEqual([]);
        }
      });
    });

    it('closes the body it carried', async () => {
      const { iterable, calls } = trackedIterable();
      const { app } = appWith(() => [iterable, 'not a status'] as never);
      await request(app).get('/');
      await settle();
      expect(calls).toEqual({ next: 0, return: 1 });
    });
  });
});

describe.each(expressVersions)('an async function* route (%s)', (_name, createApp) => {
  async function* clock() {
    bodyRan = true;
    yield 'tick';
  }
  let bodyRan = false;

  beforeEach(() => {
    bodyRan = false;
  });

  it('hangs in plain Express: nothing iterates the generator', async () => {
    const app = createApp();
    const handled = deferred();
    app.get('/', () => {
      handled.resolve();
      return clock();
    });
    const server = await listen(app);
    try {
      let answered = false;
      streamRequest(server.server, '/').then(
        () => (answered = true),
        () => {},
      );
      await handled.promise;
      await settle(50);
      expect(bodyRan).toBe(false);
      expect(answered).toBe(false);
    } finally {
      await server.close();
    }
  });

  it('streams with asyncStream()', async () => {
    const app = createApp();
    app.get('/', asyncStream(clock));
    expect((await request(app).get('/')).text).toBe('tick');
    expect(bodyRan).toBe(true);
  });
});

describe('makeResponse(body, status?, headers?)', () => {
  it('returns a StreamResponse with the given fields', () => {
    const response = makeResponse('x', 201, { 'X-A': '1' });
    expect(response).toBeInstanceOf(StreamResponse);
    expect([response.body, response.status, response.headers, response.timeout]).toEqual([
      'x',
      201,
      { 'X-A': '1' },
      undefined,
    ]);
  });

  it('keeps null and Infinity timeouts as off', () => {
    const response = makeResponse('x');
    response.timeout = null;
    expect(response.timeout).toBeNull();
    response.timeout = Infinity;
    expect(response.timeout).toBeNull();
  });
});
