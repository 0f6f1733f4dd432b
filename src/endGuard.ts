// Step: while a body streams, notices other code finishing the response (res.end, res.send, another middleware).
import type { Response } from 'express';

type End = Response['end'];

/**
 * Puts `onEnd` in front of `res.end` until the returned function is called. `onEnd` runs before
 * the response ends, so that chunks still waiting to be written go out first, and the real `end`
 * then runs as asked. `res.send()`, `res.redirect()` and Express's error handler all end through
 * `res.end`; wrapping it is the only way to run before them (`'finish'` comes after the end).
 *
 * @returns the function that puts `res.end` back; the pump ends the response with it first.
 */
export function guardEnd(res: Response, onEnd: () => void): () => void {
  const own = Object.hasOwn(res, 'end');
  // Kept to be put back as it was, and called with the response as `this`.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const end = res.end;
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    // Only ours to put back if nobody wrapped it after us.
    if (res.end !== endGuard) return;
    if (own) res.end = end;
    else delete (res as Partial<Response>).end;
  };
  const endGuard = function endGuard(this: Response, ...args: Parameters<End>): ReturnType<End> {
    restore();
    onEnd();
    return (end as (...a: unknown[]) => ReturnType<End>).apply(this, args);
  } as End;
  res.end = endGuard;
  return restore;
}
