import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import type { Request, Response } from 'express';
import {
  AsyncStreamError,
  asyncStream,
  currentRequest,
  currentResponse,
  currentSignal,
  withContext,
} from '../src/index.js';
import type { StreamConnection } from '../src/testing/index.js';
import { useStreamRequest } from './helpers/connections.js';
import { deferred } from './helpers/deferred.js';
import { expressVersions } from './helpers/express.js';
import { createProducer, type Producer } from './helpers/producer.js';
import { fromImmediate, fromTimeout, within } from './helpers/within.js';

describe('currentRequest(), currentResponse() and currentSignal()', () => {
  describe('outside any request context', () => {
    const accessors = [
      ['currentRequest()', currentRequest],
      ['currentResponse()', currentResponse],
      ['currentSignal()', currentSignal],
    ] as const;

    it.each(accessors)(
      '%s throws an AsyncStreamError saying it was called outside a request context',
      (name, accessor) => {
        expect(accessor).toThrow(AsyncStreamError);
        expect(accessor).toThrow(`${name} was called outside a request context`);
      },
    );

    it.each(accessors)('%s names the fix: asyncStream() and withContext()', (_name, accessor) => {
      expect(accessor).toThrow(/inside an asyncStream\(\) handler/);
      expect(accessor).toThrow(/withContext\(\)/);
    });
  });
});

describe('withContext(fn)', () => {
  describe('when called as a method with arguments', () => {
    it('passes `this` and the arguments to an async generator function', async () => {
      const owner = {
        prefix: 'row',
        rows: withContext(async function* (this: { prefix: string }, from: number, to: number) {
          for (let i = from; i <= to; i++) yield `${this.prefix} ${i}`;
        }),
      };
      const rows: string[] = [];
      for await (const row of owner.rows(2, 4)) rows.push(row);
      expect(rows).toEqual(['row 2', 'row 3', 'row 4']);
    });

    it('passes `this` and the arguments to a sync generator function', () => {
      const owner = {
        prefix: 'row',
        rows: withContext(function* (this: { prefix: string }, from: number, to: number) {
          for (let i = from; i <= to; i++) yield `${this.prefix} ${i}`;
        }),
      };
      expect([...owner.rows(2, 4)]).toEqual(['row 2', 'row 3', 'row 4']);
    });
  });
});

describe.each(expressVersions)('asyncStream(handler): the request context (%s)', (_name, createApp) => {
  const streamRequest = useStreamRequest();

  /** What one step of a handler or body saw, compared with the request it belongs to. */
  interface Sighting {
    readonly where: string;
    readonly request: boolean;
    readonly response: boolean;
    readonly signal: AbortSignal;
  }

  function sight(where: string, req: Request, res: Response): Sighting {
    return { where, request: currentRequest() === req, response: currentResponse() === res, signal: currentSignal() };
  }

  /**
   * `/observe`: records what the context functions return in the handler and at each step of the
   * body, where the body resumes from an await the test settles (outside the request).
   */
  async function observeOneRequest(): Promise<{ sightings: Sighting[]; body: string }> {
    const app = createApp();
    const sightings: Sighting[] = [];
    const gate = deferred();
    app.get(
      '/observe',
      asyncStream((req, res) => {
        sightings.push(sight('handler', req, res));
        return (async function* body() {
          sightings.push(sight('before the first yield', req, res));
          yield 'one ';
          await gate.promise;
          sightings.push(sight('after an await', req, res));
          yield 'two';
          sightings.push(sight('after the last yield', req, res));
        })();
      }),
    );
    const client = await streamRequest(app, '/observe');
    expect((await client.receive())!.toString()).toBe('one ');
    gate.resolve();
    const body = await client.text();
    return { sightings, body };
  }

  const steps = ['handler', 'before the first yield', 'after an await', 'after the last yield'];

  describe('currentRequest()', () => {
    it('returns the request in the handler and at every step of the body', async () => {
      const { sightings, body } = await observeOneRequest();
      expect(body).toBe('two');
      expect(sightings.map(({ where, request }) => [where, request])).toEqual(steps.map((step) => [step, true]));
    });
  });

  describe('currentResponse()', () => {
    it('returns the response in the handler and at every step of the body', async () => {
      const { sightings } = await observeOneRequest();
      expect(sightings.map(({ where, response }) => [where, response])).toEqual(steps.map((step) => [step, true]));
    });
  });

  describe('currentSignal()', () => {
    it('returns one signal, not aborted, in the handler and at every step of the body', async () => {
      const { sightings } = await observeOneRequest();
      const [first] = sightings;
      expect(first!.signal).toBeInstanceOf(AbortSignal);
      expect(sightings.map(({ where, signal }) => [where, signal === first!.signal])).toEqual(
        steps.map((step) => [step, true]),
      );
      expect(sightings.map(({ signal }) => signal.aborted)).toEqual([false, false, false, false]);
    });

    it('stays unaborted after the response ended normally', async () => {
      const app = createApp();
      const signal = deferred<AbortSignal>();
      const closed = deferred();
      app.get(
        '/',
        (_req, res, next) => {
          res.once('close', () => closed.resolve());
          next();
        },
        asyncStream(async function* () {
          signal.resolve(currentSignal());
          yield 'done';
        }),
      );
      const client = await streamRequest(app, '/');
      expect(await client.text()).toBe('done');
      expect((await client.readToEnd()).aborted).toBe(false);
      await within(closed.promise, "the response's close event");
      expect((await signal.promise).aborted).toBe(false);
    });

    describe('when the client disconnects mid-stream', () => {
      /** `/wait`: yields once, then blocks in a 1e9 ms timer given currentSignal(). */
      async function disconnectWhileBlocked() {
        const app = createApp();
        const signal = deferred<AbortSignal>();
        const blocked = deferred();
        const finalized = deferred<string[]>();
        const steps: string[] = [];
        app.get(
          '/wait',
          asyncStream(async function* () {
            signal.resolve(currentSignal());
            try {
              yield 'first';
              blocked.resolve();
              await delay(1e9, undefined, { signal: currentSignal() });
              steps.push('timer elapsed');
              yield 'never';
            } catch (error) {
              steps.push(`caught ${(error as Error).name}`);
              throw error;
            } finally {
              steps.push('finally');
              finalized.resolve(steps);
            }
          }),
        );
        const client = await streamRequest(app, '/wait');
        expect((await client.receive())!.toString()).toBe('first');
        await within(blocked.promise, 'the generator blocking in its await');
        await client.disconnect();
        return { signal: await signal.promise, finalized: finalized.promise };
      }

      it('aborts the signal', async () => {
        const { signal } = await disconnectWhileBlocked();
        await within(
          new Promise((resolve) => (signal.aborted ? resolve(undefined) : signal.addEventListener('abort', resolve))),
          "the signal's abort event",
        );
        expect(signal.aborted).toBe(true);
      });

      it('gives an AbortError DOMException as the reason', async () => {
        const { signal, finalized } = await disconnectWhileBlocked();
        await within(finalized, "the generator's finally");
        expect(signal.reason).toBeInstanceOf(DOMException);
        expect((signal.reason as DOMException).name).toBe('AbortError');
      });

      it('ends an await on setTimeout(1e9, …, { signal }) with an AbortError, so that the finally runs', async () => {
        const { finalized } = await disconnectWhileBlocked();
        expect(await within(finalized, "the generator's finally")).toEqual(['caught AbortError', 'finally']);
      });
    });
  });

  describe("in the body's finally, when the client leaves while the body waits at a yield for the socket", () => {
    it('still gives the request, and the signal aborted with the reason', async () => {
      const app = createApp();
      const seen: unknown[] = [];
      const parked = deferred();
      app.get(
        '/parked',
        asyncStream(async function* (req) {
          try {
            // Far more than the socket and the client take while it does not read: after this
            // yield the generator waits, parked, until 'drain', which never comes.
            parked.resolve();
            yield Buffer.alloc(64 * 1024 * 1024);
            yield 'never';
          } finally {
            try {
              seen.push(currentRequest() === req, currentSignal().aborted, (currentSignal().reason as Error).name);
            } catch (error) {
              seen.push(error);
            }
          }
        }),
      );
      const connection = await streamRequest(app, '/parked');
      connection.pause();
      await parked.promise;
      await connection.disconnect();
      expect(seen).toEqual([true, true, 'AbortError']);
    });
  });

  describe('when two requests are in flight at once', () => {
    it('each body sees its own request, chunk after chunk, however they interleave', async () => {
      const app = createApp();
      const producers: Record<string, Producer<string>> = { a: createProducer(), b: createProducer() };
      app.get(
        '/',
        asyncStream(async function* () {
          const name = String(currentRequest().query.name);
          for await (const tick of producers[name]!.generate()) yield `${String(currentRequest().query.name)}${tick} `;
        }),
      );
      // The status and headers arrive with the first chunk, so both requests are opened first.
      const openingA = streamRequest(app, '/?name=a');
      const openingB = streamRequest(app, '/?name=b');
      await Promise.all([producers.a!.waiting(), producers.b!.waiting()]);
      const next = async (client: StreamConnection) => (await client.receive())!.toString();
      producers.a!.push('1');
      const a = await openingA;
      expect(await next(a)).toBe('a1 ');
      producers.b!.push('1');
      const b = await openingB;
      expect(await next(b)).toBe('b1 ');
      producers.b!.push('2');
      expect(await next(b)).toBe('b2 ');
      producers.a!.push('2');
      expect(await next(a)).toBe('a2 ');
      producers.b!.push('3');
      producers.a!.push('3');
      expect(await next(a)).toBe('a3 ');
      expect(await next(b)).toBe('b3 ');
      producers.a!.end();
      producers.b!.end();
      expect(await a.text()).toBe('');
      expect(await b.text()).toBe('');
    });
  });

  /**
   * `/created?by=…`: the handler creates a generator with `factory()` and answers 'created'; the
   * generator is handed to the test, which iterates it once the response has ended.
   */
  async function createInRequest<G>(factory: () => G, path = '/created?by=test'): Promise<G> {
    const app = createApp();
    const created = deferred<G>();
    app.get(
      '/created',
      asyncStream(() => {
        created.resolve(factory());
        return 'created';
      }),
    );
    const client = await streamRequest(app, path);
    expect(await client.text()).toBe('created');
    expect((await client.readToEnd()).aborted).toBe(false);
    return created.promise;
  }

  describe('withContext(async function* …)', () => {
    /** Reports, at each step, the URL of the request it sees. */
    function createUrlReporter() {
      const seen: string[] = [];
      const generate = withContext(async function* () {
        try {
          yield currentRequest().url;
          await nextTurn();
          yield currentRequest().url;
          await nextTurn();
          yield currentRequest().url;
        } catch (error) {
          seen.push(`catch ${currentRequest().url} ${(error as Error).message}`);
        } finally {
          seen.push(`finally ${currentRequest().url}`);
        }
      });
      return { seen, generate };
    }

    describe('when iterated from a setImmediate callback after the response ended', () => {
      it('sees the request that created it', async () => {
        const { generate } = createUrlReporter();
        const urls = await createInRequest(generate);
        expect(await fromImmediate(() => urls.next())).toEqual({ value: '/created?by=test', done: false });
      });

      it('still sees it after an await inside the generator', async () => {
        const { generate } = createUrlReporter();
        const urls = await createInRequest(generate);
        await fromImmediate(() => urls.next());
        expect(await fromImmediate(() => urls.next())).toEqual({ value: '/created?by=test', done: false });
      });

      it('runs return() in that request: its finally sees it', async () => {
        const { generate, seen } = createUrlReporter();
        const urls = await createInRequest(generate);
        await fromImmediate(() => urls.next());
        expect(await fromImmediate(() => urls.return(undefined))).toEqual({ value: undefined, done: true });
        expect(seen).toEqual(['finally /created?by=test']);
      });

      it('runs throw() in that request: its catch sees it', async () => {
        const { generate, seen } = createUrlReporter();
        const urls = await createInRequest(generate);
        await fromImmediate(() => urls.next());
        expect(await fromImmediate(() => urls.throw(new Error('stop')))).toEqual({ value: undefined, done: true });
        expect(seen).toEqual(['catch /created?by=test stop', 'finally /created?by=test']);
      });

      it('sees it in every chunk of a for await loop', async () => {
        const { generate, seen } = createUrlReporter();
        const urls = await createInRequest(generate);
        const chunks = await fromImmediate(async () => {
          const all: string[] = [];
          for await (const url of urls) all.push(url);
          return all;
        });
        expect(chunks).toEqual(['/created?by=test', '/created?by=test', '/created?by=test']);
        expect(seen).toEqual(['finally /created?by=test']);
      });
    });

    describe('when iterated from a setTimeout callback after the response ended', () => {
      it('sees the request that created it', async () => {
        const { generate } = createUrlReporter();
        const urls = await createInRequest(generate);
        expect(await fromTimeout(() => urls.next())).toEqual({ value: '/created?by=test', done: false });
      });
    });

    describe('when iterated inside another request', () => {
      it('sees the request that created it, not the one iterating it', async () => {
        const { generate } = createUrlReporter();
        const urls = await createInRequest(generate, '/created?by=first');
        const app = createApp();
        app.get(
          '/other',
          asyncStream(async function* () {
            yield `${currentRequest().url} reads `;
            for await (const url of urls) yield `${url} `;
          }),
        );
        const client = await streamRequest(app, '/other');
        expect(await client.text()).toBe('/other reads /created?by=first /created?by=first /created?by=first ');
      });
    });

    describe('without withContext (the contrast)', () => {
      it('a plain async generator iterated after the response ended throws the outside-context Error', async () => {
        const urls = await createInRequest(async function* () {
          yield currentRequest().url;
        });
        await expect(fromImmediate(() => urls.next())).rejects.toThrow(
          'currentRequest() was called outside a request context',
        );
      });
    });
  });

  describe('withContext(function* …)', () => {
    function createUrlReporter() {
      const seen: string[] = [];
      const generate = withContext(function* () {
        try {
          yield currentRequest().url;
          yield currentRequest().url;
        } catch (error) {
          seen.push(`catch ${currentRequest().url} ${(error as Error).message}`);
        } finally {
          seen.push(`finally ${currentRequest().url}`);
        }
      });
      return { seen, generate };
    }

    describe('when iterated from a setImmediate callback after the response ended', () => {
      it('sees the request that created it', async () => {
        const { generate } = createUrlReporter();
        const urls = await createInRequest(generate);
        expect(await fromImmediate(() => urls.next())).toEqual({ value: '/created?by=test', done: false });
      });

      it('runs return() in that request: its finally sees it', async () => {
        const { generate, seen } = createUrlReporter();
        const urls = await createInRequest(generate);
        await fromImmediate(() => urls.next());
        expect(await fromImmediate(() => urls.return(undefined))).toEqual({ value: undefined, done: true });
        expect(seen).toEqual(['finally /created?by=test']);
      });

      it('runs throw() in that request: its catch sees it', async () => {
        const { generate, seen } = createUrlReporter();
        const urls = await createInRequest(generate);
        await fromImmediate(() => urls.next());
        expect(await fromImmediate(() => urls.throw(new Error('stop')))).toEqual({ value: undefined, done: true });
        expect(seen).toEqual(['catch /created?by=test stop', 'finally /created?by=test']);
      });

      it('sees it in every step of a for of loop', async () => {
        const { generate, seen } = createUrlReporter();
        const urls = await createInRequest(generate);
        expect(await fromImmediate(() => [...urls])).toEqual(['/created?by=test', '/created?by=test']);
        expect(seen).toEqual(['finally /created?by=test']);
      });
    });

    describe('when iterated from a setTimeout callback after the response ended', () => {
      it('sees the request that created it', async () => {
        const { generate } = createUrlReporter();
        const urls = await createInRequest(generate);
        expect(await fromTimeout(() => urls.next())).toEqual({ value: '/created?by=test', done: false });
      });
    });

    describe('when iterated inside another request', () => {
      it('sees the request that created it, not the one iterating it', async () => {
        const { generate } = createUrlReporter();
        const urls = await createInRequest(generate, '/created?by=first');
        const app = createApp();
        app.get(
          '/other',
          asyncStream(function* () {
            yield `${currentRequest().url} reads `;
            for (const url of urls) yield `${url} `;
          }),
        );
        const client = await streamRequest(app, '/other');
        expect(await client.text()).toBe('/other reads /created?by=first /created?by=first ');
      });
    });

    describe('without withContext (the contrast)', () => {
      it('a plain sync generator iterated after the response ended throws the outside-context Error', async () => {
        const urls = await createInRequest(function* () {
          yield currentRequest().url;
        });
        await expect(fromImmediate(() => urls.next())).rejects.toThrow(
          'currentRequest() was called outside a request context',
        );
      });
    });
  });
});
