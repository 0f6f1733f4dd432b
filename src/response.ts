// Step: result → response. The StreamResponse a handler may return, and makeResponse() that builds it.
import type { Readable } from 'node:stream';
import type { Chunk } from './chunk.js';
import { isHeadersInput, toHeaderEntries, type HeadersInput } from './headers.js';
import { assertStatus } from './status.js';
import { resolveTimeout, type Timeout } from './idleTimeout.js';
import { describeValue } from './arguments.js';

/** A JSON value, sent in one piece with `res.json()`. */
export type JsonBody = { readonly [key: string]: unknown } | readonly unknown[];

/**
 * What a handler may send. Streams: async iterables (async generators), sync iterables other
 * than arrays (sync generators, and plain objects with a `[Symbol.iterator]` method), Node
 * `Readable`, web `ReadableStream`. Sent in one piece with a `Content-Length`: `string`,
 * `Buffer`/`Uint8Array`, any other plain object or an array (as JSON).
 */
export type StreamBody = AsyncIterable<Chunk> | Iterable<Chunk> | Readable | ReadableStream<Chunk> | Chunk | JsonBody;

/** A body, or a promise of one. */
export type BodyInput = StreamBody | PromiseLike<StreamBody>;

// Recognised by a registered symbol so that a response made by the ES module build is accepted by
// the CommonJS build (and the reverse).
const responseBrand = Symbol.for('express-async-stream.response');

/** Whether `value` was made by {@link makeResponse}, by any copy of this package. */
export function isStreamResponse(value: unknown): value is StreamResponse {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[responseBrand] === true;
}

/**
 * A response whose body, status, headers and idle timeout can still change until the first chunk
 * is sent. Create it with {@link makeResponse}.
 */
export class StreamResponse {
  /** The body, or a promise of it. */
  body: BodyInput;
  private statusCode: number | undefined;
  private headerInput: HeadersInput | undefined;
  private idleTimeout: Timeout | undefined;

  private constructor(body: BodyInput, status: number | undefined, headers: HeadersInput | undefined, where: string) {
    Object.defineProperty(this, responseBrand, { value: true });
    this.body = body;
    if (status !== undefined) assertStatus(status, where);
    if (headers !== undefined) assertHeaders(headers, where);
    this.statusCode = status;
    this.headerInput = headers;
  }

  /**
   * Builds a response; `where` names the caller in error messages. Users call {@link makeResponse}.
   *
   * @internal
   */
  static create(
    body: BodyInput,
    status: number | undefined,
    headers: HeadersInput | undefined,
    where: string,
  ): StreamResponse {
    return new StreamResponse(body, status, headers, where);
  }

  /**
   * The status to send, or `undefined` to keep `res.statusCode` (200 unless the handler set one).
   * An integer from 200 to 599; anything else (a 1xx status included) throws a `TypeError` at assignment.
   */
  get status(): number | undefined {
    return this.statusCode;
  }
  /** Checked at once: a `TypeError` for anything but `undefined` or an integer from 200 to 599. */
  set status(value: number | undefined) {
    if (value !== undefined) assertStatus(value, 'StreamResponse.status');
    this.statusCode = value;
  }

  /**
   * Headers to send; they replace headers of the same name set with `res.set()`. A plain object,
   * a `Headers` instance or an array of `[name, value]` pairs; array values repeat the header.
   */
  get headers(): HeadersInput | undefined {
    return this.headerInput;
  }
  /** Checked at once: a `TypeError` for a shape, name or value that cannot be sent. */
  set headers(value: HeadersInput | undefined) {
    if (value !== undefined) assertHeaders(value, 'StreamResponse.headers');
    this.headerInput = value;
  }

  /**
   * The idle timeout for this response in milliseconds: `undefined` uses the route's (or the
   * app's) timeout, `null` switches it off, a number replaces it. Read when the body starts.
   *
   * @default undefined
   */
  get timeout(): Timeout | undefined {
    return this.idleTimeout;
  }
  /** Checked at once: a `TypeError` or `RangeError` for anything but `undefined`, `null` or 1 to 2^31-1 ms. */
  set timeout(value: Timeout | undefined) {
    this.idleTimeout = resolveTimeout(value, 'StreamResponse.timeout');
  }
}

function assertHeaders(value: unknown, where: string): asserts value is HeadersInput {
  if (!isHeadersInput(value)) {
    throw new TypeError(
      `${where}: headers must be a plain object, a Headers instance or an array of [name, value] pairs, ` +
        `but received ${describeValue(value)}. For a Map, use Object.fromEntries(map).`,
    );
  }
  toHeaderEntries(value, where);
}

/**
 * Builds a {@link StreamResponse}. Return it from a handler to set the
 * status, headers or idle timeout of one response.
 *
 * @param body - what to send (see {@link StreamBody}), or a promise of it.
 * @param status - HTTP status, an integer from 200 to 599. Default: `res.statusCode` (200).
 * @param headers - headers that replace those set with `res.set()`.
 * @throws TypeError when `status` or `headers` is invalid.
 * @example
 * import { asyncStream, makeResponse } from 'express-async-stream';
 * app.get('/feed', asyncStream(() => {
 *   const response = makeResponse(feed(), 200, { 'Cache-Control': 'no-store' });
 *   response.timeout = null; // this response may stay silent for as long as it likes
 *   return response;
 * }));
 */
export function makeResponse(body: BodyInput, status?: number, headers?: HeadersInput): StreamResponse {
  return StreamResponse.create(body, status, headers, 'makeResponse()');
}
