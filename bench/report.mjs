// The report: medians per workload × contender, ratios to the hand-written loop,
// one Markdown table.
import os from 'node:os';

export const BASELINE = 'hand-written';

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
export const percentile = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const ratio = (x, base) => (base ? `${(x / base).toFixed(2)}×` : '—');

/**
 * results[workload][contender] = per-round figures:
 *   big: MB/s, small: chunks/s, latency: { p50, p99 } (ms).
 */
export function renderTable(results, { mode, rounds }) {
  const header =
    `${new Date().toISOString()} · Node ${process.version} · ${os.cpus().length} CPUs ` +
    `(${os.cpus()[0]?.model ?? 'unknown'}) · mode: ${mode} · rounds: ${rounds} · medians over rounds`;
  const rows = ['| workload | contender | figure | ratio to hand-written |', '| --- | --- | ---: | ---: |'];
  for (const [workload, byContender] of Object.entries(results)) {
    const base = byContender[BASELINE];
    for (const [contender, figures] of Object.entries(byContender)) {
      if (workload === 'latency') {
        const p50 = median(figures.map((f) => f.p50));
        const p99 = median(figures.map((f) => f.p99));
        const b50 = base && median(base.map((f) => f.p50));
        const b99 = base && median(base.map((f) => f.p99));
        rows.push(`| latency | ${contender} | p50 ${fmt(p50, 2)} ms / p99 ${fmt(p99, 2)} ms | ${ratio(p50, b50)} / ${ratio(p99, b99)} |`);
      } else {
        const unit = workload === 'big' ? 'MB/s' : 'chunks/s';
        const m = median(figures);
        rows.push(`| ${workload} | ${contender} | ${fmt(m)} ${unit} | ${ratio(m, base && median(base))} |`);
      }
    }
  }
  return `${header}\n\n${rows.join('\n')}\n`;
}
