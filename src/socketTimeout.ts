// Step: while a stream runs, its idle timer replaces the socket's own timeout (server.timeout).
import type { Socket } from 'node:net';

interface Suspension {
  readonly timeout: number;
  holders: number;
}

// Per socket, because streams nest: an asyncStream() handler may answer by calling next() into
// another one, and the outer one's release must not switch the timeout back on under the inner one.
const suspensions = new WeakMap<Socket, Suspension>();

const noop = (): void => {};

/**
 * Switches the socket's own timeout (`server.timeout`) off while a stream runs, since the stream's
 * idle timer replaces it. Returns the function that gives it back once the last holder is done;
 * `apply: false` only lets go (the caller knows a newer timeout is already in force).
 */
export function suspendSocketTimeout(socket: Socket | null): (apply: boolean) => void {
  if (socket === null) return noop;
  let suspension = suspensions.get(socket);
  if (suspension === undefined) {
    const timeout = socket.timeout ?? 0;
    if (timeout === 0) return noop;
    suspension = { timeout, holders: 0 };
    suspensions.set(socket, suspension);
    socket.setTimeout(0);
  }
  suspension.holders++;
  let released = false;
  return function restoreSocketTimeout(apply) {
    if (released) return;
    released = true;
    if (--suspension.holders > 0) return;
    suspensions.delete(socket);
    if (apply && !socket.destroyed) socket.setTimeout(suspension.timeout);
  };
}
