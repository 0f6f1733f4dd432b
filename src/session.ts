import type { NextFunction, Request, Response } from 'express';
import { RequestContext } from './context.js';
import { cutResponse } from './cutResponse.js';
import { StreamTimeoutError } from './errors.js';
import { suspendSocketTimeout } from './socketTimeout.js';
import type { ChunkSource } from './source.js';
import { IdleTimer } from './idleTimer.js';
import { dropLateAnswer } from './lateAnswer.js';
import { Teardown } from './teardown.js';
import type { Timeout } from './timeout.js';
import { warn } from './warn.js';

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
  /** The handler returned `undefined` without answering: it still has to answer, or be timed out. */
  private awaitsAnswer = false;
  /** `respond()` still runs: the teardown waits for it. */
  private responding = true;
  /** The body's closing, once asked for: the teardown waits for it. */
  private closing: Promise<void> | undefined;
  private readonly teardown: Teardown;
  private readonly restoreSocketTimeout: (apply: boolean) => void;
  private readonly shouldFlush: boolean;

  constructor(
    readonly req: Request,
    readonly res: Response,
    readonly next: NextFunction,
  ) {
    this.context = new RequestContext(req, res);
    this.teardown = new Teardown(res);
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
    this.stopClocks();
    this.settleTeardown();
  }

  /**
   * The handler returned `undefined`. If it answered (or called `next()`) the session is done;
   * if not, the idle countdown goes on, so that a handler that forgot to `return` its body ends
   * with the timeout's 503 instead of hanging without a word.
   */
  awaitAnswer(): void {
    if (this.passedOn || this.res.headersSent || this.res.writableEnded) return this.release();
    this.awaitsAnswer = true;
  }

  /** `respond()` is over: the teardown settles once the session is closed and its body too. */
  finishResponding(): void {
    this.responding = false;
    this.settleTeardown();
  }

  /** Closes the body (again, for a sync generator that was running the first time). */
  closeSource(reason: unknown): void {
    if (this.source !== undefined) this.closing = this.source.cancel(reason);
  }

  /**
   * Other code finished the response while the body streamed (the handler's `res.send()`, an
   * error handler, `connect-timeout`): the body is closed at once and its signal aborts.
   */
  endedElsewhere(): void {
    if (!this.isOpen) return;
    this.abandon(new DOMException('The response was ended by other code before the body finished.', 'AbortError'));
    warn(
      'asyncStream()',
      `the response to ${this.route} was ended by other code (res.end(), res.send(), res.redirect() or ` +
        'another middleware) while its body was still streaming, so the body was closed and nothing more was ' +
        'written. A handler that answers by itself should return undefined and yield nothing.',
    );
  }

  /**
   * Hands `error` to Express (`next(err)`): an error response if nothing was sent, a closed
   * connection if the stream had started. Ignored once the stream was abandoned: a producer that
   * throws because its client left is not an error.
   */
  fail(error: unknown): void {
    if (this.state === 'abandoned') return;
    // A client that stopped reading (the socket refused a write) is not waited for.
    const deliver = this.isDrained;
    this.abandon(error);
    // Cut before Express sees the error: a custom error handler that ends a started response
    // would otherwise give the client a clean end of a truncated stream.
    if (this.res.headersSent && !this.res.writableEnded) cutResponse(this.res, deliver, () => this.next(error));
    else this.next(error);
  }

  private abandon(reason: unknown): void {
    if (this.state === 'abandoned') return;
    if (this.isOpen) this.stopClocks();
    this.state = 'abandoned';
    this.context.abort(reason);
    this.closeSource(reason);
    this.settleTeardown();
  }

  private stopClocks(): void {
    this.timer.clear();
    this.onDrain();
    // Once the response has finished, Node has set its own keep-alive timeout on the socket.
    this.restoreSocketTimeout(!this.res.writableFinished);
  }

  private settleTeardown(): void {
    if (this.responding || this.isOpen) return;
    if (this.closing === undefined) this.teardown.settle();
    else void this.closing.then(() => this.teardown.settle());
  }

  private warnLateAnswer(): void {
    warn(
      'asyncStream()',
      `the handler for ${this.route} answered after its idle timeout had already answered 503; that late ` +
        'answer was dropped. Raise `timeout` for this route, or answer sooner.',
    );
  }

  /** `METHOD /original-url`, naming the route in warnings. */
  get route(): string {
    return `${this.req.method} ${this.req.originalUrl}`;
  }

  private readonly onDrain = (): void => {
    this.awaitingDrain = false;
    const resolve = this.resolveDrain;
    this.resolveDrain = undefined;
    resolve?.();
  };

  private readonly onClose = (): void => {
    // Finished by the handler after it returned undefined (or by anyone before there was a body).
    if (this.res.writableFinished) return this.release();
    const reason = new DOMException('The client closed the connection before the response ended.', 'AbortError');
    if (this.isOpen) this.abandon(reason);
    else this.context.abort(reason);
  };

  private onIdle(): void {
    // The handler is writing the response by hand: not ours to time out.
    if (this.source === undefined && this.res.headersSent) return this.release();
    const { method, originalUrl } = this.req;
    const headersSent = this.res.headersSent;
    if (this.awaitsAnswer) {
      warn(
        'asyncStream()',
        `the handler for ${this.route} returned undefined and did not answer within ${this.timeout} ms, so the ` +
          'request was answered with 503. Return the body (a missing `return`?), or answer with res.send() or next().',
      );
      this.res.once('finish', () => dropLateAnswer(this.res, () => this.warnLateAnswer()));
    }
    this.fail(new StreamTimeoutError({ timeout: this.timeout!, method, url: originalUrl, headersSent }));
  }
}
