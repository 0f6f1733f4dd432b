// The fanout table: medians over rounds, ratios to the hand-written loop, and the
// issue's targets for createTopic (issue 13).
import { FANOUT } from './fanoutWorkload.mjs';
import { median } from './report.mjs';

const LOOP = 'hand-written loop';
const TOPIC = 'createTopic';
const TARGET = { p99: 1.2, cpu: 1.3, heap: 10_000, burst: 2 };

const fmt = (x, digits = 0) =>
  x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mark = (ok) => (ok ? ' ✓' : ' ✗ miss');

/** runFanout()'s answer as a Markdown table, with the header line that says how it was measured. */
export function renderFanout({ results, subscribers, requested, limits }, { rounds }) {
  const m = Object.fromEntries(
    Object.entries(results).map(([name, perRound]) => [
      name,
      Object.fromEntries(Object.keys(perRound[0]).map((key) => [key, median(perRound.map((r) => r[key]))])),
    ]),
  );
  const base = m[LOOP];
  const limited =
    subscribers < requested
      ? ` (not ${fmt(requested)}: the hard limit on open files, ulimit -Hn, is ${fmt(limits.hard)})`
      : '';
  const rows = [
    `Fanout: ${fmt(subscribers)} SSE subscribers${limited} on one server process, clients in another; ` +
      `${rounds} round${rounds === 1 ? '' : 's'}, medians over rounds. ${FANOUT.events} events ${FANOUT.gapMs} ms apart: ` +
      'per event, publish → its last subscriber has it, p50 / p99 over the events; server CPU (user + system) ' +
      'from the first publish until every subscriber has the last event, per delivery; heap and RSS per subscriber ' +
      `after GC, once the events are delivered. Burst: ${FANOUT.burst} events published in one tick, deliveries ` +
      `per second until every subscriber has them all, median of ${FANOUT.bursts} bursts. KB = 1,000 bytes. ` +
      'Figure (ratio to the hand-written loop).',
    '',
    '| contender | p50 | p99 | server CPU / delivery | heap / subscriber | RSS / subscriber | burst: deliveries/s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| *target for ${TOPIC}* | | ≤ ${TARGET.p99}× | ≤ ${TARGET.cpu}× | ≤ ${fmt(TARGET.heap / 1000)} KB | | ≥ ${TARGET.burst}× |`,
  ];
  for (const [name, f] of Object.entries(m)) {
    const is = name === TOPIC ? mark : () => '';
    const ratio = (key) => f[key] / base[key];
    rows.push(
      `| ${name} | ${fmt(f.p50)} ms (${ratio('p50').toFixed(2)}×) | ` +
        `${fmt(f.p99)} ms (${ratio('p99').toFixed(2)}×)${is(ratio('p99') <= TARGET.p99)} | ` +
        `${fmt(f.cpu, 1)} µs (${ratio('cpu').toFixed(2)}×)${is(ratio('cpu') <= TARGET.cpu)} | ` +
        `${fmt(f.heap / 1000, 1)} KB (${ratio('heap').toFixed(2)}×)${is(f.heap <= TARGET.heap)} | ` +
        `${fmt(f.rss / 1000, 1)} KB (${ratio('rss').toFixed(2)}×) | ` +
        `${fmt(f.burst)} (${ratio('burst').toFixed(2)}×)${is(ratio('burst') >= TARGET.burst)} |`,
    );
  }
  return rows.join('\n');
}
