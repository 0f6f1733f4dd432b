import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ReceiveTimeoutError, ResponseAbortedError } from './errors.js';
import { resolveReceiveTimeout } from './options.js';

/** Options of {@link StreamConnection.receive}, {@link StreamConnection.text} and {@link StreamConnection.disconnect}. */
export interface ReceiveOptions {
  /**
   * How long to wait, in milliseconds, before rejecting with a `ReceiveTimeoutError`.
   *
   * @default the `timeout` given to `streamRequest()`, else 5_000
   */
  readonly timeout?: number;
}

type BodyState = 'open' | 'ended' | 'aborted';

/** Where a connection came from, for error messages and defaults. */
export interface ConnectionOrigin {
  readonly method: string;
  readonly url: string;
  readonly timeout: number;
}

/**
 * An HTTP response read chunk by chunk as it arrives, like Quart's test client connection, but one
 * that never hangs: the end of the body, a cut connection and a silent server are distinct and
 * explicit. Created by `streamRequest()`.
 */
export class StreamConnection implements AsyncIterable<Buffer> {
  /** The response status code. */
  readonly status: number;
  /** The response headers, names lower-cased. */
  readonly headers: IncomingHttpHeaders;
  /** The URL requested. */
  readonly url: string;
  private readonly pending: Buffer[] = [];
  private receivedBytes = 0;
  private state: BodyState = 'open';
  private notify: Array<() => void> = [];
  private readonly closed: Promise<void>;

  /** @internal Use `streamRequest()`. */
  constructor(
    private readonly request: ClientRequest,
    private readonly response: IncomingMessage,
    private readonly origin: ConnectionOrigin,
    /** Resolves once the server is done with the response; only known when the kit serves the app. */
    private readonly served?: Promise<void>,
  ) {
    this.status = response.statusCode ?? 0;
    this.headers = response.headers;
    this.url = origin.url;
    response.on('data', (chunk: Buffer) => {
      this.pending.push(chunk);
      this.receivedBytes += chunk.length;
      this.changed();
    });
    // A cut body also emits 'error' (ECONNRESET "aborted"); 'close' with `complete` unset tells us.
    response.on('error', () => {});
    request.on('error', () => {});
    this.closed = new Promise((resolve) => {
      response.once('close', () => {
        this.state = response.complete ? 'ended' : 'aborted';
        this.changed();
        resolve();
      });
    });
  }

  /**
   * The next chunk of the body as it arrives; `null` once the body has ended cleanly (and on every
   * later call).
   *
   * @throws ResponseAbortedError once the chunks received before a cut connection are consumed.
   * @throws ReceiveTimeoutError when nothing arrives in time; the connection stays usable.
   */
  async receive(options: ReceiveOptions = {}): Promise<Buffer | null> {
    const timeout = resolveReceiveTimeout(options.timeout, this.origin.timeout, 'receive(options)');
    const deadline = Date.now() + timeout;
    while (this.pending.length === 0 && this.state === 'open') {
      await this.nextChange(deadline - Date.now(), timeout);
    }
    const chunk = this.pending.shift();
    if (chunk !== undefined) return chunk;
    if (this.state === 'aborted') throw this.abortedError();
    return null;
  }

  /**
   * The rest of the body as bytes, once it has ended.
   *
   * @throws ResponseAbortedError when the connection is cut first; ReceiveTimeoutError when a chunk is late.
   */
  async buffer(options: ReceiveOptions = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let chunk = await this.receive(options); chunk !== null; chunk = await this.receive(options)) parts.push(chunk);
    return Buffer.concat(parts);
  }

  /** The rest of the body as UTF-8 text, once it has ended; throws as {@link buffer} does. */
  async text(options: ReceiveOptions = {}): Promise<string> {
    return (await this.buffer(options)).toString('utf8');
  }

  /** Stops reading, so the server's writes back up (a client that stopped reading). */
  pause(): void {
    this.response.pause();
  }

  /** Reads again after `pause()`. */
  resume(): void {
    this.response.resume();
  }

  /**
   * Closes the socket like a browser tab going away. When `streamRequest()` was given the app, it
   * resolves once the server is done with the response too: the response has closed and the body's
   * teardown has settled (a generator's `finally` has run). Given an `http.Server` or a URL, the
   * kit cannot see the server's side and resolves once the socket is closed. Idempotent, also after
   * the body has ended.
   *
   * @throws ReceiveTimeoutError when the server's teardown takes longer than the timeout.
   * @example
   * import { streamRequest } from 'express-async-stream/testing';
   * const connection = await streamRequest(app, '/ticks');
   * await connection.disconnect();
   * expect(finallyRan).toBe(true);
   */
  async disconnect(options: ReceiveOptions = {}): Promise<void> {
    const timeout = resolveReceiveTimeout(options.timeout, this.origin.timeout, 'disconnect(options)');
    this.request.destroy();
    await this.closed;
    if (this.served !== undefined) await this.awaitServer(this.served, timeout);
  }

  /** Iterates the chunks until the body ends; leaving the loop early disconnects. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    try {
      for (let chunk = await this.receive(); chunk !== null; chunk = await this.receive()) yield chunk;
    } finally {
      if (this.state === 'open') await this.disconnect();
    }
  }

  private changed(): void {
    const waiting = this.notify;
    this.notify = [];
    waiting.forEach((wake) => wake());
  }

  private nextChange(remaining: number, timeout: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.notify = this.notify.filter((wake) => wake !== onChange);
        reject(new ReceiveTimeoutError(this.origin.method, this.origin.url, 'the next chunk', timeout));
      }, Math.max(0, remaining));
      const onChange = (): void => {
        clearTimeout(timer);
        resolve();
      };
      this.notify.push(onChange);
    });
  }

  private awaitServer(served: Promise<void>, timeout: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(this.teardownTimeoutError(timeout)), timeout);
    });
    return Promise.race([served, expired]).finally(() => clearTimeout(timer));
  }

  private teardownTimeoutError(timeout: number): ReceiveTimeoutError {
    return new ReceiveTimeoutError(
      this.origin.method,
      this.url,
      "the end of the server's teardown",
      timeout,
      'The response closed, but its body was not released: a generator stuck in an await that ignores ' +
        'currentSignal() runs its finally only once that await settles. Pass currentSignal() to what it ' +
        'awaits, or allow more time with disconnect({ timeout }).',
    );
  }

  private abortedError(): ResponseAbortedError {
    return new ResponseAbortedError(this.origin.method, this.origin.url, this.receivedBytes);
  }
}
