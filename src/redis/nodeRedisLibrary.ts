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
 * The RESP2 shape under `RESP: 3`, as node-redis type mapping keyed by RESP3 type byte: a map
 * (`%`) as the flat array RESP2 sends, a double (`,`) and a big number (`(`) as the strings RESP2
 * sends. Given with each command, it replaces the client's own mapping, so that a client mapping
 * strings to Buffers still gets strings. node-redis 4 ignores it (it speaks RESP2 only).
 */
const RESP2_SHAPE = { [0x25]: Array, [0x2c]: String, [0x28]: String };

/** node-redis: `sendCommand()` for commands, `multi()` for transactions, `destroy()` to close. */
export const nodeRedisLibrary: ClientLibrary<NodeRedisClient> = {
  name: 'redis',
  send: async (client, args) => toResp2Shape(await client.sendCommand(args, { typeMapping: RESP2_SHAPE })),
  async transaction(client, commands) {
    const multi = client.multi();
    for (const args of commands) multi.addCommand(args);
    try {
      return (await multi.exec()).map(toResp2Shape);
    } catch (error) {
      throw firstCommandError(error);
    }
  },
  isReady: (client) => client.isReady,
  // A client that is not open yet and one closed for good look alike; whenReady() waits for both.
  isEnded: () => false,
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
