import type { Socket } from 'node:net';
import type { RequestHandler, Response } from 'express';
import { deferred } from '../helpers/deferred.js';
import { spyOnWrites } from '../helpers/writes.js';

const trackedEvents = ['close', 'finish', 'error', 'drain', 'unpipe'] as const;

export type ListenerCounts = Record<string, number>;

/** What one response went through, seen from a middleware placed before `asyncStream`. */
export interface ResponseProbe {
  readonly res: Response;
  readonly socket: Socket;
  /** `res` listener counts when the request reached the route (before `asyncStream` ran). */
  readonly listenersBefore: ListenerCounts;
  /** `res.write()` calls made after the response closed. */
  readonly writesAfterClose: number;
  /** True from a `res.write()` that returned false until the next `'drain'`. */
  readonly blocked: boolean;
  /** Resolves once `blocked` is true (at once if it is). */
  whenBlocked(): Promise<void>;
  /** Resolves on the response's `'close'`. */
  readonly closed: Promise<void>;
}

export function countListeners(
  emitter: NodeJS.EventEmitter,
  events: readonly string[] = trackedEvents,
): ListenerCounts {
  return Object.fromEntries(events.map((event) => [event, emitter.listenerCount(event)]));
}

/** Every listener event name on `emitter`, with its count. */
export function countAllListeners(emitter: NodeJS.EventEmitter): ListenerCounts {
  return Object.fromEntries(emitter.eventNames().map((event) => [String(event), emitter.listenerCount(event)]));
}

/** A middleware that pushes a {@link ResponseProbe} for every response it sees onto `probes`. */
export function probeResponses(probes: ResponseProbe[]): RequestHandler {
  return function probeResponse(_req, res, next) {
    const closed = deferred();
    let isClosed = false;
    let writesAfterClose = 0;
    let blocked = false;
    const onBlocked: Array<() => void> = [];
    res.on('close', function markClosed() {
      isClosed = true;
      closed.resolve();
    });
    res.on('drain', function markDrained() {
      blocked = false;
    });
    spyOnWrites(res, function probeWrite({ accepted, afterEnd }) {
      if (isClosed || afterEnd) writesAfterClose++;
      if (!accepted) {
        blocked = true;
        onBlocked.splice(0).forEach((wake) => wake());
      }
    });
    probes.push({
      res,
      socket: res.socket!,
      listenersBefore: countListeners(res),
      get writesAfterClose() {
        return writesAfterClose;
      },
      get blocked() {
        return blocked;
      },
      whenBlocked: () => new Promise<void>((resolve) => (blocked ? resolve() : onBlocked.push(resolve))),
      closed: closed.promise,
    });
    next();
  };
}
