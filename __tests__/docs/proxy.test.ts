import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';
import { asyncStream, currentSignal, sse } from '../../src/index.js';
import {
  ReceiveTimeoutError,
  ResponseAbortedError,
  streamRequest,
  type StreamConnection,
} from '../../src/testing/index.js';
import { isRefused } from '../helpers/freePort.js';
import { describeWithNginx, startNginx, type Nginx } from '../helpers/nginx.js';
import { createProducer, type Producer } from '../helpers/producer.js';
import { listen, type TestServer } from '../helpers/server.js';
import { within } from '../helpers/within.js';
import { docPage, runBlock } from './docPage.js';

const page = docPage('docs/proxy.md');
afterAll(() => page.expectEveryBlockUsed());

/** The app's address in the page's snippets, replaced by the test app's. */
const PAGE_APP_URL = 'http://127.0.0.1:3000';

function replaceOnce(text: string, search: string, replacement: string): string {
  if (text.split(search).length !== 2) throw new Error(`Expected ${JSON.stringify(search)} exactly once in:\n${text}`);
  return text.replace(search, replacement);
}

/** The test app: routes a test drives chunk by chunk, with one producer per request path. */
function createStreamingApp(): { app: express.Express; producerFor: (path: string) => Producer<string> } {
  const app = express();
  const producers = new Map<string, Producer<string>>();
  const producerFor = (path: string): Producer<string> => {
    if (!producers.has(path)) producers.set(path, createProducer<string>());
    return producers.get(path)!;
  };
  app.get(
    '/chunks/:id',
    asyncStream((req) => producerFor(req.path).generateUntil(currentSignal())),
  );
  app.get(
    '/events/:id',
    sse((req) => producerFor(req.path).generateUntil(currentSignal())),
  );
  runBlock(page.block("'X-Accel-Buffering': 'no'"), {
    app,
    prices: () => producerFor('/prices').generateUntil(currentSignal()),
  });
  return { app, producerFor };
}

/** Pushes each chunk only once the client has received the one before. */
async function expectLockStep(
  producer: Producer<string>,
  receive: () => Promise<string | undefined>,
  chunks: string[],
): Promise<void> {
  for (const chunk of chunks) {
    producer.push(chunk);
    expect(await receive()).toBe(chunk);
  }
}

const receiveText = (connection: StreamConnection) => async () => (await connection.receive())?.toString();

/** Requests `path` from `url` and receives its first chunk, `one\n` (asyncStream sends the headers with it). */
async function openStream(url: string, path: string, producer: Producer<string>): Promise<StreamConnection> {
  producer.push('one\n');
  const connection = await streamRequest(url, path);
  expect(connection.status).toBe(200);
  expect(await receiveText(connection)()).toBe('one\n');
  return connection;
}

/** The streaming app behind an nginx that runs the page's configuration, changed by `edit`. */
function useNginxInFront(edit: (config: string) => string = (config) => config) {
  const config = page.block('proxy_pass');
  const { app, producerFor } = createStreamingApp();
  let nginx: Nginx | undefined;
  let upstream: TestServer | undefined;
  beforeAll(async () => {
    const upstreamUrl = (upstream = await listen(app)).url;
    nginx = await startNginx((port) =>
      replaceOnce(replaceOnce(edit(config), 'listen 80;', `listen 127.0.0.1:${port};`), PAGE_APP_URL, upstreamUrl),
    );
  });
  afterAll(async () => {
    await nginx?.stop();
    await upstream?.close();
    if (nginx !== undefined) expect(await isRefused(nginx.port)).toBe(true);
  });
  let routes = 0;
  return {
    get url() {
      return nginx!.url;
    },
    /** A fresh path of the route `kind` and the producer behind it. */
    route(kind: 'chunks' | 'events') {
      const path = `/${kind}/${++routes}`;
      return { path, producer: producerFor(path) };
    },
    producerFor,
  };
}

describeWithNginx('docs/proxy.md: the nginx configuration', () => {
  const proxy = useNginxInFront();

  it('passes each chunk of asyncStream on as the generator yields it', async () => {
    const { path, producer } = proxy.route('chunks');
    const connection = await openStream(proxy.url, path, producer);
    await expectLockStep(producer, receiveText(connection), ['two\n', 'three\n', 'four\n']);
    await connection.disconnect();
  });

  it('passes each event of sse on as the generator yields it', async () => {
    const { path, producer } = proxy.route('events');
    const connection = await streamRequest(proxy.url, path);
    expect(connection.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await expectLockStep(producer, async () => (await connection.receiveEvent())?.data, ['one', 'two', 'three']);
    await connection.disconnect();
  });

  it('shows the client a stream that fails after its first chunk as aborted, not ended', async () => {
    const { path, producer } = proxy.route('chunks');
    const connection = await openStream(proxy.url, path, producer);
    producer.fail(new Error('the model went away'));
    await expect(connection.receive()).rejects.toThrow(ResponseAbortedError);
  });

  it("closes the app's response when the client goes away, so the generator's finally runs", async () => {
    const { path, producer } = proxy.route('chunks');
    const connection = await openStream(proxy.url, path, producer);
    await connection.disconnect();
    await within(producer.finalized, "the generator's finally");
    expect(producer.finallyCount).toBe(1);
  });
});

const withoutLine = (line: string) => (config: string) => replaceOnce(config, `        ${line}\n`, '');

describeWithNginx("docs/proxy.md: without proxy_http_version 1.1 (nginx's default, HTTP/1.0)", () => {
  const proxy = useNginxInFront(withoutLine('proxy_http_version 1.1;'));

  it('ends the response of a stream that failed after its first chunk as if it were complete', async () => {
    const { path, producer } = proxy.route('chunks');
    const connection = await openStream(proxy.url, path, producer);
    producer.fail(new Error('the model went away'));
    expect(await connection.receive()).toBeNull();
  });
});

describeWithNginx("docs/proxy.md: with nginx's defaults (HTTP/1.0, buffering on)", () => {
  const proxy = useNginxInFront((config) =>
    withoutLine('proxy_buffering off;')(withoutLine('proxy_http_version 1.1;')(config)),
  );

  it("holds asyncStream's small first chunk back, and the headers with it", async () => {
    const { path, producer } = proxy.route('chunks');
    producer.push('one\n');
    // The hold is open-ended: 1 s only bounds how long the test watches it.
    const opened = streamRequest(proxy.url, path, { timeout: 1_000 }).then(
      () => 'the headers',
      (error: unknown) => error,
    );
    await within(producer.waiting(), 'the generator waiting after its first chunk');
    expect(producer.produced).toBe(1);
    expect(await opened).toBeInstanceOf(ReceiveTimeoutError);
  });

  it('passes each event of sse on as it is yielded, since sse() sends X-Accel-Buffering: no', async () => {
    const { path, producer } = proxy.route('events');
    const connection = await streamRequest(proxy.url, path);
    await expectLockStep(producer, async () => (await connection.receiveEvent())?.data, ['one', 'two', 'three']);
    await connection.disconnect();
  });

  it('passes each chunk on as it is yielded when the response says X-Accel-Buffering: no', async () => {
    const producer = proxy.producerFor('/prices');
    const connection = await openStream(proxy.url, '/prices', producer);
    // nginx acts on the header and does not forward it.
    expect(connection.headers['x-accel-buffering']).toBeUndefined();
    await expectLockStep(producer, receiveText(connection), ['two\n', 'three\n']);
    await connection.disconnect();
  });
});

describe('docs/proxy.md: http-proxy-middleware', () => {
  const { app: streamingApp, producerFor } = createStreamingApp();
  const servers: TestServer[] = [];
  let upstreamUrl: string;
  beforeAll(async () => {
    const upstream = await listen(streamingApp);
    servers.push(upstream);
    upstreamUrl = upstream.url;
  });
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  /** An Express app in front of the streaming app, proxying as `useProxy` sets it up. */
  async function frontUrl(useProxy: (app: express.Express, target: string) => void): Promise<string> {
    const app = express();
    useProxy(app, upstreamUrl);
    const server = await listen(app);
    servers.push(server);
    return server.url;
  }

  it('leaves the client waiting when the stream fails after its first chunk', async () => {
    const url = await frontUrl((app, target) => app.use(createProxyMiddleware({ target })));
    const producer = producerFor('/chunks/bare');
    const connection = await openStream(url, '/chunks/bare', producer);
    producer.fail(new Error('the model went away'));
    await within(producer.finalized, "the generator's finally");
    // The wait is open-ended: 1 s only bounds how long the test watches it.
    await expect(connection.receive({ timeout: 1_000 })).rejects.toThrow(ReceiveTimeoutError);
    await connection.disconnect();
  });

  it("shows the client the failure as aborted with the page's proxyRes handler", async () => {
    const block = page.block('createProxyMiddleware');
    const url = await frontUrl((app, target) => runBlock(replaceOnce(block, PAGE_APP_URL, target), { app }));
    const producer = producerFor('/chunks/cut');
    const connection = await openStream(url, '/chunks/cut', producer);
    producer.fail(new Error('the model went away'));
    await expect(connection.receive()).rejects.toThrow(ResponseAbortedError);
  });
});
