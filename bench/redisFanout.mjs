// The fanout-redis workload: server processes with thousands of SSE subscribers each on one topic
// of one Redis, and a publisher process. Each server and each server's clients are a process
// (topicServer.mjs, topicClients.mjs); the runner starts Redis and reads it (redisStats.mjs).
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertDelivered, deliveryFigures } from './receipts.mjs';
import { NO_REDIS, findRedisServer, startRedis } from './redisServer.mjs';
import { redisDelta, watchRedis } from './redisStats.mjs';
import { forkRole, socketsPerProcess } from './roleProcess.mjs';

// `paced`: then a slower phase, whose delays are the latency figure. At `rate` (a million
// deliveries a second in full), the servers and the subscribers' clients each keep about a core
// busy on a 2-core machine (the table's CPU row), so that phase's delays measure the queue; at
// 2 events/s the machine keeps up.
export const FANOUT_REDIS = {
  full: { servers: 4, subscribers: 2500, rate: 100, seconds: 10, warmup: 20, paced: { rate: 2, seconds: 10 } },
  quick: { servers: 4, subscribers: 250, rate: 100, seconds: 3, warmup: 20, paced: { rate: 5, seconds: 2 } },
};
// How long the last events may take to reach every subscriber after the last publish.
const SETTLE_MS = 30_000;

/**
 * Runs the workload at `mode`'s size (run.mjs's plan.mode). Resolves its figures, or
 * { skipped } without redis-server; throws when a delivery was lost, repeated or misrouted.
 */
export async function measureFanoutRedis(mode, log) {
  if (findRedisServer() === undefined) {
    log(`fanout-redis skipped: ${NO_REDIS}`);
    return { skipped: NO_REDIS };
  }
  // Other work on the machine delays every hop: the table says how busy it was.
  const size = { ...FANOUT_REDIS[mode], load: os.loadavg()[0] };
  // Each subscriber is a socket in its server's process and one in its clients' process.
  size.subscribers = Math.min(size.subscribers, socketsPerProcess());
  if (size.subscribers < FANOUT_REDIS[mode].subscribers)
    log(`fanout-redis: ${size.subscribers} subscribers per process: ulimit -Hn allows no more`);
  const redis = await startRedis();
  const roles = [];
  const fork = async (script, config) => {
    const role = await forkRole(script, config === undefined ? [] : [JSON.stringify(config)]);
    roles.push(role);
    return role;
  };
  let monitor;
  try {
    monitor = await watchRedis(redis.url);
    const servers = [];
    const clients = [];
    for (let k = 1; k <= size.servers; k++) {
      servers.push(await fork('./topicServer.mjs', { redisUrl: redis.url, clientName: `bench-server-${k}` }));
      clients.push(await fork('./topicClients.mjs'));
    }
    const publisher = await fork('./topicServer.mjs', { redisUrl: redis.url, clientName: 'bench-publisher' });
    return {
      ...size,
      redisVersion: monitor.version,
      ...(await publishAndMeasure(size, servers, clients, publisher, monitor, log)),
    };
  } finally {
    await Promise.all(roles.map((role) => role.stop()));
    await monitor?.close();
    await redis.stop();
  }
}

async function publishAndMeasure(size, servers, clients, publisher, monitor, log) {
  const { subscribers, rate, seconds, warmup } = size;
  const opened = await Promise.all(
    clients.map((c, k) =>
      c.ask({
        cmd: 'open',
        subscribers: Array(subscribers).fill({ url: `${servers[k].first.url}/feed`, topic: 'feed' }),
      }),
    ),
  );
  log(
    `fanout-redis: ${servers.length} × ${subscribers} subscribers live in ${Math.max(...opened.map((o) => o.ms)).toFixed(0)} ms`,
  );
  const everyone = servers.length * subscribers;
  const settle = (events) =>
    Promise.all(clients.map((c) => c.ask({ cmd: 'settle', total: subscribers * events, ms: SETTLE_MS })));
  // Unmeasured: the first events pay for lazy loading and unoptimised code on every path.
  await publisher.ask({ cmd: 'publish', first: 0, count: warmup, rate });
  const warm = await settle(warmup);

  const count = rate * seconds;
  const redisBefore = await monitor.counters();
  const cpuBefore = await Promise.all(servers.map((s) => s.ask({ cmd: 'probe' })));
  // Read at steady state: halfway through the publishing.
  const connections = sleep((seconds * 1000) / 2).then(() => monitor.connections());
  const published = await publisher.ask({ cmd: 'publish', first: warmup, count, rate });
  const settled = await settle(warmup + count);
  const redis = redisDelta(redisBefore, await monitor.counters());
  const cpuAfter = await Promise.all(servers.map((s) => s.ask({ cmd: 'probe' })));
  const pacedCount = size.paced.rate * size.paced.seconds;
  const paced = await publisher.ask({
    cmd: 'publish',
    first: warmup + count,
    count: pacedCount,
    rate: size.paced.rate,
  });
  await settle(warmup + count + pacedCount);
  const reports = await Promise.all(clients.map((c) => c.ask({ cmd: 'report' })));

  const all = warmup + count + pacedCount;
  const delivery = deliveryFigures(reports, published.resolved, warmup, () => everyone, all);
  const pacedDelivery = deliveryFigures(reports, paced.resolved, warmup + count, () => everyone, all);
  log(
    `fanout-redis: at ${rate}/s p50 ${delivery.p50.toFixed(1)} ms, p99 ${delivery.p99.toFixed(1)} ms; at ${size.paced.rate}/s ` +
      `p50 ${pacedDelivery.p50.toFixed(1)} ms, p99 ${pacedDelivery.p99.toFixed(1)} ms; lost ${delivery.lost}, repeated ${delivery.repeated}`,
  );
  assertDelivered('fanout-redis', delivery);
  const serverCpuUs = cpuAfter.reduce((sum, { cpu }, k) => sum + cpuDelta(cpuBefore[k].cpu, cpu), 0);
  const clientCpuUs = settled.reduce((sum, { cpu }, k) => sum + cpuDelta(warm[k].cpu, cpu), 0);
  const windowUs = redis.seconds * 1e6;
  return {
    ...delivery,
    pacedDelay: { p50: pacedDelivery.p50, p99: pacedDelivery.p99, max: pacedDelivery.max },
    connections: Object.fromEntries(await connections),
    publishRate: count / (published.ms / 1000),
    serverCpuPerDeliveryUs: serverCpuUs / (count * everyone),
    redisCpuPerEventUs: (redis.cpuS * 1e6) / count,
    redisCpuShare: redis.cpuS / redis.seconds,
    serverCpuShare: serverCpuUs / windowUs,
    clientCpuShare: clientCpuUs / windowUs,
    xreadUsPerCall: redis.xreadUs / redis.xreadCalls,
  };
}

/** Microseconds of CPU (user + system) between two process.cpuUsage() readings. */
const cpuDelta = (before, after) => after.user - before.user + (after.system - before.system);
