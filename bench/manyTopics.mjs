// The many-topics workload: a topic per user, one subscriber each, all on one server process
// (topicServer.mjs, forked with --expose-gc), with the clients in another (topicClients.mjs); in
// the process's memory, then on Redis. The server itself publishes to users picked at random.
import os from 'node:os';
import { assertDelivered, deliveryFigures } from './receipts.mjs';
import { NO_REDIS, findRedisServer, startRedis } from './redisServer.mjs';
import { redisDelta, watchRedis } from './redisStats.mjs';
import { forkRole, socketsPerProcess } from './roleProcess.mjs';

export const MANY_TOPICS = {
  // warmup: subscribers of the unmeasured cycle; warmupEvents: unmeasured events before the measured ones.
  full: { topics: 10_000, rate: 200, seconds: 5, warmup: 1000, warmupEvents: 200 },
  quick: { topics: 1000, rate: 200, seconds: 2, warmup: 500, warmupEvents: 200 },
};
const SETTLE_MS = 30_000;

/**
 * Runs the workload at `mode`'s size, in memory and on Redis (skipped without redis-server).
 * Resolves { topics, rate, seconds, memory, redis }: each store's figures, or { skipped }.
 */
export async function measureManyTopics(mode, log) {
  // Other work on the machine delays every hop: the table says how busy it was.
  const size = { ...MANY_TOPICS[mode], load: os.loadavg()[0] };
  size.topics = Math.min(size.topics, socketsPerProcess());
  if (size.topics < MANY_TOPICS[mode].topics) log(`many-topics: ${size.topics} topics: ulimit -Hn allows no more`);
  const memory = await measureStore(size, undefined, log);
  if (findRedisServer() === undefined) {
    log(`many-topics on Redis skipped: ${NO_REDIS}`);
    return { ...size, memory, redis: { skipped: NO_REDIS } };
  }
  const server = await startRedis();
  try {
    return { ...size, memory, redis: await measureStore(size, server.url, log) };
  } finally {
    await server.stop();
  }
}

/** One store: the in-process one (`redisUrl` undefined) or redisStore on the Redis at `redisUrl`. */
async function measureStore(size, redisUrl, log) {
  const label = redisUrl === undefined ? 'in memory' : 'on Redis';
  const monitor = redisUrl === undefined ? undefined : await watchRedis(redisUrl);
  const roles = [];
  try {
    const config = redisUrl === undefined ? {} : { redisUrl, clientName: 'bench-server' };
    roles.push(await forkRole('./topicServer.mjs', [JSON.stringify(config)], { gc: true }));
    roles.push(await forkRole('./topicClients.mjs', []));
    const [server, clients] = roles;
    const users = (prefix, n) =>
      Array.from({ length: n }, (_, i) => ({
        url: `${server.first.url}/users/${prefix}${i}`,
        topic: `user:${prefix}${i}`,
      }));
    // An unmeasured cycle first, so that one-time growth (Node's pool of up to 1,000 HTTP
    // parsers, filled as sockets close) is in the baseline, not in the figure per subscriber.
    await clients.ask({ cmd: 'open', subscribers: users('warm', size.warmup) });
    const { closedSockets } = await server.ask({ cmd: 'probe' });
    await clients.ask({ cmd: 'drop' });
    await server.ask({ cmd: 'settle', closedSockets: closedSockets + size.warmup });

    const base = await server.ask({ cmd: 'probe', gc: true });
    const opened = await clients.ask({ cmd: 'open', subscribers: users('', size.topics) });
    const live = await server.ask({ cmd: 'probe', gc: true });
    log(`many-topics ${label}: ${size.topics} subscribers live in ${opened.ms.toFixed(0)} ms`);
    const figures = {
      openMs: opened.ms,
      heapPerSubscriber: (live.memory.heapUsed - base.memory.heapUsed) / size.topics,
      rssPerSubscriber: (live.memory.rss - base.memory.rss) / size.topics,
      ...(await publishAndMeasure(size, server, clients, monitor)),
    };
    log(
      `many-topics ${label}: p99 ${figures.p99.toFixed(1)} ms, ${(figures.heapPerSubscriber / 1000).toFixed(1)} KB/subscriber`,
    );
    return figures;
  } finally {
    await Promise.all(roles.map((role) => role.stop()));
    await monitor?.close();
  }
}

async function publishAndMeasure({ topics, rate, seconds, warmupEvents }, server, clients, monitor) {
  const count = rate * seconds;
  // Unmeasured: the first events pay for lazy loading and unoptimised code on every path.
  await server.ask({ cmd: 'publish', first: 0, count: warmupEvents, rate, users: topics });
  await clients.ask({ cmd: 'settle', total: warmupEvents, ms: SETTLE_MS });
  const connections = await monitor?.connections();
  const redisBefore = await monitor?.counters();
  const published = await server.ask({ cmd: 'publish', first: warmupEvents, count, rate, users: topics });
  await clients.ask({ cmd: 'settle', total: warmupEvents + count, ms: SETTLE_MS });
  const redisAfter = await monitor?.counters();
  const report = await clients.ask({ cmd: 'report' });
  // Each event has one subscriber, the user it went to. From the call: on Redis, the reader's
  // XREAD reply can reach the server before the XADD reply that resolves publish().
  const delivery = deliveryFigures([report], published.called, warmupEvents, () => 1, warmupEvents + count);
  assertDelivered(`many-topics (${monitor === undefined ? 'in memory' : 'on Redis'})`, delivery);
  const figures = {
    ...delivery,
    publishRate: count / (published.ms / 1000),
    serverCpuPerEventUs: (published.cpuMs * 1000) / count,
  };
  if (monitor === undefined) return figures;
  const redis = redisDelta(redisBefore, redisAfter);
  return {
    ...figures,
    redisVersion: monitor.version,
    connections: [...connections.values()].reduce((a, b) => a + b, 0),
    redisCpuShare: redis.cpuS / redis.seconds,
    redisCpuPerEventUs: (redis.cpuS * 1e6) / count,
    xreadPerSecond: redis.xreadCalls / redis.seconds,
    xreadUsPerCall: redis.xreadUs / redis.xreadCalls,
    inputBytesPerXread: redis.inputBytes / redis.xreadCalls,
    inputBytesPerSecond: redis.inputBytes / redis.seconds,
  };
}
