// Step: Redis replies in one shape, RESP2's, whichever protocol version the client speaks.

/**
 * Commands whose map reply RESP2 sends as `[key, value]` pairs, not flat: Redis writes the reply
 * of XREAD and XREADGROUP as one 2-item array per stream in RESP2 (t_stream.c), and as a map in RESP3.
 */
const PAIRED_MAP_REPLIES = new Set(['XREAD', 'XREADGROUP']);

/**
 * The reply of `command` as RESP2 shapes it. A RESP3 map, which node-redis decodes as a `Map` or
 * an object, becomes what Redis sends in RESP2: `[[key, value], …]` for XREAD and XREADGROUP,
 * the flat `[key, value, key, value]` for any other command (and for maps nested in a reply).
 * Arrays are converted item by item; strings, numbers, `null` and errors are kept.
 *
 * node-redis decodes the replies of a `MULTI` transaction with its default type mapping, whatever
 * mapping the commands carry (node-redis 5.12): maps come as objects there.
 */
export function toResp2Shape(command: string | undefined, reply: unknown): unknown {
  const entries = mapEntries(reply);
  if (entries === undefined) return Array.isArray(reply) ? reply.map((item) => toResp2Shape(undefined, item)) : reply;
  if (command !== undefined && PAIRED_MAP_REPLIES.has(command.toUpperCase()))
    return entries.map(([key, value]) => [key, toResp2Shape(undefined, value)]);
  return entries.flatMap(([key, value]) => [key, toResp2Shape(undefined, value)]);
}

/** The entries of a decoded RESP3 map: a `Map`, or an object with a null or plain prototype. */
function mapEntries(value: unknown): [unknown, unknown][] | undefined {
  if (value instanceof Map) return [...(value as Map<unknown, unknown>)];
  if (typeof value !== 'object' || value === null) return undefined;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype ? Object.entries(value) : undefined;
}
