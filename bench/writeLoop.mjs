// The hand-written baseline's loop, shared by the octet and the SSE hand-written
// contenders: what a careful author writes with node:http alone.

/**
 * Writes encode(item) for each item of makeGen(signal) with one res.write each,
 * waiting for 'drain' when write returns false, then ends the response.
 *
 * Abort wiring: when the client leaves (res 'close' before 'finish'; the request's
 * 'close' fires as soon as its body is read), abort the signal handed to the
 * generator, which ends an await in flight, and return() the generator, which runs
 * its finally at its next yield. Without it a generator waiting in an await (the
 * idle workload) or an endless one (disconnect) would outlive its client.
 */
export async function writeLoop(res, makeGen, encode) {
  const controller = new AbortController();
  const gen = makeGen(controller.signal);
  const onClose = () => {
    if (res.writableFinished) return;
    controller.abort();
    gen.return().catch(() => {});
  };
  res.once('close', onClose);
  try {
    for await (const item of gen) {
      if (!res.write(encode(item))) await drainedOrClosed(res);
    }
    if (!res.destroyed) res.end();
  } catch (error) {
    // A generator that throws because its signal aborted: the client is gone, nothing to report.
    if (!controller.signal.aborted) res.destroy(error);
  } finally {
    res.off('close', onClose);
  }
}

// 'close' too: a response whose client left never emits 'drain', and the loop must
// get back to the generator (already returned by onClose) to finish.
export function drainedOrClosed(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
