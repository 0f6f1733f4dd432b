// Step: topic → pumps. Parked pumps woken together once a tick's events are in, with one process.nextTick.
/** What is woken: a parked pump. */
interface Wakeable {
  wake(): void;
}

let waiting: Wakeable[] = [];

/**
 * Calls `pump.wake()` at the end of this tick, once its microtasks are done (`process.nextTick`), with
 * every other wake of the tick: the events a topic fans out in one tick reach each subscriber's
 * pump together (one write each), and a thousand subscribers cost one tick callback, not a thousand.
 * `wake()` must not throw: it would keep the ones after it waiting.
 */
export function wakeAtTickEnd(pump: Wakeable): void {
  if (waiting.push(pump) === 1) process.nextTick(wakeAll);
}

function wakeAll(): void {
  const pumps = waiting;
  waiting = [];
  for (const pump of pumps) pump.wake();
}
