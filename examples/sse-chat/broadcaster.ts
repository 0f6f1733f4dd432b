/**
 * Fans values out to every subscriber, in process. Each subscriber is an async generator fed by
 * its own queue, so a slow reader never holds the others back, and it ends (and unsubscribes)
 * when its signal aborts: no subscriber outlives its client.
 */
export class Broadcaster<T> {
  private readonly queues = new Set<Queue<T>>();

  /** Subscribers currently attached; back to 0 once every client has left. */
  get subscriberCount(): number {
    return this.queues.size;
  }

  /** Hands `value` to every subscriber. */
  publish(value: T): void {
    for (const queue of this.queues) queue.push(value);
  }

  /**
   * Subscribes at once (not on the generator's first `next()`, as a generator body would), so
   * nothing published between this call and the first read is lost. The generator ends when
   * `signal` aborts, even while it waits for a value. Either the abort or the generator's
   * `finally` unsubscribes, so a generator that is closed before its first `next()` (whose body,
   * and so whose `finally`, never runs) does not leak either.
   */
  subscribe(signal: AbortSignal): AsyncGenerator<T> {
    const queue = new Queue<T>(signal, () => this.queues.delete(queue));
    this.queues.add(queue);
    return this.drain(queue);
  }

  private async *drain(queue: Queue<T>): AsyncGenerator<T> {
    try {
      for (;;) {
        const next = await queue.shift();
        if (next.done) return;
        yield next.value;
      }
    } finally {
      queue.close();
      this.queues.delete(queue);
    }
  }
}

/** One subscriber's pending values, and the wait for the next one. */
class Queue<T> {
  private readonly values: T[] = [];
  private wake: (() => void) | undefined;
  private closed = false;

  constructor(
    private readonly signal: AbortSignal,
    private readonly onClose: () => void,
  ) {
    if (signal.aborted) queueMicrotask(this.onAbort);
    else signal.addEventListener('abort', this.onAbort);
  }

  push(value: T): void {
    this.values.push(value);
    this.wakeUp();
  }

  async shift(): Promise<IteratorResult<T, undefined>> {
    while (this.values.length === 0 && !this.closed) {
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    if (this.closed) return { done: true, value: undefined };
    return { done: false, value: this.values.shift()! };
  }

  /** Unsubscribes and ends a pending `shift()`; later calls do nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.signal.removeEventListener('abort', this.onAbort);
    this.values.length = 0;
    this.onClose();
    this.wakeUp();
  }

  private readonly onAbort = (): void => this.close();

  private wakeUp(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
