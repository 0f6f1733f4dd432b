// The tables of the Redis topic workloads (redisFanout.mjs, manyTopics.mjs), in Markdown.
import os from 'node:os';
import { fmt, mark } from './report.mjs';

const pct = (share) => `${fmt(share * 100)} %`;
const ms = (x) => `${fmt(x, 1)} ms`;
const kb = (bytes) => `${fmt(bytes / 1000, 1)} KB`;
// The docs' promise: yours and the store's reader, whatever the subscribers.
const CONNECTIONS_PER_PROCESS = 2;

/** The fanout-redis table, from measureFanoutRedis()'s figures. */
export function renderFanoutRedis(f) {
  if (f.skipped) return `fanout-redis: skipped, ${f.skipped}.`;
  const count = f.rate * f.seconds;
  const pacedCount = f.paced.rate * f.paced.seconds;
  const total = f.servers * f.subscribers;
  const perServer = Object.entries(f.connections)
    .filter(([name]) => name.startsWith('bench-server-'))
    .map(([, n]) => n);
  const connections = Object.values(f.connections).reduce((a, b) => a + b, 0);
  const constant = perServer.length === f.servers && perServer.every((n) => n <= CONNECTIONS_PER_PROCESS);
  return [
    `fanout-redis: ${f.servers} server processes × ${fmt(f.subscribers)} SSE subscribers (${fmt(total)} in all) on one topic, ` +
      `redisStore over node-redis 5 on Redis ${f.redisVersion}; a further process publishes ${f.rate} events/s for ${f.seconds} s ` +
      `(${fmt(count)} events, after ${f.warmup} unmeasured), then ${f.paced.rate} events/s for ${f.paced.seconds} s (${fmt(pacedCount)} events). ` +
      `Delay: publish() resolving in the publisher → the last subscriber's receipt of that event. Each event costs a write and ` +
      `a read per subscriber; when ${f.rate} events/s need more CPU than the machine has (the CPU row), that phase's delays ` +
      `measure the queue, so the latency figure is the ${f.paced.rate} events/s phase's. The other rows are of the ` +
      `${f.rate} events/s phase; lost and repeated, of both. One run; load average before it ${fmt(f.load, 1)}.`,
    '',
    '| figure | value | target |',
    '| --- | ---: | --- |',
    `| publish → last subscriber at ${f.paced.rate} events/s, p50 / p99 (max) | ${ms(f.pacedDelay.p50)} / ${ms(f.pacedDelay.p99)} (${ms(f.pacedDelay.max)}) | |`,
    `| publish → last subscriber at ${f.rate} events/s (the CPU row says how busy), p50 / p99 (max) | ${ms(f.p50)} / ${ms(f.p99)} (${ms(f.max)}) | |`,
    `| deliveries lost / repeated, of ${fmt((count + pacedCount) * total)} | ${fmt(f.lost)} / ${fmt(f.repeated)} | 0 / 0: ${mark(f.lost + f.repeated === 0)} |`,
    `| Redis connections, the bench's own left out | ${connections}: ${perServer.join(', ')} in the server processes, ` +
      `${f.connections['bench-publisher'] ?? 0} in the publisher | ≤ ${CONNECTIONS_PER_PROCESS} per process, whatever its subscribers: ${mark(constant)} |`,
    `| publish rate reached | ${fmt(f.publishRate)} events/s | |`,
    `| server CPU per delivery (all server processes) | ${fmt(f.serverCpuPerDeliveryUs, 1)} µs | |`,
    `| Redis CPU per event; µs per XREAD (commandstats) | ${fmt(f.redisCpuPerEventUs)} µs; ${fmt(f.xreadUsPerCall)} µs | |`,
    `| CPU from the first publish to the last receipt, in shares of one core: servers; subscribers' clients; Redis | ` +
      `${pct(f.serverCpuShare)}; ${pct(f.clientCpuShare)}; ${pct(f.redisCpuShare)} (of ${os.cpus().length} cores) | |`,
  ].join('\n');
}

/** The many-topics table, from measureManyTopics()'s figures. */
export function renderManyTopics(f) {
  const count = f.rate * f.seconds;
  const rows = [
    `many topics: ${fmt(f.topics)} topics (\`user:<i>\`, created per request) with one SSE subscriber each, on one server ` +
      `process; it publishes ${f.rate} events/s for ${f.seconds} s (${fmt(count)} events, after ${f.warmupEvents} unmeasured), each to a user picked at random. ` +
      `Heap and RSS per subscriber after GC, after an unmeasured cycle of ${fmt(f.warmup)}. Delay: publish() called → the ` +
      `subscriber's receipt. Redis: each publish rings the store's doorbell, and the reader reads only the keys it names (one blocking XREAD of the doorbell, one XREAD of the keys rung). One run; load average before it ${fmt(f.load, 1)}.`,
    '',
    '| store | subscribers live in | heap / subscriber | RSS / subscriber | publish → receipt p50 / p99 | lost / repeated | ' +
      'server CPU per event | Redis connections | Redis CPU per event; share of one core | XREAD calls/s; Redis input bytes per XREAD; Redis µs per XREAD |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| *target* | | | | | 0 / 0 | | ≤ ${CONNECTIONS_PER_PROCESS}, whatever the topics | | |`,
  ];
  for (const [label, s] of [
    ['in memory', f.memory],
    ['Redis', f.redis],
  ]) {
    if (s.skipped) {
      rows.push(`| ${label} | skipped: ${s.skipped} | | | | | | | | |`);
      continue;
    }
    const cells = [
      ms(s.openMs),
      kb(s.heapPerSubscriber),
      kb(s.rssPerSubscriber),
      `${ms(s.p50)} / ${ms(s.p99)}`,
      `${fmt(s.lost)} / ${fmt(s.repeated)} ${mark(s.lost + s.repeated === 0)}`,
      `${fmt(s.serverCpuPerEventUs)} µs`,
      s.connections === undefined ? '—' : `${s.connections} ${mark(s.connections <= CONNECTIONS_PER_PROCESS)}`,
      s.redisCpuPerEventUs === undefined ? '—' : `${fmt(s.redisCpuPerEventUs)} µs; ${fmt(s.redisCpuShare * 100, 1)} %`,
      s.xreadPerSecond === undefined
        ? '—'
        : `${fmt(s.xreadPerSecond)}; ${kb(s.inputBytesPerXread)}; ${fmt(s.xreadUsPerCall)} µs`,
    ];
    rows.push(`| ${label} | ${cells.join(' | ')} |`);
  }
  const { redis } = f;
  if (redis.xreadPerSecond !== undefined) {
    rows.push(
      '',
      `Per XREAD (the doorbell's and the rung keys'), ${kb(redis.inputBytesPerXread)} sent to Redis and ` +
        `${fmt(redis.xreadUsPerCall)} µs of Redis time, whatever the number of topics; the server process spent ` +
        `${fmt(redis.serverCpuPerEventUs - f.memory.serverCpuPerEventUs)} µs more per event than in memory.`,
    );
  }
  return rows.join('\n');
}
