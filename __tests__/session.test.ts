import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Readable } from 'node:stream';
import type { ErrorRequestHandler } from 'express';
import { asyncStream, currentSignal, makeResponse, StreamTimeoutError } from '../src/index.js';
import { recordErrors, useProcessWatch } from './helpers/app.js';
import { deferred, settle } from './helpers/deferred.js';
import { useStreamRequest } from './helpers/connections.js';
import { expressVersions } from './helpers/express.js';
import { createProducer } from './helpers/producer.js';
import { getOnAgent } from './helpers/rawHttp.js';
import { useTestServer } from './helpers/server.js';
import { nodeProcess, watchWarnings } from './helpers/warnings.js';
import { recordWrites } from './helpers/writes.js';

describe.each(expressVersions)('asyncStream(handler, options) (%s)', (_name, createApp) => {
  const testServer = useTestServer();
  const { serve } = testServer;
  const watcher = useProcessWatch();
  const streamRequest = useStreamRequest();

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
      const client = await streamRequest(app, '/');
      expect((await client.receive())!.toString()).toBe('first');
      await producer.waiting();
      // Resolves once the server is done, which a generator deaf to the signal is only at its next yield.
      const disconnected = client.disconnect();
      await whenAborted(await signal.promise);
      if (useSignal) await disconnected;
      return {
        producer,
        disconnected,
        errors,
        signal: await signal.promise,
        writesAfterEnd: () => record.writes.filter((write) => write.afterEnd).length,
      };
    }

    it('runs the finally of a generator that listens to currentSignal() at once', async () => {
      const { producer } = await disconnectAfterFirstChunk(true);
      await producer.finalized;
      expect(producer.finallyCount).toBe(1);
      expect(producer.produced).toBe(1);
    });

    it('runs the finally of any other generator at its next yield, without writing that chunk', async () => {
      const { producer, disconnected, writesAfterEnd } = await disconnectAfterFirstChunk(false);
      producer.push('late');
      await disconnected;
      expect(producer.finallyCount).toBe(1);
      await settle();
      expect(writesAfterEnd()).toBe(0);
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
      const client = await streamRequest(app, '/');
      await client.receive();
      await blocked.promise;
      await client.disconnect();
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
      streamRequest(await serve(app), '/').catch(() => {});
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
      app.get(
        '/',
        asyncStream(async function* () {
          throw failure;
        }),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(500);
      expect((await client.readToEnd()).aborted).toBe(false);
      expect(errors).toEqual([failure]);
    });

    it("answers with the error's own status", async () => {
      const app = createApp();
      app.get(
        '/',
        asyncStream(async () => {
          throw Object.assign(new Error('teapot'), { status: 418 });
        }),
      );
      recordErrors(app);
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(418);
    });

    it('does not send headers the result set for the stream', async () => {
      const app = createApp();
      app.get(
        '/',
        asyncStream(async () => {
          const failing = (async function* () {
            throw new Error('boom');
          })();
          return [failing, 201, { 'X-Stream': 'yes' }] as const;
        }),
      );
      recordErrors(app);
      const client = await streamRequest(app, '/');
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
      const client = await streamRequest(app, '/');
      expect((await client.receive())!.toString()).toBe('partial');
      producer.fail(failure);
      expect((await client.readToEnd()).aborted).toBe(true);
      expect(client.status).toBe(200);
      expect(errors).toEqual([failure]);
      expect(producer.finallyCount).toBe(1);
    });

    it('delivers the chunks written in the same tick as the failure before cutting', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get(
        '/',
        asyncStream(async function* () {
          yield* producer.generate();
          yield 'last before failure';
          throw new Error('lost upstream');
        }),
      );
      recordErrors(app);
      producer.push('first ');
      const client = await streamRequest(app, '/');
      await client.receive();
      producer.end();
      const { body, aborted } = await client.readToEnd();
      expect(body.toString()).toBe('last before failure');
      expect(aborted).toBe(true);
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
      const client = await streamRequest(app, '/');
      await client.receive();
      producer.fail(new Error('lost upstream'));
      expect((await client.readToEnd()).aborted).toBe(true);
    });

    it('cuts the response short even when a custom error handler does not', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate));
      const swallow: ErrorRequestHandler = (_error, _req, _res, _next) => {};
      app.use(swallow);
      producer.push('partial');
      const client = await streamRequest(app, '/');
      await client.receive();
      producer.fail(new Error('lost upstream'));
      expect((await client.readToEnd()).aborted).toBe(true);
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
        app.get(
          '/',
          asyncStream((_req, res) => {
            res.send('answered');
            return iterable;
          }),
        );
        const errors = recordErrors(app);
        const client = await streamRequest(app, '/');
        expect(await client.text()).toBe('answered');
        expect((await client.readToEnd()).aborted).toBe(false);
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
      app.get(
        '/',
        asyncStream(async function* () {
          yield 'ok';
          yield 42 as unknown as string;
        }),
      );
      const errors = recordErrors(app);
      // The connection is destroyed in the tick that wrote the first chunk: the client may see
      // that chunk cut short, or no response at all; never a clean end.
      const aborted = await streamRequest(app, '/').then(
        async (client) => (await client.readToEnd()).aborted,
        () => true,
      );
      expect(aborted).toBe(true);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(TypeError);
      expect((errors[0] as Error).message).toContain('chunk 1 of the body is number (42)');
    });

    it('closes the generator', async () => {
      const app = createApp();
      const finalized = deferred();
      app.get(
        '/',
        asyncStream(async function* () {
          try {
            yield { not: 'a chunk' } as unknown as string;
          } finally {
            finalized.resolve();
          }
        }),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      expect(client.status).toBe(500);
      await finalized.promise;
      expect((errors[0] as Error).message).toContain('chunk 0 of the body is object');
    });
  });

  describe('with an idle timeout', () => {
    beforeEach(() => {
      // Only the idle timer is faked: sockets, setImmediate (finalhandler) and nextTick run for real.
      jest.useFakeTimers({
        doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'],
      });
    });

    afterEach(() => {
      jest.useRealTimers();
    });

    it('answers 503 with a StreamTimeoutError when the producer is silent before the first chunk', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get(
        '/silent',
        asyncStream(() => producer.generateUntil(currentSignal()), { timeout: 1_000 }),
      );
      const errors = recordErrors(app);
      const pending = streamRequest(app, '/silent?x=1');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(999);
      expect(errors).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      const client = await pending;
      expect(client.status).toBe(503);
      expect(errors).toHaveLength(1);
      const error = errors[0] as StreamTimeoutError;
      expect(error).toBeInstanceOf(StreamTimeoutError);
      expect(error).toMatchObject({
        name: 'StreamTimeoutError',
        timeout: 1_000,
        method: 'GET',
        url: '/silent?x=1',
        headersSent: false,
      });
      expect(error.message).toContain('no chunk was written for 1000 ms');
      await producer.finalized;
    });

    it('closes the connection when the producer falls silent after the first chunk', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get(
        '/',
        asyncStream(() => producer.generateUntil(currentSignal()), { timeout: 1_000 }),
      );
      const errors = recordErrors(app);
      producer.push('a');
      const client = await streamRequest(app, '/');
      await client.receive();
      await jest.advanceTimersByTimeAsync(1_000);
      expect((await client.readToEnd()).aborted).toBe(true);
      expect(errors[0]).toMatchObject({ headersSent: true, timeout: 1_000 });
      expect(producer.finallyCount).toBe(1);
    });

    it('restarts the countdown at every chunk written', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate, { timeout: 1_000 }));
      const errors = recordErrors(app);
      producer.push('first');
      const client = await streamRequest(app, '/');
      await client.receive();
      for (const chunk of ['a', 'b', 'c']) {
        await jest.advanceTimersByTimeAsync(900);
        producer.push(chunk);
        await client.receive();
      }
      producer.end();
      expect((await client.readToEnd()).aborted).toBe(false);
      expect(errors).toEqual([]);
    });

    it('aborts currentSignal() with the timeout error', async () => {
      const app = createApp();
      const signal = deferred<AbortSignal>();
      const producer = createProducer();
      app.get(
        '/',
        asyncStream(
          () => {
            signal.resolve(currentSignal());
            return producer.generate();
          },
          { timeout: 50 },
        ),
      );
      recordErrors(app);
      const pending = streamRequest(app, '/');
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
        asyncStream(
          function* () {
            for (;;) yield big;
          },
          { timeout: 1_000 },
        ),
      );
      const errors = recordErrors(app);
      const client = await streamRequest(app, '/');
      client.pause();
      // Fill every buffer between server and client; the pump then waits for a 'drain' that never comes.
      for (let turn = 0; turn < 100 && errors.length === 0; turn++) await jest.advanceTimersByTimeAsync(100);
      expect(errors[0]).toBeInstanceOf(StreamTimeoutError);
      client.resume();
      expect((await client.readToEnd()).aborted).toBe(true);
    });

    it('never fires for a route with timeout: null, whatever the app default', async () => {
      const app = createApp();
      app.set('stream timeout', 1_000);
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate, { timeout: null }));
      const errors = recordErrors(app);
      const pending = streamRequest(app, '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(3_600_000);
      producer.push('late');
      producer.end();
      const client = await pending;
      expect(client.status).toBe(200);
      expect(await client.text()).toBe('late');
      expect(errors).toEqual([]);
    });

    it('uses the app setting when the route sets none', async () => {
      const app = createApp();
      app.set('stream timeout', 2_000);
      const producer = createProducer();
      app.get('/', asyncStream(producer.generate));
      const errors = recordErrors(app);
      const pending = streamRequest(app, '/');
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
      const pending = streamRequest(app, '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(59_999);
      expect(errors).toEqual([]);
      await jest.advanceTimersByTimeAsync(1);
      expect((await pending).status).toBe(503);
    });

    it('lets one response switch it off with makeResponse(body).timeout = null', async () => {
      const app = createApp();
      const producer = createProducer();
      app.get(
        '/',
        asyncStream(
          () => {
            const response = makeResponse(producer.generate());
            response.timeout = null;
            return response;
          },
          { timeout: 1_000 },
        ),
      );
      const errors = recordErrors(app);
      const pending = streamRequest(app, '/');
      await producer.waiting();
      await jest.advanceTimersByTimeAsync(3_600_000);
      producer.push('still here');
      producer.end();
      expect(await (await pending).text()).toBe('still here');
      expect(errors).toEqual([]);
    });

    describe('when the handler answers the request itself', () => {
      it('does not time out a handler that sent a response and is still running', async () => {
        const app = createApp();
        const gate = deferred();
        const done = deferred();
        app.get(
          '/',
          asyncStream(
            async (_req, res) => {
              res.send('sent by hand');
              await gate.promise;
              done.resolve();
            },
            { timeout: 1_000 },
          ),
        );
        const errors = recordErrors(app);
        const agent = new http.Agent({ keepAlive: true });
        try {
          // A keep-alive connection, which the kit's requests are not (each has a socket of its own).
          expect(await getOnAgent(await serve(app), '/', agent)).toEqual({
            status: 200,
            body: 'sent by hand',
            aborted: false,
          });
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
          asyncStream(
            async (_req, _res, next) => {
              next();
              await gate.promise;
            },
            { timeout: 1_000 },
          ),
          asyncStream(producer.generate, { timeout: null }),
        );
        const errors = recordErrors(app);
        producer.push('from the next route');
        const client = await streamRequest(app, '/');
        await client.receive();
        await jest.advanceTimersByTimeAsync(10_000);
        producer.push(' and more');
        producer.end();
        gate.resolve();
        expect(await client.text()).toBe(' and more');
        expect((await client.readToEnd()).aborted).toBe(false);
        expect(errors).toEqual([]);
      });

      it('does not time out a handler writing the response by hand', async () => {
        const app = createApp();
        const gate = deferred();
        app.get(
          '/',
          asyncStream(
            async (_req, res) => {
              res.write('by hand, ');
              await gate.promise;
              res.end('done');
            },
            { timeout: 1_000 },
          ),
        );
        const errors = recordErrors(app);
        const client = await streamRequest(app, '/');
        expect((await client.receive())!.toString()).toBe('by hand, ');
        await jest.advanceTimersByTimeAsync(10_000);
        gate.resolve();
        expect(await client.text()).toBe('done');
        expect((await client.readToEnd()).aborted).toBe(false);
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
          app.get(
            '/users',
            asyncStream(
              (): void => {
                void rows();
                called.resolve();
              },
              { timeout: 1_000 },
            ),
          );
          const errors = recordErrors(app);
          const pending = streamRequest(app, '/users');
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
          app.get(
            '/slow-query',
            asyncStream(
              (_req, res): void => {
                void late.promise.then(() => setImmediate(() => res.status(200).json({ rows: [] })));
                called.resolve();
              },
              { timeout: 1_000 },
            ),
          );
          recordErrors(app);
          const pending = streamRequest(app, '/slow-query');
          await called.promise;
          await jest.advanceTimersByTimeAsync(1_000);
          const client = await pending;
          expect(client.status).toBe(503);
          late.resolve();
          expect((await lateWarning).message).toContain(
            'GET /slow-query answered after its idle timeout had already answered 503',
          );
          expect(uncaught).toEqual([]);
          expect((await client.readToEnd()).aborted).toBe(false);
        } finally {
          target.off('uncaughtException', onUncaught);
        }
      });

      it('does not time out a handler that answers later, after returning', async () => {
        const app = createApp();
        const answer = deferred();
        const called = deferred();
        app.get(
          '/later',
          asyncStream(
            (_req, res): void => {
              void answer.promise.then(() => res.send('answered later'));
              called.resolve();
            },
            { timeout: 1_000 },
          ),
        );
        const errors = recordErrors(app);
        const pending = streamRequest(app, '/later');
        await called.promise;
        await jest.advanceTimersByTimeAsync(500);
        answer.resolve();
        const client = await pending;
        await jest.advanceTimersByTimeAsync(10_000);
        expect(client.status).toBe(200);
        expect(await client.text()).toBe('answered later');
        expect(errors).toEqual([]);
      });
    });
  });

  function whenAborted(signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  }
});
