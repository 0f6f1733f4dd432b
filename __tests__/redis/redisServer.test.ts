import fs from 'node:fs';
import { createClient } from 'redis';
import { describeWhenInstalled, suitePlan, type RequiredProgram } from '../helpers/describeWhenInstalled.js';
import { isRefused } from '../helpers/freePort.js';
import { describeWithRedis, findRedisServer, startRedis, type RedisServer } from '../helpers/redisServer.js';

/** Runs `fn` with a node-redis client of `options`, closed when it is done. */
async function withClient<T>(
  options: Parameters<typeof createClient>[0],
  fn: (client: ReturnType<typeof createClient>) => Promise<T>,
): Promise<T> {
  const client = await createClient(options).connect();
  try {
    return await fn(client);
  } finally {
    client.destroy();
  }
}

describeWithRedis('startRedis(options)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis({ args: ['--maxmemory', '10mb'] });
  });
  afterAll(() => redis.stop());

  it('accepts connections on its url', async () => {
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`);
    expect(await withClient({ url: redis.url }, (client) => client.ping())).toBe('PONG');
  });

  it('accepts connections on its unix socket', async () => {
    expect(await withClient({ socket: { path: redis.socketPath, tls: false } }, (client) => client.ping())).toBe(
      'PONG',
    );
  });

  it('passes its args on to redis-server', async () => {
    const maxmemory = await withClient({ url: redis.url }, (client) => client.configGet('maxmemory'));
    expect(maxmemory).toEqual({ maxmemory: String(10 * 1024 * 1024) });
  });

  it('keeps its data, port and socket through restart()', async () => {
    await withClient({ url: redis.url }, (client) => client.set('kept', 'yes'));
    await redis.restart();
    expect(await withClient({ url: redis.url }, (client) => client.get('kept'))).toBe('yes');
    expect(await withClient({ socket: { path: redis.socketPath, tls: false } }, (client) => client.get('kept'))).toBe(
      'yes',
    );
  });

  it('refuses connections between shutdown() and start()', async () => {
    await redis.shutdown();
    expect(await isRefused(redis.port)).toBe(true);
    await redis.start();
    expect(await isRefused(redis.port)).toBe(false);
  });

  it('loses what was written since the last save when kill()ed', async () => {
    await withClient({ url: redis.url }, (client) => client.set('saved', '1'));
    await redis.restart();
    await withClient({ url: redis.url }, (client) => client.set('unsaved', '1'));
    await redis.kill();
    await redis.start();
    const values = await withClient({ url: redis.url }, (client) => client.mGet(['saved', 'unsaved']));
    expect(values).toEqual(['1', null]);
  });

  it('refuses a second start() while it runs', async () => {
    await expect(redis.start()).rejects.toThrow(`redis-server already runs on port ${redis.port}`);
  });

  it('logs what redis-server printed, across starts', () => {
    expect(redis.log().match(/Ready to accept connections/g)?.length).toBeGreaterThan(1);
  });
});

describeWithRedis('RedisServer.stop()', () => {
  it('stops redis-server, removes its temp dir, and does nothing the second time', async () => {
    const redis = await startRedis();
    await redis.stop();
    await redis.stop();
    expect(await isRefused(redis.port)).toBe(true);
    expect(fs.existsSync(redis.socketPath)).toBe(false);
  });
});

describe('findRedisServer()', () => {
  it("finds an executable redis-server on PATH, or Debian's in /usr/bin", () => {
    const found = findRedisServer();
    if (found === undefined) return;
    expect(found).toMatch(/\/redis-server$/);
    expect(() => fs.accessSync(found, fs.constants.X_OK)).not.toThrow();
  });
});

/** What `register` asks of jest's `describe`, `describe.skip` and `it`, recorded instead of registered. */
function recordSuites(register: () => void): { calls: string[]; tests: (() => void)[]; stderr: string[] } {
  const calls: string[] = [];
  const tests: (() => void)[] = [];
  const fakeDescribe = Object.assign(
    (name: string, fn: () => void) => {
      calls.push(`describe: ${name}`);
      fn();
    },
    { skip: (name: string) => void calls.push(`describe.skip: ${name}`) },
  );
  const fakeIt = (name: string, fn: () => void): void => {
    calls.push(`it: ${name}`);
    tests.push(fn);
  };
  // Assigned, not spied on: jest.spyOn() would drop `describe.skip`.
  const jestGlobals = globalThis as unknown as Record<'describe' | 'it', unknown>;
  const saved = { describe: jestGlobals.describe, it: jestGlobals.it };
  jestGlobals.describe = fakeDescribe;
  jestGlobals.it = fakeIt;
  const write = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    register();
    return { calls, tests, stderr: write.mock.calls.map(([text]) => String(text)) };
  } finally {
    write.mockRestore();
    Object.assign(jestGlobals, saved);
  }
}

describe('describeWhenInstalled(program, name, fn)', () => {
  const missing: RequiredProgram = { name: 'no-such-server', path: undefined, install: 'apt-get install -y no-such' };
  const installed: RequiredProgram = { ...missing, path: '/usr/bin/no-such-server' };
  const suite = (): void => it('uses the server', () => {});

  it('runs the suite when the program is installed', () => {
    const { calls, stderr } = recordSuites(() => describeWhenInstalled(installed, 'a suite', suite, { CI: 'true' }));
    expect(calls).toEqual(['describe: a suite', 'it: uses the server']);
    expect(stderr).toEqual([]);
  });

  it('skips the suite when the program is missing, off CI, and prints one line saying how to install it', () => {
    const { calls, stderr } = recordSuites(() => describeWhenInstalled(missing, 'a suite', suite, {}));
    expect(calls).toEqual(['describe.skip: a suite']);
    expect(stderr).toEqual(['Skipping "a suite": no-such-server is not installed (apt-get install -y no-such).\n']);
  });

  it('fails the suite when the program is missing, on CI', () => {
    const { calls, tests } = recordSuites(() => describeWhenInstalled(missing, 'a suite', suite, { CI: 'true' }));
    expect(calls).toEqual(['describe: a suite', 'it: finds no-such-server']);
    expect(tests[0]).toThrow(
      'no-such-server is not installed (apt-get install -y no-such). .ci/run installs it when it is missing',
    );
  });

  describe('suitePlan(installed, env)', () => {
    it('runs a suite whose program is installed, on CI or not', () => {
      expect([suitePlan(true, {}), suitePlan(true, { CI: 'true' })]).toEqual(['run', 'run']);
    });

    it('skips a suite whose program is missing, off CI', () => {
      const plans = [{}, { CI: '' }, { CI: 'false' }, { CI: '0' }].map((env) => suitePlan(false, env));
      expect(plans).toEqual(['skip', 'skip', 'skip', 'skip']);
    });

    it('fails a suite whose program is missing, on CI', () => {
      expect([suitePlan(false, { CI: 'true' }), suitePlan(false, { CI: '1' })]).toEqual(['fail', 'fail']);
    });
  });
});
