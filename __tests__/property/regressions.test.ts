import { asyncStream, type AsyncStreamHandler } from '../../src/index.js';
import { streamRequest } from '../../src/testing/index.js';
import { recordErrorsByUrl } from '../helpers/app.js';
import { expressVersions } from '../helpers/express.js';
import { useTestServer } from '../helpers/server.js';

/** Bugs the property tests found (since fixed), kept as focused regression tests. */
describe.each(expressVersions)('asyncStream() regressions found by the property tests (%s)', (_name, createApp) => {
  const { serve } = useTestServer();

  /** Serves each handler on its own path of one app, and GETs them in order. */
  async function getAll(handlers: readonly AsyncStreamHandler[]) {
    const app = createApp();
    handlers.forEach((handler, index) => app.get(`/${index}`, asyncStream(handler)));
    const errors = recordErrorsByUrl(app);
    const url = await serve(app);
    const results = [];
    for (const index of handlers.keys()) {
      const connection = await streamRequest(url, `/${index}`);
      const received = { headers: connection.headers, body: await connection.buffer() };
      results.push({ received, errors: errors.get(`/${index}`) ?? [] });
    }
    return results;
  }

  // resolveBody() once checked for a plain object before Symbol.iterator (but after
  // Symbol.asyncIterator): a plain object that is a sync iterable was sent as JSON, `{}`.
  it('streams a plain object that is a sync iterable, as it streams one that is an async iterable', async () => {
    const [asyncOne, syncOne] = await getAll([
      () => ({
        async *[Symbol.asyncIterator]() {
          yield 'a';
          yield 'b';
        },
      }),
      () => ({
        *[Symbol.iterator]() {
          yield 'a';
          yield 'b';
        },
      }),
    ]);
    expect(asyncOne!.received.body.toString()).toBe('ab');
    expect(syncOne!.errors).toEqual([]);
    expect(syncOne!.received.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(syncOne!.received.body.toString()).toBe('ab');
  });

  // Pump.start() once called res.flushHeaders(), and Node writes a head flushed on its own as
  // UTF-8 but a head sent with a body as Latin-1: a Latin-1 header value (RFC 9110 obs-text, which
  // headers.ts accepts) arrived as 'cafÃ©' on a streamed response.
  it('sends a Latin-1 header value the same way for a streamed body as for a whole one', async () => {
    const [whole, streamed] = await getAll([
      () => ['x', 200, { 'X-Name': 'café' }],
      () => [
        (async function* () {
          yield 'x';
        })(),
        200,
        { 'X-Name': 'café' },
      ],
    ]);
    expect(whole!.received.headers['x-name']).toBe('café');
    expect(streamed!.errors).toEqual([]);
    expect(streamed!.received.headers['x-name']).toBe('café');
  });
});
