import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import { createClient } from 'redis';
import { asyncStream, createTopic, lastEventId, sse, type Topic } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { recordErrors, useProcessWatch } from '../helpers/app.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';
import { useConnections } from './connections.js';
import { docPage, runBlock } from './docPage.js';
import { shellBlockProblems } from './shellBlock.js';
import { awaitingBlock } from './topLevelAwait.js';

const page = docPage('README.md');
afterAll(() => page.expectEveryBlockUsed());
const streamRequest = useConnections();

/** A fresh app with the routes of the README block that contains `marker`, and the errors its requests pass to next(). */
function appWith(marker: string): { app: express.Express; errors: unknown[] } {
  const app = express();
  runBlock(page.block(marker), { app });
  return { app, errors: recordErrors(app) };
}

describe('README: the commands', () => {
  it('name scripts of package.json, this package and files that exist', () => {
    expect(page.blocks('sh').flatMap(shellBlockProblems)).toEqual([]);
  });

  it('give the Node lines that CI tests', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
    expect(readme).toContain('Supported Node.js lines: 20, 22, 24 and 26');
    expect(fs.readFileSync(path.join(__dirname, '..', '..', '.ci', 'run'), 'utf8')).toContain('"$own" 20 22 24 26');
  });
});

/** The names `file` exports (values and types), read from its export statements. */
function exportNames(file: string): string[] {
  const source = fs.readFileSync(path.join(__dirname, '..', '..', file), 'utf8');
  return [...source.matchAll(/^export (?:type )?\{([^}]*)\}/gm)].flatMap((match) =>
    match[1]!
      .split(',')
      .map((name) => name.replace(/^\s*type\s+/, '').trim())
      .filter(Boolean),
  );
}

describe('README: API overview covers the public surface', () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', 'README.md'), 'utf8');
  const overview = readme.slice(readme.indexOf('## API overview'), readme.indexOf('\n## Recipes'));

  it.each([...exportNames('src/index.ts'), ...exportNames('src/testing/index.ts')])('names %s', (name) => {
    expect(overview).toContain(`\`${name}`);
  });
});

describe('README: quick start', () => {
  const watch = useProcessWatch();

  function quickStart() {
    const code = page.block("app.get('/report'");
    expect(code).toContain('app.listen(3000);');
    // The block listens on port 3000; the test serves its app on an ephemeral port instead.
    const app = runBlock(code.replace('app.listen(3000);', 'exports.app = app;')).app as express.Express;
    return { app, errors: recordErrors(app) };
  }

  it('streams one timestamp line at a time, and stops when the client leaves', async () => {
    const { app, errors } = quickStart();
    const connection = await streamRequest(app, '/time');
    expect(await connection.receiveLine()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    await connection.disconnect(); // resolves once the generator has left its one-second sleep
    expect(errors).toEqual([]);
    expect(watch.logged).toEqual([]);
  });

  it('answers /report?count=2 as the curl transcript shows', async () => {
    const { app } = quickStart();
    const connection = await streamRequest(app, '/report?count=2');
    expect(connection.status).toBe(200);
    expect(connection.headers).toMatchObject({
      'x-powered-by': 'Express',
      'x-report': 'v1',
      'content-type': 'text/html; charset=utf-8',
      'transfer-encoding': 'chunked',
    });
    expect(await connection.text()).toBe('row 1\nrow 2\n');
  });
});

describe('README: API overview', () => {
  it('asyncStream: GET /count streams 1, 2, 3 chunked', async () => {
    const { app } = appWith('// GET /count → 200');
    const connection = await streamRequest(app, '/count');
    expect(connection.status).toBe(200);
    expect(connection.headers['transfer-encoding']).toBe('chunked');
    expect(await connection.text()).toBe('1\n2\n3\n');
  });

  describe('sse and lastEventId: /ticks', () => {
    const watch = useProcessWatch();

    /** The first tick event's text, read up to its blank line. */
    async function firstTick(headers: Record<string, string>): Promise<string> {
      const { app, errors } = appWith("app.get('/ticks'");
      const connection = await streamRequest(app, '/ticks', { headers });
      expect(connection.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      let text = '';
      const tick = (): string | undefined =>
        text.split('\n\n').find((frame, i, all) => i < all.length - 1 && frame.includes('event: tick'));
      while (tick() === undefined) text += (await connection.receive())!.toString();
      expect(text.startsWith('retry: 1000\n\n')).toBe(true);
      await connection.disconnect();
      expect(errors).toEqual([]);
      return tick()!;
    }

    it.each([
      ['no Last-Event-ID', {}, 1],
      ['Last-Event-ID: 7', { 'Last-Event-ID': '7' }, 8],
    ])('resumes the count: %s', async (_label, headers, expected) => {
      expect(await firstTick(headers)).toBe(`event: tick\nid: ${expected}\ndata: {"n":${expected}}`);
    });

    it.each(['abc', '-5', '1.5', '1e400', '9007199254740993', ''])(
      'starts over at 1, without an error or a log line, for a hostile Last-Event-ID: %j',
      async (id) => {
        expect(await firstTick({ 'Last-Event-ID': id })).toBe('event: tick\nid: 1\ndata: {"n":1}');
        expect(watch.logged).toEqual([]);
      },
    );
  });

  it('ndjson: one JSON value per line, as application/x-ndjson', async () => {
    const { app } = appWith("app.get('/rows.ndjson'");
    const connection = await streamRequest(app, '/rows.ndjson');
    expect(connection.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expect(await connection.text()).toBe('{"id":1}\n{"id":2}\n');
  });

  it('encodeEvent: the block asserts the encoded text', () => {
    expect(() => runBlock(page.block("encodeEvent('hello')"))).not.toThrow();
  });

  it('makeResponse: the status, headers and body of one response', async () => {
    const { app } = appWith("app.get('/feed'");
    const connection = await streamRequest(app, '/feed');
    expect(connection.status).toBe(200);
    expect(connection.headers['cache-control']).toBe('no-store');
    expect(await connection.text()).toBe('first item\n');
  });

  it('StreamResponse and isStreamResponse: the block asserts a validated status', () => {
    expect(() => runBlock(page.block('response.status = 201'))).not.toThrow();
  });

  it('currentRequest, currentResponse, currentSignal: a header set before the first chunk, the route parameter, and a sleep the disconnect ends', async () => {
    const { app, errors } = appWith("app.get('/hello/:name'");
    const connection = await streamRequest(app, '/hello/ada');
    expect(connection.headers['x-greeting']).toBe('yes');
    expect(await connection.receiveLine()).toBe('hello ada');
    // A sleep of a minute that ignored the signal would hold the teardown past disconnect()'s 5 s.
    await connection.disconnect();
    expect(errors).toEqual([]);
  });

  describe('withContext: generators created by one request and iterated elsewhere', () => {
    const code = (): string => page.block('const reply = withContext(');
    const withoutWithContext = (): string => code().replace('withContext(async', '(async');

    async function joinAndRelease(block: string): Promise<string> {
      const app = express();
      runBlock(block, { app });
      for (const name of ['ada', 'bob'])
        expect(await (await streamRequest(app, `/join?name=${name}`)).text()).toBe('joined\n');
      return (await streamRequest(app, '/release')).text();
    }

    /** The block's `waiting` queue after one GET /join?name=ada, to be iterated outside any request. */
    async function joinedGenerator(block: string): Promise<AsyncGenerator<string>> {
      const app = express();
      const { waiting } = runBlock(`${block}\nexport { waiting };`, { app }) as { waiting: AsyncGenerator<string>[] };
      await (await streamRequest(app, '/join?name=ada')).text();
      return waiting[0]!;
    }

    it('with it, /release sends each generator its own request: hello ada, hello bob', async () => {
      expect(await joinAndRelease(code())).toBe('hello ada\nhello bob\n');
    });

    it('without it, the generators see the /release request instead', async () => {
      expect(withoutWithContext()).not.toContain('withContext(async');
      expect(await joinAndRelease(withoutWithContext())).toBe('hello undefined\nhello undefined\n');
    });

    it('with it, a generator iterated outside any request still sees the request that created it', async () => {
      const generator = await joinedGenerator(code());
      expect(await generator.next()).toEqual({ value: 'hello ada\n', done: false });
    });

    it('without it, the same generator sees no request at all', async () => {
      const generator = await joinedGenerator(withoutWithContext());
      await expect(generator.next()).rejects.toThrow('currentRequest() was called outside a request context');
    });
  });

  it('DEFAULT_TIMEOUT and TIMEOUT_SETTING: the block asserts the default and sets the app setting', () => {
    const app = express();
    runBlock(page.block('assert.equal(DEFAULT_TIMEOUT'), { app });
    expect(app.get('stream timeout')).toBe(30_000);
  });

  describe('the test kit example, run as written', () => {
    runBlock(page.block("it('streams three lines'"), { it, expect });
  });
});

describe('README: errors', () => {
  describe('the error policy example, run as written', () => {
    runBlock(page.block("app.get('/fails/:when'"), { it, expect });
  });

  describe('isAsyncStreamError in an error handler', () => {
    const watch = useProcessWatch();

    function loggingApp(): express.Express {
      const app = express();
      app.get(
        '/silent',
        asyncStream(() => new Promise<never>(() => {}), { timeout: 50 }),
      );
      app.get(
        '/throws',
        asyncStream(() => {
          throw new Error('not ours');
        }),
      );
      runBlock(page.block('const logStreamErrors'), { app });
      return app;
    }

    it("logs the package's errors (the idle timeout's 503) and hands them on", async () => {
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
      try {
        expect((await streamRequest(loggingApp(), '/silent')).status).toBe(503);
        expect(warn.mock.calls).toEqual([[expect.stringContaining('GET /silent: no chunk was written for 50 ms')]]);
      } finally {
        warn.mockRestore();
      }
      expect(watch.logged).toEqual([]);
    });

    it('leaves other errors alone', async () => {
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => {});
      try {
        expect((await streamRequest(loggingApp(), '/throws')).status).toBe(500);
        expect(warn).not.toHaveBeenCalled();
      } finally {
        warn.mockRestore();
      }
    });
  });
});

describe('README: createTopic()', () => {
  it('sends a message posted to POST /chat to every open event stream, with the id POST answered', async () => {
    const { app, errors } = appWith("app.post('/chat'");
    const [ada, bob] = [await streamRequest(app, '/chat/events'), await streamRequest(app, '/chat/events')];
    const posted = await streamRequest(app, '/chat', { method: 'POST', body: { user: 'ada', text: 'hello' } });
    expect(posted.status).toBe(201);
    const { id } = JSON.parse(await posted.text()) as { id: string };
    const expected = { id, data: JSON.stringify({ user: 'ada', text: 'hello' }) };
    expect(await ada.receiveEvent()).toEqual(expected);
    expect(await bob.receiveEvent()).toEqual(expected);
    expect(errors).toEqual([]);
  });
});

describeWithRedis('README: redisStore()', () => {
  let redis: RedisServer;
  const urlBefore = process.env.REDIS_URL;
  beforeAll(async () => {
    redis = await startRedis();
    process.env.REDIS_URL = redis.url; // the block reads it
  });
  afterAll(async () => {
    if (urlBefore === undefined) delete process.env.REDIS_URL;
    else process.env.REDIS_URL = urlBefore;
    await redis?.stop();
  });

  it('shares the topic between processes: a browser moved to another process resumes with nothing lost', async () => {
    type Ran = { client: ReturnType<typeof createClient>; news: Topic };
    const block = awaitingBlock(page.block("from 'express-async-stream/redis'"), ['client', 'news']);
    const { client, news } = await (runBlock(block).done as Promise<Ran>);
    // Another process of the app behind the load balancer: its own client, store and route.
    const other = createClient({ url: redis.url });
    other.on('error', () => {});
    await other.connect();
    const otherNews = createTopic('news', { store: redisStore(other) });
    const app = express();
    app.get(
      '/news/events',
      sse((req) => otherNews.subscribe({ after: lastEventId(req) })),
    );
    try {
      const seen = await news.publish('seen in the first process');
      const missed = await news.publish('missed while moving');
      const moved = await streamRequest(app, '/news/events', { headers: { 'Last-Event-ID': seen } });
      const live = await news.publish('live');
      expect([await moved.receiveEvent(), await moved.receiveEvent()]).toEqual([
        { id: missed, data: 'missed while moving' },
        { id: live, data: 'live' },
      ]);
    } finally {
      news.close();
      otherNews.close();
      await client.sendCommand(['DEL', 'express-async-stream:topic:news']);
      client.destroy();
      other.destroy();
    }
  });
});

describe('README: closeStreams()', () => {
  it('has one shutdown example, which readmeShutdown.test.ts runs in a file of its own (closeStreams() is final)', () => {
    expect(page.block('void closeStreams({ grace: 10_000 })')).toContain("process.once('SIGTERM'");
  });
});
