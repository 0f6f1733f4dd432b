import http from 'node:http';
import timeout from 'connect-timeout';
import type { Request, Response } from 'express';
import { asyncStream, currentSignal, sse } from '../src/index.js';
import { recordErrors, useProcessWatch } from './helpers/app.js';
import { useStreamRequest } from './helpers/connections.js';
import { deferred } from './helpers/deferred.js';
import { expressVersions } from './helpers/express.js';
import { nodeProcess, watchWarnings } from './helpers/warnings.js';

// Whoever finishes the response while its body streams (the handler itself, an error handler,
// connect-timeout), the process survives, nothing accepted is lost, the body is closed and its
// signal aborts, and an AsyncStreamWarning names the route.

type Answer = (res: Response) => void;

/** Handler behaviours that answer the request and then go on yielding. */
const answers: ReadonlyArray<readonly [string, Answer, number, string]> = [
  ['res.send()', (res) => res.send('early\n'), 200, 'early\n'],
  ['res.redirect()', (res) => res.redirect('/elsewhere'), 302, 'Found. Redirecting to /elsewhere'],
  ['res.end()', (res) => res.end(), 200, ''],
  ['res.status(204).end()', (res) => res.status(204).end(), 204, ''],
];

function useCrashWatch(): { readonly uncaught: unknown[] } {
  const uncaught: unknown[] = [];
  const record = (error: unknown): void => {
    uncaught.push(error);
  };
  beforeEach(() => {
    uncaught.length = 0;
    nodeProcess().on('uncaughtException', record);
  });
  afterEach(() => {
    nodeProcess().off('uncaughtException', record);
  });
  return { uncaught };
}

describe.each(expressVersions)('when other code ends the response while the body streams (%s)', (_name, createApp) => {
  const streamRequest = useStreamRequest();
  const watch = useProcessWatch();
  const crashes = useCrashWatch();
  let warnings: ReturnType<typeof watchWarnings>;
  beforeEach(() => {
    warnings = watchWarnings();
  });
  afterEach(() => warnings.stop());

  /** A warning that names the route, once the response to it was ended elsewhere. */
  function expectOneRouteWarning(route: string): void {
    const ours = warnings.warnings.filter((warning) => warning.name === 'AsyncStreamWarning');
    expect(ours).toHaveLength(1);
    expect(ours[0]!.message).toContain(route);
    expect(ours[0]!.message).toContain('was ended by other code');
  }

  /** A generator function that answers, then yields twice; `afterAnswer` counts steps past the first yield. */
  type AnsweringHandler = (
    answer: Answer,
    trace: { finallies: number; afterAnswer: number },
  ) => Parameters<typeof asyncStream>[0];
  const answeringHandlers: ReadonlyArray<readonly [string, AnsweringHandler]> = [
    [
      'async generator',
      (answer, trace) =>
        async function* (_req, res) {
          try {
            answer(res);
            yield 'x';
            trace.afterAnswer++;
            yield 'y';
          } finally {
            trace.finallies++;
          }
        },
    ],
    [
      'sync generator',
      (answer, trace) =>
        function* (_req, res) {
          try {
            answer(res);
            yield 'x';
            trace.afterAnswer++;
            yield 'y';
          } finally {
            trace.finallies++;
          }
        },
    ],
  ];

  describe.each(answers)('the handler answers with %s before its first yield', (_label, answer, status, body) => {
    it.each(answeringHandlers)(
      '(%s) answers once, closes the body, warns, and the process survives',
      async (_kind, handler) => {
        const app = createApp();
        const trace = { finallies: 0, afterAnswer: 0 };
        app.get('/oops', asyncStream(handler(answer, trace)));
        const errors = recordErrors(app);
        const connection = await streamRequest(app, '/oops');
        const { body: received, aborted } = await connection.readToEnd();
        expect(connection.status).toBe(status);
        expect(received.toString()).toBe(status === 204 ? '' : body);
        expect(aborted).toBe(false);
        expect(trace.finallies).toBe(1);
        expect(trace.afterAnswer).toBe(0);
        expect(errors).toEqual([]);
        expect(crashes.uncaught).toEqual([]);
        expect(watch.unhandled).toEqual([]);
        expectOneRouteWarning('GET /oops');
      },
    );
  });

  describe.each([
    [
      'async',
      async function* (_req: Request, res: Response) {
        yield 'a\n';
        res.end();
        yield 'b\n';
      },
    ],
    [
      'sync',
      function* (_req: Request, res: Response) {
        yield 'a\n';
        res.end();
        yield 'b\n';
      },
    ],
  ])('a %s generator that yields, ends the response, then yields again', (_kind, handler) => {
    it('delivers what it yielded before the end, ends cleanly, writes nothing after, and warns', async () => {
      const app = createApp();
      app.get('/ended', asyncStream(handler));
      const errors = recordErrors(app);
      const connection = await streamRequest(app, '/ended');
      const { body: received, aborted } = await connection.readToEnd();
      expect(connection.status).toBe(200);
      expect(received.toString()).toBe('a\n');
      expect(aborted).toBe(false);
      expect(errors).toEqual([]);
      expect(crashes.uncaught).toEqual([]);
      expectOneRouteWarning('GET /ended');
    });
  });

  it('closes an idle body at once when code goes around the res.end guard (ServerResponse.prototype.end)', async () => {
    const app = createApp();
    const closed = deferred<unknown>();
    let ender: (() => void) | undefined;
    app.get(
      '/bypassed',
      sse(async function* (_req, res) {
        ender = () => void (http.ServerResponse.prototype.end as () => void).call(res);
        const signal = currentSignal();
        try {
          yield { data: 'one' };
          // Idle: no value would ever come to show the pump that the response has ended.
          await new Promise((_resolve, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason as Error)),
          );
        } finally {
          closed.resolve(signal.reason);
        }
      }),
    );
    const connection = await streamRequest(app, '/bypassed');
    expect((await connection.receiveEvent())?.data).toBe('one');
    ender!();
    expect(await connection.receiveEvent()).toBeNull();
    expect(((await closed.promise) as Error).name).toBe('AbortError');
    expect(crashes.uncaught).toEqual([]);
    expectOneRouteWarning('GET /bypassed');
  });

  it('cuts after what was sent when the handler calls res.send() once the stream has started', async () => {
    const app = createApp();
    let finallies = 0;
    app.get(
      '/late-send',
      asyncStream(async function* (_req, res) {
        try {
          yield 'a\n';
          await new Promise(setImmediate);
          res.send('too late');
        } finally {
          finallies++;
        }
      }),
    );
    const errors = recordErrors(app);
    const connection = await streamRequest(app, '/late-send');
    const { body: received, aborted } = await connection.readToEnd();
    expect(received.toString()).toBe('a\n');
    expect(aborted).toBe(true);
    expect(errors).toEqual([expect.objectContaining({ code: 'ERR_HTTP_HEADERS_SENT' })]);
    expect(finallies).toBe(1);
    expect(crashes.uncaught).toEqual([]);
  });

  describe('behind connect-timeout, which answers 503 while the body waits for its first chunk', () => {
    it.each([
      ['with the idle timeout off', null],
      ['with an idle timeout longer than connect-timeout', 60_000],
    ])('%s: the signal aborts and the finally runs at once, with no StreamTimeoutError', async (_label, idle) => {
      const app = createApp();
      const aborted = deferred<unknown>();
      const finalized = deferred<void>();
      app.use(timeout('300ms'));
      app.get(
        '/slow',
        asyncStream(
          async function* () {
            const signal = currentSignal();
            try {
              await new Promise((_resolve, reject) => {
                signal.addEventListener('abort', () => {
                  aborted.resolve(signal.reason);
                  reject(signal.reason as Error);
                });
              });
              yield 'never';
            } finally {
              finalized.resolve();
            }
          },
          { timeout: idle },
        ),
      );
      const errors = recordErrors(app);
      const connection = await streamRequest(app, '/slow');
      expect(connection.status).toBe(503);
      expect((await connection.readToEnd()).aborted).toBe(false);
      expect(await aborted.promise).toMatchObject({ name: 'AbortError' });
      await finalized.promise;
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'ETIMEDOUT', status: 503 });
      expect(crashes.uncaught).toEqual([]);
      expect(watch.unhandled).toEqual([]);
      expectOneRouteWarning('GET /slow');
    });
  });
});
