// Step: the socket side of a session. Writes chunks, waits for 'drain', flushes compression, keeps alive.
import type { Response } from 'express';
import type { Chunk } from './chunk.js';
import { commitHead, type Head } from './head.js';
import { KeepAliveClock } from './keepAliveWheel.js';

/** `compression` adds `res.flush()`; without a call its zlib stream holds small chunks back. */
type FlushableResponse = Response & { flush: () => void };

/** What a writer tells its session: an object rather than callbacks, so that a stream holds no closures for them. */
export interface WriterOwner {
  /** Called after each write (the session restarts its idle timer). */
  wrote(): void;
  /** Called with what a keep-alive write threw, in a timer callback. */
  keepAliveFailed(error: unknown): void;
}

/**
 * Writes a session's chunks to `res`. Owned by the session, which is the only caller: the pump
 * goes through the session, and the session stops this writer in its teardown.
 */
export class ResponseWriter {
  private keepAliveClock: KeepAliveClock | undefined;
  private waitingForSource = false;
  private resolveDrain: (() => void) | undefined;
  /** The `'drain'` listener, made at the first refused write: most streams never see one. */
  private drainListener: (() => void) | undefined;
  private awaitingDrain = false;
  private readonly shouldFlush: boolean;

  constructor(
    private readonly res: Response,
    private readonly owner: WriterOwner,
  ) {
    this.shouldFlush = typeof (res as Partial<FlushableResponse>).flush === 'function';
  }

  /** Sends the status and headers of a streamed body with its first chunk. */
  start(head: Head, firstChunk: Chunk): void {
    commitHead(this.res, head, firstChunk);
    if (!this.res.headersSent) this.res.writeHead(this.res.statusCode);
  }

  /**
   * Writes a chunk, flushes a compressing middleware and restarts the clocks. After a write the
   * socket refuses, `'drain'` is awaited; listening starts here, not when the pump gets round to
   * waiting, so that a `'drain'` in between is not lost.
   */
  write(chunk: Chunk): void {
    if (!this.res.write(chunk)) this.expectDrain();
    if (this.shouldFlush) (this.res as FlushableResponse).flush();
    this.owner.wrote();
    this.keepAliveClock?.touch();
  }

  /** False from a refused write until its `'drain'`. */
  get isDrained(): boolean {
    return !this.awaitingDrain;
  }

  /** Resolves on `'drain'` (at once if it already came), or when the writer is stopped meanwhile. */
  drained(): Promise<void> {
    if (!this.awaitingDrain) return Promise.resolve();
    return new Promise((resolve) => {
      this.resolveDrain = resolve;
    });
  }

  /** Writes `chunk` every `every` ms that pass with nothing written while the source is awaited. */
  keepAlive(every: number, chunk: Chunk): void {
    this.keepAliveClock = new KeepAliveClock(every, () => this.beat(chunk));
  }

  /** The pump awaits the source (`true`) or has its answer (`false`): when keep-alives may go out. */
  waitForSource(waiting: boolean): void {
    this.waitingForSource = waiting;
    if (waiting) this.keepAliveClock?.wait();
  }

  /** Stops the keep-alive clock and ends a drain wait; nothing is written after this. */
  stop(): void {
    this.keepAliveClock?.clear();
    this.waitingForSource = false;
    this.endDrainWait();
  }

  private expectDrain(): void {
    this.awaitingDrain = true;
    // One listener for the whole response, not one per wait: `compression` forwards 'drain'
    // listeners to its zlib stream, where removing them from `res` would not reach.
    if (this.drainListener === undefined) {
      this.drainListener = () => this.endDrainWait();
      this.res.on('drain', this.drainListener);
    }
  }

  /** A keep-alive is due: written if the source is awaited. Returns whether to keep counting. */
  private beat(chunk: Chunk): boolean {
    // Nobody waits (the pump waits for 'drain', or is done): quiet until the next wait.
    if (!this.waitingForSource) return false;
    // Ended by code that went around the res.end guard: a write would emit an unhandled 'error'.
    if (this.res.writableEnded) return false;
    // The socket still holds a refused write: try again a period later.
    if (!this.isDrained) return true;
    try {
      this.write(chunk);
    } catch (error) {
      // In a timer callback: thrown, it would take the process down.
      this.owner.keepAliveFailed(error);
      return false;
    }
    return true;
  }

  private endDrainWait(): void {
    this.awaitingDrain = false;
    const resolve = this.resolveDrain;
    this.resolveDrain = undefined;
    resolve?.();
  }
}
