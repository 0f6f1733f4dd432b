// One fanout contender's server in its own process (forked with --expose-gc):
// `fanoutServer.mjs <contender>`. Reports { url } over IPC, then publishes when the
// runner says so, and answers how many subscribers it has, its memory after GC and its
// CPU time. Times are performance.timeOrigin + performance.now(): milliseconds on a
// clock the clients' process shares (bench/README.md).
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fanoutContenders } from './fanoutContenders.mjs';
import { payload } from './fanoutWorkload.mjs';
import { collectedMemory } from './memory.mjs';
import { serveRole } from './roleProcess.mjs';

const server = await fanoutContenders[process.argv[2]]();
const now = () => performance.timeOrigin + performance.now();

const commands = {
  subscribers: () => ({ count: server.subscribers() }),
  memory: async () => ({ memory: await collectedMemory() }),
  cpu: () => ({ cpu: process.cpuUsage() }),
  // Events from, …, from + count - 1, gapMs apart on a fixed schedule (a late timer does
  // not push the next ones back); answers once the last is published, with when each was
  // and the CPU time just before the first.
  async publish({ from, count, gapMs }) {
    const cpu = process.cpuUsage();
    const start = now();
    const publishedAt = [];
    for (let i = 0; i < count; i++) {
      await sleep(Math.max(0, start + i * gapMs - now()));
      const data = payload(from + i);
      publishedAt.push(now());
      server.publish(data);
    }
    return { publishedAt, cpu };
  },
  // Every event in one tick.
  burst({ from, count }) {
    const events = Array.from({ length: count }, (_, i) => payload(from + i));
    const cpu = process.cpuUsage();
    const startedAt = now();
    for (const data of events) server.publish(data);
    return { startedAt, cpu };
  },
};

serveRole(commands, { url: server.url });
