// Step: the request context. What currentRequest(), currentResponse() and currentSignal() read, across every await.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Request, Response } from 'express';
import { AsyncStreamError } from './errors.js';

/** What `currentRequest()`, `currentResponse()` and `currentSignal()` read. */
export interface StreamContext {
  /** The request being streamed. */
  readonly req: Request;
  /** Its response. */
  readonly res: Response;
  /** Aborts when the stream is abandoned: client gone, idle timeout or error. */
  readonly signal: AbortSignal;
}

/** What a request's context ends when it aborts (see {@link RequestContext.watch}). */
export interface Endable {
  end(): void;
}

/**
 * One request's context. The `AbortController` is created on first use of `signal`, so a stream
 * whose code never asks for it costs no controller.
 */
export class RequestContext implements StreamContext {
  private controller: AbortController | undefined;
  private abortReason: unknown;
  private aborted = false;
  private watchers: Endable[] | undefined;

  constructor(
    readonly req: Request,
    readonly res: Response,
  ) {}

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  /** Aborts `signal` with `reason`, then ends what {@link watch} was given; only the first call counts. */
  abort(reason: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.abortReason = reason;
    this.controller?.abort(reason);
    const watchers = this.watchers;
    this.watchers = undefined;
    watchers?.forEach((watcher) => watcher.end());
  }

  /**
   * Ends `watcher` when the context aborts (at once if it has): what an `'abort'` listener on
   * `signal` does, without the controller `signal` creates. A topic subscription made in a request
   * ends with it this way: one controller per subscriber would weigh on a topic's fan-out.
   */
  watch(watcher: Endable): void {
    if (this.aborted) watcher.end();
    else (this.watchers ??= []).push(watcher);
  }

  /** Stops watching `watcher`. */
  unwatch(watcher: Endable): void {
    const index = this.watchers?.indexOf(watcher) ?? -1;
    if (index !== -1) this.watchers!.splice(index, 1);
  }
}

// One store per process, even when both the CommonJS and the ES module build are loaded (or two
// copies of the package): otherwise a generator wrapped by one copy would not see the other's context.
const storageKey = Symbol.for('express-async-stream.context');
type GlobalWithStorage = typeof globalThis & { [storageKey]?: AsyncLocalStorage<StreamContext | undefined> };

function getStorage(): AsyncLocalStorage<StreamContext | undefined> {
  const global = globalThis as GlobalWithStorage;
  return (global[storageKey] ??= new AsyncLocalStorage());
}

/** Runs `fn` with `context` as the current request context. */
export function runInContext<T>(context: StreamContext | undefined, fn: () => T): T {
  return getStorage().run(context, fn);
}

/** The active context, or `undefined` outside any. */
export function getContext(): StreamContext | undefined {
  return getStorage().getStore();
}

function requireContext(caller: string): StreamContext {
  const context = getStorage().getStore();
  if (context === undefined) {
    throw new AsyncStreamError(
      `${caller} was called outside a request context. Call it inside an asyncStream() handler or ` +
        'the body it returns; for a generator iterated from outside its request (a broadcast loop, a timer started ' +
        'elsewhere), ' +
        'create it with a function wrapped by withContext().',
    );
  }
  return context;
}

/**
 * The Express request being streamed.
 *
 * @throws AsyncStreamError outside an `asyncStream` handler or a `withContext` generator.
 * @example
 * import { asyncStream, currentRequest } from 'express-async-stream';
 * async function* rows() { yield `user ${currentRequest().params.id}\n`; }
 * app.get('/users/:id', asyncStream(rows));
 */
export function currentRequest(): Request {
  return requireContext('currentRequest()').req;
}

/**
 * The Express response being streamed.
 *
 * @throws AsyncStreamError outside an `asyncStream` handler or a `withContext` generator.
 * @example
 * import { asyncStream, currentResponse } from 'express-async-stream';
 * app.get('/', asyncStream(async function* () {
 *   currentResponse().set('X-Started', Date.now().toString()); // before the first chunk
 *   yield 'hello';
 * }));
 */
export function currentResponse(): Response {
  return requireContext('currentResponse()').res;
}

/**
 * An `AbortSignal` that aborts when the stream is abandoned: the client went away, the idle
 * timeout fired, or the body failed. Hand it to whatever the body awaits (`fetch`, a database
 * query, `setTimeout` from `node:timers/promises`) so that work stops at once.
 *
 * @throws AsyncStreamError outside an `asyncStream` handler or a `withContext` generator.
 * @example
 * import { asyncStream, currentSignal } from 'express-async-stream';
 * app.get('/tokens', asyncStream(async function* () {
 *   const upstream = await fetch(LLM_URL, { signal: currentSignal() });
 *   yield* upstream.body!;
 * }));
 */
export function currentSignal(): AbortSignal {
  return requireContext('currentSignal()').signal;
}
