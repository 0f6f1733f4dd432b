// Step: Redis commands over a node-redis client (`createClient()` of `redis` 4.6 or 5).
import type { ClientLibrary } from './connection.js';
import type { ClientEvents } from './readiness.js';
import { toResp2Shape } from './resp2Shape.js';

/** What this package uses of a node-redis client. */
export interface NodeRedisClient extends ClientEvents {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  sendCommand(args: readonly string[], options?: object): Promise<unknown>;
  multi(): NodeRedisMulti;
  duplicate(): NodeRedisClient;
  connect(): Promise<unknown>;
  /** node-redis 5: closes at once, rejecting pending commands. */
  destroy?(): void;
  /** node-redis 4: closes at once; node-redis 5: deprecated alias of `destroy()`. */
  disconnect(): Promise<void>;
}

interface NodeRedisMulti {
  addCommand(args: readonly string[]): NodeRedisMulti;
  exec(): Promise<unknown[]>;
}

/**
 * node-redis type mapping, keyed by RESP3 type byte, for replies that {@link toResp2Shape} turns
 * into RESP2's shape: a map (`%`) as a `Map`, which keeps its keys' order (an object would move
 * integer-like keys first), a double (`,`) and a big number (`(`) as the strings RESP2 sends.
 * Given with each command, it replaces the client's own mapping, so that a client mapping strings
 * to Buffers still gets strings. node-redis 4, which speaks RESP2 only, ignores it.
 */
const RESP2_TYPE_MAPPING = { [0x25]: Map, [0x2c]: String, [0x28]: String };

/** node-redis: `sendCommand()` for commands, `multi()` for transactions, `destroy()` to close. */
export const nodeRedisLibrary: ClientLibrary<NodeRedisClient> = {
  name: 'redis',
  send: async (client, command) =>
    toResp2Shape(command[0], await client.sendCommand(command, { typeMapping: RESP2_TYPE_MAPPING })),
  async transaction(client, commands) {
    const multi = client.multi();
    for (const command of commands) multi.addCommand(command);
    try {
      const replies = await multi.exec();
      return replies.map((reply, index) => toResp2Shape(commands[index]?.[0], reply));
    } catch (error) {
      throw firstCommandError(error);
    }
  },
  isReady: (client) => client.isReady,
  // Not open: never connected, closed, or its reconnectStrategy gave up; a command sent now rejects.
  isEnded: (client) => !client.isOpen,
  duplicate: (client) => client.duplicate(),
  // connect() retries as the client's reconnectStrategy says, and resolves once connected.
  connect: async (client) => void (await client.connect()),
  close(client) {
    // destroy() throws when the client is closed already, e.g. after its reconnectStrategy gave up.
    if (!client.isOpen) return;
    if (client.destroy) client.destroy();
    else void client.disconnect().catch(() => {});
  },
};

/**
 * node-redis rejects a transaction in which commands failed with a `MultiErrorReply` ("1 commands
 * failed, see .replies and .errorIndexes"); the first failed command's own error says what went wrong.
 */
function firstCommandError(error: unknown): unknown {
  const { replies, errorIndexes } = error as { replies?: unknown; errorIndexes?: unknown };
  if (!Array.isArray(replies) || !Array.isArray(errorIndexes)) return error;
  return (replies[errorIndexes[0] as number] as unknown) ?? error;
}
