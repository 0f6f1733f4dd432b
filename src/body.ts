// Step: result → body. Sorts an awaited body into one sent whole (text, bytes, JSON) and one streamed.
import { describeValue } from './arguments.js';
import type { JsonBody } from './response.js';
import {
  fromAsyncIterable,
  fromIterable,
  fromReadable,
  fromReadableStream,
  isReadable,
  isPromiseLike,
  isReadableStream,
  type ChunkSource,
} from './source.js';

/** A body sent in one piece (`res.send`/`res.json`), or one streamed chunk by chunk. */
export type ResolvedBody =
  | { readonly kind: 'whole'; readonly value: string | Buffer | JsonBody }
  | { readonly kind: 'stream'; readonly source: ChunkSource };

const accepted =
  'A body is an async or sync generator (or other non-array iterable), a Readable, a ReadableStream, ' +
  'a string, a Buffer or Uint8Array, a plain object or array (sent as JSON), or a promise of one';

/**
 * Turns an awaited body into what the pump or `res.send` consumes.
 *
 * @throws TypeError naming the value when it cannot be a body.
 */
export function resolveBody(body: unknown, where: string): ResolvedBody {
  if (typeof body === 'string') return { kind: 'whole', value: body };
  if (typeof body !== 'object' || body === null) throw bodyTypeError(body, where);
  if (body instanceof Uint8Array) return { kind: 'whole', value: toBuffer(body) };
  if (isReadable(body)) return { kind: 'stream', source: fromReadable(body) };
  if (isReadableStream(body)) return { kind: 'stream', source: fromReadableStream(body) };
  if (Symbol.asyncIterator in body)
    return { kind: 'stream', source: fromAsyncIterable(body as AsyncIterable<unknown>) };
  if (Array.isArray(body)) return { kind: 'whole', value: body as JsonBody };
  // Before the plain-object check: an object literal with a [Symbol.iterator] method streams.
  if (Symbol.iterator in body) return { kind: 'stream', source: fromIterable(body as Iterable<unknown>) };
  if (isPlainObject(body)) return { kind: 'whole', value: body as JsonBody };
  throw bodyTypeError(body, where);
}

/** Releases a body that will never be sent: closes a generator, destroys or cancels a stream. */
export function discardBody(body: unknown): void {
  if (typeof body !== 'object' || body === null) return;
  try {
    if (isReadable(body)) body.destroy();
    else if (isReadableStream(body)) {
      if (!body.locked) body.cancel().catch(() => {});
    } else if (typeof (body as Generator).return === 'function') {
      const result: unknown = (body as Generator).return(undefined);
      if (result instanceof Promise) result.catch(() => {});
    }
  } catch {
    // Closing is best effort: the body was never going to reach the client.
  }
}

/**
 * Whether `value` is a body sent as JSON by {@link resolveBody}: an array, or a plain object that is
 * neither iterable, a stream nor a promise.
 */
export function isJsonBody(value: unknown): boolean {
  if (Array.isArray(value)) return true;
  if (!isPlainObject(value)) return false;
  const object = value as object;
  return !(
    Symbol.asyncIterator in object ||
    Symbol.iterator in object ||
    isReadableStream(object) ||
    isPromiseLike(object)
  );
}

/** Whether `value` is an object literal (or made with `Object.create(null)`): JSON data, not a class instance. */
export function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function toBuffer(bytes: Uint8Array): Buffer {
  // Express 4's res.send() treats a Uint8Array that is not a Buffer as an object (JSON).
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function bodyTypeError(body: unknown, where: string): TypeError {
  return new TypeError(`${where}: cannot send ${describeValue(body)} as a body. ${accepted}.`);
}
