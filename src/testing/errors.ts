// Step (test kit): the errors a StreamConnection rejects with, in the package's error hierarchy.
import { AsyncStreamError } from '../errors.js';

/**
 * The server cut the response short: the connection closed before the end of the body (an
 * incomplete chunked body or a reset socket), which is how a stream that failed after its first
 * chunk looks to a client.
 */
export class ResponseAbortedError extends AsyncStreamError {
  /** How many bytes of the body arrived before the cut. */
  readonly receivedBytes: number;

  constructor(method: string, url: string, receivedBytes: number, options?: ErrorOptions) {
    super(
      `${method} ${url}: the server closed the connection before the end of the response body ` +
        `(${receivedBytes} bytes received). A stream that fails after its first chunk ends this way.`,
      options,
    );
    this.name = 'ResponseAbortedError';
    this.receivedBytes = receivedBytes;
  }
}

/** Nothing arrived within the time a `streamRequest` call was given. */
export class ReceiveTimeoutError extends AsyncStreamError {
  /**
   * What was awaited: `'the response headers'`, `'the next chunk'`, `'the next line'`, `'the next
   * event'`, `'the next JSON value'`, or, from `disconnect()`, `"the end of the server's teardown"`.
   */
  readonly awaited: string;
  /** The time allowed, in milliseconds. */
  readonly timeout: number;

  constructor(method: string, url: string, awaited: string, timeout: number, fix?: string) {
    super(
      `${method} ${url}: ${awaited} did not arrive within ${timeout} ms. ` +
        (fix ??
          'Make the server produce it, or allow more time with { timeout } (per request in streamRequest(), or per call of receive()).'),
    );
    this.name = 'ReceiveTimeoutError';
    this.awaited = awaited;
    this.timeout = timeout;
  }
}
