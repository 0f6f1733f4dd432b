import { AsyncLocalStorage } from 'node:async_hooks';
import { KeepAliveClock } from '../src/keepAliveWheel.js';
import { deferred } from './helpers/deferred.js';
import { within } from './helpers/within.js';
import { heapAfterGc } from './reliability/heap.js';

/** Where the fake clock stood when the test began. */
let origin = 0;

/** A clock whose every due moment (ms into the test) is recorded; `onDue` answers `keepCounting`. */
function recordedClock(every: number, keepCounting = true) {
  const dueAt: number[] = [];
  const clock = new KeepAliveClock(every, () => {
    dueAt.push(jest.now() - origin);
    return keepCounting;
  });
  return { clock, dueAt };
}

function timeoutsHoldingTheProcess(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

describe('KeepAliveClock(every, onDue): the keep-alive wheel', () => {
  describe('with jest fake timers', () => {
    const cleared: KeepAliveClock[] = [];
    /** A recorded clock, cleared after the test so that no wheel turns into the next one. */
    function clockOf(every: number, keepCounting = true) {
      const recorded = recordedClock(every, keepCounting);
      cleared.push(recorded.clock);
      return recorded;
    }

    beforeEach(() => {
      jest.useFakeTimers();
      origin = jest.now();
    });

    afterEach(() => {
      for (const clock of cleared.splice(0)) clock.clear();
      expect(jest.getTimerCount()).toBe(0);
      jest.useRealTimers();
    });

    it.each([0, 1, 99, 100, 101, 250, 799])(
      'is due no sooner than `every` and no later than every + every/8 after a wait() %i ms into the wheel’s turn',
      (offset) => {
        // The first clock starts the wheel; the second joins `offset` ms later.
        clockOf(800).clock.wait();
        jest.advanceTimersByTime(offset);
        const { clock, dueAt } = clockOf(800);
        clock.wait();
        jest.advanceTimersByTime(799);
        expect(dueAt).toEqual([]);
        jest.advanceTimersByTime(101);
        expect(dueAt).toHaveLength(1);
        expect(dueAt[0]! - offset).toBeGreaterThanOrEqual(800);
        expect(dueAt[0]! - offset).toBeLessThanOrEqual(900);
      },
    );

    it.each([1, 99, 100, 101, 150, 199, 200, 799])(
      'is due no sooner than `every` and no later than every + every/8 after a write (touch) %i ms after the wait',
      (offset) => {
        const { clock, dueAt } = clockOf(800);
        clock.wait();
        jest.advanceTimersByTime(offset);
        clock.touch();
        jest.advanceTimersByTime(799);
        expect(dueAt).toEqual([]);
        jest.advanceTimersByTime(101);
        expect(dueAt).toHaveLength(1);
        expect(dueAt[0]! - offset).toBeGreaterThanOrEqual(800);
        expect(dueAt[0]! - offset).toBeLessThanOrEqual(900);
      },
    );

    it('counts from the last write (touch), not from the wait', () => {
      const { clock, dueAt } = clockOf(800);
      clock.wait();
      for (let i = 0; i < 5; i++) {
        jest.advanceTimersByTime(350);
        clock.touch();
      }
      jest.advanceTimersByTime(799);
      expect(dueAt).toEqual([]);
      jest.advanceTimersByTime(101);
      expect(dueAt).toHaveLength(1);
      expect(dueAt[0]! - 1750).toBeGreaterThanOrEqual(800);
    });

    it('is then due every `every` ms exactly while onDue returns true', () => {
      const { clock, dueAt } = clockOf(800);
      clock.wait();
      jest.advanceTimersByTime(900 + 3 * 800);
      expect(dueAt).toHaveLength(4);
      expect(dueAt.slice(1).map((at, i) => at - dueAt[i]!)).toEqual([800, 800, 800]);
    });

    it('keeps each stream to its own period when periods differ', () => {
      const short = clockOf(800);
      const long = clockOf(2_400);
      short.clock.wait();
      long.clock.wait();
      jest.advanceTimersByTime(2_700);
      expect(short.dueAt).toHaveLength(3);
      expect(long.dueAt).toHaveLength(1);
      expect(long.dueAt[0]).toBeGreaterThanOrEqual(2_400);
      expect(long.dueAt[0]).toBeLessThanOrEqual(2_700);
    });

    it('stays quiet after onDue returns false, until the next wait() or write', () => {
      const waited = clockOf(800, false);
      const written = clockOf(800, false);
      waited.clock.wait();
      written.clock.wait();
      jest.advanceTimersByTime(10_000);
      expect(waited.dueAt).toHaveLength(1);
      expect(written.dueAt).toHaveLength(1);
      waited.clock.wait();
      written.clock.touch();
      jest.advanceTimersByTime(900);
      expect(waited.dueAt).toHaveLength(2);
      expect(written.dueAt).toHaveLength(2);
    });

    it('runs one timer per period, whatever the number of streams, and none once they are cleared', () => {
      const clocks = [800, 800, 800, 2_400].map((every) => clockOf(every).clock);
      expect(jest.getTimerCount()).toBe(0);
      for (const clock of clocks) clock.wait();
      expect(jest.getTimerCount()).toBe(2);
      clocks[3]!.clear();
      expect(jest.getTimerCount()).toBe(1);
      clocks[0]!.clear();
      clocks[1]!.clear();
      expect(jest.getTimerCount()).toBe(1);
      clocks[2]!.clear();
      expect(jest.getTimerCount()).toBe(0);
    });

    it('stops its timer once every stream has gone quiet (onDue returned false)', () => {
      clockOf(800, false).clock.wait();
      jest.advanceTimersByTime(900);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('lets onDue clear its own stream, or another stream due at the same tick', () => {
      const dueAt: string[] = [];
      const clocks: Record<string, KeepAliveClock> = {};
      for (const name of ['a', 'b', 'c']) {
        clocks[name] = new KeepAliveClock(800, () => {
          dueAt.push(name);
          if (name === 'a') clocks.b!.clear();
          if (name === 'c') clocks.c!.clear();
          return true;
        });
        cleared.push(clocks[name]);
        clocks[name].wait();
      }
      jest.advanceTimersByTime(5_000);
      // Due at 900 ms, then every 800: six times in 5 s for a; b never, c once.
      expect(dueAt).toEqual(['a', 'c', 'a', 'a', 'a', 'a', 'a']);
    });

    it('follows fake timers installed while a stream of the same period is still open on real ones', () => {
      jest.useRealTimers();
      const early = clockOf(800);
      early.clock.wait();
      jest.useFakeTimers();
      origin = jest.now();
      const late = clockOf(800);
      late.clock.wait();
      jest.advanceTimersByTime(900);
      expect(late.dueAt).toHaveLength(1);
    });
  });

  describe('with real timers', () => {
    it('keeps no process alive (its timer is unref’d)', () => {
      const before = timeoutsHoldingTheProcess();
      const clock = new KeepAliveClock(1_000, () => true);
      clock.wait();
      try {
        expect(timeoutsHoldingTheProcess()).toBe(before);
      } finally {
        clock.clear();
      }
    });

    it('lets ended streams go even while one that stood next to them is still held', async () => {
      const held = new KeepAliveClock(1_000, () => true);
      const others = Array.from({ length: 3 }, () => new WeakRef(new KeepAliveClock(1_000, () => true)));
      // In a function of its own, so that no variable of this (suspended) test holds a clock.
      (function joinAndClear() {
        const clocks = [held, ...others.map((other) => other.deref()!)];
        for (const clock of clocks) clock.wait();
        // Cleared in the order they joined: each was next to the one cleared after it.
        for (const clock of clocks) clock.clear();
      })();
      await heapAfterGc();
      expect(others.map((other) => other.deref())).toEqual([undefined, undefined, undefined]);
      expect(held).toBeInstanceOf(KeepAliveClock);
    });

    it('runs onDue outside the async context of the stream that started the wheel', async () => {
      const storage = new AsyncLocalStorage<string>();
      const seen = deferred<string | undefined>();
      const starter = new KeepAliveClock(40, () => true);
      const later = new KeepAliveClock(40, () => {
        seen.resolve(storage.getStore());
        return false;
      });
      try {
        storage.run('the first request', () => starter.wait());
        later.wait();
        expect(await within(seen.promise, 'the keep-alive of the second stream')).toBeUndefined();
      } finally {
        starter.clear();
        later.clear();
      }
    });
  });
});
