// Step: Redis commands over an ioredis client (`new Redis()` of `ioredis` 5).
import { AsyncStreamError } from '../errors.js';
import type { ClientLibrary } from './connection.js';
import type { ClientEvents } from './readiness.js';

/** What this package uses of an ioredis client. */
export interface IoredisClient extends ClientEvents {
  /** `wait` (lazyConnect), `connecting`, `connect`, `ready`, `reconnecting`, `close` or `end`. */
  readonly status: string;
  /** The options it was created with; `keyPrefix` is the one redisStore must know about. */
  readonly options: { readonly keyPrefix?: unknown };
  call(command: string, ...args: string[]): Promise<unknown>;
  multi(): IoredisMulti;
  duplicate(override?: { disconnectTimeout?: number }): IoredisClient;
  connect(): Promise<void>;
  disconnect(): void;
}

interface IoredisMulti {
  call(command: string, ...args: string[]): IoredisMulti;
  /** Each command's `[error, reply]`; `null` when a WATCHed key changed. */
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** ioredis: `call()` for commands (strings, RESP2), `multi()` for transactions, `disconnect()` to close. */
export const ioredisLibrary: ClientLibrary<IoredisClient> = {
  name: 'ioredis',
  send: (client, command) => client.call(...command),
  async transaction(client, commands) {
    const multi = client.multi();
    for (const command of commands) multi.call(...command);
    const results = await multi.exec();
    if (results === null) throw new AsyncStreamError('redisStore: Redis discarded a transaction (EXEC returned nil).');
    const failed = results.find(([error]) => error !== null)?.[0];
    if (failed) throw failed;
    return results.map(([, reply]) => reply);
  },
  isReady: (client) => client.status === 'ready',
  isEnded: (client) => client.status === 'end',
  // disconnect() ends the socket and destroys it only after disconnectTimeout (2 s by default),
  // and during an outage arms that timer for a socket already closed, which holds the process
  // for 2 s: the duplicate is closed at once anyway, so its socket is destroyed on the next tick.
  duplicate: (client) => client.duplicate({ disconnectTimeout: 0 }),
  connect(client) {
    // A lazyConnect client waits for connect(). Its first failure rejects connect() while the
    // client goes on retrying as its retryStrategy says; whenReady() waits for that instead.
    if (client.status === 'wait') client.connect().catch(() => {});
    return Promise.resolve();
  },
  close: (client) => client.disconnect(),
};
