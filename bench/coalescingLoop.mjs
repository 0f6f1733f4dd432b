// The floor contenders' loop: the least a correct coalescing pump does with
// node:http alone, and so the most it can reach on this machine.
import { drainedOrClosed } from './writeLoop.mjs';

/** A batch this large is written at once instead of at the end of the tick (the package's cap). */
const MAX_BATCH = 16 * 1024;

/**
 * Writes encode(item) for each item of gen, coalescing the chunks produced in one tick
 * into a single res.write: at the end of the tick (process.nextTick), or as soon as the
 * batch holds MAX_BATCH characters or bytes. After a write that res.write refuses,
 * nothing more is pulled until 'drain'. Then ends the response.
 *
 * Nothing else: no abort signal, no chunk checks, no idle timer, no request context.
 * A client that leaves ends the loop (and returns the generator) at its next wait for
 * 'drain', or else at the end of the body.
 */
export async function coalescingLoop(res, gen, encode) {
  let parts = [];
  let size = 0;
  let textOnly = true;
  let refused = false;
  let flushScheduled = false;

  const write = () => {
    const chunk =
      parts.length === 1
        ? parts[0]
        : textOnly
          ? parts.join('')
          : Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
    parts = [];
    size = 0;
    textOnly = true;
    refused = !res.write(chunk);
  };
  const flushAtTickEnd = () => {
    flushScheduled = false;
    // After a refused write, the batch waits for 'drain' (the loop writes it then).
    if (!refused && parts.length > 0) write();
  };

  for await (const item of gen) {
    const chunk = encode(item);
    parts.push(chunk);
    size += chunk.length;
    if (typeof chunk !== 'string') textOnly = false;
    if (size >= MAX_BATCH) write();
    else if (!flushScheduled) {
      flushScheduled = true;
      process.nextTick(flushAtTickEnd);
    }
    while (refused) {
      await drainedOrClosed(res);
      if (res.destroyed) return;
      refused = false;
      if (parts.length > 0) write();
    }
  }
  if (parts.length > 0) write();
  res.end();
}
