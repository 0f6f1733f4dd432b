// Step: the keep-alive clock of a stream that waits for its source (sse comments).
import { KeepAliveClock } from './keepAliveWheel.js';

/** What the writer asks of a keep-alive clock. */
export interface KeepAlive {
  wait(): void;
  touch(): void;
  clear(): void;
}

let design: 'timer' | 'wheel' = 'wheel';

/** Internal, for the benchmark (not exported by the index): which design new streams use. */
export function useKeepAliveDesign(which: 'timer' | 'wheel'): void {
  design = which;
}

/** A keep-alive clock of the design in use. */
export function createKeepAlive(every: number, onDue: () => boolean): KeepAlive {
  return design === 'wheel' ? new KeepAliveClock(every, onDue) : new Heartbeat(every, onDue);
}

/**
 * The keep-alive clock of a values stream (`sse` comments): calls `onDue` once `every` ms pass
 * with nothing written. One timer per stream, restarted with `refresh()` on each write rather
 * than at each value, so that a fast stream pays one refresh per batch, not one per event.
 */
export class Heartbeat implements KeepAlive {
  private handle: NodeJS.Timeout | undefined;
  /** The timer fired with nobody waiting, and stays quiet until the next `wait()`. */
  private expired = false;

  /** @param onDue - returns whether to keep counting (false: quiet until the next wait). */
  constructor(
    private readonly every: number,
    private readonly onDue: () => boolean,
  ) {}

  /** The pump starts waiting for a value: counts from now if the clock was quiet. */
  wait(): void {
    if (this.handle === undefined) {
      this.handle = setTimeout(this.fire, this.every);
      // Like the idle timer: the server's socket, not this timer, keeps the process alive.
      this.handle.unref();
    } else if (this.expired) {
      this.expired = false;
      this.handle.refresh();
    }
  }

  /** Something was written: counts from now. */
  touch(): void {
    if (this.handle === undefined) return;
    this.expired = false;
    this.handle.refresh();
  }

  clear(): void {
    clearTimeout(this.handle);
    this.handle = undefined;
  }

  private readonly fire = (): void => {
    if (this.handle === undefined) return;
    if (this.onDue()) this.handle.refresh();
    else this.expired = true;
  };
}
