import { ChunkBatch } from './chunkBatch.js';
import { chunkTypeError, isChunk } from './chunk.js';
import { commitHead } from './head.js';
import type { Chunk, StreamResponse } from './response.js';
import type { StreamSession } from './session.js';
import { isPromiseLike, type ChunkSource } from './source.js';

/** A batch this large is written at once instead of at the end of the tick. */
const MAX_BATCH = 16 * 1024;

/**
 * Moves chunks from `source` to the socket until the body ends or the session closes.
 *
 * Chunks produced in the same tick are coalesced into one `res.write` (at most 16 KiB, or when the
 * producer next waits for I/O or a timer): never later than the end of the current tick, so no
 * latency is added. After a write that `res.write` refuses, nothing more is pulled until `'drain'`,
 * so a slow client holds the producer back. Status and headers go out with the first write.
 *
 * @throws TypeError for a chunk that is not a string or bytes, and whatever the source throws;
 *   chunks produced before either are written first.
 */
export async function pump(session: StreamSession, source: ChunkSource, response: StreamResponse): Promise<void> {
  await new Pump(session, response).run(source);
}

class Pump {
  private readonly batch = new ChunkBatch();
  private started = false;
  private blocked = false;
  private flushScheduled = false;

  constructor(
    private readonly session: StreamSession,
    private readonly response: StreamResponse,
  ) {}

  async run(source: ChunkSource): Promise<void> {
    const { session } = this;
    for (let index = 0; ; index++) {
      while (this.blocked) {
        await session.drained();
        if (!session.isOpen) return;
        this.blocked = false;
        if (!this.batch.isEmpty) this.write(this.batch.take());
      }
      let step: IteratorResult<unknown>;
      try {
        // Awaited only when the source answers with a promise: sync generators cost no microtask.
        const next = source.next();
        step = isPromiseLike(next) ? await next : next;
      } catch (error) {
        this.flush();
        throw error;
      }
      if (!session.isOpen) return;
      if (step.done) break;
      this.add(step.value, index);
    }
    this.end();
  }

  private add(chunk: unknown, index: number): void {
    if (!isChunk(chunk)) {
      this.flush();
      throw chunkTypeError(chunk, index);
    }
    // Skipped: a zero-length chunk is the marker that ends a chunked body (RFC 9112 §7.1), and
    // layers between us and the socket do not all guard against writing one.
    if (chunk.length === 0) return;
    if (!this.started) this.start(chunk);
    this.batch.add(chunk);
    if (this.batch.size >= MAX_BATCH) {
      this.write(this.batch.take());
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      // process.nextTick runs once the microtasks of this tick are done: when the producer awaits
      // real I/O or a timer, or ends. A producer that never waits is written at MAX_BATCH instead.
      process.nextTick(this.flushAtTickEnd);
    }
  }

  private readonly flushAtTickEnd = (): void => {
    this.flushScheduled = false;
    // While blocked, the batch waits for 'drain' (the pump writes it then).
    if (!this.blocked) this.flush();
  };

  /** Writes what the batch holds, if the stream is still open. */
  private flush(): void {
    if (this.session.isOpen && !this.batch.isEmpty) this.write(this.batch.take());
  }

  private write(chunk: Chunk): void {
    if (!this.session.res.write(chunk)) this.blocked = true;
    this.session.recordWrite();
  }

  private end(): void {
    this.flush();
    if (!this.started) commitHead(this.session.res, this.response);
    this.session.end();
  }

  /**
   * Sends the status and headers with the first chunk, even while that chunk waits in the batch:
   * from then on they are fixed, whatever the producer does before the batch is written.
   */
  private start(firstChunk: Chunk): void {
    this.started = true;
    commitHead(this.session.res, this.response, firstChunk);
    if (!this.session.res.headersSent) this.session.res.flushHeaders();
  }
}
