// Step: the user's Redis client, node-redis or ioredis, as the few commands redisStore needs.
import { describeValue } from '../arguments.js';
import { createConnection } from './connection.js';
import { ioredisLibrary, type IoredisClient } from './ioredisLibrary.js';
import { nodeRedisLibrary, type NodeRedisClient } from './nodeRedisLibrary.js';

/** The commands redisStore needs, over a node-redis or an ioredis client. */
export interface RedisConnection {
  /** `'redis'` (node-redis) or `'ioredis'`, for messages. */
  readonly library: 'redis' | 'ioredis';
  /**
   * Sends one command as raw string arguments, e.g. `['XADD', key, '*', 'data', 'x']`; resolves
   * the reply in RESP2 shape: arrays, strings, numbers, `null`. A RESP3 map reply (node-redis with
   * `RESP: 3`) is turned into the RESP2 flat array of pairs, so callers see one shape.
   */
  send(args: readonly string[]): Promise<unknown>;
  /**
   * Runs commands as one `MULTI` … `EXEC` transaction; resolves each command's reply in order
   * (RESP2 shape); rejects with the first failed command's error if any failed.
   */
  transaction(commands: readonly (readonly string[])[]): Promise<unknown[]>;
  /** True while a command sent now goes to Redis at once (node-redis `isReady`, ioredis status `ready`). */
  readonly isReady: boolean;
  /**
   * How many times a connection that `duplicate()` opened has become ready (its `'ready'` events).
   * When it grows, a command that was waiting for a reply may have been sent again on the new
   * connection (ioredis does so by default) rather than rejected. Always 0 on the user's client,
   * whose events this package does not listen to while idle.
   */
  readonly connects: number;
  /**
   * A new connection to the same server, for blocking commands: `client.duplicate()`, connected
   * (it resolves once ready), with a listener for its `'error'` events, so that a dropped
   * connection never crashes the process. It reconnects on its own, as its library does. When
   * `signal` aborts before it is ready, it is closed and the promise rejects: a caller that no
   * longer needs it does not leave it trying to reach Redis.
   */
  duplicate(signal?: AbortSignal): Promise<RedisConnection>;
  /**
   * Closes a connection that `duplicate()` opened, at once, rejecting its pending commands, and
   * removes the listeners added to it. On the connection over the user's own client, it only
   * rejects pending `whenReady()` calls: that client stays open. Idempotent.
   */
  close(): void;
  /**
   * Resolves once `isReady` is true (at once if it is), e.g. after a reconnect. Rejects when this
   * connection is closed, or the client ends (closed, or its library stopped reconnecting).
   */
  whenReady(): Promise<void>;
}

const CALL = 'redisStore(client)';
const FIX =
  'Pass a connected client of `redis` (redisStore(await createClient({ url }).connect())) ' +
  'or of `ioredis` (redisStore(new Redis(url)))';

/**
 * Wraps the user's Redis client: a node-redis client (`createClient()` of `redis` 4.6 or 5) or an
 * ioredis client (`new Redis()` of `ioredis` 5). Neither library is imported: the user's client
 * brings its own.
 *
 * @throws TypeError naming the value when it is neither, or when it is a cluster client (a topic
 * reads many streams with one XREAD, which a cluster cannot do across its nodes).
 */
export function toRedisConnection(client: unknown): RedisConnection {
  const cluster = clusterKind(client);
  if (cluster !== undefined) {
    throw new TypeError(
      `${CALL} does not support a Redis Cluster, but received ${cluster}: a topic reads many streams ` +
        `with one XREAD, and a cluster spreads them over its nodes. ${FIX} to one Redis server.`,
    );
  }
  if (isNodeRedisClient(client)) return createConnection(nodeRedisLibrary, client);
  if (isIoredisClient(client)) {
    const { keyPrefix } = client.options;
    // ioredis adds keyPrefix to the keys of call() too, and XREAD answers with the prefixed names.
    if (typeof keyPrefix === 'string' && keyPrefix !== '') {
      throw new TypeError(
        `${CALL} does not support an ioredis client with a keyPrefix, but received one with keyPrefix ` +
          `${describeValue(keyPrefix)}. Pass a client without it, and give the store the prefix: ` +
          `redisStore(client, { prefix: ${JSON.stringify(keyPrefix)} }).`,
      );
    }
    return createConnection(ioredisLibrary, client);
  }
  throw new TypeError(`${CALL} expects a Redis client, but received ${describeValue(client)}. ${FIX}.${hint(client)}`);
}

function hint(client: unknown): string {
  if (typeof client === 'string') return ' A URL is not a client: give it to createClient({ url }) or new Redis(url).';
  if (hasMethods(client, ['then'])) return ' Did you forget `await`? connect() returns a promise of the client.';
  return '';
}

function clusterKind(client: unknown): string | undefined {
  if (hasMethods(client, ['sendCommand', 'getSlotRandomNode'])) return 'a node-redis cluster (createCluster())';
  if (hasMethods(client, ['call']) && (client as { isCluster?: unknown }).isCluster === true)
    return 'an ioredis cluster (new Redis.Cluster())';
  return undefined;
}

/** node-redis 4.6 and 5 clients; not its pools, sentinels or clusters, whose methods differ. */
function isNodeRedisClient(client: unknown): client is NodeRedisClient {
  return (
    hasMethods(client, ['sendCommand', 'multi', 'duplicate', 'connect', 'on', 'off']) &&
    typeof (client as { isReady?: unknown }).isReady === 'boolean'
  );
}

/** ioredis clients: `call()` for any command, and `status` and `options` of their own. */
function isIoredisClient(client: unknown): client is IoredisClient {
  if (!hasMethods(client, ['call', 'multi', 'duplicate', 'connect', 'disconnect', 'on', 'off'])) return false;
  const { status, options } = client as { status?: unknown; options?: unknown };
  return typeof status === 'string' && typeof options === 'object' && options !== null;
}

function hasMethods(value: unknown, names: readonly string[]): boolean {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return false;
  return names.every((name) => typeof (value as Record<string, unknown>)[name] === 'function');
}
