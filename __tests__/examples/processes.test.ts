// The topic examples' command line: --processes N, refused without Redis, and run on it. The
// examples run as users run them (ts-node, their own processes) on the build (dist/): run
// `npm run build` first.
import { createClient } from 'redis';
import { streamRequest } from '../../src/testing/index.js';
import { exitOfExample, startExample, type ExampleProcess } from '../helpers/exampleProcess.js';
import { describeWithRedis, startRedis, type RedisServer } from '../helpers/redisServer.js';

jest.setTimeout(60_000);

describe('examples with --processes', () => {
  it.each(['examples/sse-chat/server.ts', 'examples/resumable-answer/server.ts'])(
    '%s refuses several processes without REDIS_URL, and says how to run Redis',
    async (script) => {
      const { code, stdout, stderr } = await exitOfExample({
        script,
        args: ['--processes', '2'],
        env: { REDIS_URL: '' },
      });
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(
        /^--processes 2 needs REDIS_URL: without it each process keeps its topics in its own memory/,
      );
      expect(stderr).toContain('REDIS_URL=redis://127.0.0.1:6379 npm run example:');
    },
  );

  it('refuses a count that is not an integer from 1 to 16', async () => {
    const { code, stderr } = await exitOfExample({ script: 'examples/sse-chat/server.ts', args: ['--processes', '0'] });
    expect(code).toBe(2);
    expect(stderr).toBe('--processes must be an integer from 1 to 16, but received "0". E.g. --processes 2.\n');
  });
});

describeWithRedis('examples with --processes 2 and REDIS_URL', () => {
  let redis: RedisServer;
  let example: ExampleProcess | undefined;

  beforeAll(async () => (redis = await startRedis()));
  afterAll(() => redis?.stop());
  afterEach(async () => {
    await example?.stop('SIGKILL');
    example = undefined;
  });

  /** Starts `script` as two processes on ephemeral ports, sharing the suite's Redis. */
  async function startTwo(script: string): Promise<ExampleProcess> {
    example = await startExample({ script, args: ['--processes', '2'], env: { PORT: '0', REDIS_URL: redis.url } }, 2);
    expect(new Set(example.urls).size).toBe(2);
    return example;
  }

  it('examples/sse-chat: a message posted to one process reaches a client of the other', async () => {
    const { urls, stop, stderr } = await startTwo('examples/sse-chat/server.ts');
    const [first, second] = urls as [string, string];
    const reader = await streamRequest(second, '/events');
    const posted = await streamRequest(first, '/messages', { method: 'POST', body: { author: 'ada', text: 'hi' } });
    const { id } = JSON.parse(await posted.text()) as { id: string };
    expect(await reader.receiveEvent()).toEqual({ retry: 1000, id, data: '{"author":"ada","text":"hi"}' });

    // SIGTERM, as a deploy sends it, reaches both: each ends its streams, closes Redis and exits.
    expect(await stop()).toBe(0);
    expect(await reader.receiveEvent()).toBeNull();
    expect(stderr()).toBe('');
  });

  it('examples/resumable-answer: an answer asked on one process is followed from the other', async () => {
    const { urls, stop, stderr } = await startTwo('examples/resumable-answer/server.ts');
    const [first, second] = urls as [string, string];
    const asked = await streamRequest(first, '/answers', { method: 'POST', body: { question: 'Why?' } });
    const { id, events } = JSON.parse(await asked.text()) as { id: string; events: string };
    const follower = await streamRequest(second, events);
    expect(await follower.receiveEvent()).toMatchObject({ event: 'question', data: '{"question":"Why?"}' });
    expect(await follower.receiveEvent()).toMatchObject({ data: 'Your' });
    await follower.disconnect();

    // SIGTERM lets the answer being generated finish (about 7 s of fake tokens) before the exit.
    expect(await stop()).toBe(0);
    expect(stderr()).toBe('');
    expect(await lastEventOf(`express-async-stream:example:answer/${id}`)).toBe('done');
  });

  /** The `event` field of the last entry of the Redis stream at `key`. */
  async function lastEventOf(key: string): Promise<string | undefined> {
    const client = await createClient({ url: redis.url }).connect();
    try {
      const [last] = await client.xRevRange(key, '+', '-', { COUNT: 1 });
      return last?.message.event;
    } finally {
      client.destroy();
    }
  }
});
