import { setImmediate } from 'node:timers/promises';
import v8 from 'node:v8';
import vm from 'node:vm';

let gc: (() => void) | undefined;

/**
 * A full garbage collection. Jest workers do not run with `--expose-gc`; setting the flag at run
 * time makes `gc` appear in contexts created afterwards, so it is read from a new one.
 */
function collect(): void {
  if (gc === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as () => void;
  }
  gc();
}

/**
 * `heapUsed` after repeated full collections, with turns of the event loop in between so that
 * pending callbacks (socket close handlers, finalizers) run and release what they hold.
 */
export async function heapAfterGc(): Promise<number> {
  let heap = Infinity;
  for (let round = 0; round < 4; round++) {
    await setImmediate();
    collect();
    heap = Math.min(heap, process.memoryUsage().heapUsed);
  }
  return heap;
}

export const MiB = 1024 * 1024;

export function inMiB(bytes: number): string {
  return `${(bytes / MiB).toFixed(2)} MiB`;
}
