// The resource workloads, run by the runner against one contender's child (forked
// with --expose-gc); each returns that round's figures. Generators and what the
// server records: resourceWorkloads.mjs; clients: resourceClients.mjs.
import { setTimeout as sleep } from 'node:timers/promises';
import { dropAll, openIdle, runDisconnect, runSlowReader } from './resourceClients.mjs';
import { DISCONNECT, SLOW } from './resourceWorkloads.mjs';

// The "within 1 s" of the disconnect target.
const FINALLY_WINDOW_MS = 1000;

/**
 * idle: heap and RSS per open stream, heap still held per stream after the clients
 * left, and how many generators ran their finally by then. Bytes; all after GC.
 *
 * The measured cycle is the second: the first, unmeasured, puts one-time growth in
 * the baseline (Node pools up to 1,000 HTTP parsers once their sockets close; arrays
 * and RSS pages grow once), which would otherwise read as ~0.7 KB held per stream
 * for every contender. Streams a contender never ends stay from the first cycle;
 * figures are deltas, so they count once, in the baseline.
 */
export async function measureIdle(child, streams) {
  // Generators that end on abort do so within milliseconds; no need for the full second.
  await idleCycle(child, streams, 200);
  return idleCycle(child, streams, FINALLY_WINDOW_MS);
}

async function idleCycle(child, streams, finallyMs) {
  const base = await child.ask({ cmd: 'probe', gc: true });
  const open = await openIdle(child.url, streams);
  const opened = await child.ask({ cmd: 'probe', gc: true });
  dropAll(open);
  await child.ask({
    cmd: 'settle',
    closedSockets: base.closedSockets + streams,
    finished: base.stats.idle.finished + streams,
    finallyMs,
  });
  const left = await child.ask({ cmd: 'probe', gc: true });
  return {
    heap: (opened.memory.heapUsed - base.memory.heapUsed) / streams,
    rss: (opened.memory.rss - base.memory.rss) / streams,
    held: (left.memory.heapUsed - base.memory.heapUsed) / streams,
    finished: left.stats.idle.finished - base.stats.idle.finished,
    streams,
  };
}

/**
 * disconnect: how many generators ran their finally within 1 s of their client's
 * drop, and how many chunks each produced beyond those its client had read (counted
 * 1 s after the last drop: a generator that never stops keeps adding to it).
 */
export async function measureDisconnect(child) {
  const drops = await runDisconnect(child.url);
  const lastDrop = Math.max(...drops.map((d) => d.dropAt));
  // A little past the window, for the IPC round trip.
  await sleep(lastDrop + FINALLY_WINDOW_MS + 50 - Date.now());
  const { stats } = await child.ask({ cmd: 'probe' });
  const streams = stats.disconnect;
  const ids = new Set(drops.map((d) => d.id));
  if (streams.length !== DISCONNECT.streams || ids.size !== DISCONNECT.streams || drops.some((d) => !streams[d.id])) {
    throw new Error(
      `disconnect: ${streams.length} server streams and ${ids.size} distinct ids read, expected ${DISCONNECT.streams}`,
    );
  }
  const after = drops.map((d) => streams[d.id].produced - d.received);
  const finished = drops.filter((d) => {
    const { finishedAt } = streams[d.id];
    return finishedAt !== null && finishedAt - d.dropAt <= FINALLY_WINDOW_MS;
  }).length;
  return {
    finished,
    streams: DISCONNECT.streams,
    afterMax: Math.max(...after),
    afterMean: after.reduce((a, b) => a + b, 0) / after.length,
  };
}

/**
 * slow reader: Buffers the server holds after GC (arrayBuffers above the baseline)
 * and chunks produced ahead of what the client has read, at the end of the window,
 * with the client still connected.
 */
export async function measureSlow(child, windowMs) {
  const base = await child.ask({ cmd: 'probe', gc: true });
  const reader = await runSlowReader(child.url, windowMs);
  const end = await child.ask({ cmd: 'probe', gc: true });
  reader.drop();
  const produced = end.stats.slow.produced - base.stats.slow.produced;
  if (reader.bytes < SLOW.chunkBytes) throw new Error(`slow reader: read only ${reader.bytes} bytes`);
  return {
    held: end.memory.arrayBuffers - base.memory.arrayBuffers,
    ahead: produced - Math.floor(reader.bytes / SLOW.chunkBytes),
    // Of those, how many sit in the kernel's socket buffers (NaN without /proc/net/tcp).
    inKernel: reader.kernelBytes === null ? NaN : reader.kernelBytes / SLOW.chunkBytes,
    capped: produced >= SLOW.maxChunks,
    readBytes: reader.bytes,
  };
}
