import type { NextFunction, Response } from 'express';
import { describeValue } from './describe.js';
import type { HandlerResult } from './result.js';
import { fromAsyncIterable, fromIterable, type ChunkSource } from './source.js';

/** What a values handler gave: its values as a source, or a result to hand to asyncStream as it is. */
export type HandlerValues = { readonly source: ChunkSource } | { readonly passThrough: HandlerResult };

/**
 * Calls a handler whose body yields values rather than chunks (`sse` events, `ndjson` values). A
 * handler that answered by itself or handed the request on with `next()` gets its result passed
 * through, so that asyncStream closes (and warns about) a body returned anyway.
 *
 * @throws TypeError naming the result when it is neither `undefined` nor an iterable.
 */
export async function callValuesHandler<R>(
  handler: (req: R, res: Response, next: NextFunction) => unknown,
  req: R,
  res: Response,
  next: NextFunction,
  where: string,
  values: string,
): Promise<HandlerValues> {
  let passedOn = false;
  const result: unknown = await handler(req, res, function passOn(error?: unknown) {
    passedOn = true;
    next(error);
  });
  if (result === undefined || passedOn || res.writableEnded) return { passThrough: result as HandlerResult };
  return { source: toValueSource(result, where, values) };
}

function toValueSource(result: unknown, where: string, values: string): ChunkSource {
  if (typeof result === 'object' && result !== null && !(result instanceof Uint8Array)) {
    if (Symbol.asyncIterator in result) return fromAsyncIterable(result as AsyncIterable<unknown>);
    if (Symbol.iterator in result) return fromIterable(result as Iterable<unknown>);
  }
  throw new TypeError(
    `${where}: the handler returned ${describeValue(result)}. It must return (or be a generator function ` +
      `yielding) an async or sync iterable of ${values}, or undefined when it answered the request itself.`,
  );
}
