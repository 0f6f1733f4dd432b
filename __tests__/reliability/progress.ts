import { within } from '../helpers/within.js';

/**
 * Waits on counters that event handlers update: each handler calls `notify()`, and `until()`
 * resolves as soon as its predicate holds (checked at each notification, never on a timer).
 */
export function createProgress(): {
  notify(): void;
  until(predicate: () => boolean, what: string, ms: number): Promise<void>;
} {
  const checks = new Set<() => void>();
  return {
    notify() {
      for (const check of checks) check();
    },
    until(predicate, what, ms) {
      return within(
        new Promise<void>((resolve) => {
          const check = (): void => {
            if (!predicate()) return;
            checks.delete(check);
            resolve();
          };
          checks.add(check);
          check();
        }),
        what,
        ms,
      );
    },
  };
}
