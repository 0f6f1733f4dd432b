// The fanout workload, run by the runner: for each contender × round, a server child
// (fanoutServer.mjs, --expose-gc) and a clients child (fanoutClients.mjs), both fresh.
// A warm-up cycle, unmeasured; then N subscribers, the paced events, memory, the burst.
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { openFileLimits, startProcess } from './childProcess.mjs';
import { fanoutContenders } from './fanoutContenders.mjs';
import { FANOUT } from './fanoutWorkload.mjs';
import { median, percentile } from './report.mjs';

const SERVER = fileURLToPath(new URL('./fanoutServer.mjs', import.meta.url));
const CLIENTS = fileURLToPath(new URL('./fanoutClients.mjs', import.meta.url));
// Descriptors each process needs besides its N sockets: stdio, IPC, the listener, Node's own.
const SPARE_FILES = 100;
// The warm-up's events are numbered from 0, the measured ones from here.
const MEASURED_FROM = 1000;
const EXPECT_MS = 60_000;

/**
 * Runs the fanout workload: `subscribers` (N) per server, `rounds` rounds, contenders
 * interleaved and rotated. Resolves { results: { [contender]: per-round figures },
 * subscribers: the N used, requested, fileLimit } (N is lowered, and said so in the
 * table, when the hard limit on open files cannot hold N sockets per process).
 */
export async function runFanout({ subscribers: requested, rounds }, log) {
  const limits = openFileLimits();
  const subscribers = Math.min(requested, Math.floor((limits.hard - SPARE_FILES) / 100) * 100);
  const fileLimit = subscribers + SPARE_FILES;
  const names = Object.keys(fanoutContenders);
  const results = Object.fromEntries(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names.map((_, i) => names[(i + round) % names.length])) {
      const figures = await measureFanout(name, subscribers, fileLimit);
      results[name].push(figures);
      log(
        `fanout round ${round + 1}/${rounds} ${name}: p99 ${figures.p99.toFixed(0)} ms, ` +
          `CPU ${figures.cpu.toFixed(1)} µs/delivery, heap ${(figures.heap / 1000).toFixed(1)} KB/subscriber, ` +
          `burst ${(figures.burst / 1e6).toFixed(2)} M deliveries/s (clients' CPU ${figures.clientsCpu.toFixed(1)} µs/delivery)`,
      );
    }
  }
  return { results, subscribers, requested, limits };
}

/** One contender, one round: its figures. */
async function measureFanout(name, subscribers, fileLimit) {
  const server = await startProcess(SERVER, [name], { gc: true, fileLimit });
  let clients;
  try {
    clients = await startProcess(CLIENTS, [], { fileLimit });
    const url = `${server.url}/fanout`;
    // Warm-up: lazy module loading, the HTTP parser pool, optimised code for every path below.
    const warm = Math.min(subscribers, FANOUT.warmup.subscribers);
    await subscribe(server, clients, url, warm, 0);
    await paced(server, clients, warm, 0, FANOUT.warmup.gapMs);
    await burst(server, clients, warm, FANOUT.events);
    await leave(server, clients);

    const base = await server.ask({ cmd: 'memory' });
    await subscribe(server, clients, url, subscribers, MEASURED_FROM);
    const { latencies, cpu, clientsCpu } = await paced(server, clients, subscribers, MEASURED_FROM, FANOUT.gapMs);
    const { memory } = await server.ask({ cmd: 'memory' });
    const rates = [];
    for (let i = 0; i < FANOUT.bursts; i++) {
      rates.push(await burst(server, clients, subscribers, MEASURED_FROM + FANOUT.events + i * FANOUT.burst));
    }
    // Anything more (a repeated event) would have broken a subscriber's order by now.
    await clients.ask({ cmd: 'check' });
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      cpu,
      heap: (memory.heapUsed - base.memory.heapUsed) / subscribers,
      rss: (memory.rss - base.memory.rss) / subscribers,
      burst: median(rates),
      clientsCpu,
    };
  } finally {
    await server.stop();
    await clients?.stop();
  }
}

/** Opens `count` subscribers; resolves once the server has registered every one. */
async function subscribe(server, clients, url, count, firstSeq) {
  await clients.ask({ cmd: 'open', url, count, firstSeq });
  await until(server, (n) => n === count, `${count} subscribers registered`);
}

/** Every subscriber leaves; resolves once the server has seen every one go. */
async function leave(server, clients) {
  await clients.ask({ cmd: 'close' });
  await until(server, (n) => n === 0, 'every subscriber gone');
}

async function until(server, isDone, what) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { count } = await server.ask({ cmd: 'subscribers' });
    if (isDone(count)) return;
    if (Date.now() > deadline) throw new Error(`fanout: the server has ${count} subscribers, waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * FANOUT.events events, gapMs apart: per event, ms from publish to its last
 * subscriber's receipt; and the server's CPU time (user + system) per delivery, µs,
 * from just before the first publish until every subscriber had the last event.
 */
async function paced(server, clients, subscribers, from, gapMs) {
  const before = await clients.ask({ cmd: 'cpu' });
  const received = clients.ask({ cmd: 'expect', from, count: FANOUT.events, timeoutMs: EXPECT_MS });
  const published = await server.ask({ cmd: 'publish', from, count: FANOUT.events, gapMs });
  const { lastAt, cpu: clientsCpu } = await received;
  const { cpu } = await server.ask({ cmd: 'cpu' });
  const perDelivery = (end, start) =>
    (end.user + end.system - start.user - start.system) / (FANOUT.events * subscribers);
  return {
    latencies: lastAt.map((at, i) => at - published.publishedAt[i]),
    cpu: perDelivery(cpu, published.cpu),
    clientsCpu: perDelivery(clientsCpu, before.cpu),
  };
}

/** FANOUT.burst events in one tick: deliveries per second until every subscriber has them all. */
async function burst(server, clients, subscribers, from) {
  const received = clients.ask({ cmd: 'expect', from, count: FANOUT.burst, timeoutMs: EXPECT_MS });
  const { startedAt } = await server.ask({ cmd: 'burst', from, count: FANOUT.burst });
  const { lastAt } = await received;
  return (FANOUT.burst * subscribers) / ((lastAt.at(-1) - startedAt) / 1000);
}
