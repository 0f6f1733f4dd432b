// closeStreams(): what clients, producers and the server see when a deploy winds 500 streams down.
// closeStreams() is process-wide and final, so this file makes one shutdown, in beforeAll, and each
// test reads one side of it.
import { once } from 'node:events';
import http, { type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import express from 'express';
import {
  asyncStream,
  closeStreams,
  currentRequest,
  currentSignal,
  isAsyncStreamError,
  ndjson,
  ServerShutdownError,
  sse,
} from '../src/index.js';
import { ResponseAbortedError, streamRequest, type StreamConnection } from '../src/testing/index.js';
import { deferred } from './helpers/deferred.js';
import { watchWarnings } from './helpers/warnings.js';

/** Wide enough that the finishing streams (about 100 ms of work after the call) are never near it. */
const GRACE = 2_000;
const FINISHING_LINES = 5;

type Kind =
  'sse-idle' | 'sse-busy' | 'sse-unread' | 'bytes-finishing' | 'ndjson-finishing' | 'bytes-endless' | 'ndjson-endless';
const counts: Record<Kind, number> = {
  'sse-idle': 100,
  'sse-busy': 98,
  // Clients that stopped reading: their end cannot be delivered, and must not hold server.close().
  'sse-unread': 2,
  'bytes-finishing': 100,
  'ndjson-finishing': 50,
  'bytes-endless': 100,
  'ndjson-endless': 50,
};
const kinds = Object.keys(counts) as Kind[];
const isEventStream = (kind: Kind) => kind.startsWith('sse');

/** What each producer saw, by its stream number (the `n` query parameter). */
interface Producer {
  finallyRuns: number;
  abortReason: unknown;
}

/** What each client saw. */
interface Outcome {
  kind: Kind;
  end: 'clean' | 'cut';
  /** Everything after the first frame or line. */
  rest: string;
  /** Milliseconds from the call to the end of its body. */
  endedAfter: number;
}

const producers = new Map<string, Producer>();
const slowHandlerCalled = deferred();
const slowHandlerReleased = deferred();
let pausedUnread: () => void;
const unreadPaused = new Promise<void>((resolve) => (pausedUnread = resolve));
/** The server side of the unread streams: held back once `writableNeedDrain` is set. */
const unreadResponses: ServerResponse[] = [];
let release: () => void;
const released = new Promise<void>((resolve) => (release = resolve));

/** The record of the stream being served, under its `n`. */
function producer(): Producer {
  const entry: Producer = { finallyRuns: 0, abortReason: undefined };
  producers.set(currentRequest().query.n as string, entry);
  return entry;
}

function streamingApp(): express.Express {
  const app = express();
  const finish = (me: Producer) => {
    me.finallyRuns++;
    me.abortReason = currentSignal().aborted ? currentSignal().reason : undefined;
  };
  app.get(
    '/sse-idle',
    sse(async function* () {
      const me = producer();
      try {
        yield { data: 'first' };
        await delay(3_600_000, undefined, { signal: currentSignal() });
      } finally {
        finish(me);
      }
    }),
  );
  app.get(
    '/sse-busy',
    sse(async function* () {
      const me = producer();
      try {
        for (let id = 0; ; id++) {
          yield { id, data: id === 0 ? 'first' : `event ${id}` };
          await delay(10, undefined, { signal: currentSignal() });
        }
      } finally {
        finish(me);
      }
    }),
  );
  app.get(
    '/sse-unread',
    (_req, res, next) => {
      unreadResponses.push(res);
      next();
    },
    sse(async function* () {
      const me = producer();
      try {
        yield { data: 'first' };
        // Once its client has stopped reading: one event larger than every socket buffer between
        // them (up to 32 MiB of receive buffer here), so that the stream's end cannot be delivered.
        await unreadPaused;
        yield { data: 'x'.repeat(48 * 1024 * 1024) };
        await delay(3_600_000, undefined, { signal: currentSignal() });
      } finally {
        finish(me);
      }
    }),
  );
  // A handler still at work when the grace is over: its request gets the 503, and the body it
  // returns afterwards is closed without a word (it did not answer by itself).
  app.get(
    '/slow-handler',
    asyncStream(async () => {
      slowHandlerCalled.resolve();
      await slowHandlerReleased.promise;
      return (async function* () {
        yield 'never sent';
      })();
    }),
  );
  // Byte streams that finish within the grace: they keep working after the call, and end whole.
  async function* finishing<T>(line: (i: number) => T): AsyncGenerator<T> {
    const me = producer();
    try {
      yield line(0);
      await released;
      for (let i = 1; i <= FINISHING_LINES; i++) {
        await delay(20);
        yield line(i);
      }
    } finally {
      finish(me);
    }
  }
  async function* endless<T>(line: (i: number) => T): AsyncGenerator<T> {
    const me = producer();
    try {
      for (let i = 0; ; i++) {
        yield line(i);
        await delay(50, undefined, { signal: currentSignal() });
      }
    } finally {
      finish(me);
    }
  }
  app.get(
    '/bytes-finishing',
    asyncStream(() => finishing((i) => `line ${i}\n`)),
  );
  app.get(
    '/ndjson-finishing',
    ndjson(() => finishing((i) => ({ i }))),
  );
  app.get(
    '/bytes-endless',
    asyncStream(() => endless((i) => `line ${i}\n`)),
  );
  app.get(
    '/ndjson-endless',
    ndjson(() => endless((i) => ({ i }))),
  );
  return app;
}

/** The resources (timers, sockets, servers) this process holds, by type. */
function resources(): Record<string, number> {
  const byType: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) byType[type] = (byType[type] ?? 0) + 1;
  return byType;
}

async function readRest(kind: Kind, connection: StreamConnection, t0: () => number): Promise<Outcome> {
  let rest = '';
  try {
    if (kind === 'sse-unread') {
      // Reads again only once the server has given up on it (its response has closed).
      await Promise.all(unreadResponses.filter((res) => !res.closed).map((res) => once(res, 'close')));
      connection.resume();
    }
    if (isEventStream(kind)) {
      for (let event = await connection.receiveEvent(); event !== null; event = await connection.receiveEvent()) {
        if (kind !== 'sse-unread') rest += `${event.data}\n`;
      }
    } else {
      rest = await connection.text({ timeout: GRACE * 4 });
    }
    return { kind, end: 'clean', rest, endedAfter: Date.now() - t0() };
  } catch (error) {
    if (!(error instanceof ResponseAbortedError)) throw error;
    return { kind, end: 'cut', rest, endedAfter: Date.now() - t0() };
  }
}

let server: http.Server;
let outcomes: Outcome[];
let serverClosedAfter: number;
let closing: Promise<void>;
let before: Record<string, number>;
let after: Record<string, number>;
const leftEarly: string[] = [];
let keptAlive: { ended: Promise<string> }[];
let refused: { status: number; retryAfter: unknown; body: string };
let warned: string[];
let keptAliveEnds: string[];

/** An event stream read through a keep-alive agent, as a browser holds it; `ended` says how it ended. */
async function keptAliveStream(agent: http.Agent, i: number): Promise<{ ended: Promise<string> }> {
  const { port } = server.address() as AddressInfo;
  const request = http.get({ host: '127.0.0.1', port, path: `/sse-busy?n=keep-alive-${i}`, agent });
  const [response] = (await once(request, 'response')) as [http.IncomingMessage];
  expect(response.headers.connection).toBe('keep-alive');
  await once(response, 'data');
  const ended = new Promise<string>((resolve) => {
    response.on('end', () => resolve('clean'));
    response.on('aborted', () => resolve('cut'));
    response.on('error', () => resolve('cut'));
    response.resume();
  });
  return { ended };
}

beforeAll(async () => {
  before = resources();
  server = http.createServer(streamingApp());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const opened: { kind: Kind; connection: StreamConnection }[] = [];
  let n = 0;
  for (const kind of kinds) {
    for (let i = 0; i < counts[kind]; i++, n++) {
      opened.push({ kind, connection: await streamRequest(server, `/${kind}?n=${n}`, { timeout: GRACE * 4 }) });
    }
  }
  // Every stream has started: the first frame or line has arrived.
  for (const { kind, connection } of opened) {
    if (isEventStream(kind)) expect((await connection.receiveEvent())?.data).toBe('first');
    else expect(await connection.receiveLine()).toMatch(/^(line 0|\{"i":0\})$/);
    if (kind === 'sse-unread') connection.pause();
  }
  pausedUnread();
  // Their sockets are full before the deploy starts: the clean end of these streams cannot be delivered.
  while (!unreadResponses.every((res) => res.writableNeedDrain)) await delay(5);
  // Some clients leave just as the deploy starts: their streams are already ending.
  const leaving = opened.filter(({ kind }) => kind === 'bytes-endless').slice(0, 10);
  for (const { connection } of leaving) {
    leftEarly.push(new URL(connection.url).searchParams.get('n')!);
    void connection.disconnect();
  }
  const staying = opened.filter((entry) => !leaving.includes(entry));

  // Browsers and proxies keep connections alive: server.close() must not wait for them to idle out.
  const agent = new http.Agent({ keepAlive: true });
  keptAlive = await Promise.all(Array.from({ length: 10 }, (_, i) => keptAliveStream(agent, i)));

  const warnings = watchWarnings();
  const refusedConnection = streamRequest(server, '/slow-handler', { timeout: GRACE * 4 });
  await slowHandlerCalled.promise;

  const started = Date.now();
  const closed = new Promise<number>((resolve) => server.close(() => resolve(Date.now() - started)));
  closing = closeStreams({ grace: GRACE });
  release();
  const refusing = refusedConnection.then(async (connection) => {
    const answer = {
      status: connection.status,
      retryAfter: connection.headers['retry-after'],
      body: await connection.text(),
    };
    slowHandlerReleased.resolve();
    return answer;
  });
  outcomes = await Promise.all(staying.map(({ kind, connection }) => readRest(kind, connection, () => started)));
  refused = await refusing;
  await closing;
  serverClosedAfter = await closed;
  // Any warning would have come with the late body, which closing waited for.
  warnings.stop();
  warned = warnings.warnings.map(({ message }) => message);
  keptAliveEnds = await Promise.all(keptAlive.map(({ ended }) => ended));
  agent.destroy();
  // The 'close' callbacks of the last sockets run on the next turns.
  await delay(100);
  after = resources();
}, 60_000);

describe('closeStreams({ grace }) with 500 open streams of every kind', () => {
  it('ends every event stream cleanly, at once (the browser reconnects elsewhere)', () => {
    expect(keptAliveEnds).toEqual(Array(10).fill('clean'));
    const events = outcomes.filter(({ kind }) => isEventStream(kind) && kind !== 'sse-unread');
    expect(events).toHaveLength(198);
    expect(events.filter(({ end }) => end !== 'clean')).toEqual([]);
    expect(Math.max(...events.map(({ endedAfter }) => endedAfter))).toBeLessThan(GRACE);
  });

  it('lets byte streams that finish within the grace arrive whole', () => {
    const finishing = outcomes.filter(({ kind }) => kind.endsWith('finishing'));
    expect(finishing).toHaveLength(150);
    for (const { kind, end, rest } of finishing) {
      const lines = Array.from({ length: FINISHING_LINES }, (_, i) =>
        kind === 'bytes-finishing' ? `line ${i + 1}\n` : `{"i":${i + 1}}\n`,
      );
      expect({ end, rest }).toEqual({ end: 'clean', rest: lines.join('') });
    }
  });

  it('cuts the byte streams still running when the grace is over, never ending them cleanly', () => {
    const endless = outcomes.filter(({ kind }) => kind.endsWith('endless'));
    expect(endless).toHaveLength(140);
    expect(endless.filter(({ end }) => end !== 'cut')).toEqual([]);
    expect(Math.min(...endless.map(({ endedAfter }) => endedAfter))).toBeGreaterThanOrEqual(GRACE - 5);
  });

  it('cuts an event stream whose client stopped reading once the grace is over, so that it holds nothing', () => {
    const unread = outcomes.filter(({ kind }) => kind === 'sse-unread');
    expect(unread).toHaveLength(2);
    expect(unread.filter(({ end }) => end !== 'cut')).toEqual([]);
  });

  it('answers 503 for a handler still at work when the grace is over, and closes its late body without a warning', () => {
    expect(refused).toEqual({
      status: 503,
      retryAfter: '1',
      body: 'Service Unavailable: the server is shutting down.\n',
    });
    expect(warned).toEqual([]);
  });

  it("runs every producer's finally exactly once", () => {
    expect(producers.size).toBe(510);
    expect([...producers.values()].filter(({ finallyRuns }) => finallyRuns !== 1)).toEqual([]);
  });

  it('aborts the signal of the streams it ends with a ServerShutdownError, and not that of streams that finished', () => {
    const reasons = new Map<string, string[]>();
    let n = 0;
    for (const kind of kinds) {
      for (let i = 0; i < counts[kind]; i++, n++) {
        if (leftEarly.includes(String(n))) continue;
        const reason = producers.get(String(n))!.abortReason;
        const name = reason === undefined ? 'not aborted' : (reason as Error).name;
        reasons.set(kind, [...new Set([...(reasons.get(kind) ?? []), name])]);
      }
    }
    expect(Object.fromEntries(reasons)).toEqual({
      'sse-idle': ['ServerShutdownError'],
      'sse-busy': ['ServerShutdownError'],
      'sse-unread': ['ServerShutdownError'],
      'bytes-finishing': ['not aborted'],
      'ndjson-finishing': ['not aborted'],
      'bytes-endless': ['ServerShutdownError'],
      'ndjson-endless': ['ServerShutdownError'],
    });
    const reason = producers.get('0')!.abortReason;
    expect(reason).toBeInstanceOf(ServerShutdownError);
    expect(isAsyncStreamError(reason)).toBe(true);
    expect((reason as Error).message).toContain('shutting down');
  });

  it('lets server.close() complete within the grace and a second, keep-alive connections included', () => {
    expect(serverClosedAfter).toBeLessThan(GRACE + 1_000);
  });

  it('leaves no timer, socket or server behind', () => {
    const held = (counts: Record<string, number>) => ({
      sockets: counts.TCPSocketWrap ?? 0,
      servers: counts.TCPServerWrap ?? 0,
    });
    // Other suites' sockets may close meanwhile: what matters is that none is added.
    expect(held(after).sockets).toBeLessThanOrEqual(held(before).sockets);
    expect(held(after).servers).toBeLessThanOrEqual(held(before).servers);
    // Jest's own timers come and go: one left per stream would show as hundreds.
    expect(after.Timeout ?? 0).toBeLessThanOrEqual(before.Timeout ?? 0);
  });

  it('returns the same promise when called again, whatever the options', () => {
    expect(closeStreams()).toBe(closing);
    expect(closeStreams({ grace: 0 })).toBe(closing);
  });
});

describe('a streaming route after closeStreams()', () => {
  let other: http.Server;
  let called = 0;

  beforeAll(async () => {
    const app = express();
    const count = () => {
      called++;
      return ['never sent'];
    };
    app.get('/bytes', asyncStream(count));
    app.get('/events', sse(count));
    app.get('/rows', ndjson(count));
    app.get('/plain', (_req, res) => res.send('plain routes are not ours'));
    other = app.listen(0, '127.0.0.1');
    await once(other, 'listening');
  });

  afterAll(async () => {
    other.closeAllConnections();
    await new Promise((resolve) => other.close(resolve));
  });

  it.each(['/bytes', '/events', '/rows'])(
    'answers %s with 503, Retry-After and Connection: close, without calling the handler',
    async (path) => {
      await closing;
      const { port } = other.address() as AddressInfo;
      const connection = await streamRequest(`http://127.0.0.1:${port}`, path);
      expect(connection.status).toBe(503);
      expect(connection.headers['retry-after']).toBe('1');
      expect(connection.headers.connection).toBe('close');
      expect(connection.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(await connection.text()).toBe('Service Unavailable: the server is shutting down.\n');
      expect(called).toBe(0);
    },
  );

  it('leaves routes of other handlers alone', async () => {
    const connection = await streamRequest(other, '/plain');
    expect(connection.status).toBe(200);
    expect(await connection.text()).toBe('plain routes are not ours');
  });
});
