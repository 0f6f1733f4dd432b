// Step: the keep-alive clock shared by every stream of one period: one timer per period, not per stream.
import { AsyncResource } from 'node:async_hooks';

/** Ticks per period: a comment is late by at most one tick, `every / 8`. */
const TICKS = 8;
/**
 * A stream written to at tick count `t` is due at tick `t + SLOTS`: the write came at some moment
 * after tick `t` fired, so `t + TICKS` could be early; one tick more never is.
 */
const SLOTS = TICKS + 1;

/** What a slot's list links: a stream's clock, or the sentinel that heads a list. */
interface Link {
  prev: Link;
  next: Link;
}

/**
 * Where a stream's clock is: `quiet` (not counting: before the first `wait()`, after `clear()`),
 * `listed` (in a slot's list, due `SLOTS` ticks after `touchedAt`), `firing` (its `onDue` runs, out
 * of every list), `expired` (fired with nobody waiting: out of every list until the next `wait()`
 * or write).
 */
type ClockState = 'quiet' | 'listed' | 'firing' | 'expired';

// The wheel's timer is created in this (empty) context, not in the request of whichever stream
// started it: a timer keeps the async context it was created in, and would hold that request's
// objects for as long as the wheel turns.
const rootScope = new AsyncResource('ExpressAsyncStreamKeepAlive');

/** One wheel per period (`keepAlive` ms) a route uses: a few, kept for the life of the process. */
const wheels = new Map<number, KeepAliveWheel>();

function emptyList(): Link {
  const sentinel = {} as Link;
  sentinel.prev = sentinel.next = sentinel;
  return sentinel;
}

function unlink(link: Link): void {
  link.prev.next = link.next;
  link.next.prev = link.prev;
  // No stale links: an ended stream that something still holds (in one heap snapshot, a Node timer
  // made in its request's context) would otherwise hold every ended stream it once stood next to.
  link.prev = link.next = link;
}

function append(list: Link, link: Link): void {
  link.prev = list.prev;
  link.next = list;
  list.prev.next = link;
  list.prev = link;
}

/**
 * The streams of one period, in `SLOTS` lists by the tick they are due at, and the one interval
 * timer (unref'd) that walks them, every `every / TICKS` ms, only while a stream is listed. A write
 * only stamps the stream with the tick count: the stream moves to its new slot when its old one
 * comes round, so that a write costs no list operation and a fast stream moves once a period.
 */
class KeepAliveWheel {
  private readonly slots = Array.from({ length: SLOTS }, emptyList);
  /** The list being walked, so that a stream cleared meanwhile unlinks itself from it. */
  private readonly walking = emptyList();
  /** Ticks fired since the wheel was made: the only clock, so that fake timers drive it too. */
  ticks = 0;
  /** Streams listed or firing: the timer runs while there is one. */
  private members = 0;
  private handle: NodeJS.Timeout | undefined;
  /**
   * The global `setInterval` and `clearInterval` when `handle` was made: a test may have faked
   * (or restored) them since, and a handle goes back to the function pair that made it.
   */
  private madeWith: typeof setInterval | undefined;
  private clearHandle: typeof clearInterval = clearInterval;

  constructor(private readonly every: number) {}

  static of(every: number): KeepAliveWheel {
    let wheel = wheels.get(every);
    if (wheel === undefined) {
      wheel = new KeepAliveWheel(every);
      wheels.set(every, wheel);
    }
    return wheel;
  }

  /** Lists `clock` as written to now. */
  join(clock: KeepAliveClock): void {
    clock.touchedAt = this.ticks;
    this.list(clock);
    if (++this.members === 1) this.start();
    // Timers faked or restored since the wheel started (jest.useFakeTimers() with a stream of an
    // earlier test still open): the wheel follows the clock the newest stream sees, as its own timer would.
    else if (this.madeWith !== setInterval) this.restart();
  }

  /** Unlinks a listed clock (a firing one is in no list). */
  leave(clock: KeepAliveClock, listed: boolean): void {
    if (listed) unlink(clock);
    if (--this.members === 0) this.stop();
  }

  private list(clock: KeepAliveClock): void {
    clock.state = 'listed';
    append(this.slots[(clock.touchedAt + SLOTS) % SLOTS]!, clock);
  }

  private restart(): void {
    this.stop();
    this.start();
  }

  private start(): void {
    this.madeWith = setInterval;
    this.clearHandle = clearInterval;
    // A fractional tick is fine: Node fires a timer at the first millisecond at or after it is due.
    this.handle = rootScope.runInAsyncScope(() => setInterval(this.tick, this.every / TICKS));
    // Like the idle timer: the server's sockets, not this timer, keep the process alive.
    this.handle.unref();
  }

  private stop(): void {
    if (this.handle !== undefined) this.clearHandle(this.handle);
    this.handle = undefined;
  }

  private readonly tick = (): void => {
    const now = ++this.ticks;
    const slot = this.slots[now % SLOTS]!;
    if (slot.next === slot) return;
    // The slot's list moves to `walking` whole; clocks due later go back to a slot as they are met.
    const walking = this.walking;
    walking.next = slot.next;
    walking.prev = slot.prev;
    walking.next.prev = walking.prev.next = walking;
    slot.next = slot.prev = slot;
    while (walking.next !== walking) {
      const clock = walking.next as KeepAliveClock;
      unlink(clock);
      if (clock.touchedAt + SLOTS > now) this.list(clock);
      else this.fire(clock, now);
    }
  };

  private fire(clock: KeepAliveClock, now: number): void {
    clock.state = 'firing';
    const keepCounting = clock.onDue();
    // Cleared by its own onDue (the write failed, the stream ended): it has left already.
    if (clock.state !== 'firing') return;
    if (keepCounting) {
      // Written at this tick (or to try again a period later: the socket still holds a refused
      // write), not after it: due TICKS ticks on, a period exactly.
      clock.touchedAt = now - 1;
      this.list(clock);
    } else {
      clock.state = 'expired';
      this.leave(clock, false);
    }
  }
}

/**
 * The keep-alive clock of one stream on its period's wheel: calls `onDue` once `every` ms (to
 * `every + every / 8`) pass with nothing written, never earlier.
 */
export class KeepAliveClock implements Link {
  prev: Link = this;
  next: Link = this;
  state: ClockState = 'quiet';
  /** The wheel's tick count at the last write. */
  touchedAt = 0;
  private readonly wheel: KeepAliveWheel;

  /** @param onDue - returns whether to keep counting (false: quiet until the next wait or write). */
  constructor(
    every: number,
    readonly onDue: () => boolean,
  ) {
    this.wheel = KeepAliveWheel.of(every);
  }

  /** The pump starts waiting for a value: counts from now if the clock was quiet. */
  wait(): void {
    if (this.state === 'quiet' || this.state === 'expired') this.wheel.join(this);
  }

  /** Something was written: counts from now. On the path of every write, so one store. */
  touch(): void {
    if (this.state === 'listed' || this.state === 'firing') this.touchedAt = this.wheel.ticks;
    else if (this.state === 'expired') this.wheel.join(this);
  }

  clear(): void {
    const { state } = this;
    this.state = 'quiet';
    if (state === 'listed' || state === 'firing') this.wheel.leave(this, state === 'listed');
  }
}
