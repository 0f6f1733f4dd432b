import { once } from 'node:events';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Express } from 'express';
import { asyncStream, currentRequest } from '../src/index.js';
import { deferred, settle } from './helpers/deferred.js';
import { getOnAgent } from './helpers/rawHttp.js';
import { expressVersions } from './helpers/express.js';
import { listen, type TestServer } from './helpers/server.js';
import { watchWarnings } from './helpers/warnings.js';
import { within } from './helpers/within.js';

const socketEvents = ['close', 'drain', 'timeout', 'error', 'end'] as const;

function countListeners(socket: Socket): Record<string, number> {
  return Object.fromEntries(socketEvents.map((event) => [event, socket.listenerCount(event)]));
}

describe.each(expressVersions)('keep-alive connections (%s)', (_name, createApp) => {
  let server: TestServer | undefined;
  let agent: http.Agent | undefined;
  let watcher: ReturnType<typeof watchWarnings>;

  beforeEach(() => {
    watcher = watchWarnings();
  });

  afterEach(async () => {
    watcher.stop();
    agent?.destroy();
    agent = undefined;
    await server?.close();
    server = undefined;
  });

  /**
   * Serves `app` behind a middleware that resolves one promise per request when its response has
   * closed on the server (after Node has put the socket back into keep-alive).
   */
  async function serve(app: Express, configure?: (server: http.Server) => void) {
    const closed: Array<Promise<void>> = [];
    const root = createApp();
    root.use((_req, res, next) => {
      const done = deferred();
      closed.push(done.promise);
      res.once('close', () => done.resolve());
      next();
    });
    root.use(app);
    server = await listen(root);
    configure?.(server.server);
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const { url, sockets } = server;
    const keepAlive = agent;
    /** GETs `path` on the one keep-alive connection; resolves once the server closed the response. */
    async function get(path: string): Promise<string> {
      const { body, aborted } = await getOnAgent(url, path, keepAlive);
      expect(aborted).toBe(false);
      await within(closed.at(-1)!, `the server closing the response to ${path}`);
      return body;
    }
    return { get, sockets };
  }

  describe('when 100 streamed responses follow one another on one connection', () => {
    async function stream100() {
      const app = createApp();
      const handled: Socket[] = [];
      app.get(
        '/stream/:n',
        asyncStream(async function* (req) {
          handled.push(req.socket);
          yield `response ${req.params.n}:`;
          yield ' a';
          yield ' b';
        }),
      );
      const { get, sockets } = await serve(app);
      const bodies: string[] = [];
      let afterFirst: Record<string, number> = {};
      for (let n = 1; n <= 100; n++) {
        bodies.push(await get(`/stream/${n}`));
        if (n === 1) afterFirst = countListeners(sockets[0]!);
      }
      await settle();
      return { bodies, handled, sockets, afterFirst, afterLast: countListeners(sockets[0]!) };
    }

    it('sends every body in full', async () => {
      const { bodies } = await stream100();
      expect(bodies).toEqual(Array.from({ length: 100 }, (_, i) => `response ${i + 1}: a b`));
    });

    it('uses a single server-side socket', async () => {
      const { handled, sockets } = await stream100();
      expect(sockets).toHaveLength(1);
      expect(handled).toHaveLength(100);
      expect(handled.every((socket) => socket === sockets[0])).toBe(true);
    });

    it('leaves as many close, drain, timeout, error and end listeners on the socket after the 100th as after the 1st', async () => {
      const { afterFirst, afterLast } = await stream100();
      expect(afterLast).toEqual(afterFirst);
    });

    it('emits no MaxListenersExceededWarning', async () => {
      await stream100();
      expect(watcher.warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning')).toEqual([]);
    });
  });

  describe('when the server has a socket timeout (server.timeout = 10_000)', () => {
    /**
     * `/stream` yields the socket timeout it runs with; `/chain` does too, from a second
     * asyncStream() handler that the first passes on to with next(); `/plain` sends it with res.send().
     * With `keepAliveTimeout` 0, Node does not reset the socket timeout between requests: what a
     * response leaves on the socket is what the next request on the connection runs with.
     */
    async function serveTimeoutRoutes(keepAliveTimeout?: number) {
      const app = createApp();
      app.get(
        '/stream',
        asyncStream(async function* () {
          yield `streaming with ${currentRequest().socket.timeout}`;
        }),
      );
      app.get(
        '/chain',
        asyncStream((_req, _res, next) => {
          next();
        }),
        asyncStream(async function* () {
          yield `streaming with ${currentRequest().socket.timeout}`;
        }),
      );
      app.get('/plain', (req, res) => {
        res.send(`plain with ${req.socket.timeout}`);
      });
      app.get(
        '/self',
        asyncStream(async (_req, res) => {
          res.send('answered by the handler');
          // Returns only after Node has put the socket back into keep-alive.
          await once(res, 'finish');
        }),
      );
      return serve(app, (server) => {
        server.timeout = 10_000;
        if (keepAliveTimeout !== undefined) server.keepAliveTimeout = keepAliveTimeout;
      });
    }

    /** The socket timeout of the one connection's idle socket after GETting `paths` in order. */
    async function idleTimeoutAfter(paths: string[], keepAliveTimeout?: number): Promise<number | undefined> {
      const { get, sockets } = await serveTimeoutRoutes(keepAliveTimeout);
      for (const path of paths) await get(path);
      const timeout = sockets[0]!.timeout;
      expect(sockets).toHaveLength(1);
      await server!.close();
      agent!.destroy();
      return timeout;
    }

    it('suspends the socket timeout while the response streams', async () => {
      const { get } = await serveTimeoutRoutes();
      expect(await get('/stream')).toBe('streaming with 0');
    });

    it('leaves the idle keep-alive socket with the same timeout as a plain response does', async () => {
      const afterPlain = await idleTimeoutAfter(['/plain']);
      const afterStream = await idleTimeoutAfter(['/stream']);
      expect(afterStream).toBe(afterPlain);
    });

    it('leaves the keep-alive timeout Node set when the handler answered by itself and returned later', async () => {
      const afterPlain = await idleTimeoutAfter(['/plain']);
      const afterSelf = await idleTimeoutAfter(['/self']);
      expect(afterSelf).toBe(afterPlain);
    });

    describe('when an asyncStream() handler passes the request on with next() to another one', () => {
      it('suspends the socket timeout while the second one streams', async () => {
        const { get } = await serveTimeoutRoutes();
        expect(await get('/chain')).toBe('streaming with 0');
      });

      it('gives the next request on the connection the server timeout again (keepAliveTimeout = 0)', async () => {
        const { get } = await serveTimeoutRoutes(0);
        await get('/chain');
        expect(await get('/plain')).toBe('plain with 10000');
      });
    });

    describe('and no keep-alive timeout (server.keepAliveTimeout = 0)', () => {
      it('gives the next request on the connection the same timeout as after a plain response', async () => {
        const plain = await serveTimeoutRoutes(0);
        expect(await plain.get('/plain')).toBe('plain with 10000');
        const expected = await plain.get('/plain');
        await server!.close();
        agent!.destroy();

        const streamed = await serveTimeoutRoutes(0);
        expect(await streamed.get('/stream')).toBe('streaming with 0');
        expect(await streamed.get('/plain')).toBe(expected);
        expect(streamed.sockets).toHaveLength(1);
      });

      it('leaves the idle socket with the same timeout as a plain response does', async () => {
        const afterPlain = await idleTimeoutAfter(['/plain'], 0);
        const afterStream = await idleTimeoutAfter(['/stream'], 0);
        expect(afterStream).toBe(afterPlain);
        expect(afterPlain).toBe(10_000);
      });
    });
  });
});
