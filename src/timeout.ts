import { describeValue } from './describe.js';

/** The idle timeout in milliseconds when neither the response, the route nor the app sets one (Quart's default). */
export const DEFAULT_TIMEOUT = 60_000;

/**
 * The Express setting that holds the app-wide idle timeout:
 * `app.set('stream timeout', 30_000)`, or `null` to switch it off for every route.
 */
export const TIMEOUT_SETTING = 'stream timeout';

// setTimeout() stores its delay in a signed 32-bit integer; larger values fire after 1 ms.
const MAX_TIMEOUT = 2 ** 31 - 1;

/** An idle timeout in milliseconds, or `null` (off). `Infinity` is accepted as `null`. */
export type Timeout = number | null;

/**
 * Validates an idle timeout; `undefined` means "not set here" and is passed through.
 *
 * @throws TypeError when it is not a number or null; RangeError when it is not in 1..2^31-1 ms.
 */
export function resolveTimeout(value: unknown, where: string): Timeout | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'number') {
    throw new TypeError(
      `${where} must be a number of milliseconds or null (no timeout), but received ${describeValue(value)}.`,
    );
  }
  if (value === Infinity) return null;
  if (!(value >= 1 && value <= MAX_TIMEOUT)) {
    throw new RangeError(
      `${where} must be between 1 and ${MAX_TIMEOUT} milliseconds, but received ${describeValue(value)}. ` +
        'Use null to switch the idle timeout off.',
    );
  }
  return value;
}
