// The report: medians over rounds, ratios to the hand-written baselines and to the
// floors, and the targets of issues 4 and 8 for this package, as two Markdown tables.
import os from 'node:os';
import { IDLE_SSE_REFERENCE, idleSseBaselines } from './idleSse.mjs';

export const BASELINE = 'hand-written';
export const SSE_BASELINE = 'hand-written SSE';
// The best a correct coalescing pump does on this machine (floorContenders.mjs).
const FLOOR = 'floor';
const SSE_FLOOR = 'floor SSE';
// Issue 8: this package's small and sse rows reach 90 % of the floor (on Node 26).
const OF_FLOOR = 0.9;
const PACKAGE = 'express asyncStream';
const PACKAGE_SSE = 'express sse()';

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

export const fmt = (x, digits = 0) =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
// No ratio to a baseline at or below `noise`: held memory comes out near zero (or below
// its baseline), where a ratio is noise.
const ratio = (x, base, noise = 0) => (base > noise ? `${(x / base).toFixed(2)}×` : '—');
const kb = (bytes, digits = 1) => `${fmt(bytes / 1000, digits)} KB`;
// Below this, heap held per stream is within the noise of a forced GC.
const HELD_NOISE = 500;
const binary = (bytes) => (Math.abs(bytes) < 2 ** 20 ? `${fmt(bytes / 1024)} KiB` : `${fmt(bytes / 2 ** 20, 2)} MiB`);
export const mark = (ok) => (ok ? '✓' : '✗ miss');

export function machineLine({ mode }) {
  return `${new Date().toISOString()} · Node ${process.version} · ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'}) · mode: ${mode}`;
}

const latencyMedians = (figures) => ['p50', 'p99'].map((p) => median(figures.map((f) => f[p])));

/**
 * throughput[workload][contender] = per-round figures: big MB/s, small chunks/s,
 * sse events/s, latency { p50, p99 } ms. Rows of sse compare with SSE_BASELINE and
 * SSE_FLOOR, the others with BASELINE and FLOOR. `warmups` and `measured` are run.mjs's
 * plan, for the header.
 */
export function renderThroughput(throughput, { rounds, warmups, measured }) {
  const rows = [
    `Throughput and latency: ${rounds} round${rounds === 1 ? '' : 's'}, medians over rounds. Each round's server first serves ` +
      `${warmups.octet} unmeasured full-size request${warmups.octet === 1 ? '' : 's'} of big and of small (sse: ${warmups.sse}), ` +
      (measured === 1
        ? 'then 1 measured one; '
        : `then ${measured} measured ones, whose median is the round's figure; `) +
      'latency: one request of 50 chunks, after those. MB = 10⁶ bytes. ' +
      'sse rows: ratios to the hand-written SSE loop and to the SSE floor; each library with its default options (sse(): keep-alive 15 s). ' +
      `Floor: node:http, chunks of one tick coalesced into one write (16 KiB cap), 'drain' awaited, nothing else.`,
    '',
    '| workload | contender | figure | ratio to hand-written | ratio to floor | target |',
    '| --- | --- | ---: | ---: | ---: | --- |',
  ];
  for (const [workload, byContender] of Object.entries(throughput)) {
    const base = byContender[workload === 'sse' ? SSE_BASELINE : BASELINE];
    const floor = byContender[workload === 'sse' ? SSE_FLOOR : FLOOR];
    for (const [contender, figures] of Object.entries(byContender)) {
      if (workload === 'latency') {
        const [p50, p99] = latencyMedians(figures);
        const [b50, b99] = latencyMedians(base);
        const [f50, f99] = latencyMedians(floor);
        rows.push(
          `| latency | ${contender} | p50 ${fmt(p50, 2)} ms / p99 ${fmt(p99, 2)} ms | ${ratio(p50, b50)} / ${ratio(p99, b99)} | ` +
            `${ratio(p50, f50)} / ${ratio(p99, f99)} | |`,
        );
        continue;
      }
      const unit = { big: 'MB/s', small: 'chunks/s', sse: 'events/s' }[workload];
      const m = median(figures);
      const toBase = m / median(base);
      const toFloor = m / median(floor);
      const targets = [];
      if ((workload === 'small' && contender === PACKAGE) || (workload === 'sse' && contender === PACKAGE_SSE)) {
        targets.push(`≥ ${OF_FLOOR}× floor: ${mark(toFloor >= OF_FLOOR)}`);
      }
      if (workload === 'sse' && contender === PACKAGE_SSE) targets.push(`≥ 3× hand-written SSE: ${mark(toBase >= 3)}`);
      rows.push(
        `| ${workload} | ${contender} | ${fmt(m)} ${unit} | ${ratio(m, median(base))} | ${ratio(m, median(floor))} | ${targets.join('; ')} |`,
      );
    }
  }
  return rows.join('\n');
}

/** The resource figures of one contender: medians over rounds of each field. */
function medians(rounds) {
  const out = {};
  for (const workload of ['idle', 'disconnect', 'slow']) {
    out[workload] = {};
    for (const key of Object.keys(rounds[workload][0])) {
      out[workload][key] = median(rounds[workload].map((r) => Number(r[key])));
    }
  }
  return out;
}

/**
 * resources[contender] = { idle: [...], disconnect: [...], slow: [...] }, per-round
 * figures from resourceRuns.mjs. Cells: figure (ratio to hand-written); the targets
 * row and the marks apply to express asyncStream.
 */
export function renderResources(resources, { rounds, throughputRounds, idleStreams, slowWindowMs }) {
  const m = Object.fromEntries(Object.entries(resources).map(([c, r]) => [c, medians(r)]));
  const base = m[BASELINE];
  const rows = [
    `Resources: ${rounds} round${rounds === 1 ? '' : 's'}${rounds < throughputRounds ? ' (fewer than throughput, for time)' : ''}, medians over rounds; idle: ${fmt(idleStreams)} streams; ` +
      `disconnect: ${base.disconnect.streams} streams; slow reader: ${fmt(slowWindowMs / 1000, 1)} s at 1 MB/s. ` +
      'KB = 1,000 bytes. Figure (ratio to hand-written).',
    '',
    '| contender | idle: heap / stream | idle: RSS / stream | idle: heap held after leave / stream | idle: finally ran after leave | ' +
      'disconnect: finally ≤ 1 s | disconnect: chunks after drop, max / mean | slow reader: Buffers held | slow reader: chunks ahead; of which in kernel socket buffers |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| *target for ${PACKAGE}* | ≤ 10 KB | | ≤ 1 KB | | ${base.disconnect.streams}/${base.disconnect.streams} | max ≤ 1 | ≤ 1 MiB | ≤ hand-written + 4 |`,
  ];
  for (const [contender, { idle, disconnect, slow }] of Object.entries(m)) {
    const is = contender === PACKAGE ? (ok) => ` ${mark(ok)}` : () => '';
    const cells = [
      `${kb(idle.heap)} (${ratio(idle.heap, base.idle.heap)})${is(idle.heap <= 10_000)}`,
      `${kb(idle.rss)} (${ratio(idle.rss, base.idle.rss)})`,
      `${kb(idle.held, 2)} (${ratio(idle.held, base.idle.held, HELD_NOISE)})${is(idle.held <= 1000)}`,
      `${fmt(idle.finished)}/${fmt(idle.streams)} (${ratio(idle.finished, base.idle.finished)})`,
      `${disconnect.finished}/${disconnect.streams} (${ratio(disconnect.finished, base.disconnect.finished)})${is(disconnect.finished === disconnect.streams)}`,
      `${fmt(disconnect.afterMax)} / ${fmt(disconnect.afterMean, 2)} (${ratio(disconnect.afterMax, base.disconnect.afterMax)} / ` +
        `${ratio(disconnect.afterMean, base.disconnect.afterMean)})${is(disconnect.afterMax <= 1)}`,
      `${binary(slow.held)} (${ratio(slow.held, base.slow.held)})${is(slow.held <= 2 ** 20)}`,
      `${fmt(slow.ahead)}${slow.capped ? ' (cap hit)' : ''} (${ratio(slow.ahead, base.slow.ahead)})${is(slow.ahead <= base.slow.ahead + 4)}` +
        (Number.isNaN(slow.inKernel) ? '' : `; ${fmt(slow.inKernel)} in the kernel`),
    ];
    rows.push(`| ${contender} | ${cells.join(' | ')} |`);
  }
  return rows.join('\n');
}

/**
 * The idle SSE table (idleSse.mjs): per contender, memory per subscriber after GC and
 * the server's CPU per minute over the window, less its baseline's (the same server and
 * streams with keep-alive off), per minute and per comment counted.
 */
export function renderIdleSse({ plan, results }) {
  const reference = results[IDLE_SSE_REFERENCE];
  const baseOf = (name) => results[idleSseBaselines[name]];
  const net = (name) => results[name].cpuMsPerMin - baseOf(name).cpuMsPerMin;
  const { wallMs } = reference;
  const rows = [
    `Idle SSE: ${fmt(plan.subscribers)} subscribers on one server, a keep-alive comment due every ${fmt(plan.keepAliveMs / 1000)} s ` +
      `(sse()'s default), the connects spread over ${fmt(plan.rampMs / 1000)} s; one run each. CPU: the server's user + system time ` +
      `over a ${fmt(wallMs / 1000)} s window (${fmt(wallMs / plan.keepAliveMs, 1)} periods), per minute; keep-alive CPU is that ` +
      'less the same server’s with keep-alive off (its own row). Comments: counted by the clients in the window, ' +
      'fewest–most per subscriber, and the shortest–longest time between two. KB = 1,000 bytes. Figure (ratio to hand-written).',
    '',
    '| contender | heap / subscriber | RSS / subscriber | server CPU / min | keep-alive CPU / min | per comment | comments (per subscriber) | between comments |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [contender, r] of Object.entries(results)) {
    const off = baseOf(contender) === undefined;
    const cells = off
      ? ['—', '—', `${fmt(r.comments)} (${r.fewest}–${r.most})`, '—']
      : [
          `${fmt(net(contender), 1)} ms (${ratio(net(contender), net(IDLE_SSE_REFERENCE))})`,
          `${fmt((net(contender) * (r.wallMs / 60_000) * 1000) / r.comments, 1)} µs`,
          `${fmt(r.comments)} (${r.fewest}–${r.most})`,
          `${fmt(r.minGap / 1000, 2)}–${fmt(r.maxGap / 1000, 2)} s`,
        ];
    rows.push(
      `| ${contender} | ${kb(r.heap, 2)} (${ratio(r.heap, reference.heap)}) | ${kb(r.rss, 2)} (${ratio(r.rss, reference.rss)}) | ` +
        `${fmt(r.cpuMsPerMin, 1)} ms | ${cells.join(' | ')} |`,
    );
  }
  return rows.join('\n');
}
