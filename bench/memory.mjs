// Memory after garbage collection, as a child forked with --expose-gc measures it.
import { setTimeout as sleep } from 'node:timers/promises';

/** Memory after full collections; two, a turn apart, so weak callbacks and finalizers queued by the first have run. */
export async function collectedMemory() {
  for (let i = 0; i < 2; i++) {
    globalThis.gc();
    await sleep(10);
  }
  globalThis.gc();
  const { heapUsed, rss, arrayBuffers } = process.memoryUsage();
  return { heapUsed, rss, arrayBuffers };
}
