// The throughput workloads: one generator per workload, shared by every contender,
// and the client that reads a response, discards it and counts bytes. A generator
// is called with the contender's abort signal, if it has one; these never wait long,
// so they ignore it (resourceWorkloads.mjs has one that uses it).
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const BIG_CHUNK = Buffer.alloc(64 * 1024, 0x61); // one shared 64 KiB Buffer
const SMALL_CHUNK = 'abcdefghijklmnop'; // 16 bytes
export const LATENCY_CHUNKS = 50;
export const LATENCY_GAP_MS = 20;

// When the latency generator yielded chunk i (performance.now()), read by the
// in-process client. One latency request at a time per process.
export const yieldTimes = [];

export const workloads = {
  // Not measured: each child's first request, so that no measured one runs cold
  // (lazy module loading, JIT, the HTTP parser pool).
  warmup: {
    chunks: 1000,
    bytes: 1000 * SMALL_CHUNK.length,
    async *gen() {
      for (let i = 0; i < 1000; i++) yield SMALL_CHUNK;
    },
  },
  big: {
    chunks: 8192,
    bytes: 8192 * BIG_CHUNK.length, // 512 MiB
    async *gen() {
      for (let i = 0; i < 8192; i++) yield BIG_CHUNK;
    },
  },
  small: {
    chunks: 200_000,
    bytes: 200_000 * SMALL_CHUNK.length,
    async *gen() {
      for (let i = 0; i < 200_000; i++) yield SMALL_CHUNK;
    },
  },
  latency: {
    chunks: LATENCY_CHUNKS,
    bytes: LATENCY_CHUNKS * 8,
    // Each chunk is 8 bytes ("0000042\n"), so the client can tell them apart.
    async *gen() {
      for (let i = 0; i < LATENCY_CHUNKS; i++) {
        await sleep(LATENCY_GAP_MS);
        const line = `${String(i).padStart(7, '0')}\n`;
        yieldTimes[i] = performance.now();
        yield line;
      }
    },
  },
};

const agent = new http.Agent({ keepAlive: false });

/** GET url, discard the body; resolve { bytes, ms, status }. onData(chunk) is optional. */
export function fetchCount(url, onData) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const req = http.get(url, { agent }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => {
        bytes += chunk.length;
        if (onData) onData(chunk);
      });
      res.on('end', () => resolve({ bytes, ms: performance.now() - t0, status: res.statusCode }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** Throughput: one request; checks the byte total. Returns { ms, bytes }. */
export async function runThroughput(baseUrl, name) {
  const w = workloads[name];
  const { bytes, ms, status } = await fetchCount(`${baseUrl}/${name}`);
  if (status !== 200 || bytes !== w.bytes) {
    throw new Error(`${name}: got status ${status} and ${bytes} bytes, expected 200 and ${w.bytes}`);
  }
  return { ms, bytes };
}

/** Latency: must run in the server's process. Returns the delays (ms) from yield to 'data'. */
export async function runLatency(baseUrl) {
  const w = workloads.latency;
  yieldTimes.length = 0;
  const delays = [];
  let seen = 0; // bytes seen so far; chunk i is complete once seen >= 8 * (i + 1)
  const { bytes, status } = await fetchCount(`${baseUrl}/latency`, (chunk) => {
    const now = performance.now();
    seen += chunk.length;
    while (delays.length < Math.floor(seen / 8)) delays.push(now - yieldTimes[delays.length]);
  });
  if (status !== 200 || bytes !== w.bytes) {
    throw new Error(`latency: got status ${status} and ${bytes} bytes, expected 200 and ${w.bytes}`);
  }
  return delays;
}
