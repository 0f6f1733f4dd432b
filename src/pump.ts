import { commitHead } from './head.js';
import { chunkTypeError, isChunk } from './chunk.js';
import type { StreamResponse } from './response.js';
import type { StreamSession } from './session.js';
import { isPromiseLike, type ChunkSource } from './source.js';

/**
 * Moves chunks from `source` to the socket until the body ends or the session closes. Pulls the
 * next chunk only once the previous one was accepted (`res.write` true, or `'drain'`), so a slow
 * client holds the producer back. Status and headers go out with the first non-empty chunk.
 *
 * @throws TypeError for a chunk that is not a string or bytes, and whatever the source throws.
 */
export async function pump(session: StreamSession, source: ChunkSource, response: StreamResponse): Promise<void> {
  const { res } = session;
  let started = false;
  for (let index = 0; ; index++) {
    let step = source.next();
    if (isPromiseLike(step)) step = await step;
    if (!session.isOpen) return;
    if (step.done) break;
    const chunk: unknown = step.value;
    if (!isChunk(chunk)) throw chunkTypeError(chunk, index);
    // Skipped: a zero-length chunk is the marker that ends a chunked body (RFC 9112 §7.1), and
    // layers between us and the socket do not all guard against writing one.
    if (chunk.length === 0) continue;
    if (!started) {
      started = true;
      commitHead(res, response, chunk);
    }
    const accepted = res.write(chunk);
    session.recordWrite();
    if (!accepted) {
      await session.drained();
      if (!session.isOpen) return;
    }
  }
  if (!started) commitHead(res, response);
  session.end();
}
