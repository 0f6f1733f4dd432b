// Step: the request context for a generator iterated outside its request (a broadcast, a timer).
import { getContext, runInContext, type StreamContext } from './context.js';
import { describeValue } from './arguments.js';

// AsyncLocalStorage does not follow a generator: each next() runs in its caller's context. Running
// every step inside the captured context makes the body up to the next yield, and every await in
// between (its continuation is registered while the step runs), see the request that created it.

class ContextBoundAsyncGenerator<T, R, N> implements AsyncGenerator<T, R, N> {
  readonly [Symbol.toStringTag] = 'AsyncGenerator';

  constructor(
    private readonly generator: AsyncGenerator<T, R, N>,
    private readonly context: StreamContext | undefined,
  ) {}

  next(...args: [] | [N]): Promise<IteratorResult<T, R>> {
    return runInContext(this.context, () => this.generator.next(...args));
  }

  return(value: R | PromiseLike<R>): Promise<IteratorResult<T, R>> {
    return runInContext(this.context, () => this.generator.return(value));
  }

  throw(error: unknown): Promise<IteratorResult<T, R>> {
    return runInContext(this.context, () => this.generator.throw(error));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return(undefined as R);
  }
}

class ContextBoundGenerator<T, R, N> implements Generator<T, R, N> {
  readonly [Symbol.toStringTag] = 'Generator';

  constructor(
    private readonly generator: Generator<T, R, N>,
    private readonly context: StreamContext | undefined,
  ) {}

  next(...args: [] | [N]): IteratorResult<T, R> {
    return runInContext(this.context, () => this.generator.next(...args));
  }

  return(value: R): IteratorResult<T, R> {
    return runInContext(this.context, () => this.generator.return(value));
  }

  throw(error: unknown): IteratorResult<T, R> {
    return runInContext(this.context, () => this.generator.throw(error));
  }

  [Symbol.iterator](): this {
    return this;
  }

  [Symbol.dispose](): void {
    this.return(undefined as R);
  }
}

// `any` where the caller's own types must win: with `unknown`/`never` here, TypeScript would infer
// an unannotated generator's parameters and `next()` argument from this constraint.
/* eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above */
type GeneratorFunction = (...args: any[]) => AsyncGenerator<unknown, unknown, any> | Generator<unknown, unknown, any>;

function isAsyncGenerator(value: unknown): value is AsyncGenerator<unknown, unknown, unknown> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value && 'next' in value;
}

function isGenerator(value: unknown): value is Generator<unknown, unknown, unknown> {
  return typeof value === 'object' && value !== null && Symbol.iterator in value && 'next' in value;
}

/**
 * Wraps an async or sync generator function so that the generator it returns runs every step
 * (`next`, `return`, `throw`, and each `await` inside) in the request context that was active
 * when the generator was created, wherever it is iterated later: by another consumer, from a
 * timer, after the response has ended. Same signature as `fn`.
 *
 * @example
 * import { currentRequest, withContext } from 'express-async-stream';
 * // Made in one request, iterated by a loop that no request started: without withContext, the
 * // generator would run in the loop's context, where currentRequest() throws.
 * const greetings = new Set<Generator<string>>();
 * const greeting = withContext(function* () {
 *   for (;;) yield `hello ${currentRequest().query.name}`; // always the request that joined
 * });
 * app.post('/join', (req, res) => {
 *   greetings.add(greeting());
 *   res.sendStatus(204);
 * });
 * setInterval(() => greetings.forEach((g) => console.log(g.next().value)), 1000);
 */
export function withContext<F extends GeneratorFunction>(fn: F): F {
  if (typeof fn !== 'function') {
    throw new TypeError(
      `withContext(fn) expects an async or sync generator function, but received ${describeValue(fn)}. ` +
        'Pass the function itself: withContext(async function* () { ... }).',
    );
  }
  const bound = function contextBound(this: unknown, ...args: unknown[]) {
    const context = getContext();
    const generator: unknown = fn.apply(this, args);
    if (isAsyncGenerator(generator)) return new ContextBoundAsyncGenerator(generator, context);
    if (isGenerator(generator)) return new ContextBoundGenerator(generator, context);
    if (generator instanceof Promise) generator.catch(() => {});
    throw new TypeError(
      `withContext(fn): ${fn.name || 'fn'} returned ${describeValue(generator)} instead of a generator. ` +
        'Declare it with async function* or function*, not as a plain or async function.',
    );
  };
  Object.defineProperty(bound, 'name', { value: fn.name });
  return bound as unknown as F;
}
