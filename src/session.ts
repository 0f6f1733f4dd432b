// Step: the one door to the response. Owns `res`, its timers and listeners, and tears them down once.
import type { NextFunction, Request, Response } from 'express';
import type { Chunk } from './chunk.js';
import { RequestContext, runInContext } from './context.js';
import { cutResponse } from './cutResponse.js';
import { guardEnd } from './endGuard.js';
import { ServerShutdownError, StreamTimeoutError } from './errors.js';
import { applyHead, commitHead, type Head } from './head.js';
import { IdleTimer, type Timeout } from './idleTimeout.js';
import { dropLateAnswer } from './lateAnswer.js';
import type { JsonBody } from './response.js';
import { refuseStream, trackStream, untrackStream, type ClosableStream } from './shutdown.js';
import { suspendSocketTimeout } from './socketTimeout.js';
import type { ChunkSource } from './source.js';
import { Teardown } from './teardown.js';
import { warnEndedElsewhere, warnLateAnswer, warnNoAnswer } from './warn.js';
import { ResponseWriter, type WriterOwner } from './writer.js';

type SessionState = 'open' | 'released' | 'abandoned';

const noop = (): void => {};

/**
 * One streamed response from the handler call to the last byte. The pump writes through it and
 * never touches `res`: it owns the request context, the idle timer, the keep-alive clock, the
 * `res.end` guard, the `'close'` and `'drain'` listeners and the body's source, and releases all of
 * them in one place, once.
 */
export class StreamSession implements ClosableStream, WriterOwner {
  readonly context: RequestContext;
  private state: SessionState = 'open';
  /** Made when a timeout is armed: event streams have none by default, and a topic may have thousands. */
  private timer: IdleTimer | undefined;
  private timeout: Timeout = null;
  private readonly writer: ResponseWriter;
  private source: ChunkSource | undefined;
  private passedOn = false;
  /** The handler returned `undefined` without answering: it still has to answer, or be timed out. */
  private awaitsAnswer = false;
  /** `respond()` still runs: the teardown waits for it. */
  private responding = true;
  /** The body's closing, once asked for: the teardown waits for it. */
  private closing: Promise<void> | undefined;
  private readonly teardown: Teardown;
  private readonly restoreSocketTimeout: (apply: boolean) => void;
  private restoreEnd: () => void = noop;
  /** Writes what the pump holds, before the response ends by other code or at shutdown. */
  private flushPending: () => void = noop;

  constructor(
    readonly req: Request,
    private readonly res: Response,
    private readonly next: NextFunction,
    /** Event streams have no complete state to fake: at shutdown they end cleanly, and at once. */
    private readonly endsAtShutdown: boolean,
  ) {
    this.context = new RequestContext(req, res);
    this.teardown = new Teardown(res);
    trackStream(this);
    this.writer = new ResponseWriter(res, this);
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

  /** `METHOD /original-url`, naming the route in warnings. */
  get route(): string {
    return `${this.req.method} ${this.req.originalUrl}`;
  }

  /**
   * Whether the handler finished the response itself (`res.end`, `res.send`) or handed it on with
   * `next()`: a body it also returns has nowhere to go.
   */
  get isAnsweredElsewhere(): boolean {
    // Once abandoned (client gone, timeout, closeStreams()), the answer was ours: a body is just closed.
    return this.state !== 'abandoned' && (this.passedOn || this.res.writableEnded);
  }

  /** True until the body is done, the client has gone, or the stream failed. */
  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Whether the status and headers have gone out (by the pump, or by the handler itself). */
  get hasStarted(): boolean {
    return this.res.headersSent;
  }

  /** The status the response will have: `res.statusCode` unless `head` sets one. */
  statusOf(head: Head): number {
    return head.status ?? this.res.statusCode;
  }

  /** (Re)starts the idle countdown with `timeout` ms; `null` stops it. */
  arm(timeout: Timeout): void {
    this.timeout = timeout;
    if (!this.isOpen) return;
    if (timeout === null) this.timer?.clear();
    else (this.timer ??= new IdleTimer(() => this.onIdle())).arm(timeout);
  }

  /** Takes ownership of the body's source, so that abandoning the stream closes it. */
  attach(source: ChunkSource): void {
    this.source = source;
  }

  /**
   * Notices other code ending the response while the body streams: `beforeEnd` runs first (the
   * pump writes what it holds), then the body is closed, then the response ends as asked.
   */
  watchEnd(beforeEnd: () => void): void {
    this.flushPending = beforeEnd;
    this.restoreEnd = guardEnd(this.res, () => {
      beforeEnd();
      this.endedElsewhere();
    });
  }

  /** Writes `chunk` every `every` ms that pass with nothing written while the source is awaited. */
  keepAlive(every: number, chunk: Chunk): void {
    this.writer.keepAlive(every, chunk);
  }

  /** The writer wrote a chunk: the idle countdown starts again. */
  wrote(): void {
    this.timer?.touch();
  }

  /** A keep-alive write threw, in a timer callback: the stream fails as a body's error would. */
  keepAliveFailed(error: unknown): void {
    this.fail(error);
  }

  /** The pump awaits the source (`true`) or has its answer (`false`): when keep-alives may go out. */
  waitForSource(waiting: boolean): void {
    if (this.isOpen) this.writer.waitForSource(waiting);
  }

  /** Sends the status and headers of a streamed body with its first chunk. */
  start(head: Head, firstChunk: Chunk): void {
    this.writer.start(head, firstChunk);
  }

  /** Writes a chunk (see {@link ResponseWriter.write}), unless other code has ended the response. */
  write(chunk: Chunk): void {
    // Ended by code that went around res.end (a prototype call): writing would emit an 'error'
    // nobody listens to, which takes the process down.
    if (this.res.writableEnded) return this.endedElsewhere();
    this.writer.write(chunk);
  }

  /** False from a refused write until its `'drain'`. */
  get isDrained(): boolean {
    return this.writer.isDrained;
  }

  /** Resolves on `'drain'` (at once if it already came), or when the stream is abandoned meanwhile. */
  drained(): Promise<void> {
    return this.writer.drained();
  }

  /** Answers in one piece with `head`: `res.send` for text and bytes, `res.json` for JSON data. */
  send(head: Head, value: string | Buffer | JsonBody): void {
    applyHead(this.res, head);
    this.release();
    if (typeof value === 'string' || Buffer.isBuffer(value)) this.res.send(value);
    else this.res.json(value);
  }

  /** Ends the response after the last chunk; with `head` when no chunk sent it (an empty body, HEAD). */
  end(head?: Head): void {
    if (head !== undefined) commitHead(this.res, head);
    this.release();
    this.res.end();
  }

  /**
   * Stops everything this session started: the clocks, the drain wait, the end guard, the socket
   * timeout. The `'close'` listener stays until the response closes, so that `currentSignal()`
   * still aborts if a handler that answered by itself loses its client.
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
    const { source } = this;
    if (source === undefined) return;
    // In the request's context, whoever asks (a 'close' event, a timer, closeStreams()): a generator
    // parked at a `yield` runs its `finally` in the caller's context, where currentRequest() would throw.
    this.closing = runInContext(this.context, () => source.cancel(reason));
  }

  /**
   * Winds the stream down for `closeStreams()`: an event stream at once, a byte stream once `grace`
   * ms have passed without it finishing on its own. The connection closes after the response, so
   * that `server.close()` completes; one whose client stopped reading is cut when the grace is over,
   * so that it cannot hold the process either. Settles once everything is released.
   */
  shutDown(grace: number): PromiseLike<void> {
    const { res } = this;
    if (res.writableFinished || res.destroyed) return this.teardown;
    // Not kept alive for another request: server.close() would wait for the keep-alive timeout.
    const socket = res.socket;
    if (!res.headersSent) res.shouldKeepAlive = false;
    else res.once('finish', () => socket?.end());
    if (this.endsAtShutdown || grace === 0) this.stopForShutdown();
    const deadline = setTimeout(() => {
      if (this.isOpen) this.stopForShutdown();
      else if (!res.writableFinished) socket?.destroy();
    }, grace).unref();
    res.once('close', () => clearTimeout(deadline));
    return this.teardown;
  }

  private stopForShutdown(): void {
    if (!this.isOpen) return;
    const deliver = this.isDrained;
    // What the pump holds goes out first; an event stream then ends cleanly (the browser reconnects).
    if (this.endsAtShutdown) this.flushPending();
    this.abandon(new ServerShutdownError());
    if (!this.res.headersSent) {
      // A handler still at work (or that returned undefined to answer later) finds its answer dropped.
      if (this.source === undefined) this.res.once('finish', () => dropLateAnswer(this.res, noop));
      refuseStream(this.res);
    } else if (this.endsAtShutdown) this.res.end();
    // A byte stream is cut: a truncated body must not look complete.
    else cutResponse(this.res, deliver, noop);
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

  /**
   * Other code finished the response while the body streamed (the handler's `res.send()`, an
   * error handler, `connect-timeout`): the body is closed at once and its signal aborts.
   */
  private endedElsewhere(): void {
    if (!this.isOpen) return;
    this.abandon(new DOMException('The response was ended by other code before the body finished.', 'AbortError'));
    warnEndedElsewhere(this.route);
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
    this.timer?.clear();
    this.writer.stop();
    this.restoreEnd();
    // Once the response has finished, Node has set its own keep-alive timeout on the socket.
    this.restoreSocketTimeout(!this.res.writableFinished);
  }

  private settleTeardown(): void {
    if (this.responding || this.isOpen) return;
    if (this.closing === undefined) this.settle();
    else void this.closing.then(() => this.settle());
  }

  private settle(): void {
    untrackStream(this);
    this.teardown.settle();
  }

  private readonly onClose = (): void => {
    if (this.res.writableFinished) {
      // Finished while the body streamed, by code that went around the res.end guard (a prototype
      // call): the body is closed now, or an idle one would wait for a value that may never come.
      if (this.isOpen && this.source !== undefined) return this.endedElsewhere();
      // Finished by the handler after it returned undefined (or by anyone before there was a body).
      return this.release();
    }
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
      warnNoAnswer(this.route, this.timeout!);
      this.res.once('finish', () => dropLateAnswer(this.res, () => warnLateAnswer(this.route)));
    }
    this.fail(new StreamTimeoutError({ timeout: this.timeout!, method, url: originalUrl, headersSent }));
  }
}
