// Step: source → session. Pulls chunks, coalesces those of one tick into one write, waits for 'drain'.
import { ChunkBatch, chunkTypeError, isChunk, type Chunk } from './chunk.js';
import type { Head } from './head.js';
import type { StreamSession } from './session.js';
import { isPromiseLike, type ChunkSource } from './source.js';

/** A batch this large is written at once instead of at the end of the tick. */
const MAX_BATCH = 16 * 1024;

/** Called once the body is over: with the failure to report, if it failed. */
export type PumpDone = (session: StreamSession, failure?: { error: unknown }) => void;

/**
 * Moves chunks from `source` through `session` until the body ends or the session closes, then
 * calls `done`.
 *
 * Chunks produced in the same tick are coalesced into one write (at most 16 KiB, or when the
 * producer next waits for I/O or a timer): never later than the end of the current tick, so no
 * latency is added. After a write the socket refuses, nothing more is pulled until `'drain'`, so a
 * slow client holds the producer back. `head` (status and headers) goes out with the first write.
 * A fed source (a topic subscription) has a pump of its own: see `pumpFed`.
 *
 * The failure passed to `done` is a TypeError for a chunk that is not a string or bytes, or
 * whatever the source throws; chunks produced before either are written first.
 */
export function pump(session: StreamSession, source: ChunkSource, head: Head, done: PumpDone): void {
  new Pump(session, source, head).run().then(
    () => done(session),
    (error: unknown) => done(session, { error }),
  );
}

/** The position reported for chunks the pump adds itself (last words): never invalid. */
const OWN_CHUNK = -1;

/** The pump of a pulled source, and what every pump shares: the batch, the writes, the last words. */
export class Pump {
  protected readonly batch = new ChunkBatch();
  protected started = false;
  protected flushScheduled = false;
  /** Only a source with keep-alives needs to know when the pump waits: byte streams skip the calls. */
  protected readonly keepsAlive: boolean;

  constructor(
    protected readonly session: StreamSession,
    protected readonly source: ChunkSource,
    private readonly head: Head,
  ) {
    // Other code ending the response: what the batch holds goes out first.
    session.watchEnd(() => this.flush());
    this.keepsAlive = source.heartbeat !== undefined;
    if (source.heartbeat !== undefined) session.keepAlive(source.heartbeat.every, source.heartbeat.chunk);
  }

  async run(): Promise<void> {
    const { session, source, keepsAlive } = this;
    const { encode } = source;
    for (let index = 0; ; index++) {
      // After a write the socket refused, nothing more is pulled until 'drain'.
      while (!session.isDrained) {
        await session.drained();
        if (!session.isOpen) return session.closeSource(undefined);
        if (!this.batch.isEmpty) session.write(this.batch.take());
      }
      let chunk: unknown;
      try {
        // Awaited only when the source answers with a promise: sync generators cost no microtask.
        let step = source.next();
        if (isPromiseLike(step)) {
          if (keepsAlive) session.waitForSource(true);
          try {
            step = await step;
          } finally {
            if (keepsAlive) session.waitForSource(false);
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
    this.finish();
  }

  /** How much more the batch takes before it is written at once, in characters or bytes. */
  protected get room(): number {
    return Math.max(0, MAX_BATCH - this.batch.size);
  }

  /** Writes what the batch holds, if the stream is still open. */
  protected flush(): void {
    if (this.session.isOpen && !this.batch.isEmpty) this.session.write(this.batch.take());
  }

  /** The body is done: what the batch holds goes out, and the response ends. */
  protected finish(): void {
    this.flush();
    this.session.end(this.started ? undefined : this.head);
  }

  /** Writes what the batch holds and, once the stream has started, the source's last words; rethrows `error`. */
  protected failWith(error: unknown): never {
    const { lastWords } = this.source;
    if (lastWords !== undefined && this.session.isOpen && this.session.hasStarted) {
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

  protected add(chunk: unknown, index: number): void {
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
      this.session.write(this.batch.take());
    } else if (!this.flushScheduled) {
      this.flushScheduled = true;
      // process.nextTick runs once the microtasks of this tick are done: when the producer awaits
      // real I/O or a timer, or ends. A producer that never waits is written at MAX_BATCH instead.
      process.nextTick(Pump.flushAtTickEnd, this);
    }
  }

  /** The end of the tick: what the batch holds goes out, unless the socket still holds a refused write (then at 'drain'). */
  protected writeAtTickEnd(): void {
    this.flushScheduled = false;
    if (this.session.isDrained) this.flush();
  }

  // Static, with the pump as argument: no closure per pump, and every open stream has one.
  private static readonly flushAtTickEnd = (pump: Pump): void => pump.writeAtTickEnd();

  /**
   * Fixes the status and headers at the first chunk, even while that chunk waits in the batch:
   * whatever the producer does before the batch is written, they no longer change. They go out
   * with the first write; not with `res.flushHeaders()`, which sends a head on its own as UTF-8,
   * where a head sent with a chunk (or by `res.send`) is Latin-1, as header values are.
   */
  private start(firstChunk: Chunk): void {
    this.started = true;
    this.session.start(this.head, firstChunk);
  }
}
