import { describeValue } from './describe.js';

/** Whether `value` is an HTTP status code a response may carry (an integer from 100 to 599). */
export function isStatus(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= 100 && (value as number) <= 599;
}

/** @throws TypeError naming the value when it is not an integer from 100 to 599. */
export function assertStatus(value: unknown, where: string): asserts value is number {
  if (!isStatus(value)) {
    throw new TypeError(`${where}: status must be an integer from 100 to 599, but received ${describeValue(value)}.`);
  }
}
