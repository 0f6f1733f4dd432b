// A body the test drives by hand: it yields what the test pushes, when the test pushes it.
import { deferred } from './deferred.js';

/**
 * A generator the test drives by hand: it yields exactly what the test pushes, when it pushes it,
 * and records how many chunks it produced and whether its `finally` ran (and how often).
 */
export interface Producer<T> {
  /**
   * The generator function to hand to `asyncStream` (or call in a handler). While waiting for the
   * test it only notices a `return()` at its next `yield`, like a producer that ignores signals.
   */
  readonly generate: () => AsyncGenerator<T, void, undefined>;
  /** Like `generate`, but returns as soon as `signal` aborts, as well-behaved producers do. */
  readonly generateUntil: (signal: AbortSignal) => AsyncGenerator<T, void, undefined>;
  push(...chunks: T[]): void;
  /** Ends the generator after the chunks already pushed. */
  end(): void;
  /** Makes the generator throw `error` once the pushed chunks are out. */
  fail(error: unknown): void;
  /** Resolves when the generator waits for the test (after yielding everything pushed). */
  waiting(): Promise<void>;
  /** Resolves when the generator's `finally` has run. */
  readonly finalized: Promise<void>;
  readonly finallyCount: number;
  readonly produced: number;
}

export function createProducer<T = string>(): Producer<T> {
  const queue: T[] = [];
  let ended = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let waiters: Array<() => void> = [];
  let parked = false;
  const finalized = deferred();
  let finallyCount = 0;
  let produced = 0;

  async function* generate(signal?: AbortSignal): AsyncGenerator<T, void, undefined> {
    try {
      for (;;) {
        while (queue.length === 0 && !ended && failure === undefined) {
          if (signal?.aborted) return;
          parked = true;
          const idle = waiters;
          waiters = [];
          idle.forEach((notify) => notify());
          await new Promise<void>((resolve) => {
            wake = resolve;
            signal?.addEventListener('abort', poke, { once: true });
          });
          signal?.removeEventListener('abort', poke);
          parked = false;
        }
        if (queue.length === 0) {
          if (failure !== undefined) throw failure.error;
          return;
        }
        produced++;
        yield queue.shift()!;
      }
    } finally {
      finallyCount++;
      finalized.resolve();
    }
  }

  const poke = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  return {
    generate: () => generate(),
    generateUntil: (signal) => generate(signal),
    push: (...chunks) => {
      queue.push(...chunks);
      poke();
    },
    end: () => {
      ended = true;
      poke();
    },
    fail: (error) => {
      failure = { error };
      poke();
    },
    waiting: () => new Promise<void>((resolve) => (parked ? resolve() : waiters.push(resolve))),
    finalized: finalized.promise,
    get finallyCount() {
      return finallyCount;
    },
    get produced() {
      return produced;
    },
  };
}
