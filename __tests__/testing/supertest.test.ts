import request from 'supertest';
import type { IncomingMessage } from 'node:http';
import { asyncStream } from '../../src/index.js';
import { deferred, type Deferred } from '../helpers/deferred.js';
import { expressVersions } from '../helpers/express.js';
import { createProducer } from '../helpers/producer.js';
import { listen, type TestServer } from '../helpers/server.js';
import { within } from '../helpers/within.js';

// The README's supertest recipe, proven to observe chunks one by one: the producer yields chunk
// n + 1 only once the test's parser has seen chunk n, so a response delivered at the end would stall.
describe.each(expressVersions)('the supertest recipe (%s)', (_name, createApp) => {
  let server: TestServer | undefined;

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('observes each chunk before the next one is produced', async () => {
    const app = createApp();
    const producer = createProducer();
    app.get('/count', asyncStream(producer.generate));
    const seen: string[] = [];
    let arrived: Deferred<void> = deferred();
    const ended = deferred();

    producer.push('1\n');
    const response = request(app)
      .get('/count')
      .buffer(false)
      .parse((res, callback) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          seen.push(chunk);
          arrived.resolve();
        });
        res.on('end', () => {
          ended.resolve();
          callback(null, undefined);
        });
      });
    const done = response.then((res) => res);

    for (const next of ['2\n', '3\n']) {
      await within(arrived.promise, `the chunk before ${JSON.stringify(next)}`);
      arrived = deferred();
      producer.push(next);
    }
    await within(arrived.promise, 'the last chunk');
    producer.end();
    // The gotcha: with .buffer(false) the promise settles without waiting for the body to end.
    expect((await done).status).toBe(200);
    await within(ended.promise, "the parser's end");
    expect(seen).toEqual(['1\n', '2\n', '3\n']);
  });

  it('resolves the request promise at the headers, before the body has ended (listening server)', async () => {
    const app = createApp();
    const producer = createProducer();
    app.get('/', asyncStream(producer.generate));
    server = await listen(app);
    producer.push('first');
    const ended = deferred();
    const response = await request(server.url)
      .get('/')
      .buffer(false)
      .parse((res, callback) => {
        (res as unknown as IncomingMessage).resume();
        res.on('end', () => {
          ended.resolve();
          callback(null, undefined);
        });
      });
    expect(response.status).toBe(200);
    expect(ended.settled).toBe(false);
    producer.end();
    await within(ended.promise, "the parser's end");
  });
});
