// The stores the churn test runs on: in-process, and Redis through either client library.
import { memoryStore } from '../../src/index.js';
import { redisStore } from '../../src/redis/index.js';
import { clientLibraries, waitFor } from '../helpers/redisClients.js';
import { startRedis } from '../helpers/redisServer.js';
import type { ChurnStore } from './churnScenario.js';

/** `memoryStore()`: no connection to count. */
export const inProcess: ChurnStore = {
  label: 'memoryStore()',
  open: () =>
    Promise.resolve({
      store: memoryStore(),
      idleConnections: undefined,
      appConnections: () => Promise.resolve(undefined),
      untilAppConnections: () => Promise.resolve(),
      close: () => Promise.resolve(),
    }),
};

/**
 * `redisStore()` on a client of `library`, on a redis-server of the test's own. The app's
 * connections are counted with `CLIENT LIST` on a second client, which leaves itself out.
 */
export function onRedis(library: 'redis' | 'ioredis'): ChurnStore {
  const connect = clientLibraries.find(([name]) => name === library)![1];
  return {
    label: `redisStore() on ${library}`,
    async open() {
      const redis = await startRedis();
      const app = await connect(redis.url);
      const inspector = await connect(redis.url);
      const appConnections = async (): Promise<number> => {
        const list = String(await inspector.send(['CLIENT', 'LIST', 'TYPE', 'normal']));
        return list.trim().split('\n').length - 1;
      };
      return {
        store: redisStore(app.client),
        // The app's own client; the store's reader connects only while someone subscribes.
        idleConnections: 1,
        appConnections,
        untilAppConnections: (count) =>
          waitFor(async () => (await appConnections()) === count, `the app having ${count} Redis connections`),
        async close() {
          await Promise.all([app.close(), inspector.close()]);
          await redis.stop();
        },
      };
    },
  };
}
