import { clearTimeout, setTimeout } from 'node:timers';

/**
 * Like `helpers/within.ts`, but on Node's own timers: the fault suite fakes the global
 * `setTimeout` (to fire the idle timeout on demand), and a deadline on a faked timer would never
 * expire. Only a fail-fast guard: nothing waits for it to run out.
 */
export function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}
