// The idle SSE workload: N subscribers to an event stream with no news, each contender's
// server in its own child (idleSseServer.mjs, --expose-gc), the clients in the runner
// (idleSseClients.mjs). Figures: heap and RSS per subscriber after GC, and the server's
// CPU over a window of several keep-alive periods, less that of the same streams with
// keep-alive off, per minute; the comments the clients counted prove the timers ran.
import { execFileSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { countComments, dropSubscribers, openSubscribers, resetCounts } from './idleSseClients.mjs';
import { idleSseContenders, KEEP_ALIVE_MS } from './idleSseServer.mjs';

const SERVER = fileURLToPath(new URL('./idleSseServer.mjs', import.meta.url));
export const IDLE_SSE_REFERENCE = 'hand-written, setInterval per stream';
/** Each contender's CPU baseline: the same server and streams with keep-alive off. */
export const idleSseBaselines = {
  [IDLE_SSE_REFERENCE]: 'hand-written, keep-alive off',
  'express sse()': 'express sse(), keep-alive off',
};
const isBaseline = (name) => Object.values(idleSseBaselines).includes(name);

/** Subscribers and CPU window per profile; the ramp spreads the connects over one period. */
export const idleSsePlan = (quick) =>
  quick
    ? { subscribers: 1_000, windowMs: 2 * KEEP_ALIVE_MS, rampMs: KEEP_ALIVE_MS, keepAliveMs: KEEP_ALIVE_MS }
    : { subscribers: 10_000, windowMs: 4 * KEEP_ALIVE_MS, rampMs: KEEP_ALIVE_MS, keepAliveMs: KEEP_ALIVE_MS };

/** Fails early, and says why, when this process may not open a socket per subscriber. */
function checkFileLimit(subscribers) {
  const limit = Number(execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim());
  const needed = subscribers + 200;
  if (limit < needed) {
    throw new Error(
      `idle SSE: ${subscribers} subscribers need ${needed} open files per process, but ulimit -n is ${limit}. ` +
        `Raise it (ulimit -n ${needed}) or run --quick.`,
    );
  }
}

async function startServer(name) {
  const proc = fork(SERVER, [name], { stdio: 'inherit', execArgv: ['--expose-gc'] });
  const exited = once(proc, 'exit').then(([code]) => {
    throw new Error(`idle SSE: the ${name} server exited with ${code}`);
  });
  exited.catch(() => {});
  const next = async () => {
    const [msg] = await Promise.race([once(proc, 'message'), exited]);
    if (msg.error) throw new Error(msg.error);
    return msg;
  };
  const { url } = await next();
  return {
    url,
    ask: (cmd, args = {}) => {
      const answer = next();
      proc.send({ cmd, ...args });
      return answer;
    },
    stop: () => {
      if (proc.exitCode === null) proc.kill('SIGKILL');
    },
  };
}

/** One contender: ramp up, memory after GC, then the CPU window with the comments counted. */
async function measure(name, plan) {
  const server = await startServer(name);
  try {
    // Unmeasured: lazy module loading, the HTTP parser pool, one-time heap growth.
    const warm = await openSubscribers(server.url, Math.min(plan.subscribers, 500), 500);
    dropSubscribers(warm);
    const before = await server.ask('memory', { socketsOpen: 0 });
    const subscribers = await openSubscribers(server.url, plan.subscribers, plan.rampMs);
    const after = await server.ask('memory', { socketsOpen: plan.subscribers });
    resetCounts(subscribers);
    await server.ask('cpuStart');
    await sleep(plan.windowMs);
    const { cpuUs, wallMs } = await server.ask('cpuStop');
    const counted = countComments(subscribers);
    dropSubscribers(subscribers);
    return {
      heap: (after.heapUsed - before.heapUsed) / plan.subscribers,
      rss: (after.rss - before.rss) / plan.subscribers,
      cpuMsPerMin: cpuUs / 1000 / (wallMs / 60_000),
      wallMs,
      ...counted,
    };
  } finally {
    server.stop();
  }
}

/** The comments every subscriber must have had in the window: none early, none later than 9/8 of a period. */
function checkComments(name, figures, plan) {
  const expected = isBaseline(name)
    ? [0, 0]
    : [Math.floor(figures.wallMs / (plan.keepAliveMs * 1.125)), Math.floor(figures.wallMs / plan.keepAliveMs) + 1];
  if (figures.fewest < expected[0] || figures.most > expected[1]) {
    throw new Error(
      `idle SSE, ${name}: each subscriber should have ${expected.join('–')} keep-alive comments in ${figures.wallMs.toFixed(0)} ms, ` +
        `but one had ${figures.fewest} and one ${figures.most}.`,
    );
  }
}

/** Runs every contender once; resolves { plan, results: { [contender]: figures } }. */
export async function runIdleSse(quick, log) {
  const plan = idleSsePlan(quick);
  checkFileLimit(plan.subscribers);
  const results = {};
  for (const name of Object.keys(idleSseContenders)) {
    results[name] = await measure(name, plan);
    checkComments(name, results[name], plan);
    const r = results[name];
    log(
      `idle SSE ${name}: ${(r.heap / 1000).toFixed(2)} KB heap/subscriber, ${r.cpuMsPerMin.toFixed(1)} ms CPU/min, ` +
        `${r.comments} comments (gaps ${(r.minGap / 1000).toFixed(2)}–${(r.maxGap / 1000).toFixed(2)} s)`,
    );
  }
  return { plan, results };
}
