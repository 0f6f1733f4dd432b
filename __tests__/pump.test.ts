import { Readable } from 'node:stream';
import type { RequestHandler } from 'express';
import { asyncStream, currentResponse } from '../src/index.js';
import { recordErrors } from './helpers/app.js';
import { ResponseAbortedError, streamRequest } from '../src/testing/index.js';
import { deferred } from './helpers/deferred.js';
import { expressVersions } from './helpers/express.js';
import { createProducer } from './helpers/producer.js';
import { recordWrites, spyOnWrites } from './helpers/writes.js';

const KiB = 1024;

/**
 * Records, in order, each `res.write` (and whether it was accepted), each `'drain'` and each time
 * the body was pulled, so a test can check the order in which they happened.
 */
function traceWrites(log: string[]): RequestHandler {
  return (_req, res, next) => {
    spyOnWrites(res, ({ accepted }) => log.push(accepted ? 'write' : 'write:full'));
    res.on('drain', () => log.push('drain'));
    next();
  };
}

describe.each(expressVersions)('asyncStream(handler): how chunks reach the socket (%s)', (_name, createApp) => {
  describe('when res.write() returns false', () => {
    it("pulls nothing more from the body until 'drain'", async () => {
      const app = createApp();
      const log: string[] = [];
      const chunk = Buffer.alloc(64 * KiB, 'x');
      app.get(
        '/',
        traceWrites(log),
        asyncStream(function* () {
          for (let i = 0; i < 256; i++) {
            log.push('pull');
            yield chunk;
          }
        }),
      );
      const client = await streamRequest(app, '/');
      expect((await client.buffer()).length).toBe(256 * 64 * KiB);
      // A 64 KiB chunk is over the socket's 16 KiB high-water mark: every write reports full.
      expect(log.filter((entry) => entry === 'write:full').length).toBeGreaterThan(100);
      for (let i = 0; i < log.length; i++) {
        if (log[i] !== 'write:full') continue;
        const following = log.slice(i + 1).find((entry) => entry === 'pull' || entry === 'drain');
        if (following !== undefined) expect(`${following} after write:full #${i}`).toBe(`drain after write:full #${i}`);
      }
    });

    it("sees a 'drain' that comes while it waits for the body, after a refused end-of-tick write", async () => {
      const app = createApp();
      const piece = Buffer.alloc(8 * KiB, 'z');
      const socketFull = deferred();
      const drainedOnServer = deferred();
      const producer = createProducer<Buffer>();
      let flooded = 0;
      app.get(
        '/',
        asyncStream(
          async function* () {
            const res = currentResponse();
            // Pieces a turn apart, each under the 16 KiB batch: each is written at the end of its
            // tick, while the pump waits for this generator, until the socket refuses one.
            while (!res.writableNeedDrain) {
              yield piece;
              flooded++;
              await new Promise((resolve) => setImmediate(resolve));
            }
            res.once('drain', () => drainedOnServer.resolve());
            socketFull.resolve();
            yield* producer.generate();
          },
          { timeout: null },
        ),
      );
      const client = await streamRequest(app, '/');
      client.pause();
      await socketFull.promise;
      client.resume();
      // The client reads the backlog; the 'drain' comes while the pump still waits for a value.
      await drainedOnServer.promise;
      producer.push(Buffer.from('after the drain'));
      producer.end();
      const body = await client.buffer();
      expect(body.length).toBe(flooded * piece.length + 'after the drain'.length);
      expect(body.subarray(-'after the drain'.length).toString()).toBe('after the drain');
    });

    it('holds a producer back to a bounded lead over a slow reader', async () => {
      const app = createApp();
      const chunkSize = 64 * KiB;
      const total = 2048; // 128 MiB, produced as fast as the pump pulls
      let produced = 0;
      app.get(
        '/',
        asyncStream(function* () {
          const chunk = Buffer.alloc(chunkSize, 'y');
          for (; produced < total; produced++) yield chunk;
        }),
      );
      const client = await streamRequest(app, '/');
      let maxLead = 0;
      let received = 0;
      for (let chunk = await client.receive(); chunk !== null; chunk = await client.receive()) {
        received += chunk.length;
        maxLead = Math.max(maxLead, produced * chunkSize - received);
        // A slow reader: one chunk per turn of the event loop, which lets the server run ahead if it can.
        client.pause();
        await new Promise((resolve) => setImmediate(resolve));
        client.resume();
      }
      expect(received).toBe(total * chunkSize);
      // Socket and kernel buffers on loopback hold a few MiB; without backpressure the lead is the whole body.
      expect(maxLead).toBeLessThan(32 * 1024 * KiB);
    });
  });

  describe('with small chunks produced in the same tick', () => {
    it('coalesces them into one write, in order', async () => {
      const app = createApp();
      const record = recordWrites();
      app.get(
        '/',
        record.middleware,
        asyncStream(async function* () {
          yield 'a';
          yield Buffer.from('b');
          yield 'c';
        }),
      );
      const client = await streamRequest(app, '/');
      expect((await client.buffer()).toString()).toBe('abc');
      expect(record.writes.map(({ chunk }) => chunk.length)).toEqual([3]);
      expect(client.headers['content-type']).toBe('text/html; charset=utf-8');
    });

    it('writes a batch as soon as it holds 16 KiB', async () => {
      const app = createApp();
      const record = recordWrites();
      app.get(
        '/',
        record.middleware,
        asyncStream(function* () {
          for (let i = 0; i < 2048; i++) yield 'sixteen bytes!!\n';
        }),
      );
      const client = await streamRequest(app, '/');
      expect((await client.buffer()).length).toBe(2048 * 16);
      expect(record.writes.map(({ chunk }) => chunk.length)).toEqual([16 * KiB, 16 * KiB]);
    });
  });

  describe('with chunks of every accepted kind', () => {
    it('sends their bytes in order, strings as UTF-8', async () => {
      const app = createApp();
      app.get(
        '/',
        asyncStream(async function* () {
          yield 'héllo ';
          yield Buffer.from([0xe2, 0x9c, 0x93]);
          yield new Uint8Array([0x20, 0x21]);
          yield '✓';
        }),
      );
      const client = await streamRequest(app, '/');
      expect(await client.buffer()).toEqual(
        Buffer.concat([Buffer.from('héllo ', 'utf8'), Buffer.from('✓ !✓', 'utf8')]),
      );
    });

    it('sends each chunk as it is produced, not at the end', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate));
      producer.push('one');
      const client = await streamRequest(app, '/');
      for (const chunk of ['one', 'two', 'three']) {
        if (chunk !== 'one') producer.push(chunk);
        expect((await client.receive())!.toString()).toBe(chunk);
      }
      producer.end();
      expect(await client.receive()).toBeNull();
    });
  });

  describe('with empty chunks', () => {
    it('skips them without ending the body early', async () => {
      const app = createApp();
      app.get(
        '/',
        asyncStream(function* () {
          yield 'a';
          yield '';
          yield Buffer.alloc(0);
          yield new Uint8Array(0);
          yield 'b';
        }),
      );
      const client = await streamRequest(app, '/');
      expect((await client.buffer()).toString()).toBe('ab');
    });

    it('ends an all-empty body cleanly with the status and no Content-Type', async () => {
      const app = createApp();
      app.get(
        '/',
        asyncStream(() => [['', ''].values(), 202] as const),
      );
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(202);
      expect(client.headers['content-type']).toBeUndefined();
      expect((await client.buffer()).length).toBe(0);
    });
  });

  describe('with other sources', () => {
    it('streams a sync generator', async () => {
      const app = createApp();
      app.get(
        '/',
        asyncStream(function* () {
          yield 'x';
          yield 'y';
        }),
      );
      const client = await streamRequest(app, '/');
      expect(client.headers['transfer-encoding']).toBe('chunked');
      expect((await client.buffer()).toString()).toBe('xy');
    });

    it('streams a Node Readable chunk by chunk', async () => {
      const app = createApp();
      const readable = new Readable({ read() {} });
      app.get(
        '/',
        asyncStream(() => readable),
      );
      readable.push('first');
      const client = await streamRequest(app, '/');
      expect((await client.receive())!.toString()).toBe('first');
      readable.push('second');
      expect((await client.receive())!.toString()).toBe('second');
      readable.push(null);
      expect(await client.receive()).toBeNull();
    });

    it('streams a web ReadableStream chunk by chunk', async () => {
      const app = createApp();
      let controller!: ReadableStreamDefaultController<Uint8Array>;
      const stream = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
      app.get(
        '/',
        asyncStream(() => stream),
      );
      controller.enqueue(new TextEncoder().encode('first'));
      const client = await streamRequest(app, '/');
      expect(client.headers['content-type']).toBe('application/octet-stream');
      expect((await client.receive())!.toString()).toBe('first');
      controller.enqueue(new TextEncoder().encode('second'));
      expect((await client.receive())!.toString()).toBe('second');
      controller.close();
      expect(await client.receive()).toBeNull();
    });

    it('cancels a ReadableStream whose client went away', async () => {
      const app = createApp();
      const cancelled = deferred<unknown>();
      const stream = new ReadableStream<string>({
        start: (c) => c.enqueue('first'),
        cancel: (reason) => cancelled.resolve(reason),
      });
      app.get(
        '/',
        asyncStream(() => stream),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      await client.receive();
      await client.disconnect();
      expect(await cancelled.promise).toMatchObject({ name: 'AbortError' });
      expect(errors).toEqual([]);
    });

    it('destroys a Readable whose client went away', async () => {
      const app = createApp();
      const readable = new Readable({ read() {} });
      app.get(
        '/',
        asyncStream(() => readable),
      );
      readable.push('first');
      const client = await streamRequest(app, '/');
      await client.receive();
      await client.disconnect();
      expect(readable.destroyed).toBe(true);
    });

    it('passes a Readable error to next(err)', async () => {
      const app = createApp();
      const readable = new Readable({ read() {} });
      const failure = new Error('disk gone');
      app.get(
        '/',
        asyncStream(() => readable),
      );
      const errors = recordErrors(app);
      readable.push('first');
      const client = await streamRequest(app, '/');
      await client.receive();
      readable.destroy(failure);
      await expect(client.receive()).rejects.toThrow(ResponseAbortedError);
      expect(errors).toEqual([failure]);
    });
  });
});
