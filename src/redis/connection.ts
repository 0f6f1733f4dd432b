// Step: one RedisConnection over a client of either library: readiness, duplicates and their teardown.
import { createReadiness, type ClientEvents } from './readiness.js';
import type { RedisConnection } from './redisClient.js';

/** What differs between node-redis and ioredis, for {@link createConnection}. */
export interface ClientLibrary<C extends ClientEvents> {
  readonly name: RedisConnection['library'];
  send(client: C, args: readonly string[]): Promise<unknown>;
  transaction(client: C, commands: readonly (readonly string[])[]): Promise<unknown[]>;
  isReady(client: C): boolean;
  /** Whether the client stopped for good, so that waiting for 'ready' would never end. */
  isEnded(client: C): boolean;
  /** A new, unconnected client for the same server, with the same options. */
  duplicate(client: C): C;
  /** Starts connecting a duplicate; resolves once it is connected (node-redis) or started (ioredis). */
  connect(client: C): Promise<void>;
  /** Closes a duplicate at once, rejecting its pending commands; it emits 'end'. */
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
  return {
    library: library.name,
    get isReady() {
      return !closed && isReady();
    },
    send: (args) => library.send(client, args),
    transaction: (commands) => library.transaction(client, commands),
    whenReady: () => readiness.whenReady(),
    duplicate: () => openDuplicate(library, client),
    close() {
      if (closed) return;
      closed = true;
      readiness.close();
      if (owned) closeDuplicate(library, client);
    },
  };
}

async function openDuplicate<C extends ClientEvents>(library: ClientLibrary<C>, client: C): Promise<RedisConnection> {
  const copy = library.duplicate(client);
  // Both libraries emit 'error' on every failed connection attempt and every dropped connection,
  // and an 'error' event without a listener throws, which would crash the process.
  copy.on('error', ignoreDuplicateError);
  const connection = createConnection(library, copy, true);
  try {
    await library.connect(copy);
    await connection.whenReady();
  } catch (error) {
    connection.close();
    throw error;
  }
  return connection;
}

/**
 * A duplicate's errors are its connection's: the library reconnects on its own, and the commands
 * they affect reject with them. The user's client, on the same server, reports the same outage
 * through the user's own listener.
 */
function ignoreDuplicateError(): void {}

function closeDuplicate<C extends ClientEvents>(library: ClientLibrary<C>, client: C): void {
  // The error listener stays until 'end' (sync in node-redis, after the socket closes in ioredis):
  // an error emitted while the socket goes down must still find it.
  client.on('end', function removeDuplicateListeners() {
    client.off('end', removeDuplicateListeners);
    client.off('error', ignoreDuplicateError);
  });
  library.close(client);
}
