// Step: the status a result asks for, checked where it is given.
import { describeValue } from './arguments.js';

/**
 * Whether `value` is a status code a response may end with: an integer from 200 to 599. A 1xx
 * status is interim (RFC 9110 §15.2): the client would keep waiting for the final one.
 */
export function isStatus(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 200 && (value as number) <= 599;
}

/** @throws TypeError naming the value when it is not an integer from 200 to 599. */
export function assertStatus(value: unknown, where: string): asserts value is number {
  if (isStatus(value)) return;
  if (Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 199) {
    throw new TypeError(
      `${where}: status ${value as number} is informational (1xx), which cannot end a response: the client ` +
        'would keep waiting for the final status (RFC 9110 §15.2). Use a status from 200 to 599; for ' +
        '103 Early Hints, call res.writeEarlyHints() in the handler.',
    );
  }
  const convert = typeof value === 'string' ? '; convert a string first with Number(status)' : '';
  throw new TypeError(
    `${where}: status must be an integer from 200 to 599, but received ${describeValue(value)}. ` +
      `Pass a number such as 200 or 404${convert}.`,
  );
}
