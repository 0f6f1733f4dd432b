// The topic examples' stores, for suites that run once in memory and once on a real Redis.
import { createClient } from 'redis';
import { openTopicStore, type ExampleStore } from '../../examples/shared/topicStore.js';
import { describeWithRedis, startRedis, type RedisServer } from './redisServer.js';

/**
 * Runs the suite `fn` twice: on the store an example opens without `REDIS_URL` (memory), and on the
 * one it opens with it (a redis-server started for the suite, emptied before each test). `fn` gets
 * a function that returns the current test's store; it is closed after each test, once `fn`'s own
 * `afterEach` hooks have let go of it.
 */
export function describeOnEachStore(name: string, fn: (store: () => ExampleStore) => void): void {
  describe(`${name} (in memory)`, () => withStore(() => '', fn));
  describeWithRedis(`${name} (on Redis)`, () => {
    let redis: RedisServer | undefined;
    beforeAll(async () => (redis = await startRedis()));
    afterAll(() => redis?.stop());
    beforeEach(() => flushAll(redis!.url));
    withStore(() => redis!.url, fn);
  });
}

function withStore(url: () => string, fn: (store: () => ExampleStore) => void): void {
  let current: ExampleStore | undefined;
  beforeEach(async () => (current = await openTopicStore(url())));
  fn(() => current!);
  // Declared after fn's hooks, so it runs after them (jest-circus runs afterEach in declaration order).
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
}

async function flushAll(url: string): Promise<void> {
  const client = await createClient({ url }).connect();
  try {
    await client.flushAll();
  } finally {
    client.destroy();
  }
}
