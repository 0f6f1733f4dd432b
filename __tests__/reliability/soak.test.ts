import http from 'node:http';
import express from 'express';
import { asyncStream } from '../../src/index.js';
import { recordErrors, watchProcess } from '../helpers/app.js';
import { listen } from '../helpers/server.js';
import { watchWarnings } from '../helpers/warnings.js';
import { within } from '../helpers/within.js';
import { contentOf, matchesContent } from './content.js';
import { heapAfterGc, inMiB } from './heap.js';
import { countAllListeners, type ListenerCounts } from './responseProbe.js';

const KiB = 1024;
const RESPONSES = 4_000;
/**
 * Responses before the first heap reading. Measured: the heap after GC still creeps up by a few
 * hundred KiB over the first thousands of responses, plain `res.send()` ones just as streamed ones
 * (compiled code and type feedback), then flattens; 1,000 gets past most of it.
 */
const WARM_UP = 1_000;
/** Keep-alive sockets; each lane sends its share of the requests one after another. */
const MAX_SOCKETS = 4;
const CHUNKS = 4;
const CHUNK = 512;
const BODY_BYTES = CHUNKS * CHUNK;
/**
 * Heap growth allowed between the reading after WARM_UP responses and the one at the end, after
 * GC: 1.5 MiB for 3,000 responses, 525 B each (over 4x the 0.1 to 0.35 MiB measured here, the
 * creep described at WARM_UP). One response holds several KiB of heap (request, response,
 * session, generator), so keeping any part of them alive would exceed it several times over.
 */
const MAX_GROWTH = 1536 * KiB;

describe(`asyncStream() over ${MAX_SOCKETS} keep-alive connections, ${RESPONSES} responses in a row`, () => {
  it('reuses the sockets, sends every body exactly, closes every generator and keeps the heap and listeners flat', async () => {
    const watch = watchProcess();
    const warnings = watchWarnings();
    let finalized = 0;
    const app = express();
    app.get(
      '/soak/:id',
      asyncStream(async function* (req) {
        const id = Number(req.params['id']);
        try {
          for (let i = 0; i < CHUNKS; i++) {
            // A turn of the event loop between chunks, so that each one is its own write.
            if (i > 0) await new Promise((resolve) => setImmediate(resolve));
            yield contentOf(id, i * CHUNK, CHUNK);
          }
        } finally {
          finalized++;
        }
      }),
    );
    const errors = recordErrors(app);
    const { server, url, sockets, close } = await listen(app);
    // Idle sockets wait out the heap readings between the two phases without being closed.
    server.keepAliveTimeout = 60_000;
    const agent = new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
    let exact = 0;
    try {
      const fetchAll = async (from: number, to: number): Promise<void> => {
        const lane = async (first: number): Promise<void> => {
          for (let id = first; id < to; id += MAX_SOCKETS) if (await fetchBody(url, agent, id)) exact++;
        };
        await within(
          Promise.all(Array.from({ length: MAX_SOCKETS }, (_, i) => lane(from + i))),
          `responses ${from} to ${to - 1}`,
          40_000,
        );
      };

      await fetchAll(0, WARM_UP);
      const heapAfterWarmUp = await heapAfterGc();
      const listenersAfterWarmUp = sockets.map((socket) => countAllListeners(socket));
      await fetchAll(WARM_UP, RESPONSES);
      const heapAtEnd = await heapAfterGc();
      const growth = heapAtEnd - heapAfterWarmUp;
      process.stdout.write(
        `soak: ${RESPONSES} responses on ${sockets.length} connections; heap after ${WARM_UP} ${inMiB(heapAfterWarmUp)}, ` +
          `after ${RESPONSES} ${inMiB(heapAtEnd)}, growth ${inMiB(growth)} (${Math.round(growth / (RESPONSES - WARM_UP))} B/response)\n`,
      );

      expect({
        exactBodies: exact,
        finallyRan: finalized,
        connections: sockets.length <= MAX_SOCKETS ? `at most ${MAX_SOCKETS}` : sockets.length,
        socketsStillOpen: sockets.every((socket) => !socket.destroyed),
        listenersPerSocket: sockets.map((socket, i) => sameOrDiff(listenersAfterWarmUp[i], countAllListeners(socket))),
        errors,
        unhandledRejections: watch.unhandled,
        consoleErrors: watch.logged,
        maxListenersWarnings: warnings.warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning'),
      }).toEqual({
        exactBodies: RESPONSES,
        finallyRan: RESPONSES,
        connections: `at most ${MAX_SOCKETS}`,
        socketsStillOpen: true,
        listenersPerSocket: sockets.map(() => 'as after the warm-up'),
        errors: [],
        unhandledRejections: [],
        consoleErrors: [],
        maxListenersWarnings: [],
      });
      expect(growth).toBeLessThan(MAX_GROWTH);
    } finally {
      agent.destroy();
      await close();
      warnings.stop();
      watch.stop();
    }
  }, 60_000);
});

/** GETs `/soak/:id` on `agent`; resolves with whether the body was complete and exactly stream `id`'s bytes. */
function fetchBody(baseUrl: string, agent: http.Agent, id: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get(`${baseUrl}/soak/${id}`, { agent });
    request.on('error', () => resolve(false));
    request.on('response', (response) => {
      let received = 0;
      let matches = response.statusCode === 200;
      response.on('data', (data: Buffer) => {
        matches &&= matchesContent(id, received, data);
        received += data.length;
      });
      response.on('error', () => {});
      response.on('close', () => resolve(matches && response.complete && received === BODY_BYTES));
    });
  });
}

function sameOrDiff(
  before: ListenerCounts | undefined,
  after: ListenerCounts,
): string | { before?: ListenerCounts; after: ListenerCounts } {
  if (before === undefined) return { after };
  const names = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...names].every((name) => before[name] === after[name]) ? 'as after the warm-up' : { before, after };
}
