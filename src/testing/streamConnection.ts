// A response read as it arrives: by chunk, line, server-sent event or JSON line.
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ReceiveTimeoutError, ResponseAbortedError } from './errors.js';
import { EventStreamReader, type ServerSentEvent } from './eventStream.js';
import { resolveReceiveTimeout } from './options.js';
import { realClearTimeout, realSetTimeout } from './realTime.js';
import { parseJsonLine, shiftChunk, takeJsonLine, takeLine } from './readers.js';
import { ResponseBody, type Take } from './responseBody.js';

/** Options of the `receive…()` methods, {@link StreamConnection.text} and {@link StreamConnection.disconnect}. */
export interface ReceiveOptions {
  /**
   * How long to wait, in milliseconds, before rejecting with a `ReceiveTimeoutError`. Real time, also
   * under `jest.useFakeTimers()`: advancing a fake clock never fires it.
   *
   * @default the `timeout` given to `streamRequest()`, else 5_000
   */
  readonly timeout?: number;
}

/** What {@link StreamConnection.readToEnd} resolves with: the rest of a body, however it ended. */
export interface BodyEnd {
  /** The bytes that arrived and were not read before, in order. */
  readonly body: Buffer;
  /** True when the server cut the connection before the end of the body; false at a clean end. */
  readonly aborted: boolean;
}

/** Where a connection came from, for error messages and defaults. */
export interface ConnectionOrigin {
  readonly method: string;
  readonly url: string;
  readonly timeout: number;
}

/**
 * An HTTP response read as it arrives, and one that never
 * hangs: the end of the body, a cut connection and a silent server are distinct and explicit. Read
 * it by chunk, line, server-sent event or JSON line, in any mix: every reader takes from one buffer,
 * so what one has read the next does not see. Created by `streamRequest()`.
 */
export class StreamConnection implements AsyncIterable<Buffer> {
  /** The response status code. */
  readonly status: number;
  /** The response headers, names lower-cased. */
  readonly headers: IncomingHttpHeaders;
  /**
   * The header lines as received, `[name, value, name, value, …]`: names in the case sent, one entry
   * per line, so that a header sent twice shows twice (Node's `IncomingMessage.rawHeaders`).
   */
  readonly rawHeaders: readonly string[];
  /** The URL requested. */
  readonly url: string;
  private readonly body: ResponseBody;
  private readonly events = new EventStreamReader();

  private constructor(
    private readonly request: ClientRequest,
    private readonly response: IncomingMessage,
    private readonly origin: ConnectionOrigin,
    /** Resolves once the server is done with the response; only known when the kit serves the app. */
    private readonly served?: Promise<void>,
  ) {
    this.status = response.statusCode ?? 0;
    this.headers = response.headers;
    this.rawHeaders = response.rawHeaders;
    this.url = origin.url;
    this.body = new ResponseBody(response, origin);
    request.on('error', () => {});
  }

  /**
   * Wraps a response `streamRequest()` has received.
   *
   * @internal
   */
  static open(
    request: ClientRequest,
    response: IncomingMessage,
    origin: ConnectionOrigin,
    served?: Promise<void>,
  ): StreamConnection {
    return new StreamConnection(request, response, origin, served);
  }

  /**
   * The next chunk of the body as the socket delivered it; `null` once the body has ended cleanly
   * (and on every later call). Chunks the server wrote in the same tick arrive as one.
   *
   * @throws ResponseAbortedError once the chunks received before a cut connection are consumed.
   * @throws ReceiveTimeoutError when nothing arrives in time; the connection stays usable.
   */
  async receive(options: ReceiveOptions = {}): Promise<Buffer | null> {
    return this.read(shiftChunk, 'the next chunk', options, 'receive(options)');
  }

  /**
   * The next line of the body as UTF-8 text, without its `'\n'` (a `'\r'` before it is kept); `null`
   * once the body has ended cleanly. A last line without a `'\n'` is returned when the body ends.
   *
   * @throws ResponseAbortedError when the connection is cut before the line is complete.
   * @throws ReceiveTimeoutError when the line is not complete in time; its bytes stay unread.
   * @example
   * import { streamRequest } from 'express-async-stream/testing';
   * const connection = await streamRequest(app, '/count');
   * expect(await connection.receiveLine()).toBe('1');
   */
  async receiveLine(options: ReceiveOptions = {}): Promise<string | null> {
    return this.read(takeLine, 'the next line', options, 'receiveLine(options)');
  }

  /**
   * The next server-sent event, interpreted as a browser's `EventSource` does: comments and blocks
   * without data are skipped, `data` lines are joined with `'\n'`, and `id` carries over to the
   * events after it. `null` once the body has ended cleanly; an event cut short by the end is
   * discarded, as the standard says.
   *
   * @throws ResponseAbortedError when the connection is cut before the event is complete.
   * @throws ReceiveTimeoutError when the event is not complete in time; its bytes stay unread.
   * @example
   * import { streamRequest } from 'express-async-stream/testing';
   * const connection = await streamRequest(app, '/events');
   * expect(await connection.receiveEvent()).toEqual({ event: 'tick', data: '1', id: '1' });
   */
  async receiveEvent(options: ReceiveOptions = {}): Promise<ServerSentEvent | null> {
    return this.read(this.takeEvent, 'the next event', options, 'receiveEvent(options)');
  }

  /**
   * The next value of a newline-delimited JSON body, parsed; blank lines are skipped. `undefined`,
   * not `null`, once the body has ended cleanly: `null` is a JSON value. `T` is taken on trust, not
   * checked.
   *
   * @throws AsyncStreamError when the line is not JSON (the line is consumed; `cause` is the `SyntaxError`).
   * @throws ResponseAbortedError when the connection is cut before the line is complete.
   * @throws ReceiveTimeoutError when the line is not complete in time; its bytes stay unread.
   * @example
   * import { streamRequest } from 'express-async-stream/testing';
   * const connection = await streamRequest(app, '/rows');
   * expect(await connection.receiveJson()).toEqual({ id: 1 });
   */
  async receiveJson<T = unknown>(options: ReceiveOptions = {}): Promise<T | undefined> {
    const line = await this.read(takeJsonLine, 'the next JSON value', options, 'receiveJson(options)');
    return line === null ? undefined : (parseJsonLine(line, this.origin) as T);
  }

  /**
   * The rest of the body as bytes, once it has ended.
   *
   * @throws ResponseAbortedError when the connection is cut first; ReceiveTimeoutError when a chunk is late.
   */
  async buffer(options: ReceiveOptions = {}): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (let chunk = await this.receive(options); chunk !== null; chunk = await this.receive(options))
      parts.push(chunk);
    return Buffer.concat(parts);
  }

  /** The rest of the body as UTF-8 text, once it has ended; throws as {@link buffer} does. */
  async text(options: ReceiveOptions = {}): Promise<string> {
    return (await this.buffer(options)).toString('utf8');
  }

  /**
   * The rest of the body, once it has ended or been cut, and which of the two happened: what a
   * client received of a stream that failed after its first chunk.
   *
   * @throws ReceiveTimeoutError when a chunk is late.
   * @example
   * import { streamRequest } from 'express-async-stream/testing';
   * const connection = await streamRequest(app, '/feed');
   * const { body, aborted } = await connection.readToEnd();
   * expect(body.toString()).toBe('data: one\n\n');
   * expect(aborted).toBe(true);
   */
  async readToEnd(options: ReceiveOptions = {}): Promise<BodyEnd> {
    const parts: Buffer[] = [];
    try {
      for (let chunk = await this.receive(options); chunk !== null; chunk = await this.receive(options))
        parts.push(chunk);
      return { body: Buffer.concat(parts), aborted: false };
    } catch (error) {
      if (!(error instanceof ResponseAbortedError)) throw error;
      return { body: Buffer.concat(parts), aborted: true };
    }
  }

  /** How many bytes of the body have arrived so far, read or not. */
  get receivedBytes(): number {
    return this.body.received;
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
    await this.body.closed;
    if (this.served !== undefined) await this.awaitServer(this.served, timeout);
  }

  /** Iterates the chunks until the body ends; leaving the loop early disconnects. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    try {
      for (let chunk = await this.receive(); chunk !== null; chunk = await this.receive()) yield chunk;
    } finally {
      if (this.body.isOpen) await this.disconnect();
    }
  }

  private read<T>(take: Take<T>, awaited: string, options: ReceiveOptions, where: string): Promise<T | null> {
    return this.body.read(take, awaited, resolveReceiveTimeout(options.timeout, this.origin.timeout, where));
  }

  private readonly takeEvent: Take<ServerSentEvent> = (buffer) => this.events.take(buffer);

  private awaitServer(served: Promise<void>, timeout: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = realSetTimeout(() => reject(this.teardownTimeoutError(timeout)), timeout);
    });
    return Promise.race([served, expired]).finally(() => realClearTimeout(timer));
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
}
