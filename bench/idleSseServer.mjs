// The idle SSE workload's server: one contender in its own process, forked by
// idleSse.mjs as `idleSseServer.mjs <contender>` with --expose-gc. Serves GET /idle-sse:
// an event stream that sends nothing but keep-alive comments. Reports { url } over IPC,
// then answers 'memory' (once `socketsOpen` sockets are open, if given), 'cpuStart',
// 'cpuStop' and 'stop'.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { listenNode } from './servers.mjs';
import { serveRole } from './roleProcess.mjs';

/** The keep-alive period every contender uses: sse()'s default. */
export const KEEP_ALIVE_MS = 15_000;
const COMMENT = ': keep-alive\n\n';

/** sse() on Express 5 with the generator that never yields (a feed with no news), `keepAlive` as given. */
async function packageServer(keepAlive) {
  const { default: express } = await import('express');
  const { sse, currentSignal } = await import('./package.mjs');
  const app = express();
  app.get(
    '/idle-sse',
    sse(
      async function* () {
        const signal = currentSignal();
        await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
        // No news, ever: the wait ends only when the client leaves.
        yield* [];
      },
      { keepAlive },
    ),
  );
  return listenNode(http.createServer(app));
}

export const idleSseContenders = {
  // The reference: node:http, one setInterval per stream writing the comment.
  'hand-written, setInterval per stream': () =>
    listenNode(
      http.createServer((req, res) => {
        if (req.url !== '/idle-sse') return res.writeHead(404).end();
        // Sent now, as sse() does: EventSource opens on the head, which Node otherwise holds until the first write.
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }).flushHeaders();
        const timer = setInterval(() => res.write(COMMENT), KEEP_ALIVE_MS);
        res.once('close', () => clearInterval(timer));
      }),
    ),
  // Its CPU baseline: the same streams, no timer.
  'hand-written, keep-alive off': () =>
    listenNode(
      http.createServer((req, res) => {
        if (req.url !== '/idle-sse') return res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }).flushHeaders();
      }),
    ),
  // Its keep-alive clocks share one timer per period (src/keepAliveWheel.ts).
  'express sse()': () => packageServer(KEEP_ALIVE_MS),
  // Its CPU baseline: the same streams, no comment ever due.
  'express sse(), keep-alive off': () => packageServer(null),
};

/** Memory after three full collections, a turn apart, so that finalizers queued by one have run. */
async function collectedMemory() {
  for (let i = 0; i < 2; i++) {
    globalThis.gc();
    await sleep(10);
  }
  globalThis.gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

// Run as the child (not imported by the runner for the contenders' names).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await idleSseContenders[process.argv[2]]();
  let cpu;
  // Open sockets: memory is measured once the warm-up's have all closed.
  let open = 0;
  server.server.on('connection', (socket) => {
    open++;
    socket.once('close', () => open--);
  });
  const commands = {
    memory: async ({ socketsOpen = open }) => {
      for (const deadline = Date.now() + 10_000; open !== socketsOpen && Date.now() < deadline;) await sleep(10);
      if (open !== socketsOpen) throw new Error(`idle SSE: ${open} sockets open, expected ${socketsOpen}`);
      return collectedMemory();
    },
    cpuStart: () => {
      cpu = { usage: process.cpuUsage(), at: process.hrtime.bigint() };
      return {};
    },
    // CPU time (user + system) since cpuStart, and the wall time it covers.
    cpuStop: () => {
      const { user, system } = process.cpuUsage(cpu.usage);
      return { cpuUs: user + system, wallMs: Number(process.hrtime.bigint() - cpu.at) / 1e6 };
    },
  };
  serveRole(commands, { url: server.url });
}
