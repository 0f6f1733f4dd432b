// The resource workloads' generators, served by every contender in contenders.mjs
// next to the throughput ones, and what they record in the server's process
// (`stats`, read by child.mjs and sent to the runner over IPC). Their clients are in
// resourceClients.mjs.
import { setTimeout as sleep } from 'node:timers/promises';

export const IDLE = {
  streams: 2000,
  firstChunk: 'idle\n',
  // Far longer than a measurement: only an aborted signal ends the wait in time.
  waitMs: 10 * 60_000,
};
export const DISCONNECT = {
  streams: 200,
  readChunks: 3,
  // Long enough that a server sees the close before the next chunk is due, so the
  // count shows when return() takes effect, not how fast a loaded machine notices.
  gapMs: 50,
  // "00042 00007\n": stream id and chunk index, fixed width, so the client can tell
  // which server-side stream it read and how many chunks it got.
  chunkBytes: 12,
};
export const SLOW = {
  chunkBytes: 64 * 1024,
  readEveryMs: 64, // 64 KiB every 64 ms: 1 MB/s (1,024,000 B/s)
  // A cap, so that a contender ignoring backpressure fills memory visibly (256 MiB)
  // instead of running the child out of memory.
  maxChunks: 4096,
};

export const stats = {
  idle: { finished: 0 },
  disconnect: [], // per stream, by id: { produced, finishedAt } (Date.now(): the runner's clock too)
  slow: { produced: 0 },
};

export const resourceWorkloads = {
  idle: {
    // One chunk, then a wait with nothing to send (a feed with no news). `signal` is
    // whatever abort signal the contender hands in; without one the wait runs its course.
    async *gen(signal) {
      try {
        yield IDLE.firstChunk;
        await sleep(IDLE.waitMs, undefined, { signal });
      } finally {
        stats.idle.finished++;
      }
    },
  },
  disconnect: {
    // Endless, one chunk every gapMs; ignores any signal, so only return() stops it
    // (at its next yield: one more chunk at most).
    async *gen() {
      const stream = { produced: 0, finishedAt: null };
      const id = String(stats.disconnect.push(stream) - 1).padStart(5, '0');
      try {
        for (let i = 0; ; i++) {
          stream.produced++;
          yield `${id} ${String(i % 100_000).padStart(5, '0')}\n`;
          await sleep(DISCONNECT.gapMs);
        }
      } finally {
        stream.finishedAt = Date.now();
      }
    },
  },
  slow: {
    // As fast as the contender pulls: a fresh Buffer per chunk, so that what the server
    // still holds shows in process.memoryUsage().arrayBuffers.
    async *gen() {
      for (let i = 0; i < SLOW.maxChunks; i++) {
        stats.slow.produced++;
        yield Buffer.alloc(SLOW.chunkBytes, 0x62);
      }
    },
  },
};
