// Deadlines on real time for awaited events, and callbacks run from a given phase of the event loop.
import timers from 'node:timers';

// Node's own timers, taken when this module loads: jest's fake timers replace the test's global
// `setTimeout`, and a guard on a faked timer would never expire (nor should it count in
// `jest.getTimerCount()`).
const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout } = timers;

/**
 * Resolves like `promise`, or rejects naming `what` if it has not settled within `ms`: a missing
 * event fails the test with a readable message instead of hanging until jest's own timeout. Runs
 * on real time even under `jest.useFakeTimers()`.
 */
export function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = realSetTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => realClearTimeout(timer));
}

/** Resolves on the next turn of the event loop, from a `setImmediate` callback. */
export function fromImmediate<T>(fn: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(fn());
      } catch (error) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what fn threw, as it is
        reject(error);
      }
    });
  });
}

/** Resolves with `fn()` called from a `setTimeout` callback (after `ms`, default 0). */
export function fromTimeout<T>(fn: () => T, ms = 0): Promise<T> {
  return new Promise((resolve, reject) => {
    setTimeout(() => {
      try {
        resolve(fn());
      } catch (error) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- what fn threw, as it is
        reject(error);
      }
    }, ms);
  });
}
