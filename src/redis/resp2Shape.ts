// Step: Redis replies in one shape, RESP2's, whichever protocol version the client speaks.

/**
 * `reply` as RESP2 shapes it: a RESP3 map, which node-redis decodes as an object, becomes the flat
 * `[key, value, key, value]` array RESP2 sends; arrays are converted item by item; strings,
 * numbers, `null` and errors are kept.
 *
 * node-redis decodes the replies of a `MULTI` transaction with its defaults, whatever type mapping
 * the commands carry (node-redis 5.12), so a transaction under `RESP: 3` needs this.
 */
export function toResp2Shape(reply: unknown): unknown {
  if (Array.isArray(reply)) return reply.map(toResp2Shape);
  if (isMapObject(reply)) return Object.entries(reply).flatMap(([key, value]) => [key, toResp2Shape(value)]);
  return reply;
}

/** node-redis decodes a RESP3 map as an object with a null prototype (its default type mapping). */
function isMapObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype;
}
