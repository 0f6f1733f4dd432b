// From what the subscribers' processes received (topicClients.mjs reports) to the topic
// workloads' figures: publish → receipt delays, and the events lost or repeated.
import { percentile } from './report.mjs';

/**
 * `reports`: one per subscribers' process ({ count, last, disordered, misrouted }, indexed by
 * event sequence number). `starts`: when each event from `first` on was published (the
 * publisher's `called` or `resolved`, by index). `expected(seq)`: how many subscribers should have event `seq`;
 * `seqs`: how many events there were in all, from 0 (warm-up ones included in the check).
 * Returns { p50, p99, max } delays (ms) from its start to the last receipt, over the events from
 * `first` on; deliveries `lost` and `repeated` (missing or in excess, per event), and
 * `disordered` (an event at or before one its subscriber had: a repeat, or out of order) and
 * `misrouted` (another topic's).
 */
export function deliveryFigures(reports, starts, first, expected, seqs) {
  const count = new Array(seqs).fill(0);
  const last = new Array(seqs).fill(-Infinity);
  let lost = 0;
  let repeated = 0;
  let disordered = 0;
  let misrouted = 0;
  for (const report of reports) {
    for (let seq = 0; seq < seqs; seq++) {
      count[seq] += report.count[seq] ?? 0;
      last[seq] = Math.max(last[seq], report.last[seq] ?? -Infinity);
    }
    disordered += report.disordered;
    misrouted += report.misrouted;
  }
  for (let seq = 0; seq < seqs; seq++) {
    const want = expected(seq);
    if (count[seq] < want) lost += want - count[seq];
    else repeated += count[seq] - want;
  }
  const delays = starts.map((at, i) => last[first + i] - at).filter(Number.isFinite);
  return {
    p50: percentile(delays, 50),
    p99: percentile(delays, 99),
    max: Math.max(...delays),
    lost,
    repeated,
    disordered,
    misrouted,
  };
}

/** Fails the run, as other workloads do on a wrong response, when a delivery was lost, repeated, out of order or misrouted. */
export function assertDelivered(workload, { lost, repeated, disordered, misrouted }) {
  if (lost === 0 && repeated === 0 && disordered === 0 && misrouted === 0) return;
  throw new Error(
    `${workload}: deliveries lost ${lost}, repeated ${repeated}, out of order or repeated within a subscriber's ` +
      `sequence ${disordered}, of another topic ${misrouted}; expected none.`,
  );
}
