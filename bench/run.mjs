// The runner: `node bench/run.mjs [--quick]`. Interleaves the contenders
// (A B C … per round, order rotated each round); each contender's server runs in
// its own child process, the throughput client runs here, the latency client in
// the child. Prints the table and writes bench/RESULTS.md.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { contenders } from './contenders.mjs';
import { runThroughput, workloads } from './workloads.mjs';
import { percentile, renderTable } from './report.mjs';

const quick = process.argv.includes('--quick');
const rounds = quick ? 2 : 5;
const names = Object.keys(contenders);
const results = { big: {}, small: {}, latency: {} };
for (const w of Object.keys(results)) for (const c of names) results[w][c] = [];

const child = (name) => fork(fileURLToPath(new URL('./child.mjs', import.meta.url)), [name], { stdio: 'inherit' });
const nextMessage = async (proc) => {
  const [msg] = await Promise.race([
    once(proc, 'message'),
    once(proc, 'exit').then(([code]) => { throw new Error(`child exited with ${code}`); }),
  ]);
  if (msg.error) throw new Error(msg.error);
  return msg;
};

for (let round = 0; round < rounds; round++) {
  const order = names.map((_, i) => names[(i + round) % names.length]);
  for (const name of order) {
    const proc = child(name);
    try {
      const { url } = await nextMessage(proc);
      const big = await runThroughput(url, 'big');
      results.big[name].push(big.bytes / 1e6 / (big.ms / 1000));
      const small = await runThroughput(url, 'small');
      results.small[name].push(workloads.small.chunks / (small.ms / 1000));
      proc.send({ cmd: 'latency' });
      const { delays } = await nextMessage(proc);
      results.latency[name].push({ p50: percentile(delays, 50), p99: percentile(delays, 99) });
      console.error(`round ${round + 1}/${rounds} ${name}: big ${big.ms.toFixed(0)} ms, small ${small.ms.toFixed(0)} ms`);
    } finally {
      proc.send({ cmd: 'stop' });
      await once(proc, 'exit');
    }
  }
}

const table = renderTable(results, { mode: quick ? 'quick' : 'full', rounds });
console.log(table);
await writeFile(new URL('./RESULTS.md', import.meta.url), `# Benchmark results\n\n${table}`);
