// Step: which keys the reader can no longer follow: trimmed past its position, or no longer streams.
import { AsyncStreamError } from '../errors.js';
import type { RedisConnection } from './redisClient.js';
import { lastEntryId } from './streamEntry.js';

/**
 * The keys whose last id delivered (`places`: key → id) is no longer in their stream: trimmed while
 * the reader was away or behind, or the stream deleted (a restart of a Redis without persistence). Entries
 * between that id and the first one kept were never delivered. A key still at `0-0` (its stream was
 * empty when reading started) has nothing to check against, and is not asked about.
 */
export async function findGaps(connection: RedisConnection, places: ReadonlyMap<string, string>): Promise<string[]> {
  const checked = [...places].filter(([, id]) => id !== '0-0');
  const found = await Promise.all(checked.map(([key, id]) => connection.send(['XRANGE', key, id, id])));
  return checked.filter((_place, index) => lastEntryId(found[index]) === undefined).map(([key]) => key);
}

/**
 * The keys that hold something other than a stream (another command `SET` over a topic's key), each
 * with the error its subscribers get. One such key fails a whole `XREAD` with WRONGTYPE.
 */
export async function findWrongTypes(
  connection: RedisConnection,
  keys: readonly string[],
): Promise<Map<string, AsyncStreamError>> {
  const types = await Promise.all(keys.map((key) => connection.send(['TYPE', key])));
  const wrong = new Map<string, AsyncStreamError>();
  keys.forEach((key, index) => {
    const type = String(types[index]);
    if (type !== 'stream' && type !== 'none') wrong.set(key, wrongTypeError(key, type));
  });
  return wrong;
}

/** Whether Redis refused a command because a key holds another type (`WRONGTYPE Operation against a key …`). */
export function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

function wrongTypeError(key: string, type: string): AsyncStreamError {
  return new AsyncStreamError(
    `redisStore(): the key ${key} holds a ${type}, not a stream, so its topic's events cannot be read. ` +
      'Another part of the app writes to it: delete it, or give the store a prefix of its own (redisStore(client, { prefix })).',
  );
}
