// Step: fed source → session. A topic subscription's pump: woken once per tick, no promise per event.
import { AsyncResource } from 'node:async_hooks';
import type { Head } from './head.js';
import { Pump, type PumpDone } from './pump.js';
import type { StreamSession } from './session.js';
import { FEED_END, FEED_IDLE, type ChunkSource, type Feed } from './source.js';

/**
 * Moves the values of a fed source (a topic subscription, see {@link Feed}) through `session` as
 * `pump` does, then calls `done`. Woken at the end of each tick that fed the source, it takes what
 * waits and writes it in one piece: the events of a topic published in one tick cost each
 * subscriber one write. While the source is empty it holds no promise and no suspended frame.
 */
export function pumpFed(session: StreamSession, source: ChunkSource, feed: Feed, head: Head, done: PumpDone): void {
  new FedPump(session, source, feed, head, done).take();
}

class FedPump extends Pump {
  /** The position of the next value in the body. */
  private index = 0;
  /** Parked: waiting for the source to wake it. */
  private parked = false;
  /**
   * The request's async context (every AsyncLocalStorage's store, not only this package's), which
   * each wake restores: whoever fed the source woke the pump, but what the pump calls (an
   * `errorEvent` function, Express's error handlers through `done`) belongs to the request.
   */
  private readonly context = new AsyncResource('express-async-stream.fedPump');

  constructor(
    session: StreamSession,
    source: ChunkSource,
    private readonly feed: Feed,
    head: Head,
    private readonly done: PumpDone,
  ) {
    super(session, source, head);
  }

  /** Called by the source once it has values again (or has ended), at the end of the tick that fed it. */
  wake(): void {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with `this` as the pump (second argument).
    this.context.runInAsyncScope(this.take, this);
  }

  /**
   * Takes every value the source holds and writes them at once, then parks until the source, or
   * `'drain'`, wakes the pump again.
   */
  take(): void {
    const { session, source, feed } = this;
    if (this.parked) {
      this.parked = false;
      if (this.keepsAlive) session.waitForSource(false);
    }
    // Written in one piece at the end, rather than at the end of another tick.
    this.flushScheduled = true;
    try {
      for (;;) {
        if (!session.isOpen) {
          session.closeSource(undefined);
          return this.done(session);
        }
        if (!session.isDrained) return void session.drained().then(() => this.wake());
        let chunk: unknown;
        const index = this.index;
        try {
          // What the batch can still take: runs of events are written at about the size single ones are.
          const value = feed.take(source.framed === true ? this.room : 0);
          if (value === FEED_IDLE) return this.park();
          if (value === FEED_END) break;
          this.index++;
          chunk = source.encode === undefined ? value : source.encode(value, index);
        } catch (error) {
          this.failWith(error);
        }
        this.add(chunk, index);
      }
      this.finish();
      this.done(session);
    } catch (error) {
      this.done(session, { error });
    } finally {
      this.writeAtTickEnd();
    }
  }

  private park(): void {
    this.parked = true;
    if (this.keepsAlive) this.session.waitForSource(true);
    this.feed.onReady(this);
  }
}
