// Step (test kit): how long a connection waits, checked like every other delay of the package.
import { checkMilliseconds } from '../arguments.js';

/** How long `streamRequest()` waits for the headers and `receive()` for a chunk, by default. */
export const DEFAULT_RECEIVE_TIMEOUT = 5_000;

/**
 * Picks the per-call timeout, else the connection's, and checks it.
 *
 * @throws TypeError or RangeError naming the option when it is not a number of ms from 1 to 2^31-1.
 */
export function resolveReceiveTimeout(value: unknown, fallback: number, where: string): number {
  return value === undefined ? fallback : checkMilliseconds(value, `${where}: \`timeout\``)!;
}
