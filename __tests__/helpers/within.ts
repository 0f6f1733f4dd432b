/**
 * Resolves like `promise`, or rejects naming `what` if it has not settled within `ms`: a missing
 * event fails the test with a readable message instead of hanging until jest's own timeout.
 */
export function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/** Resolves on the next turn of the event loop, from a `setImmediate` callback. */
export function fromImmediate<T>(fn: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(fn());
      } catch (error) {
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
        reject(error);
      }
    }, ms);
  });
}
