import zlib from 'node:zlib';
import compression from 'compression';
import type { Express, RequestHandler } from 'express';
import { asyncStream, ndjson, sse } from '../src/index.js';
import { recordErrors, useProcessWatch } from './helpers/app.js';
import { useStreamRequest } from './helpers/connections.js';
import { expressVersions } from './helpers/express.js';

// The late-error contract: what the producer yielded before it failed reaches the client, then
// the connection is cut (never a clean end), on every Node line and behind compression().

const boom = new Error('boom');
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** How the producer fails: in the same tick as its chunks, or after waiting for the event loop. */
type Timing = 'in the same tick' | 'on a later turn of the event loop';
const timings: Timing[] = ['in the same tick', 'on a later turn of the event loop'];

interface Kind {
  readonly name: string;
  /** A route whose producer yields two items, then throws; `finallies` counts its `finally`. */
  route(timing: Timing, finallies: { count: number }): RequestHandler;
  /** The exact text the client must receive before the cut. */
  readonly expected: string;
  /** sse() sends `Cache-Control: no-transform`, which compression() obeys: its events are never compressed. */
  readonly compressible: boolean;
}

async function* twoThenThrow<T>(first: T, second: T, timing: Timing, finallies: { count: number }): AsyncGenerator<T> {
  try {
    yield first;
    if (timing !== 'in the same tick') await nextTurn();
    yield second;
    if (timing !== 'in the same tick') await nextTurn();
    throw boom;
  } finally {
    finallies.count++;
  }
}

const kinds: Kind[] = [
  {
    name: 'asyncStream()',
    route: (timing, finallies) => asyncStream(() => twoThenThrow('one\n', 'two\n', timing, finallies)),
    expected: 'one\ntwo\n',
    compressible: true,
  },
  {
    name: 'sse()',
    route: (timing, finallies) =>
      sse(() => twoThenThrow({ id: 1, data: 'one' }, { id: 2, data: 'two' }, timing, finallies)),
    expected: 'id: 1\ndata: one\n\nid: 2\ndata: two\n\n',
    compressible: false,
  },
  {
    name: 'sse({ errorEvent: true })',
    route: (timing, finallies) => sse(() => twoThenThrow('one', 'two', timing, finallies), { errorEvent: true }),
    expected: 'data: one\n\ndata: two\n\nevent: stream-error\ndata: Internal Server Error\n\n',
    compressible: false,
  },
  {
    name: 'ndjson()',
    route: (timing, finallies) => ndjson(() => twoThenThrow({ n: 1 }, { n: 2 }, timing, finallies)),
    expected: '{"n":1}\n{"n":2}\n',
    compressible: true,
  },
];

/** Decodes what a client got of a body that may be cut short: everything that can be decoded. */
function decode(body: Buffer, encoding: string | undefined): string {
  if (encoding === 'gzip') return zlib.gunzipSync(body, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).toString();
  if (encoding === 'br') {
    return zlib.brotliDecompressSync(body, { finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH }).toString();
  }
  return body.toString();
}

const encodings = [
  ['without compression', undefined],
  ['behind compression() with gzip', 'gzip'],
  ['behind compression() with br', 'br'],
] as const;

describe.each(expressVersions)('a producer that fails after the headers (%s)', (_express, createApp) => {
  const streamRequest = useStreamRequest();
  const watch = useProcessWatch();

  describe.each(encodings)('%s', (_label, encoding) => {
    describe.each(kinds.map((kind) => [kind.name, kind] as const))('%s', (_name, kind) => {
      it.each(timings)('delivers every chunk yielded before it throws %s, then cuts the connection', async (timing) => {
        const app: Express = createApp();
        const finallies = { count: 0 };
        // Small bodies and application/x-ndjson (not in compression's list) are compressed too.
        if (encoding !== undefined) app.use(compression({ threshold: 0, filter: () => true }));
        app.get('/late', kind.route(timing, finallies));
        const errors = recordErrors(app);

        const client = await streamRequest(app, '/late', { headers: { 'Accept-Encoding': encoding ?? 'identity' } });
        const { body, aborted } = await client.readToEnd();

        expect(client.status).toBe(200);
        const sent = kind.compressible ? encoding : undefined;
        expect(client.headers['content-encoding']).toBe(sent);
        expect(decode(body, sent)).toBe(kind.expected);
        expect(aborted).toBe(true);
        expect(errors).toEqual([boom]);
        expect(finallies.count).toBe(1);
        expect(watch.unhandled).toEqual([]);
      });
    });
  });

  it('still answers 500 when the producer throws before its first chunk', async () => {
    const app = createApp();
    app.use(compression({ threshold: 0 }));
    app.get(
      '/early',
      asyncStream(async function* () {
        yield* [];
        throw boom;
      }),
    );
    recordErrors(app);
    app.use(((_error, _req, res, _next) => res.status(500).send('failed')) as import('express').ErrorRequestHandler);
    const connection = await streamRequest(app, '/early');
    expect(connection.status).toBe(500);
    expect((await connection.readToEnd()).aborted).toBe(false);
  });
});
