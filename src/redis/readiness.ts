// Step: waiting until a Redis client can send at once again, on the 'ready' and 'end' events both libraries emit.
import { AsyncStreamError } from '../errors.js';

/** The event methods node-redis and ioredis clients share (both are Node event emitters). */
export interface ClientEvents {
  on(event: string, listener: (...args: never[]) => void): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
}

/** How a connection waits for its client's readiness; see `RedisConnection.whenReady()`. */
export interface Readiness {
  /** Resolves once `isReady()` is true; rejects on the client's `'end'` or after `close()`. */
  whenReady(): Promise<void>;
  /** Rejects every pending and later `whenReady()` and removes the listeners. Idempotent. */
  close(): void;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Readiness of `client`, whose `'ready'` event says it can send at once and whose `'end'` event
 * says it stopped for good (closed, or gave up reconnecting). It listens only while someone
 * waits, so an idle connection adds no listener to the user's client.
 *
 * @param library - the client library, as messages name it.
 * @param isEnded - whether the client has already ended, so that waiting would never end.
 */
export function createReadiness(
  client: ClientEvents,
  library: string,
  isReady: () => boolean,
  isEnded: () => boolean,
): Readiness {
  const waiters = new Set<Waiter>();
  let closed = false;
  const settle = (error?: Error): void => {
    client.off('ready', onReady);
    client.off('end', onEnd);
    const settled = [...waiters];
    waiters.clear();
    for (const waiter of settled) {
      if (error === undefined) waiter.resolve();
      else waiter.reject(error);
    }
  };
  function onReady(): void {
    settle();
  }
  function onEnd(): void {
    settle(endedError(library));
  }
  return {
    whenReady() {
      if (closed) return Promise.reject(closedError());
      if (isReady()) return Promise.resolve();
      if (isEnded()) return Promise.reject(endedError(library));
      return new Promise<void>((resolve, reject) => {
        if (waiters.size === 0) {
          client.on('ready', onReady);
          client.on('end', onEnd);
        }
        waiters.add({ resolve, reject });
      });
    },
    close() {
      if (closed) return;
      closed = true;
      settle(closedError());
    },
  };
}

function closedError(): AsyncStreamError {
  return new AsyncStreamError('redisStore: this Redis connection was closed, so it will not be ready again.');
}

function endedError(library: string): AsyncStreamError {
  return new AsyncStreamError(
    `redisStore: the ${library} client ended (it was closed, or stopped reconnecting), ` +
      'so it will not be ready until it is connected again.',
  );
}
