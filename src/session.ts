import type { NextFunction, Request, Response } from 'express';
import { RequestContext } from './context.js';
import { StreamTimeoutError } from './errors.js';
import { suspendSocketTimeout } from './socketTimeout.js';
import type { ChunkSource } from './source.js';
import { IdleTimer } from './idleTimer.js';
import type { Timeout } from './timeout.js';

type SessionState = 'open' | 'released' | 'abandoned';

/** `compression` adds `res.flush()`; without a call its zlib stream holds small chunks back. */
type FlushableResponse = Response & { flush?: () => void };

/**
 * One streamed response from the handler call to the last byte: owns the request context, the
 * idle timer, the `'close'` and `'drain'` listeners and the body's source, and tears all of them
 * down in one place, once.
 */
export class StreamSession {
  readonly context: RequestContext;
  private state: SessionState = 'open';
  private readonly timer = new IdleTimer(() => this.onIdle());
  private timeout: Timeout = null;
  private source: ChunkSource | undefined;
  private resolveDrain: (() => void) | undefined;
  private listensForDrain = false;
  private awaitingDrain = false;
  private passedOn = false;
  private readonly restoreSocketTimeout: (apply: boolean) => void;
  private readonly shouldFlush: boolean;

  constructor(
    readonly req: Request,
    readonly res: Response,
    readonly next: NextFunction,
  ) {
    this.context = new RequestContext(req, res);
    this.shouldFlush = typeof (res as FlushableResponse).flush === 'function';
    // 'close' on the response, not the request: on Node >= 16 the request's 'close' fires as soon
    // as its body has been read, long before the client goes away.
    res.once('close', this.onClose);
    // Our idle timer replaces the socket's own timeout while streaming (server.timeout would
    // otherwise cut a long, legitimately silent stream); it is restored before the response ends,
    // so that Node's keep-alive timeout, set on 'finish', is the one left in force.
    this.restoreSocketTimeout = suspendSocketTimeout(res.socket);
  }

  /**
   * The `next` handed to the handler: once the request moves on to other middleware, this session
   * no longer owns the response, so its timer and socket-timeout suspension must stop.
   */
  readonly passOn: NextFunction = (error?: unknown) => {
    this.passedOn = true;
    this.release();
    this.next(error);
  };

  /**
   * Whether the handler finished the response itself (`res.end`, `res.send`) or handed it on with
   * `next()`: a body it also returns has nowhere to go.
   */
  get isAnsweredElsewhere(): boolean {
    return this.passedOn || this.res.writableEnded;
  }

  /** True until the body is done, the client has gone, or the stream failed. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** (Re)starts the idle countdown with `timeout` ms; `null` stops it. */
  arm(timeout: Timeout): void {
    this.timeout = timeout;
    if (this.isOpen) this.timer.arm(timeout);
  }

  /** Takes ownership of the body's source, so that abandoning the stream closes it. */
  attach(source: ChunkSource): void {
    this.source = source;
  }

  /** Records a successful `res.write`: flushes a compressing middleware and restarts the idle timer. */
  recordWrite(): void {
    if (this.shouldFlush) (this.res as FlushableResponse).flush!();
    this.timer.touch();
  }

  /**
   * Records a write the socket refused: from now on, `'drain'` is awaited. Listening starts here,
   * not when the pump gets round to waiting, so that a `'drain'` in between is not lost.
   */
  expectDrain(): void {
    this.awaitingDrain = true;
    // One listener for the whole response, not one per wait: `compression` forwards 'drain'
    // listeners to its zlib stream, where removing them from `res` would not reach.
    if (!this.listensForDrain) {
      this.listensForDrain = true;
      this.res.on('drain', this.onDrain);
    }
  }

  /** False from a refused write until its `'drain'`. */
  get isDrained(): boolean {
    return !this.awaitingDrain;
  }

  /** Resolves on `'drain'` (at once if it already came), or when the stream is abandoned meanwhile. */
  drained(): Promise<void> {
    if (!this.awaitingDrain || !this.isOpen) return Promise.resolve();
    return new Promise((resolve) => {
      this.resolveDrain = resolve;
    });
  }

  /** Ends the response after the last chunk. */
  end(): void {
    this.release();
    this.res.end();
  }

  /**
   * Stops everything this session started: the timer, the drain wait, the socket timeout. The
   * `'close'` listener stays until the response closes, so that `currentSignal()` still aborts if
   * a handler that answered by itself loses its client.
   */
  release(): void {
    if (!this.isOpen) return;
    this.state = 'released';
    this.timer.clear();
    this.onDrain();
    // Once the response has finished, Node has set its own keep-alive timeout on the socket.
    this.restoreSocketTimeout(!this.res.writableFinished);
  }

  /**
   * Hands `error` to Express (`next(err)`): an error response if nothing was sent, a closed
   * connection if the stream had started. Ignored once the stream was abandoned: a producer that
   * throws because its client left is not an error.
   */
  fail(error: unknown): void {
    if (this.state === 'abandoned') return;
    this.abandon(error);
    // Destroyed before Express sees the error: a custom error handler that ends a started
    // response would otherwise give the client a clean end of a truncated stream.
    if (this.res.headersSent && !this.res.writableEnded) {
      // Node corks a chunked response's writes until the next tick (OutgoingMessage.write): hand
      // them to the socket first, or the last chunks before the failure never reach the client.
      const socket = this.res.socket;
      while (socket !== null && socket.writableCorked > 0) socket.uncork();
      this.res.destroy();
    }
    this.next(error);
  }

  private abandon(reason: unknown): void {
    this.release();
    this.state = 'abandoned';
    this.context.abort(reason);
    this.source?.cancel(reason);
  }

  private readonly onDrain = (): void => {
    this.awaitingDrain = false;
    const resolve = this.resolveDrain;
    this.resolveDrain = undefined;
    resolve?.();
  };

  private readonly onClose = (): void => {
    if (this.res.writableFinished) return;
    const reason = new DOMException('The client closed the connection before the response ended.', 'AbortError');
    if (this.isOpen) this.abandon(reason);
    else this.context.abort(reason);
  };

  private onIdle(): void {
    // The handler is writing the response by hand and has not returned yet: not ours to time out.
    if (this.source === undefined && this.res.headersSent) return this.release();
    const { method, originalUrl } = this.req;
    const headersSent = this.res.headersSent;
    this.fail(new StreamTimeoutError({ timeout: this.timeout!, method, url: originalUrl, headersSent }));
  }
}
