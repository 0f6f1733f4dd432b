import { ChunkBatch } from './chunkBatch.js';
import { chunkTypeError, isChunk } from './chunk.js';
import { guardEnd } from './endGuard.js';
import { commitHead } from './head.js';
import { Heartbeat } from './heartbeat.js';
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
export function pump(session: StreamSession, source: ChunkSource, response: StreamResponse): Promise<void> {
  return new Pump(session, source, response).run();
}

/** The position reported for chunks the pump adds itself (heartbeats, last words): never invalid. */
const OWN_CHUNK = -1;

class Pump {
  private readonly batch = new ChunkBatch();
  private started = false;
  private flushScheduled = false;
  /** Waiting for the source to answer: when a heartbeat may be written. */
  private waiting = false;
  private readonly heartbeat: Heartbeat | undefined;
  /** Puts `res.end` back; until then, other code ending the response goes through {@link endedElsewhere}. */
  private restoreEnd: (() => void) | undefined;

  constructor(
    private readonly session: StreamSession,
    private readonly source: ChunkSource,
    private readonly response: StreamResponse,
  ) {
    const { heartbeat } = source;
    if (heartbeat !== undefined) this.heartbeat = new Heartbeat(heartbeat.every, () => this.beat(heartbeat.chunk));
  }

  async run(): Promise<void> {
    const { session, source } = this;
    const { encode } = source;
    this.restoreEnd = guardEnd(session.res, this.endedElsewhere);
    try {
      for (let index = 0; ; index++) {
        // After a write the socket refused, nothing more is pulled until 'drain'.
        while (!session.isDrained) {
          await session.drained();
          if (!session.isOpen) return session.closeSource(undefined);
          if (!this.batch.isEmpty) this.write(this.batch.take());
        }
        let chunk: unknown;
        try {
          // Awaited only when the source answers with a promise: sync generators cost no microtask.
          let step = source.next();
          if (isPromiseLike(step)) {
            this.waiting = true;
            this.heartbeat?.wait();
            try {
              step = await step;
            } finally {
              this.waiting = false;
            }
          }
          // Closed while the source ran: a sync generator that ended the response itself could
          // not be closed then (it was running), so it is closed now.
          if (!session.isOpen) return session.closeSource(undefined);
          if (step.done) break;
          chunk = encode === undefined ? step.value : encode(step.value, index);
        } catch (error) {
          this.failWith(error);
        }
        this.add(chunk, index);
      }
      this.end();
    } finally {
      this.restoreEnd();
      this.heartbeat?.clear();
    }
  }

  /** Other code is ending the response: what the batch holds goes out first, then the body is closed. */
  private readonly endedElsewhere = (): void => {
    this.flush();
    this.session.endedElsewhere();
  };

  /** Writes what the batch holds and, once the stream has started, the source's last words; rethrows `error`. */
  private failWith(error: unknown): never {
    const { lastWords } = this.source;
    if (lastWords !== undefined && this.session.isOpen && this.session.res.headersSent) {
      try {
        const last = lastWords(error);
        if (last !== undefined) this.add(last, OWN_CHUNK);
      } catch {
        // `error` is the failure to report; last words are a courtesy to the client.
      }
    }
    this.flush();
    throw error;
  }

  /** The heartbeat is due: writes its chunk if the pump waits for the source. Returns whether to keep counting. */
  private beat(chunk: Chunk): boolean {
    // Nobody waits (the pump waits for 'drain', or is done): quiet until the next wait.
    if (!this.waiting || !this.session.isOpen) return false;
    // The socket still holds a refused write: try again a period later.
    if (!this.session.isDrained) return true;
    try {
      this.add(chunk, OWN_CHUNK);
      this.flush();
    } catch (error) {
      // In a timer callback: thrown, it would take the process down.
      this.session.fail(error);
      return false;
    }
    return true;
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
    // After a refused write, the batch waits for 'drain' (the pump writes it then).
    if (this.session.isDrained) this.flush();
  };

  /** Writes what the batch holds, if the stream is still open. */
  private flush(): void {
    if (this.session.isOpen && !this.batch.isEmpty) this.write(this.batch.take());
  }

  private write(chunk: Chunk): void {
    // Ended by code that went around res.end (a prototype call): writing would emit an 'error'
    // nobody listens to, which takes the process down.
    if (this.session.res.writableEnded) return this.session.endedElsewhere();
    if (!this.session.res.write(chunk)) this.session.expectDrain();
    this.session.recordWrite();
    this.heartbeat?.touch();
  }

  private end(): void {
    this.flush();
    if (!this.started) commitHead(this.session.res, this.response);
    this.restoreEnd!();
    this.session.end();
  }

  /**
   * Fixes the status and headers at the first chunk, even while that chunk waits in the batch:
   * whatever the producer does before the batch is written, they no longer change. They go out
   * with the first write; not with `res.flushHeaders()`, which sends a head on its own as UTF-8,
   * where a head sent with a chunk (or by `res.send`) is Latin-1, as header values are.
   */
  private start(firstChunk: Chunk): void {
    this.started = true;
    const { res } = this.session;
    commitHead(res, this.response, firstChunk);
    if (!res.headersSent) res.writeHead(res.statusCode);
  }
}
