// Step: one RedisConnection over a client of either library: readiness, duplicates and their teardown.
import { createReadiness, type ClientEvents } from './readiness.js';
import type { RedisConnection } from './redisClient.js';

/** A Redis command as raw arguments, its name first: `['XADD', key, '*', 'data', 'x']`. */
export type Command = readonly [name: string, ...args: string[]];

/** What differs between node-redis and ioredis, for {@link createConnection}. */
export interface ClientLibrary<C extends ClientEvents> {
  readonly name: RedisConnection['library'];
  send(client: C, command: Command): Promise<unknown>;
  transaction(client: C, commands: readonly Command[]): Promise<unknown[]>;
  isReady(client: C): boolean;
  /** Whether the client stopped for good, so that waiting for 'ready' would never end. */
  isEnded(client: C): boolean;
  /** A new, unconnected client for the same server, with the same options. */
  duplicate(client: C): C;
  /** Starts connecting a duplicate; resolves once it is connected (node-redis) or started (ioredis). */
  connect(client: C): Promise<void>;
  /**
   * Closes a duplicate at once, rejecting its pending commands. It then emits 'end', except an
   * ioredis client closed between two reconnection attempts, which keeps its status (ioredis 5.11).
   */
  close(client: C): void;
}

/**
 * A connection over `client`. `owned` marks a client that {@link RedisConnection.duplicate}
 * opened: `close()` closes it. The user's own client is never closed here.
 */
export function createConnection<C extends ClientEvents>(
  library: ClientLibrary<C>,
  client: C,
  owned = false,
): RedisConnection {
  const isReady = (): boolean => library.isReady(client);
  const readiness = createReadiness(client, library.name, isReady, () => library.isEnded(client));
  let closed = false;
  let connects = 0;
  const countConnect = (): void => void connects++;
  if (owned) client.on('ready', countConnect);
  return {
    library: library.name,
    get isReady() {
      return !closed && isReady();
    },
    get connects() {
      return connects;
    },
    send: async (args) => library.send(client, toCommand(args)),
    transaction: async (commands) => library.transaction(client, commands.map(toCommand)),
    whenReady: () => readiness.whenReady(),
    duplicate: (signal) => openDuplicate(library, client, signal),
    close() {
      if (closed) return;
      closed = true;
      readiness.close();
      if (owned) closeDuplicate(library, client, countConnect);
    },
  };
}

function toCommand(args: readonly string[]): Command {
  if (args.length === 0) throw new TypeError('redisStore: a Redis command needs a name, but received [].');
  return args as Command;
}

async function openDuplicate<C extends ClientEvents>(
  library: ClientLibrary<C>,
  client: C,
  signal: AbortSignal | undefined,
): Promise<RedisConnection> {
  signal?.throwIfAborted();
  const copy = library.duplicate(client);
  // Both libraries emit 'error' on every failed connection attempt and every dropped connection,
  // and an 'error' event without a listener throws, which would crash the process.
  copy.on('error', ignoreDuplicateError);
  const connection = createConnection(library, copy, true);
  // Closed, it stops reconnecting, and whenReady() below rejects.
  const abort = (): void => connection.close();
  signal?.addEventListener('abort', abort, { once: true });
  try {
    await library.connect(copy);
    await connection.whenReady();
  } catch (error) {
    connection.close();
    throw error;
  } finally {
    signal?.removeEventListener('abort', abort);
  }
  return connection;
}

/**
 * A duplicate's errors are its connection's: the library reconnects on its own, and the commands
 * they affect reject with them. The user's client, on the same server, reports the same outage
 * through the user's own listener.
 */
function ignoreDuplicateError(): void {}

function closeDuplicate<C extends ClientEvents>(library: ClientLibrary<C>, client: C, countConnect: () => void): void {
  client.off('ready', countConnect);
  // The error listener stays for good: a socket that was still connecting when the duplicate was
  // closed can fail after the client's 'end' (seen once: 'read ECONNRESET' from a server refusing
  // connections, which crashed the next test as an uncaught error). The closed client is dropped
  // with its listener.
  library.close(client);
}
