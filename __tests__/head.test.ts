import { Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { asyncStream, currentResponse, makeResponse, type AsyncStreamHandler } from '../src/index.js';
import type { StreamRequestInit } from '../src/testing/index.js';
import { useStreamRequest } from './helpers/connections.js';
import { deferred, settle } from './helpers/deferred.js';
import { expressVersions } from './helpers/express.js';
import { createProducer } from './helpers/producer.js';
import { trackedIterable } from './helpers/trackedIterable.js';
import { within } from './helpers/within.js';

/** Every value sent for header `name`, one per header line, in order. */
function headerLines(rawHeaders: readonly string[], name: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === name.toLowerCase()) values.push(rawHeaders[i + 1]!);
  }
  return values;
}

async function* twoChunks(): AsyncGenerator<string> {
  yield 'one ';
  yield 'two';
}

describe.each(expressVersions)('asyncStream(handler): the status and headers (%s)', (_name, createApp) => {
  const streamRequest = useStreamRequest();

  /** Serves `handler` on `/` (after `before`, when given) and reads the whole response. */
  async function fetchWith(handler: AsyncStreamHandler, options: StreamRequestInit & { before?: RequestHandler } = {}) {
    const app = createApp();
    if (options.before) app.use(options.before);
    app.all('/', asyncStream(handler));
    const client = await streamRequest(app, '/', options);
    const { body, aborted } = await client.readToEnd();
    return {
      status: client.status,
      headers: client.headers,
      rawHeaders: client.rawHeaders,
      body: body.toString(),
      aborted,
    };
  }

  const setSourceHeader: RequestHandler = (_req, res, next) => {
    res.set('X-Source', 'res.set');
    next();
  };

  describe('headers from a tuple or makeResponse()', () => {
    it.each([
      ['a [body, headers] tuple', () => [twoChunks(), { 'x-source': 'result' }] as const],
      ['a [body, status, headers] tuple', () => [twoChunks(), 200, { 'X-SOURCE': 'result' }] as const],
      ['makeResponse(body, status, headers)', () => makeResponse(twoChunks(), 200, { 'X-Source': 'result' })],
      ['a [string, headers] tuple', () => ['one two', { 'X-Source': 'result' }] as const],
    ])('replace a header set with res.set(), from %s', async (_form, handler) => {
      const response = await fetchWith(handler, { before: setSourceHeader });
      expect(response.body).toBe('one two');
      expect(headerLines(response.rawHeaders, 'X-Source')).toEqual(['result']);
    });

    it('send an array value as one header line per element (two Set-Cookie lines)', async () => {
      const response = await fetchWith(() => [twoChunks(), { 'Set-Cookie': ['a=1; Path=/', 'b=2; Path=/'] }]);
      expect(headerLines(response.rawHeaders, 'Set-Cookie')).toEqual(['a=1; Path=/', 'b=2; Path=/']);
    });

    it('accept a Headers instance, sending each appended Set-Cookie on its own line', async () => {
      const headers = new Headers({ 'X-Kind': 'headers' });
      headers.append('Set-Cookie', 'a=1');
      headers.append('Set-Cookie', 'b=2');
      const response = await fetchWith(() => [twoChunks(), headers]);
      expect(headerLines(response.rawHeaders, 'Set-Cookie')).toEqual(['a=1', 'b=2']);
      expect(headerLines(response.rawHeaders, 'X-Kind')).toEqual(['headers']);
    });

    it('accept an array of [name, value] pairs whose names repeat', async () => {
      const response = await fetchWith(() => [
        twoChunks(),
        [
          ['Set-Cookie', 'a=1'],
          ['X-Kind', 'pairs'],
          ['Set-Cookie', 'b=2'],
        ],
      ]);
      expect(headerLines(response.rawHeaders, 'Set-Cookie')).toEqual(['a=1', 'b=2']);
      expect(headerLines(response.rawHeaders, 'X-Kind')).toEqual(['pairs']);
    });
  });

  describe('when the generator is parked after its first yield', () => {
    it('has already sent the status and headers with the first chunk', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get(
        '/',
        asyncStream(() => [producer.generate(), 203, { 'X-Early': 'yes' }]),
      );
      producer.push('first');
      const client = await streamRequest(app, '/');
      await within(producer.waiting(), 'the generator parking after its first yield');
      expect(client.status).toBe(203);
      expect(client.headers['x-early']).toBe('yes');
      expect((await client.receive())!.toString()).toBe('first');
      expect(producer.produced).toBe(1);
      producer.push('second');
      producer.end();
      expect(await client.text()).toBe('second');
    });
  });

  describe('before the first yield', () => {
    it('lets the generator change the status and headers with currentResponse()', async () => {
      const response = await fetchWith(async function* () {
        await nextTurn();
        currentResponse().status(201).set('X-Late', '1');
        yield 'created';
      });
      expect(response.status).toBe(201);
      expect(response.headers['x-late']).toBe('1');
      expect(response.body).toBe('created');
    });

    it('lets the generator change the StreamResponse it is the body of', async () => {
      const response = await fetchWith(() => {
        async function* body() {
          await nextTurn();
          result.status = 202;
          result.headers = { 'X-Late': 'response' };
          yield 'accepted';
        }
        const result = makeResponse(body(), 200, { 'X-Early': 'replaced' });
        return result;
      });
      expect(response.status).toBe(202);
      expect(response.headers['x-late']).toBe('response');
      expect(response.headers).not.toHaveProperty('x-early');
      expect(response.body).toBe('accepted');
    });
  });

  describe('after the first chunk', () => {
    it('keeps the status on the wire when the generator calls currentResponse().status()', async () => {
      const response = await fetchWith(async function* () {
        yield 'first ';
        currentResponse().status(500);
        yield 'second';
      });
      expect(response.status).toBe(200);
      expect(response.body).toBe('first second');
      expect(response.aborted).toBe(false);
    });

    it('keeps the status and headers on the wire when the generator changes its StreamResponse', async () => {
      const response = await fetchWith(() => {
        async function* body() {
          yield 'first ';
          result.status = 500;
          result.headers = { 'X-After': '1', 'X-Before': 'changed' };
          yield 'second';
        }
        const result = makeResponse(body(), 201, { 'X-Before': '1' });
        return result;
      });
      expect(response.status).toBe(201);
      expect(response.headers['x-before']).toBe('1');
      expect(response.headers).not.toHaveProperty('x-after');
      expect(response.body).toBe('first second');
      expect(response.aborted).toBe(false);
    });
  });

  describe('the Content-Type', () => {
    it.each([
      ['a string', 'text', 'text/html; charset=utf-8'],
      ['a Buffer', Buffer.from('bytes'), 'application/octet-stream'],
      ['a Uint8Array', new TextEncoder().encode('bytes'), 'application/octet-stream'],
    ])('defaults from a first chunk that is %s', async (_kind, chunk, expected) => {
      const response = await fetchWith(async function* () {
        yield chunk;
      });
      expect(response.headers['content-type']).toBe(expected);
    });

    it('keeps a type set with res.type()', async () => {
      const response = await fetchWith((_req, res) => {
        res.type('text/plain');
        return twoChunks();
      });
      expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    });

    it('keeps a type set with res.set()', async () => {
      const response = await fetchWith((_req, res) => {
        res.set('Content-Type', 'image/png');
        return twoChunks();
      });
      expect(response.headers['content-type']).toBe('image/png');
    });

    it('keeps a type given in the tuple headers', async () => {
      const response = await fetchWith(() => [
        (async function* () {
          yield Buffer.from('data: 1\n\n');
        })(),
        { 'Content-Type': 'text/event-stream' },
      ]);
      expect(headerLines(response.rawHeaders, 'Content-Type')).toEqual(['text/event-stream']);
    });
  });

  describe('the charset of the Content-Type', () => {
    it('adds charset=utf-8 to a text type without one when the chunks are strings', async () => {
      const response = await fetchWith(() => [twoChunks(), { 'Content-Type': 'text/plain' }]);
      expect(response.headers['content-type']).toBe('text/plain; charset=utf-8');
    });

    it('keeps the charset a text type names', async () => {
      const response = await fetchWith(() => [twoChunks(), { 'Content-Type': 'text/plain; charset=latin1' }]);
      expect(response.headers['content-type']).toBe('text/plain; charset=latin1');
    });

    it('adds no charset when the chunks are bytes', async () => {
      async function* bytes() {
        yield Buffer.from('one');
      }
      const response = await fetchWith(() => [bytes(), { 'Content-Type': 'text/plain' }]);
      expect(response.headers['content-type']).toBe('text/plain');
    });
  });

  describe('when the handler sent the headers itself', () => {
    it('streams the body after them', async () => {
      const response = await fetchWith((_req, res) => {
        res.status(202).set('X-Early', 'yes').flushHeaders();
        return twoChunks();
      });
      expect([response.status, response.headers['x-early'], response.body]).toEqual([202, 'yes', 'one two']);
      expect(response.aborted).toBe(false);
    });

    it('rejects a result that still asks for a status or headers', async () => {
      const app = createApp();
      app.get(
        '/',
        asyncStream((_req, res) => {
          res.flushHeaders();
          return [twoChunks(), 201];
        }),
      );
      const errors: unknown[] = [];
      app.use(((error, _req, _res, next) => {
        errors.push(error);
        next(error);
      }) as ErrorRequestHandler);
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(200);
      expect((await client.readToEnd()).aborted).toBe(true);
      expect(errors[0]).toBeInstanceOf(TypeError);
      expect((errors[0] as Error).message).toContain('the handler sent the headers itself');
    });
  });

  describe('how the body is framed', () => {
    it('streams a generator body with Transfer-Encoding: chunked and no Content-Length', async () => {
      const response = await fetchWith(twoChunks);
      expect(response.headers['transfer-encoding']).toBe('chunked');
      expect(response.headers).not.toHaveProperty('content-length');
      expect(response.body).toBe('one two');
    });

    it.each([
      ['a string', () => 'héllo', 'héllo'],
      ['a Buffer', () => Buffer.from('bytes'), 'bytes'],
      ['a plain object (JSON)', () => ({ ok: true }), '{"ok":true}'],
    ])('sends %s with Content-Length and no Transfer-Encoding', async (_kind, handler, expected) => {
      const response = await fetchWith(handler);
      expect(response.body).toBe(expected);
      expect(response.headers['content-length']).toBe(String(Buffer.byteLength(expected)));
      expect(response.headers).not.toHaveProperty('transfer-encoding');
    });
  });

  describe('when the request is HEAD', () => {
    const head = { method: 'HEAD' };

    it('sends the status and headers of a streamed body, and no body', async () => {
      const { iterable } = trackedIterable();
      const response = await fetchWith(() => [iterable, 203, { 'X-Head': 'yes' }], head);
      expect(response.status).toBe(203);
      expect(response.headers['x-head']).toBe('yes');
      expect(response.body).toBe('');
      expect(response.aborted).toBe(false);
    });

    it('never calls next() on the body', async () => {
      const { iterable, calls, returned } = trackedIterable();
      await fetchWith(() => iterable, head);
      await within(returned, "the body's return()");
      expect(calls.next).toBe(0);
    });

    it('closes the body: return() is called once', async () => {
      const { iterable, calls, returned } = trackedIterable();
      await fetchWith(() => iterable, head);
      await within(returned, "the body's return()");
      await settle();
      expect(calls.return).toBe(1);
    });

    it.each([204, 205, 304])(
      'treats a streamed body with status %i as HEAD: headers only, body closed unpulled',
      async (status) => {
        const { iterable, calls, returned } = trackedIterable();
        const response = await fetchWith(() => [iterable, status, { 'X-Head': 'yes' }]);
        await within(returned, "the body's return()");
        expect(response.status).toBe(status);
        expect(response.headers['x-head']).toBe('yes');
        expect(response.headers).not.toHaveProperty('content-type');
        expect(response.body).toBe('');
        expect(response.aborted).toBe(false);
        expect(calls).toEqual({ next: 0, return: 1 });
      },
    );

    describe('to a generator-function handler', () => {
      /** A generator function whose generators count return() calls, through their prototype. */
      function createCountingGeneratorFunction() {
        const seen = { ran: false, returns: 0 };
        const returned = deferred();
        async function* handler(): AsyncGenerator<string> {
          seen.ran = true;
          yield 'never sent';
        }
        const { return: close } = Object.getPrototypeOf(handler.prototype) as AsyncGenerator<string>;
        Object.defineProperty(handler.prototype, 'return', {
          value(this: AsyncGenerator<string>, value: undefined) {
            seen.returns++;
            returned.resolve();
            return close.call(this, value);
          },
        });
        return { handler, seen, returned: returned.promise };
      }

      it('never runs the body', async () => {
        const { handler, seen, returned } = createCountingGeneratorFunction();
        const response = await fetchWith(handler, head);
        await within(returned, "the generator's return()");
        expect(response.status).toBe(200);
        expect(seen.ran).toBe(false);
      });

      it('closes the generator: return() is called once', async () => {
        const { handler, seen, returned } = createCountingGeneratorFunction();
        await fetchWith(handler, head);
        await within(returned, "the generator's return()");
        await settle();
        expect(seen.returns).toBe(1);
      });
    });

    describe('to a handler returning a Readable', () => {
      function createCountingReadable() {
        const reads = { count: 0 };
        const readable = new Readable({
          read() {
            reads.count++;
            this.push('never sent');
            this.push(null);
          },
        });
        const closed = new Promise((resolve) => readable.once('close', resolve));
        return { readable, reads, closed };
      }

      it('never reads it', async () => {
        const { readable, reads, closed } = createCountingReadable();
        await fetchWith(() => readable, head);
        await within(closed, "the Readable's close");
        expect(reads.count).toBe(0);
      });

      it('destroys it', async () => {
        const { readable, closed } = createCountingReadable();
        await fetchWith(() => readable, head);
        await within(closed, "the Readable's close");
        expect(readable.destroyed).toBe(true);
      });
    });

    it('answers a string body with its Content-Length and no body', async () => {
      const response = await fetchWith(() => 'hello', head);
      expect(response.status).toBe(200);
      expect(response.headers['content-length']).toBe('5');
      expect(response.body).toBe('');
      expect(response.aborted).toBe(false);
    });
  });
});
