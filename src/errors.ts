// Step: the package's error hierarchy: AsyncStreamError, its subclasses, and an instanceof-free guard.
/**
 * Marks errors created by this package. A registered symbol (not `instanceof`) so that the check
 * holds across the CommonJS and ES module builds, and across duplicated copies in `node_modules`.
 */
const errorBrand = Symbol.for('express-async-stream.error');

/**
 * Base class of the errors this package creates itself: a stream's timeout, a context accessor
 * called outside a request, the test kit's. Errors about bad input stay plain `TypeError` and
 * `RangeError`, as JavaScript users expect.
 */
export class AsyncStreamError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'AsyncStreamError';
    Object.defineProperty(this, errorBrand, { value: true });
  }
}

/** Facts about the request a {@link StreamTimeoutError} abandoned. */
export interface StreamTimeoutDetails {
  /** The idle timeout that elapsed, in milliseconds. */
  readonly timeout: number;
  /** The request method, e.g. `GET`. */
  readonly method: string;
  /** The request URL as received (`req.originalUrl`). */
  readonly url: string;
  /** Whether the status and headers had already been sent when the timeout fired. */
  readonly headersSent: boolean;
}

/**
 * No chunk was written for `timeout` milliseconds, because the producer was silent or the client
 * stopped reading. The stream was abandoned and this error went to `next(err)`.
 *
 * `status` is 503, so Express's error handler answers `503 Service Unavailable` when nothing had
 * been sent yet; once the stream has started, Express closes the connection instead.
 */
export class StreamTimeoutError extends AsyncStreamError implements StreamTimeoutDetails {
  /** HTTP status for Express's error handler. */
  readonly status = 503;
  /** Alias of `status`, read by some error handlers. */
  readonly statusCode = 503;
  readonly timeout: number;
  readonly method: string;
  readonly url: string;
  readonly headersSent: boolean;

  constructor(details: StreamTimeoutDetails) {
    const phase = details.headersSent ? 'after the response started' : 'before anything was sent';
    super(
      `${details.method} ${details.url}: no chunk was written for ${details.timeout} ms (${phase}), ` +
        'so the stream was abandoned. Raise `timeout`, or set it to null for this route ' +
        '(asyncStream(handler, { timeout: null })) or this response (response.timeout = null).',
    );
    this.name = 'StreamTimeoutError';
    this.timeout = details.timeout;
    this.method = details.method;
    this.url = details.url;
    this.headersSent = details.headersSent;
  }
}

/**
 * The reason a stream's `currentSignal()` aborts when {@link closeStreams} winds it down: the server
 * is shutting down. An event stream gets it at once; a byte stream when its grace period is over.
 * Never passed to `next(err)`: a shutdown is not the stream's failure.
 *
 * @example
 * import { asyncStream, currentSignal, ServerShutdownError } from 'express-async-stream';
 * app.get('/export', asyncStream(async function* () {
 *   const signal = currentSignal();
 *   try {
 *     yield* rows(signal);
 *   } finally {
 *     if (signal.reason instanceof ServerShutdownError) console.log('cut by a deploy');
 *   }
 * }));
 */
export class ServerShutdownError extends AsyncStreamError {
  /** HTTP status for a request that was not served because of the shutdown. */
  readonly status = 503;

  constructor() {
    super('The server is shutting down (closeStreams() was called), so this stream was ended before it finished.');
    this.name = 'ServerShutdownError';
  }
}

/**
 * Tells whether `value` is an error created by this package, without relying on `instanceof`.
 *
 * @example
 * import { isAsyncStreamError } from 'express-async-stream';
 * app.use((err, req, res, next) => {
 *   if (isAsyncStreamError(err)) console.warn(err.message);
 *   next(err);
 * });
 */
export function isAsyncStreamError(value: unknown): value is AsyncStreamError {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[errorBrand] === true;
}
