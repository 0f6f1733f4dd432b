import type { Timeout } from './timeout.js';

/**
 * Calls `onIdle` once `ms` pass without `touch()`. Uses one timer per stream, re-armed with
 * `refresh()` so that each write costs no allocation.
 */
export class IdleTimer {
  private handle: NodeJS.Timeout | undefined;

  constructor(private readonly onIdle: () => void) {}

  /** Starts (or restarts) the countdown; `null` stops it. */
  arm(ms: Timeout): void {
    this.clear();
    if (ms === null) return;
    this.handle = setTimeout(this.onIdle, ms);
    // The timer must not keep a process alive on its own: the server's socket already does.
    this.handle.unref();
  }

  /** Restarts the countdown after activity. */
  touch(): void {
    this.handle?.refresh();
  }

  /** Stops the countdown; `touch()` does nothing until the next `arm()`. */
  clear(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
  }
}
