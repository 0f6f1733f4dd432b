// A body that counts how often it was pulled and closed.
import { deferred } from './deferred.js';

/**
 * A hand-made async iterable that counts its `next()` and `return()` calls, to check that a body
 * is closed (even one never started) and how often it was pulled. It yields `'never sent'` for
 * ever: the tests using it expect it never to be read to the end.
 */
export function trackedIterable<T = string>(): {
  readonly iterable: AsyncIterableIterator<T>;
  readonly calls: { next: number; return: number };
  /** Resolves at the first `return()`. */
  readonly returned: Promise<void>;
} {
  const calls = { next: 0, return: 0 };
  const returned = deferred();
  const iterable: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      calls.next++;
      return { done: false, value: 'never sent' as T };
    },
    async return() {
      calls.return++;
      returned.resolve();
      return { done: true, value: undefined };
    },
  };
  return { iterable, calls, returned: returned.promise };
}
