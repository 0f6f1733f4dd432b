// Step: the idle timeout: its option, the app setting, and the one timer per stream that enforces it.
import type { Request } from 'express';
import { checkMilliseconds, millisecondsOption } from './arguments.js';

/** The idle timeout in milliseconds when neither the response, the route nor the app sets one. */
export const DEFAULT_TIMEOUT = 60_000;

/**
 * The Express setting that holds the app-wide idle timeout:
 * `app.set('stream timeout', 30_000)`, or `null` to switch it off for every route.
 */
export const TIMEOUT_SETTING = 'stream timeout';

/** An idle timeout in milliseconds, or `null` (off). `Infinity` is accepted as `null`. */
export type Timeout = number | null;

const off = { means: 'no timeout', fix: 'switch the idle timeout off' };

/** The `timeout` option of a route: `undefined` (left out) reads the app setting on each request. */
export const timeoutOption = millisecondsOption(undefined, off);

/** The `timeout` option of an event stream: off unless set, whatever the app setting says. */
export const eventStreamTimeoutOption = millisecondsOption(null, off);

/**
 * Checks an idle timeout set outside the options (`StreamResponse.timeout`, the app setting);
 * `undefined` means "not set here" and is passed through.
 *
 * @throws TypeError when it is not a number or null; RangeError when it is not in 1..2^31-1 ms.
 */
export function resolveTimeout(value: unknown, label: string): Timeout | undefined {
  return value === undefined ? undefined : checkMilliseconds(value, label, { off });
}

// Built once: the app setting is read (and checked) on every request.
const APP_SETTING = `app.set('${TIMEOUT_SETTING}')`;

/** The app's idle timeout, else {@link DEFAULT_TIMEOUT}. */
export function appTimeout(req: Request): Timeout {
  const setting = resolveTimeout(req.app.get(TIMEOUT_SETTING), APP_SETTING);
  return setting === undefined ? DEFAULT_TIMEOUT : setting;
}

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
