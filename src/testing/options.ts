import { describeValue } from '../describe.js';

/** How long `streamRequest()` waits for the headers and `receive()` for a chunk, by default. */
export const DEFAULT_RECEIVE_TIMEOUT = 5_000;

/**
 * Picks the per-call timeout, else the connection's, and checks it.
 *
 * @throws TypeError or RangeError naming the option when it is not a positive number of ms.
 */
export function resolveReceiveTimeout(value: unknown, fallback: number, where: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(`${where}: \`timeout\` must be a number of milliseconds, but received ${describeValue(value)}.`);
  }
  if (!(value > 0 && value <= 2 ** 31 - 1)) {
    throw new RangeError(
      `${where}: \`timeout\` must be between 1 and ${2 ** 31 - 1} milliseconds, but received ${describeValue(value)}.`,
    );
  }
  return value;
}
