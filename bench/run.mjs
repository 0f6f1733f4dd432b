// The runner: `node bench/run.mjs [--quick] [--node <major>] [--only <workloads>]`. It runs on the chosen
// Node line (default 26), its binary from the npm registry (nodeLine.mjs): started on
// any other Node, it runs itself again on that one. Each contender's server runs in its
// own child process (child.mjs), forked afresh for every contender × round, and
// for every resource workload too, so that no figure inherits another's heap.
// Contenders are interleaved (A B C … per round, order rotated each round). Every
// child gets one small warm-up request; a throughput child then serves full-size
// warm-up requests before the measured ones (plan.warmups). Prints the tables and
// writes them to this Node line's section of bench/RESULTS.md (--quick:
// bench/scratch/RESULTS.quick.md). --only big,idle-sse runs the named workloads (and those
// measured with them: big, small and latency share a server, as idle, disconnect and slow do).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { realpathSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startChild } from './childProcess.mjs';
import { contenders } from './contenders.mjs';
import { installDependencies } from './dependencies.mjs';
import { renderFanout } from './fanoutReport.mjs';
import { runFanout } from './fanoutRuns.mjs';
import { FANOUT } from './fanoutWorkload.mjs';
import { floorContenders, sseFloorContenders } from './floorContenders.mjs';
import { runIdleSse } from './idleSse.mjs';
import { measureManyTopics } from './manyTopics.mjs';
import { nodeBinary } from './nodeLine.mjs';
import { measureFanoutRedis } from './redisFanout.mjs';
import { machineLine, median, percentile, renderIdleSse, renderResources, renderThroughput } from './report.mjs';
import { measureDisconnect, measureIdle, measureSlow } from './resourceRuns.mjs';
import { IDLE } from './resourceWorkloads.mjs';
import { writeResults } from './resultsFile.mjs';
import { sseContenders } from './sseContenders.mjs';
import { runSse, sseWorkloads } from './sseWorkload.mjs';
import { renderFanoutRedis, renderManyTopics } from './topicReport.mjs';
import { runThroughput, workloads } from './workloads.mjs';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    node: { type: 'string', default: '26' },
    only: { type: 'string' },
  },
});
// The workloads measured together in one child run together.
const GROUPS = {
  octet: ['big', 'small', 'latency'],
  sse: ['sse'],
  resources: ['idle', 'disconnect', 'slow'],
  idleSse: ['idle-sse'],
  fanout: ['fanout'],
  fanoutRedis: ['fanout-redis'],
  manyTopics: ['many-topics'],
};
const only = args.only?.split(',').map((name) => name.trim());
const unknown = only?.filter((name) => !Object.values(GROUPS).flat().includes(name)) ?? [];
if (unknown.length > 0) {
  throw new RangeError(
    `--only: unknown workload ${unknown.join(', ')}; the workloads are ${Object.values(GROUPS).flat().join(', ')}.`,
  );
}
const runs = (group) => only === undefined || GROUPS[group].some((name) => only.includes(name));
installDependencies();
const node = await nodeBinary(args.node);
if (realpathSync(process.execPath) !== realpathSync(node)) {
  const runner = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  const [code] = await once(runner, 'exit');
  process.exit(code ?? 1);
}
// From here on this process, the children it forks and the clients run on `node`.

const quick = args.quick;
// --quick checks that the harness works, in under a minute: fewer rounds, fewer warm-ups
// and measured requests, fewer idle streams, a shorter slow-reader window. Its figures are
// not comparable with a full run's.
// Throughput is measured warm, as a server that has streamed many responses runs: each
// child first serves `warmups` unmeasured full-size requests of each workload, then
// `measured` ones, and a round's figure is their median. The counts are the fewest after
// which both the floor and this package settled on Node 26 and Node 20 (bench/README.md):
// the SSE floor settles later, after its first major GC, around its 4th–5th request.
const plan = quick
  ? {
      mode: 'quick',
      rounds: 1,
      warmups: { octet: 1, sse: 1 },
      measured: 1,
      resourceRounds: 1,
      idleStreams: 500,
      slowWindowMs: 1000,
      fanout: { subscribers: FANOUT.quickSubscribers, rounds: 1 },
    }
  : {
      mode: 'full',
      rounds: 5,
      warmups: { octet: 3, sse: 5 },
      measured: 3,
      resourceRounds: 5,
      idleStreams: IDLE.streams,
      slowWindowMs: 3000,
      fanout: { subscribers: FANOUT.subscribers, rounds: 3 },
    };
// The floors run the throughput workloads only (floorContenders.mjs); their rows follow
// the hand-written baseline's, which comes first in each set.
const octet = Object.keys(contenders);
const sse = Object.keys(sseContenders);
const octetThroughput = [octet[0], ...Object.keys(floorContenders), ...octet.slice(1)];
const sseThroughput = [sse[0], ...Object.keys(sseFloorContenders), ...sse.slice(1)];
const t0 = performance.now();

const rotated = (names, round) => names.map((_, i) => names[(i + round) % names.length]);
const table = (rows, cols) => Object.fromEntries(rows.map((r) => [r, Object.fromEntries(cols.map((c) => [c, []]))]));
const log = (line) => console.error(`[${((performance.now() - t0) / 1000).toFixed(0)} s] ${line}`);

/** Forks the child, warms it up, runs `measure(child)`, always stops it. */
async function withChild(set, name, options, measure) {
  const child = await startChild(set, name, options);
  try {
    if (set === 'sse') await runSse(child.url, 'sse-warmup');
    else await runThroughput(child.url, 'warmup');
    return await measure(child);
  } finally {
    await child.stop();
  }
}

/**
 * Runs `routes` (each () => Promise<{ ms }>) in turn, `warmups` times unmeasured, then
 * plan.measured times; resolves each route's median ms over the measured turns.
 */
async function warmMedians(routes, warmups) {
  const ms = routes.map(() => []);
  for (let turn = 0; turn < warmups + plan.measured; turn++) {
    for (const [i, run] of routes.entries()) {
      const result = await run();
      if (turn >= warmups) ms[i].push(result.ms);
    }
  }
  return ms.map(median);
}

const throughput = {
  ...(runs('octet') ? table(GROUPS.octet, octetThroughput) : {}),
  ...(runs('sse') ? table(['sse'], sseThroughput) : {}),
};
for (let round = 0; round < plan.rounds; round++) {
  for (const name of runs('octet') ? rotated(octetThroughput, round) : []) {
    await withChild('octet', name, {}, async (child) => {
      const [bigMs, smallMs] = await warmMedians(
        [() => runThroughput(child.url, 'big'), () => runThroughput(child.url, 'small')],
        plan.warmups.octet,
      );
      throughput.big[name].push(workloads.big.bytes / 1e6 / (bigMs / 1000));
      throughput.small[name].push(workloads.small.chunks / (smallMs / 1000));
      const { delays } = await child.ask({ cmd: 'latency' });
      throughput.latency[name].push({ p50: percentile(delays, 50), p99: percentile(delays, 99) });
      log(`round ${round + 1}/${plan.rounds} ${name}: big ${bigMs.toFixed(0)} ms, small ${smallMs.toFixed(0)} ms`);
    });
  }
  for (const name of runs('sse') ? rotated(sseThroughput, round) : []) {
    await withChild('sse', name, {}, async (child) => {
      const [ms] = await warmMedians([() => runSse(child.url, 'sse')], plan.warmups.sse);
      throughput.sse[name].push(sseWorkloads.sse.events / (ms / 1000));
      log(`round ${round + 1}/${plan.rounds} ${name}: sse ${ms.toFixed(0)} ms`);
    });
  }
}

const resources = Object.fromEntries(octet.map((name) => [name, { idle: [], disconnect: [], slow: [] }]));
const measures = {
  idle: (child) => measureIdle(child, plan.idleStreams),
  disconnect: (child) => measureDisconnect(child),
  slow: (child) => measureSlow(child, plan.slowWindowMs),
};
for (let round = 0; runs('resources') && round < plan.resourceRounds; round++) {
  for (const name of rotated(octet, round)) {
    for (const [workload, measure] of Object.entries(measures)) {
      const figures = await withChild('octet', name, { gc: true }, measure);
      resources[name][workload].push(figures);
    }
    const { idle, disconnect, slow } = resources[name];
    log(
      `resources round ${round + 1}/${plan.resourceRounds} ${name}: idle ${(idle.at(-1).heap / 1000).toFixed(1)} KB/stream, ` +
        `disconnect finally ${disconnect.at(-1).finished}/${disconnect.at(-1).streams}, slow ahead ${slow.at(-1).ahead}`,
    );
  }
}

const idleSse = runs('idleSse') ? await runIdleSse(quick, log) : undefined;
const fanout = runs('fanout') ? await runFanout(plan.fanout, log) : undefined;
const fanoutRedis = runs('fanoutRedis') ? await measureFanoutRedis(plan.mode, log) : undefined;
const manyTopics = runs('manyTopics') ? await measureManyTopics(plan.mode, log) : undefined;

const wallS = (performance.now() - t0) / 1000;
const tables = [
  Object.keys(throughput).length > 0 && renderThroughput(throughput, plan),
  runs('resources') &&
    renderResources(resources, { ...plan, rounds: plan.resourceRounds, throughputRounds: plan.rounds }),
  idleSse !== undefined && renderIdleSse(idleSse),
  fanout !== undefined && renderFanout(fanout, plan.fanout),
  fanoutRedis !== undefined && renderFanoutRedis(fanoutRedis),
  manyTopics !== undefined && renderManyTopics(manyTopics),
].filter(Boolean);
const output = `${machineLine(plan)}${only ? ` · only ${only.join(', ')}` : ''} · wall time ${wallS.toFixed(0)} s\n\n${tables.join('\n\n')}\n`;
console.log(output);
// A quick or partial (--only) run never replaces the published figures.
const scratch = quick || only !== undefined;
const file = scratch
  ? new URL(`./scratch/RESULTS.${quick ? 'quick' : 'only'}.md`, import.meta.url)
  : new URL('./RESULTS.md', import.meta.url);
// bench/scratch is gitignored, and may not exist in a fresh clone.
if (scratch) await mkdir(new URL('./scratch/', import.meta.url), { recursive: true });
const line = process.versions.node.split('.')[0];
await writeResults(file, line, output);
console.error(`written to ${file.pathname}, section Node ${line}`);
