import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import type { ErrorRequestHandler } from 'express';
import { asyncStream, currentSignal, makeResponse, StreamTimeoutError } from '../src/index.js';
import { recordErrors, useProcessWatch } from './helpers/app.js';
import { openStream } from './helpers/client.js';
import { deferred, settle } from './helpers/deferred.js';
import { expressVersions } from './helpers/express.js';
import { createProducer } from './helpers/producer.js';
import { useTestServer } from './helpers/server.js';
import { nodeProcess, watchWarnings } from './helpers/warnings.js';
import { recordWrites } from './helpers/writes.js';

describe.each(expressVersions)('StreamSession (%s)', (_name, createApp) => {
  const testServer = useTestServer();
  const { serve } = testServer;
  const watcher = useProcessWatch();

  describe('when the client disconnects mid-stream', () => {
    async function disconnectAfterFirstChunk(useSignal: boolean) {
      const app = createApp();
      const producer = createProducer();
      const signal = deferred<AbortSignal>();
      const record = recordWrites();
      app.get(
        '/',
        record.middleware,
        asyncStream(() => {
          signal.resolve(currentSignal());
          return useSignal ? producer.generateUntil(currentSignal()) : producer.generate();
        }),
      );
      const errors = recordErrors(app);
      producer.push('first');
      const client = await openStream(await serve(app), '/');
      expect((await client.receive())!.toString()).toBe('first');
      await producer.waiting();
      client.disconnect();
      await whenAborted(await signal.promise);
      return { producer, client, errors, signal: await signal.promise, writesAfterEnd: () => record.writes.filter((write) => write.afterEnd).length };
    }

    it("runs the finally of a generator that listens to currentSignal() at once", async () => {
      const { producer } = await disconnectAfterFirstChunk(true);
      await producer.finalized;
      expect(producer.finallyCount).toBe(1);
      expect(producer.produced).toBe(1);
    });

    it("runs the finally of any other generator at its next yield, without writing that chunk", async () => {
      const { producer, client, writesAfterEnd } = await disconnectAfterFirstChunk(false);
      producer.push('late');
      await producer.finalized;
      expect(producer.finallyCount).toBe(1);
      await settle();
      expect(writesAfterEnd()).toBe(0);
      expect(await client.outcome).toBe('aborted');
    });

    it('aborts currentSignal() with an AbortError', async () => {
      const { signal } = await disconnectAfterFirstChunk(true);
      expect(signal.aborted).toBe(true);
      expect(signal.reason).toBeInstanceOf(DOMException);
      expect((signal.reason as DOMException).name).toBe('AbortError');
    });

    it('reports nothing to next(err) and logs nothing', async () => {
      const { errors, producer } = await disconnectAfterFirstChunk(true);
      await producer.finalized;
      await settle();
      expect(errors).toEqual([]);
      expect(watcher.unhandled).toEqual([]);
      expect(watcher.logged).toEqual([]);
    });
  });

  describe('when the client disconnects while the generator awaits', () => {
    it('finishes a generator blocked in an await that listens to the signal', async () => {
      const app = createApp();
      const blocked = deferred();
      const finalized = deferred<string>();
      app.get(
        '/',
        asyncStream(async function* () {
          try {
            yield 'first';
            blocked.resolve();
            await sleep(1e9, undefined, { signal: currentSignal() });
            yield 'never';
          } finally {
            finalized.resolve('finally ran');
          }
        }),
      );
      const errors = recordErrors(app);
      const client = await openStream(await serve(app), '/');
      await client.receive();
      await blocked.promise;
      client.disconnect();
      await expect(finalized.promise).resolves.toBe('finally ran');
      await settle();
      expect(errors).toEqual([]);
      expect(watcher.unhandled).toEqual([]);
    });

    it('closes a body that arrives after the client left', async () => {
      const app = createApp();
      const gate = deferred();
      const started = deferred<AbortSignal>();
      const body = Readable.from(['never sent']);
      app.get(
        '/',
        asyncStream(async () => {
          started.resolve(currentSignal());
          await gate.promise;
          return body;
        }),
      );
      const errors = recordErrors(app);
      // No headers come back before the body does, so the client can only be dropped from the server side.
      openStream(await serve(app), '/').catch(() => {});
      const signal = await started.promise;
      testServer.server!.sockets[0]!.destroy();
      await whenAborted(signal);
      gate.resolve();
      await new Promise((resolve) => body.once('close', resolve));
      expect(body.destroyed).toBe(true);
      expect(errors).toEqual([]);
    });
  });

  describe('when the body fails before the first chunk', () => {
    it('hands the error to next(err), which answers 500', async () => {
      const app = createApp();
      const failure = new Error('database down');
      app.get('/', asyncStream(async function* () {
        throw failure;
      }));
      const errors = recordErrors(app);
      const client = await openStream(await serve(app), '/');
      expect(client.status).toBe(500);
      expect(await client.outcome).toBe('complete');
      expect(errors).toEqual([failure]);
    });

    it("answers with the error's own status", async () => {
      const app = createApp();
      app.get('/', asyncStream(async () => {
        throw Object.assign(new Error('teapot'), { status: 418 });
      }));
      recordErrors(app);
      const client = await openStream(await serve(app), '/');
      expect(client.status).toBe(418);
    });

    it('does not send headers the result set for the stream', async () => {
      const app = createApp();
      app.get('/', asyncStream(async () => {
        const failing = (async function* () {
          throw new Error('boom');
        })();
        return [failing, 201, { 'X-Stream': 'yes' }] as const;
      }));
      recordErrors(app);
      const client = await openStream(await serve(app), '/');
      expect(client.status).toBe(500);
      expect(client.headers['x-stream']).toBeUndefined();
    });
  });

  describe('when the body fails after the first chunk', () => {
    it('cuts the response short instead of ending it cleanly', async () => {
      const app = createApp();
      const producer = createProducer();
      const failure = new Error('lost upstream');
      app.get('/', asyncStream(producer.generate));
      const errors = recordErrors(app);
      producer.push('partial');
      const client = await openStream(await serve(app), '/');
      expect((await client.receive())!.toString()).toBe('partial');
      producer.fail(failure);
      expect(await client.outcome).toBe('aborted');
      expect(client.status).toBe(200);
      expect(errors).toEqual([failure]);
      expect(producer.finallyCount).toBe(1);
    });

    it('delivers the chunks written in the same tick as the failure before cutting', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(async function* () {
        yield* producer.generate();
        yield 'last before failure';
        throw new Error('lost upstream');
      }));
      recordErrors(app);
      producer.push('first ');
      const client = await openStream(await serve(app), '/');
      await client.receive();
      producer.end();
      expect((await client.rest()).toString()).toBe('last before failure');
      expect(await client.outcome).toBe('aborted');
    });

    it('cuts the response short even when a custom error handler ends it', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate));
      const endQuietly: ErrorRequestHandler = (_error, _req, res, _next) => {
        if (res.headersSent) res.end();
      };
      app.use(endQuietly);
      producer.push('partial');
      const client = await openStream(await serve(app), '/');
      await client.receive();
      producer.fail(new Error('lost upstream'));
      expect(await client.outcome).toBe('aborted');
    });

    it('cuts the response short even when a custom error handler does not', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate));
      const swallow: ErrorRequestHandler = (_error, _req, _res, _next) => {};
      app.use(swallow);
      producer.push('partial');
      const client = await openStream(await serve(app), '/');
      await client.receive();
      producer.fail(new Error('lost upstream'));
      expect(await client.outcome).toBe('aborted');
    });
  });

  describe('when the handler answered and also returns a body', () => {
    it('closes the body unsent and warns, leaving the response alone', async () => {
      const warnings = watchWarnings();
      try {
        const app = createApp();
        const tracked = { returned: 0 };
        const iterable = {
          [Symbol.asyncIterator]() {
            return this;
          },
          next: async () => ({ done: false as const, value: 'never sent' }),
          return: async () => {
            tracked.returned++;
            return { done: true as const, value: undefined };
          },
        };
        app.get('/', asyncStream((_req, res) => {
          res.send('answered');
          return iterable;
        }));
        const errors = recordErrors(app);
        const client = await openStream(await serve(app), '/');
        expect((await client.rest()).toString()).toBe('answered');
        expect(await client.outcome).toBe('complete');
        await settle();
        expect(tracked.returned).toBe(1);
        expect(errors).toEqual([]);
        expect(warnings.warnings.map((warning) => warning.message)).toEqual([
          expect.stringContaining('answered the request itself (or called next()) and also returned a body'),
        ]);
      } finally {
        warnings.stop();
      }
    });
  });

  describe('when a chunk is not a string or bytes', () => {
    it('sends a TypeError naming its type and index to next(err)', async () => {
      const app = createApp();
      app.get('/', asyncStream(async function* () {
        yield 'ok';
        yield 42 as unknown as string;
      }));
      const errors = recordErrors(app);
      // The connection is destroyed in the tick that wrote the first chunk: the client may see
      // that chunk cut short, or no response at all; never a clean end.
      const outcome = await openStream(await serve(app), '/').then((client) => client.outcome, () => 'aborted');
      expect(outcome).toBe('aborted');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(TypeError);
      expect((errors[0] as Error).message).toContain('chunk 1 of the body is number (42)');
    });

    it('closes the generator', async () => {
      const app = createApp();
      const finalized = deferred();
      app.get('/', asyncStream(async function* () {
        try {
          yield { not: 'a chunk' } as unknown as string;
        } finally {
          finalized.resolve();
        }
      }));
      const errors = recordErrors(app);
      const client = await openStream(await serve(app), '/');
      expect(client.status).toBe(500);
      await finalized.promise;
      expect((errors[0] as Error).message).toContain('chunk 0 of the body is object');
    });
  });

  describe('with an idle timeout', () => {
    beforeEach(() => {
      // Only the idle timer is faked: sockets, setImmediate (finalhandler) and nextTick run for real.
      jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
    });

    afterEach(() => {
      jest.useRealTimers();
    });

    it('answers 503 with a StreamTimeoutError when the producer is silent before the first chunk', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/silent', asyncStream(() => producer.generateUntil(currentSignal()), { timeout: 1_000 }));
      const errors = recordErrors(app);
      const pending = openStream(await serve(app), '/silent?x=1');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(999);
      expect(errors).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      const client = await pending;
      expect(client.status).toBe(503);
      expect(errors).toHaveLength(1);
      const error = errors[0] as StreamTimeoutError;
      expect(error).toBeInstanceOf(StreamTimeoutError);
      expect(error).toMatchObject({ name: 'StreamTimeoutError', timeout: 1_000, method: 'GET', url: '/silent?x=1', headersSent: false });
      expect(error.message).toContain('no chunk was written for 1000 ms');
      await producer.finalized;
    });

    it('closes the connection when the producer falls silent after the first chunk', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(() => producer.generateUntil(currentSignal()), { timeout: 1_000 }));
      const errors = recordErrors(app);
      producer.push('a');
      const client = await openStream(await serve(app), '/');
      await client.receive();
      await jest.advanceTimersByTimeAsync(1_000);
      expect(await client.outcome).toBe('aborted');
      expect(errors[0]).toMatchObject({ headersSent: true, timeout: 1_000 });
      expect(producer.finallyCount).toBe(1);
    });

    it('restarts the countdown at every chunk written', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate, { timeout: 1_000 }));
      const errors = recordErrors(app);
      producer.push('first');
      const client = await openStream(await serve(app), '/');
      await client.receive();
      for (const chunk of ['a', 'b', 'c']) {
        await jest.advanceTimersByTimeAsync(900);
        producer.push(chunk);
        await client.receive();
      }
      producer.end();
      expect(await client.outcome).toBe('complete');
      expect(errors).toEqual([]);
    });

    it('aborts currentSignal() with the timeout error', async () => {
      const app = createApp();
      const signal = deferred<AbortSignal>();
      const producer = createProducer();
      app.get('/', asyncStream(() => {
        signal.resolve(currentSignal());
        return producer.generate();
      }, { timeout: 50 }));
      recordErrors(app);
      const pending = openStream(await serve(app), '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(50);
      await pending;
      expect((await signal.promise).reason).toBeInstanceOf(StreamTimeoutError);
    });

    it('fires when the client stops reading', async () => {
      const app = createApp();
      const big = Buffer.alloc(64 * 1024, 'x');
      app.get(
        '/',
        asyncStream(function* () {
          for (;;) yield big;
        }, { timeout: 1_000 }),
      );
      const errors = recordErrors(app);
      const client = await openStream(await serve(app), '/');
      client.pause();
      // Fill every buffer between server and client; the pump then waits for a 'drain' that never comes.
      for (let turn = 0; turn < 100 && errors.length === 0; turn++) await jest.advanceTimersByTimeAsync(100);
      expect(errors[0]).toBeInstanceOf(StreamTimeoutError);
      client.resume();
      expect(await client.outcome).toBe('aborted');
    });

    it('never fires for a route with timeout: null, whatever the app default', async () => {
      const app = createApp();
      app.set('stream timeout', 1_000);
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate, { timeout: null }));
      const errors = recordErrors(app);
      const pending = openStream(await serve(app), '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(3_600_000);
      producer.push('late');
      producer.end();
      const client = await pending;
      expect(client.status).toBe(200);
      expect((await client.rest()).toString()).toBe('late');
      expect(errors).toEqual([]);
    });

    it('uses the app setting when the route sets none', async () => {
      const app = createApp();
      app.set('stream timeout', 2_000);
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate));
      const errors = recordErrors(app);
      const pending = openStream(await serve(app), '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(1_999);
      expect(errors).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect((await pending).status).toBe(503);
      expect(errors[0]).toMatchObject({ timeout: 2_000 });
    });

    it('defaults to 60 seconds', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate));
      const errors = recordErrors(app);
      const pending = openStream(await serve(app), '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(59_999);
      expect(errors).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect((await pending).status).toBe(503);
    });

    it('lets one response switch it off with makeResponse(body).timeout = null', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(() => {
        const response = makeResponse(producer.generate());
        response.timeout = null;
        return response;
      }, { timeout: 1_000 }));
      const errors = recordErrors(app);
      const pending = openStream(await serve(app), '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(3_600_000);
      producer.push('still here');
      producer.end();
      expect((await (await pending).rest()).toString()).toBe('still here');
      expect(errors).toEqual([]);
    });

    describe('when the handler answers the request itself', () => {
      it('does not time out a handler that sent a response and is still running', async () => {
        const app = createApp();
        const gate = deferred();
        const done = deferred();
        app.get('/', asyncStream(async (_req, res) => {
          res.send('sent by hand');
          await gate.promise;
          done.resolve();
        }, { timeout: 1_000 }));
        const errors = recordErrors(app);
        const agent = new http.Agent({ keepAlive: true });
        try {
          const client = await openStream(await serve(app), '/', { agent });
          expect((await client.rest()).toString()).toBe('sent by hand');
          await jest.advanceTimersByTimeAsync(10_000);
          gate.resolve();
          await done.promise;
          await settle();
          expect(errors).toEqual([]);
          // The keep-alive connection survives: a timeout would have made Express destroy it.
          expect(testServer.server!.sockets[0]!.destroyed).toBe(false);
        } finally {
          agent.destroy();
        }
      });

      it('does not time out the route it passed the request to with next()', async () => {
        const app = createApp();
        const producer = createProducer();
        const gate = deferred();
        app.get(
          '/',
          asyncStream(async (_req, _res, next) => {
            next();
            await gate.promise;
          }, { timeout: 1_000 }),
          asyncStream(producer.generate, { timeout: null }),
        );
        const errors = recordErrors(app);
        producer.push('from the next route');
        const client = await openStream(await serve(app), '/');
        await client.receive();
        await jest.advanceTimersByTimeAsync(10_000);
        producer.push(' and more');
        producer.end();
        gate.resolve();
        expect((await client.rest()).toString()).toBe(' and more');
        expect(await client.outcome).toBe('complete');
        expect(errors).toEqual([]);
      });

      it('does not time out a handler writing the response by hand', async () => {
        const app = createApp();
        const gate = deferred();
        app.get('/', asyncStream(async (_req, res) => {
          res.write('by hand, ');
          await gate.promise;
          res.end('done');
        }, { timeout: 1_000 }));
        const errors = recordErrors(app);
        const client = await openStream(await serve(app), '/');
        expect((await client.receive())!.toString()).toBe('by hand, ');
        await jest.advanceTimersByTimeAsync(10_000);
        gate.resolve();
        expect((await client.rest()).toString()).toBe('done');
        expect(await client.outcome).toBe('complete');
        expect(errors).toEqual([]);
      });
    });

    describe('when the handler returns nothing', () => {
      it('answers 503 and warns when it never answers (a missing return)', async () => {
        const warnings = watchWarnings();
        try {
          const app = createApp();
          const called = deferred();
          async function* rows() {
            yield 'row\n';
          }
          // The `return` is missing: the body is made and dropped, the request is never answered.
          app.get('/users', asyncStream((): void => {
            void rows();
            called.resolve();
          }, { timeout: 1_000 }));
          const errors = recordErrors(app);
          const pending = openStream(await serve(app), '/users');
          await called.promise;
          await jest.advanceTimersByTimeAsync(999);
          expect(errors).toEqual([]);
          await jest.advanceTimersByTimeAsync(1);
          const client = await pending;
          expect(client.status).toBe(503);
          expect(errors).toEqual([expect.any(StreamTimeoutError)]);
          expect(errors[0]).toMatchObject({ headersSent: false, timeout: 1_000 });
          const ours = warnings.warnings.filter((warning) => warning.name === 'AsyncStreamWarning');
          expect(ours).toHaveLength(1);
          expect(ours[0]!.message).toContain('GET /users returned undefined and did not answer within 1000 ms');
          expect(ours[0]!.message).toContain('missing `return`');
        } finally {
          warnings.stop();
        }
      });

      it('drops, with a warning and without a crash, an answer that comes after the 503', async () => {
        const target = nodeProcess();
        const uncaught: unknown[] = [];
        const onUncaught = (error: unknown): void => void uncaught.push(error);
        target.on('uncaughtException', onUncaught);
        const lateWarning = new Promise<Error>((resolve) => {
          target.on('warning', function onWarning(warning: Error) {
            if (!warning.message.includes('answered after its idle timeout')) return;
            target.off('warning', onWarning);
            resolve(warning);
          });
        });
        try {
          const app = createApp();
          const called = deferred();
          const late = deferred();
          // Callback style: the answer comes from a callback of the handler's own, not a promise.
          app.get('/slow-query', asyncStream((_req, res): void => {
            void late.promise.then(() => setImmediate(() => res.status(200).json({ rows: [] })));
            called.resolve();
          }, { timeout: 1_000 }));
          recordErrors(app);
          const pending = openStream(await serve(app), '/slow-query');
          await called.promise;
          await jest.advanceTimersByTimeAsync(1_000);
          const client = await pending;
          expect(client.status).toBe(503);
          late.resolve();
          expect((await lateWarning).message).toContain('GET /slow-query answered after its idle timeout had already answered 503');
          expect(uncaught).toEqual([]);
          expect(await client.outcome).toBe('complete');
        } finally {
          target.off('uncaughtException', onUncaught);
        }
      });

      it('does not time out a handler that answers later, after returning', async () => {
        const app = createApp();
        const answer = deferred();
        const called = deferred();
        app.get('/later', asyncStream((_req, res): void => {
          void answer.promise.then(() => res.send('answered later'));
          called.resolve();
        }, { timeout: 1_000 }));
        const errors = recordErrors(app);
        const pending = openStream(await serve(app), '/later');
        await called.promise;
        await jest.advanceTimersByTimeAsync(500);
        answer.resolve();
        const client = await pending;
        await jest.advanceTimersByTimeAsync(10_000);
        expect(client.status).toBe(200);
        expect((await client.rest()).toString()).toBe('answered later');
        expect(errors).toEqual([]);
      });
    });

  });

  function whenAborted(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }

});
