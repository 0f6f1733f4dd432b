// Step: tells whoever holds the response (the test kit) when the server has finished with it, the body's teardown included.
import type { Response } from 'express';

// Registered, so that the kit of another copy of the package (ES module and CommonJS builds) finds it.
const teardownKey = Symbol.for('express-async-stream.teardown');

type ResponseWithTeardown = Response & { [teardownKey]?: PromiseLike<void> };

/**
 * Settles once, when a session has released all it opened and its body is closed (a generator's
 * `finally` has run). Awaitable without a promise per response: one is made only when awaited.
 */
export class Teardown implements PromiseLike<void> {
  private settled = false;
  private waiting: Array<() => void> | undefined;

  /** Registers this teardown on `res`, after those of sessions that handled it before (`next()`). */
  constructor(res: Response) {
    const holder = res as ResponseWithTeardown;
    const previous = holder[teardownKey];
    holder[teardownKey] = previous === undefined ? this : Promise.all([previous, this]).then(() => undefined);
  }

  settle(): void {
    if (this.settled) return;
    this.settled = true;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.forEach((resolve) => resolve());
  }

  then<A = void, B = never>(
    onFulfilled?: ((value: void) => A | PromiseLike<A>) | null,
    onRejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    const settled = new Promise<void>((resolve) => {
      if (this.settled) resolve();
      else (this.waiting ??= []).push(resolve);
    });
    return settled.then(onFulfilled, onRejected);
  }
}
