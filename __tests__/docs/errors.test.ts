import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, createCluster } from 'redis';
import {
  AsyncStreamError,
  asyncStream,
  createTopic,
  currentRequest,
  currentResponse,
  currentSignal,
  makeResponse,
  memoryStore,
  sse,
  withContext,
} from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { ReceiveTimeoutError, ResponseAbortedError, streamRequest } from '../../src/testing/index.js';
import { recordErrors, useProcessWatch } from '../helpers/app.js';
import { watchWarnings } from '../helpers/warnings.js';
import { docPage } from './docPage.js';

// docs/errors.md has no code blocks: its test checks that each message it lists is the message the
// code produces, by producing each one.
const page = docPage('docs/errors.md');
afterAll(() => page.expectEveryBlockUsed());

const markdown = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
const headings = [...markdown.matchAll(/^### (`+) ?(.*?) ?\1$/gm)].map((match) => match[2]!);

/** A heading as a pattern: `…` any text, `N` and `i` a number, `GET /path` any request (`GET URL` with its origin), `name` a function name. */
function pattern(heading: string): RegExp {
  const escaped = heading.replace(/^AsyncStreamWarning: /, '').replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const source = escaped
    .replace(/…/g, '[\\s\\S]*?')
    .replace(/\bN\b/g, '\\d+')
    .replace(/\\\[i\\\]/g, '\\[\\d+\\]')
    .replace(/GET \/path/g, 'GET /\\S*')
    .replace(/GET URL/g, 'GET https?://\\S+')
    .replace(/^withContext\\\(fn\\\): name/, 'withContext\\(fn\\): \\w+');
  return new RegExp(source);
}

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

const handler = async function* () {
  yield 'x';
};

/** The error a route passes to next(), once the client has seen the response end (or be cut). */
async function errorOf(route: RequestHandler): Promise<Error> {
  const app = express();
  app.get('/path', route);
  const errors = recordErrors(app);
  const connection = await streamRequest(app, '/path');
  await connection.text().catch(() => {});
  expect(errors).toHaveLength(1);
  return errors[0] as Error;
}

/** The AsyncStreamWarning a route makes Node emit. */
async function warningOf(route: RequestHandler): Promise<Error> {
  const watch = watchWarnings();
  try {
    const app = express();
    app.get('/path', route);
    recordErrors(app);
    const connection = await streamRequest(app, '/path');
    await connection.text().catch(() => {});
    for (let turn = 0; watch.warnings.length === 0; turn++) {
      if (turn > 10_000) throw new Error('no warning');
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    expect(watch.warnings.map((warning) => warning.name)).toEqual(['AsyncStreamWarning']);
    return watch.warnings[0]!;
  } finally {
    watch.stop();
  }
}

const never = () => new Promise<never>(() => {});

/** A topic on a store of its own. */
const topic = () => createTopic('chat', { store: memoryStore() });

const producers: Record<string, () => Error | Promise<Error>> = {
  'asyncStream(handler) expects': () => thrown(() => asyncStream(5 as never)),
  'asyncStream(handler, options): options must be': () => thrown(() => asyncStream(handler, 30_000 as never)),
  'asyncStream(handler, options): unknown option': () => thrown(() => asyncStream(handler, { Timeout: 1 } as never)),
  'sse(): `keepAlive` must be a number': () => thrown(() => sse(handler, { keepAlive: '15s' as never })),
  'sse(): `keepAlive` must be between': () => thrown(() => sse(handler, { keepAlive: 0 })),
  'sse(): `errorEvent` must be': () => thrown(() => sse(handler, { errorEvent: 'stream-error' as never })),
  'asyncStream(): `timeout` must be a number': () => thrown(() => asyncStream(handler, { timeout: '60s' as never })),
  '… must be between 1 and': () => thrown(() => asyncStream(handler, { timeout: 0 })),
  'GET /path: no chunk was written for N ms (before': () => errorOf(asyncStream(never, { timeout: 50 })),
  'GET /path: no chunk was written for N ms (after': () =>
    errorOf(
      asyncStream(
        async function* () {
          yield 'a';
          await never();
        },
        { timeout: 50 },
      ),
    ),
  'asyncStream(): chunk N': () =>
    errorOf(
      asyncStream(async function* () {
        yield 42 as never;
      }),
    ),
  'asyncStream(): cannot send': () => errorOf(asyncStream(() => 42 as never)),
  'asyncStream(): the handler returned … An array': () => errorOf(asyncStream(() => ['a', 'b', 'c', 'd'] as never)),
  'asyncStream(): the handler returned [object': () => errorOf(asyncStream(() => [{ id: 1 }, { id: 2 }] as never)),
  'makeResponse(): status must be': () => thrown(() => makeResponse('x', '200' as never)),
  'makeResponse(): status N is informational': () => thrown(() => makeResponse('x', 103)),
  'headers must be a plain object': () => thrown(() => makeResponse('x', 200, new Map() as never)),
  'headers[i] must be': () => thrown(() => makeResponse('x', 200, [['X-A']] as never)),
  '… is not a valid header name': () => thrown(() => makeResponse('x', 200, { 'X A': 'b' })),
  'header "…" must be a string': () => thrown(() => makeResponse('x', 200, { 'X-A': null as never })),
  'header "…" contains a CR': () => thrown(() => makeResponse('x', 200, { 'X-A': 'a\r\nb' })),
  'header "…" contains the character': () =>
    thrown(() => makeResponse('x', 200, { 'Content-Disposition': 'attachment; filename="rapport-€.csv"' })),
  'header "…" must be one non-negative integer': () =>
    thrown(() => makeResponse('x', 200, { 'Content-Length': 'abc' })),
  'currentRequest() was called outside': () => thrown(() => currentRequest()),
  'withContext(fn) expects': () => thrown(() => withContext(5 as never)),
  'withContext(fn): name returned': () => {
    const notAGenerator = withContext(function notAGenerator() {
      return 1;
    } as never) as () => unknown;
    return thrown(() => notAGenerator());
  },
  'asyncStream(): the handler sent the headers itself': () =>
    errorOf(
      asyncStream((_req, res) => {
        res.flushHeaders();
        return [handler(), 201];
      }),
    ),
  'AsyncStreamWarning: asyncStream(): the handler for GET /path answered': () =>
    warningOf(
      asyncStream((_req, res) => {
        res.send('answered');
        return 'also a body';
      }),
    ),
  'AsyncStreamWarning: asyncStream(): the response to GET /path was ended': () =>
    warningOf(
      asyncStream(async function* () {
        yield 'a';
        currentResponse().end();
        yield 'b';
      }),
    ),
  'AsyncStreamWarning: asyncStream(): the handler for GET /path returned undefined': () =>
    warningOf(asyncStream(() => undefined, { timeout: 50 })),
  'AsyncStreamWarning: sse(): `errorEvent` returned': () =>
    warningOf(
      sse(
        async function* () {
          yield 'a';
          throw new Error('failed');
        },
        { errorEvent: () => ({ retry: -1 }) },
      ),
    ),
  'AsyncStreamWarning: sse(): `errorEvent` threw': () =>
    warningOf(
      sse(
        async function* () {
          yield 'a';
          throw new Error('failed');
        },
        {
          errorEvent: () => {
            throw new Error('mapping failed');
          },
        },
      ),
    ),
  'createTopic(name): the name must be': () => thrown(() => createTopic('chat room')),
  'createTopic(): `history`': () => thrown(() => createTopic('chat', { history: 0 })),
  'createTopic(): `store`': () => thrown(() => createTopic('chat', { store: memoryStore as never })),
  'topic.publish(): `data`': () => thrown(() => topic().publish(10n)),
  'topic.publish(): `event` must be a string': () => thrown(() => topic().publish('x', { event: 5 as never })),
  'topic.publish(): `event` must not': () => thrown(() => topic().publish('x', { event: 'a\nb' })),
  "topic.publish(): the event type 'reset'": () => thrown(() => topic().publish('x', { event: 'reset' })),
  'topic.subscribe(): `after`': () => thrown(() => topic().subscribe({ after: 7 as never })),
  'topic.subscribe(): `signal`': () => thrown(() => topic().subscribe({ signal: new AbortController() as never })),
  'topic.publish(): the topic': () => {
    const closed = topic();
    closed.close();
    return rejection(closed.publish('x'), AsyncStreamError);
  },
  'redisStore(client) expects': () => thrown(() => redisStore('redis://localhost:6379')),
  'redisStore(client) does not support': () =>
    thrown(() => redisStore(createCluster({ rootNodes: [{ url: 'redis://127.0.0.1:1' }] }))),
  'redisStore(): `prefix`': () => thrown(() => redisStore(createClient(), { prefix: 'my app:' })),
  'redisStore(): could not publish': () =>
    // A client never connected: no server is needed to see what a process sees while Redis is away.
    rejection(createTopic('chat', { store: redisStore(createClient()) }).publish('x'), AsyncStreamError),
  'GET URL: the server closed the connection': async () => {
    const connection = await streamRequest(
      appWith(
        asyncStream(async function* () {
          yield 'partial';
          throw new Error('failed');
        }),
      ),
      '/path',
    );
    return rejection(connection.text(), ResponseAbortedError);
  },
  'GET URL: … did not arrive within': async () => {
    const connection = await streamRequest(
      appWith(
        sse(
          async function* () {
            await sleep(60_000, undefined, { signal: currentSignal() });
          },
          { keepAlive: null },
        ),
      ),
      '/path',
    );
    try {
      return await rejection(connection.receive({ timeout: 20 }), ReceiveTimeoutError);
    } finally {
      await connection.disconnect();
    }
  },
  'GET URL: receiveJson() read a line': async () => {
    const connection = await streamRequest(appWith(asyncStream(() => 'not json\n')), '/path');
    return rejection(connection.receiveJson());
  },
  'GET URL: the request failed before': async () => {
    const server = await new Promise<http.Server>((resolve) => {
      const listening = http.createServer().listen(0, '127.0.0.1', () => resolve(listening));
    });
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    await new Promise((resolve) => server.close(resolve)); // nothing listens there any more
    return rejection(streamRequest(url, '/path'));
  },
  'streamRequest(target, path): path must': () => rejection(streamRequest(appWith(asyncStream(handler)), 'path')),
  'streamRequest(target, path): target must': () => rejection(streamRequest(42 as never, '/path')),
  'streamRequest(target, path): the http.Server is not listening': () =>
    rejection(streamRequest(http.createServer(), '/path')),
  'streamRequest(): `timeout` must be a number': () =>
    rejection(streamRequest(appWith(asyncStream(handler)), '/path', { timeout: '5s' as never })),
  'streamRequest(): `timeout` must be between': () =>
    rejection(streamRequest(appWith(asyncStream(handler)), '/path', { timeout: 0 })),
};

function appWith(route: RequestHandler): express.Express {
  const app = express();
  app.get('/path', route);
  return app;
}

/** The error `promise` rejects with, checked to be an instance of `errorClass`. */
async function rejection(
  promise: Promise<unknown>,
  errorClass: new (...args: never[]) => Error = Error,
): Promise<Error> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (reason: unknown) => reason as Error,
  );
  expect(error).toBeInstanceOf(errorClass);
  return error;
}

describe('docs/errors.md: every message it lists', () => {
  useProcessWatch(); // Express's default handler would log the errors these requests raise

  it('has a heading per message, and only the two symptoms are not messages', () => {
    expect(headings).toHaveLength(Object.keys(producers).length);
    expect([...markdown.matchAll(/^### ([^`].*)$/gm)].map((match) => match[1])).toEqual([
      'The request never completes (no error)',
      'The client gets everything at once',
    ]);
  });

  it.each(Object.keys(producers))('is the message the code produces: %s', async (start) => {
    const heading = headings.filter((candidate) => candidate.startsWith(start));
    expect(heading).toHaveLength(1);
    const error = await producers[start]!();
    expect(error.message).toMatch(pattern(heading[0]!));
  });
});
