import http from 'node:http';
import { Readable } from 'node:stream';
import express, { type Express } from 'express';
import { asyncStream, currentSignal, ndjson, sse } from '../../src/index.js';
import {
  ReceiveTimeoutError,
  ResponseAbortedError,
  streamRequest,
  type StreamConnection,
} from '../../src/testing/index.js';
import { deferred, settle } from '../helpers/deferred.js';
import { createProducer, type Producer } from '../helpers/producer.js';
import { listen, type TestServer } from '../helpers/server.js';

/** `/stream` streams what the test pushes; `/echo` answers with the request it got. */
function createTestApp(): { app: Express; producer: Producer<string> } {
  const app = express();
  const producer = createProducer();
  app.get(
    '/stream',
    asyncStream(() => producer.generateUntil(currentSignal())),
  );
  app.post(
    '/echo',
    express.json(),
    asyncStream((req) => ({
      method: req.method,
      type: req.get('content-type'),
      body: req.body,
      tag: req.get('x-tag'),
    })),
  );
  return { app, producer };
}

/** Resolves once nothing listens on `url` any more. */
function isRefused(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    http
      .get(url, { agent: false }, (response) => {
        response.resume();
        resolve(false);
      })
      .on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

describe('streamRequest(target, path, init?)', () => {
  let server: TestServer | undefined;
  let connection: StreamConnection | undefined;
  let producerOfEvents: Producer<string>;

  afterEach(async () => {
    await connection?.disconnect();
    connection = undefined;
    await server?.close();
    server = undefined;
  });

  describe('with an Express app', () => {
    it('resolves with the status and headers once they arrive', async () => {
      const { app, producer } = createTestApp();
      producer.push('first');
      connection = await streamRequest(app, '/stream');
      expect(connection.status).toBe(200);
      expect(connection.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(connection.headers['transfer-encoding']).toBe('chunked');
    });

    it('receives each chunk as it is produced, then null, and null again', async () => {
      const { app, producer } = createTestApp();
      producer.push('one');
      connection = await streamRequest(app, '/stream');
      expect((await connection.receive())?.toString()).toBe('one');
      producer.push('two');
      expect((await connection.receive())?.toString()).toBe('two');
      producer.end();
      expect(await connection.receive()).toBeNull();
      expect(await connection.receive()).toBeNull();
    });

    it('closes the server it listened on once the body has ended', async () => {
      const { app, producer } = createTestApp();
      producer.push('only');
      producer.end();
      connection = await streamRequest(app, '/stream');
      expect(await connection.text()).toBe('only');
      expect(await isRefused(connection.url)).toBe(true);
    });
  });

  describe('with a listening http.Server or a base URL', () => {
    it.each(['server', 'url'] as const)('requests the %s given', async (kind) => {
      const { app, producer } = createTestApp();
      server = await listen(app);
      producer.push('hello');
      producer.end();
      connection = await streamRequest(kind === 'server' ? server.server : `${server.url}/`, '/stream');
      expect(await connection.text()).toBe('hello');
      expect(connection.url).toBe(`${server.url}/stream`);
    });
  });

  describe('init', () => {
    it('sends the method, the headers and a JSON body', async () => {
      const { app } = createTestApp();
      connection = await streamRequest(app, '/echo', { method: 'post', headers: { 'X-Tag': 'a' }, body: { n: 1 } });
      expect(JSON.parse(await connection.text())).toEqual({
        method: 'POST',
        type: 'application/json',
        body: { n: 1 },
        tag: 'a',
      });
    });
  });

  describe('when the server cuts the response short', () => {
    async function openFailingStream() {
      const { app, producer } = createTestApp();
      producer.push('partial');
      connection = await streamRequest(app, '/stream');
      expect((await connection.receive())?.toString()).toBe('partial');
      producer.fail(new Error('lost upstream'));
      return connection;
    }

    it('rejects receive() with a ResponseAbortedError, on every later call too', async () => {
      const cut = await openFailingStream();
      await expect(cut.receive()).rejects.toThrow(ResponseAbortedError);
      await expect(cut.receive()).rejects.toMatchObject({
        name: 'ResponseAbortedError',
        receivedBytes: 'partial'.length,
      });
    });

    it('rejects text() instead of returning a truncated body', async () => {
      const cut = await openFailingStream();
      await expect(cut.text()).rejects.toThrow(
        'the server closed the connection before the end of the response body (7 bytes received)',
      );
    });

    it('throws from async iteration', async () => {
      const cut = await openFailingStream();
      await expect(
        (async () => {
          for await (const chunk of cut) void chunk;
        })(),
      ).rejects.toThrow(ResponseAbortedError);
    });
  });

  describe('when nothing arrives', () => {
    it('rejects receive() with a ReceiveTimeoutError after the timeout, and stays usable', async () => {
      const { app, producer } = createTestApp();
      producer.push('first');
      connection = await streamRequest(app, '/stream', { timeout: 100 });
      await connection.receive();
      const error = await connection.receive().catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(ReceiveTimeoutError);
      expect(error).toMatchObject({ awaited: 'the next chunk', timeout: 100 });
      producer.push('late');
      expect((await connection.receive({ timeout: 5_000 }))?.toString()).toBe('late');
    });

    it("waits on real time under jest's fake timers, and adds no timer to theirs", async () => {
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask'] });
      try {
        const producer = createProducer();
        const app = express();
        app.get(
          '/',
          asyncStream(() => producer.generateUntil(currentSignal()), { timeout: null }),
        );
        producer.push('first');
        connection = await streamRequest(app, '/', { timeout: 1_000 });
        await connection.receive();
        const next = connection.receive();
        expect(jest.getTimerCount()).toBe(0);
        await jest.advanceTimersByTimeAsync(60_000);
        producer.push('second');
        expect((await next)?.toString()).toBe('second');
      } finally {
        jest.useRealTimers();
      }
    });

    it('rejects when the headers do not arrive in time', async () => {
      const { app } = createTestApp();
      await expect(streamRequest(app, '/stream', { timeout: 100 })).rejects.toMatchObject({
        name: 'ReceiveTimeoutError',
        awaited: 'the response headers',
      });
    });
  });

  describe('disconnect()', () => {
    it("resolves once the server-side generator's finally has run", async () => {
      const { app, producer } = createTestApp();
      producer.push('first');
      connection = await streamRequest(app, '/stream');
      await connection.receive();
      await connection.disconnect();
      expect(producer.finallyCount).toBe(1);
    });

    it('waits for a finally that is itself waiting', async () => {
      const gate = deferred();
      let cleanedUp = false;
      const app = express();
      app.get(
        '/',
        asyncStream(async function* () {
          try {
            yield 'first';
            await new Promise((resolve) => currentSignal().addEventListener('abort', resolve));
          } finally {
            await gate.promise;
            cleanedUp = true;
          }
        }),
      );
      connection = await streamRequest(app, '/');
      await connection.receive();
      const disconnected = connection.disconnect().then(() => cleanedUp);
      await settle();
      expect(cleanedUp).toBe(false);
      gate.resolve();
      expect(await disconnected).toBe(true);
    });

    it('resolves once a Readable body is destroyed', async () => {
      const body = new Readable({ read() {} });
      body.push('first');
      const app = express();
      app.get(
        '/',
        asyncStream(() => body),
      );
      connection = await streamRequest(app, '/');
      await connection.receive();
      await connection.disconnect();
      expect(body.destroyed).toBe(true);
    });

    it.each([
      ['sse()', () => sse(() => producerOfEvents.generateUntil(currentSignal()))],
      ['ndjson()', () => ndjson(() => producerOfEvents.generateUntil(currentSignal()))],
    ])('waits for the generator of %s too', async (_name, handler) => {
      producerOfEvents = createProducer();
      producerOfEvents.push('first');
      const app = express();
      app.get('/', handler());
      connection = await streamRequest(app, '/');
      await connection.receive();
      await connection.disconnect();
      expect(producerOfEvents.finallyCount).toBe(1);
    });

    it('resolves once the response has closed when no asyncStream handled it', async () => {
      const closed = deferred<boolean>();
      const app = express();
      app.get('/', (_req, res) => {
        res.on('close', () => closed.resolve(res.writableFinished));
        res.write('by hand');
      });
      connection = await streamRequest(app, '/');
      await connection.receive();
      await connection.disconnect();
      expect(closed.settled).toBe(true);
    });

    it("rejects with a ReceiveTimeoutError when the server's teardown takes longer than the timeout", async () => {
      const { app, producer } = createTestApp();
      app.get('/deaf', asyncStream(producer.generate));
      producer.push('first');
      connection = await streamRequest(app, '/deaf');
      await connection.receive();
      const error = await connection.disconnect({ timeout: 100 }).catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(ReceiveTimeoutError);
      expect(error).toMatchObject({ awaited: "the end of the server's teardown", timeout: 100 });
      expect((error as Error).message).toContain('ignores currentSignal()');
      producer.push('released');
      await connection.disconnect();
      expect(producer.finallyCount).toBe(1);
    });

    it('resolves, again and again, after the body has ended', async () => {
      const { app, producer } = createTestApp();
      producer.push('only');
      producer.end();
      connection = await streamRequest(app, '/stream');
      expect(await connection.text()).toBe('only');
      await connection.disconnect();
      await connection.disconnect();
      expect(producer.finallyCount).toBe(1);
    });

    it('resolves after the server cut the response', async () => {
      const { app, producer } = createTestApp();
      producer.push('partial');
      connection = await streamRequest(app, '/stream');
      await connection.receive();
      producer.fail(new Error('lost upstream'));
      await expect(connection.text()).rejects.toThrow(ResponseAbortedError);
      await connection.disconnect();
      expect(producer.finallyCount).toBe(1);
    });

    it('is what breaking out of async iteration does', async () => {
      const { app, producer } = createTestApp();
      producer.push('first');
      connection = await streamRequest(app, '/stream');
      for await (const chunk of connection) {
        expect(chunk.toString()).toBe('first');
        break;
      }
      expect(producer.finallyCount).toBe(1);
    });

    describe('with a listening http.Server', () => {
      it("resolves once the socket is closed, since the server's side is out of sight", async () => {
        const { app, producer } = createTestApp();
        app.get('/deaf', asyncStream(producer.generate));
        server = await listen(app);
        producer.push('first');
        connection = await streamRequest(server.server, '/deaf', { timeout: 100 });
        await connection.receive();
        await connection.disconnect();
        expect(producer.finallyCount).toBe(0);
        producer.end();
        await producer.finalized;
      });
    });
  });

  describe('pause() and resume()', () => {
    it('hold the producer back while the client does not read', async () => {
      const app = express();
      let produced = 0;
      app.get(
        '/big',
        asyncStream(function* () {
          const chunk = Buffer.alloc(64 * 1024);
          for (; produced < 1024; produced++) yield chunk;
        }),
      );
      connection = await streamRequest(app, '/big');
      connection.pause();
      await settle(20);
      // Without backpressure a sync generator is drained in one go; here socket buffers hold a few MiB.
      expect(produced).toBeLessThan(256);
      connection.resume();
      let total = 0;
      for await (const chunk of connection) total += chunk.length;
      expect(total).toBe(1024 * 64 * 1024);
    });
  });

  describe('with invalid arguments', () => {
    it('rejects an http.Server that is not listening', async () => {
      await expect(streamRequest(http.createServer(), '/')).rejects.toThrow('is not listening on a TCP port');
    });

    it('rejects with the cause when the connection is refused', async () => {
      const { app } = createTestApp();
      server = await listen(app);
      const { url } = server;
      await server.close();
      server = undefined;
      await expect(streamRequest(url, '/stream')).rejects.toThrow(
        'the request failed before the response headers arrived',
      );
    });
  });
});
