import crypto from 'node:crypto';
import zlib from 'node:zlib';
import compression from 'compression';
import { asyncStream } from '../src/index.js';
import type { StreamConnection } from '../src/testing/index.js';
import { useStreamRequest } from './helpers/connections.js';
import { deferred } from './helpers/deferred.js';
import { expressVersions } from './helpers/express.js';
import { createProducer } from './helpers/producer.js';
import { watchWarnings } from './helpers/warnings.js';
import { within } from './helpers/within.js';
import { recordWrites } from './helpers/writes.js';

const acceptGzip = { headers: { 'Accept-Encoding': 'gzip' } };

/**
 * Decompresses a gzip body as its bytes arrive, so a test can tell exactly which text the client
 * could read at a given moment.
 */
function createGunzipReader(client: StreamConnection) {
  const gunzip = zlib.createGunzip({ flush: zlib.constants.Z_SYNC_FLUSH });
  let decoded = '';
  gunzip.on('data', (text: Buffer) => (decoded += text.toString()));
  const feed = (bytes: Buffer) =>
    new Promise<void>((resolve, reject) => gunzip.write(bytes, (error) => (error ? reject(error) : resolve())));

  return {
    /** Reads raw body data until `length` characters have been decompressed; returns them all. */
    async readText(length: number): Promise<string> {
      while (decoded.length < length) {
        const bytes = await client.receive();
        if (bytes === null) break;
        await feed(bytes);
      }
      const text = decoded;
      decoded = '';
      return text;
    },
    /** Reads the rest of the body and the end of the gzip stream; returns the remaining text. */
    async readToEnd(): Promise<string> {
      await feed(await client.buffer());
      await new Promise<void>((resolve, reject) => {
        gunzip.once('error', reject);
        gunzip.end(resolve);
      });
      return decoded;
    },
  };
}

describe.each(expressVersions)('asyncStream() behind compression() (%s)', (_name, createApp) => {
  const streamRequest = useStreamRequest();
  let restoreZlib: (() => void) | undefined;

  afterEach(() => {
    restoreZlib?.();
    restoreZlib = undefined;
  });

  /** `/stream`: compression(), then a hand-driven generator. Opens it once chunk 1 is pushed. */
  async function openCompressedStream(options = acceptGzip) {
    const app = createApp();
    const producer = createProducer();
    app.use(compression());
    app.get(
      '/stream',
      asyncStream(() => producer.generate()),
    );
    const opening = streamRequest(app, '/stream', options);
    // The status and headers go out with the first chunk.
    producer.push('chunk 1');
    return { producer, client: await opening };
  }

  describe('when the client accepts gzip', () => {
    it('answers with Content-Encoding: gzip, chunked, without Content-Length', async () => {
      const { client, producer } = await openCompressedStream();
      producer.end();
      await client.buffer();
      expect(client.headers['content-encoding']).toBe('gzip');
      expect(client.headers['transfer-encoding']).toBe('chunked');
      expect(client.headers).not.toHaveProperty('content-length');
    });

    it('delivers each chunk, decompressible, before the next one is produced', async () => {
      const { client, producer } = await openCompressedStream();
      const reader = createGunzipReader(client);
      expect(await reader.readText('chunk 1'.length)).toBe('chunk 1');
      producer.push('chunk 2');
      expect(await reader.readText('chunk 2'.length)).toBe('chunk 2');
      producer.push('chunk 3');
      expect(await reader.readText('chunk 3'.length)).toBe('chunk 3');
      producer.end();
      expect(await reader.readToEnd()).toBe('');
    });

    it('delivers the whole body, decompressed, in order, and ends the gzip stream cleanly', async () => {
      const { client, producer } = await openCompressedStream();
      const reader = createGunzipReader(client);
      let text = await reader.readText('chunk 1'.length);
      for (const chunk of ['chunk 2', 'chunk 3', 'chunk 4']) {
        producer.push(chunk);
        text += await reader.readText(chunk.length);
      }
      producer.end();
      text += await reader.readToEnd();
      expect(text).toBe('chunk 1chunk 2chunk 3chunk 4');
      expect((await client.readToEnd()).aborted).toBe(false);
    });
  });

  describe("when a slow client makes the stream wait for 'drain' many times", () => {
    it("leaves no 'drain' listeners piling up on the gzip stream", async () => {
      const warnings = watchWarnings();
      try {
        const app = createApp();
        app.use(compression());
        // Random bytes do not compress: the gzip stream's buffer fills as fast as the socket's.
        const chunk = crypto.randomBytes(64 * 1024);
        app.get(
          '/big',
          asyncStream(function* () {
            for (let i = 0; i < 200; i++) yield chunk;
          }),
        );
        const client = await streamRequest(app, '/big', acceptGzip);
        const body = await client.buffer();
        expect(zlib.gunzipSync(body).length).toBe(200 * 64 * 1024);
        expect(warnings.warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
      } finally {
        warnings.stop();
      }
    });
  });

  describe('when the client does not accept gzip', () => {
    it('streams the chunks uncompressed, one by one, without Content-Encoding', async () => {
      const { client, producer } = await openCompressedStream({ headers: { 'Accept-Encoding': 'identity' } });
      expect(client.headers).not.toHaveProperty('content-encoding');
      expect((await client.receive())!.toString()).toBe('chunk 1');
      producer.push('chunk 2');
      expect((await client.receive())!.toString()).toBe('chunk 2');
      producer.end();
      expect(await client.text()).toBe('');
    });
  });

  describe('a handler that calls res.write() without res.flush() (the contrast)', () => {
    /**
     * Captures the gzip streams compression() creates, so that the handler can wait until zlib has
     * processed everything written so far: a `Z_NO_FLUSH` flush is a no-op queued behind them.
     */
    function captureGzipStreams(): zlib.Gzip[] {
      const streams: zlib.Gzip[] = [];
      const descriptor = Object.getOwnPropertyDescriptor(zlib, 'createGzip')!;
      const createGzip = zlib.createGzip;
      // Node defines zlib's factories read-only (jest.spyOn cannot assign them), but configurable.
      Object.defineProperty(zlib, 'createGzip', {
        ...descriptor,
        value: function capturingCreateGzip(options?: zlib.ZlibOptions) {
          const stream = createGzip(options);
          streams.push(stream);
          return stream;
        },
      });
      restoreZlib = () => Object.defineProperty(zlib, 'createGzip', descriptor);
      return streams;
    }

    it('holds chunk 1 back until the end: what reaches the client before it decompresses to nothing', async () => {
      const gzipStreams = captureGzipStreams();
      // Placed before compression(): what it records is what compression() hands to the socket.
      const wire = recordWrites();
      const sentBeforeEnd = deferred<Buffer>();
      const end = deferred();
      const app = createApp();
      app.use(wire.middleware, compression());
      app.get('/by-hand', (_req, res) => {
        res.type('html');
        res.write('chunk 1');
        gzipStreams[0]!.flush(zlib.constants.Z_NO_FLUSH, () =>
          sentBeforeEnd.resolve(Buffer.concat(wire.writes.map(({ chunk }) => chunk))),
        );
        void end.promise.then(() => res.end('chunk 2'));
      });
      const client = await streamRequest(app, '/by-hand', acceptGzip);
      const sent = await within(sentBeforeEnd.promise, 'zlib processing chunk 1');
      const received: Buffer[] = [];
      while (Buffer.concat(received).length < sent.length) received.push((await client.receive())!);

      expect(client.headers['content-encoding']).toBe('gzip');
      expect(Buffer.concat(received)).toEqual(sent);
      expect(zlib.gunzipSync(sent, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString()).toBe('');
      end.resolve();
      const body = Buffer.concat([...received, await client.buffer()]);
      expect(zlib.gunzipSync(body).toString()).toBe('chunk 1chunk 2');
    });
  });
});
