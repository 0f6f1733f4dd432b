// Step (test kit): the kit's deadlines, on Node's own clock and timers (not jest's fake ones).
import { performance } from 'node:perf_hooks';
import timers from 'node:timers';

/**
 * Node's own `setTimeout`, `clearTimeout` and monotonic clock, taken when the kit loads. A test's fake
 * timers (`jest.useFakeTimers()`, `vi.useFakeTimers()`) replace the globals: taken from there, a
 * `receive()` deadline would fire when the test advances its clock by the idle timeout it checks,
 * and would count in `jest.getTimerCount()`. These run on real time whatever the test fakes.
 */
export const { setTimeout: realSetTimeout, clearTimeout: realClearTimeout } = timers;

/** Milliseconds on a monotonic clock that fake timers leave alone. */
export const realNow = (): number => performance.now();
