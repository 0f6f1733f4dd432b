import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { asyncStream, currentSignal } from '../../src/index.js';
import { recordErrors, watchProcess } from '../helpers/app.js';
import { deferred } from '../helpers/deferred.js';
import { watchWarnings } from '../helpers/warnings.js';
import { contentOf, matchesContent } from './content.js';
import { openFileLimit } from './fdLimit.js';
import { heapAfterGc, inMiB } from './heap.js';
import { createProgress } from './progress.js';
import { random, seedFrom } from './random.js';

const KiB = 1024;
const STREAMS = 2_000;
const CHUNK = 1 * KiB;
/** Chunks before the gate that opens once every client is connected, between the gates, and after. */
const HEAD = 1;
const MIDDLE = 6;
const TAIL = 6;
const STREAM_BYTES = (HEAD + MIDDLE + TAIL) * CHUNK;
/** One socket on each side per stream, plus jest's own files. */
const FILES_NEEDED = 2 * STREAMS + 500;
/**
 * Heap growth allowed over the whole run, after GC: 2 KiB per stream (4 MiB for 2,000). An open
 * stream holds about 20 KiB of heap here (measured below, `perStreamInFlight`), so a stream that
 * kept even its response alive would exceed it many times over; the margin absorbs what a first
 * run at this scale allocates for good (optimised code, inline caches, Node's pool of up to 1,000
 * idle HTTP parsers).
 */
const MAX_GROWTH_PER_STREAM = 2 * KiB;

const fileLimit = openFileLimit();
const enoughFiles = fileLimit >= FILES_NEEDED;
const itWithEnoughFiles = enoughFiles ? it : it.skip;
const skipNote = enoughFiles ? '' : ` (skipped: ulimit -n is ${fileLimit}, this test needs ${FILES_NEEDED})`;
// Jest lists no test titles for a file whose tests are all skipped: say why here.
if (!enoughFiles)
  console.warn(
    `load.test.ts: ${STREAMS} concurrent streams need ${FILES_NEEDED} open files, but ulimit -n is ${fileLimit}: skipped.`,
  );

/** Counts the client side keeps as events arrive, so that waiting on them costs no scan of every client. */
interface ClientTally {
  /** Clients that have the first chunk, or are over. */
  started: number;
  /** Clients that stay and have everything before the second gate, or are over. */
  keepersPastMiddle: number;
  /** Clients whose response is over, one way or another. */
  over: number;
}

interface LoadClient {
  readonly id: number;
  /** The byte count at which the client disconnects, mid-stream; Infinity for a client that reads to the end. */
  readonly dropAt: number;
  received: number;
  mismatches: number;
  outcome: 'open' | 'complete' | 'aborted' | `failed: ${string}`;
}

interface LoadSummary {
  readonly seed: number;
  readonly streams: number;
  readonly openAtOnce: number;
  readonly droppers: number;
  readonly keepersComplete: number;
  readonly keepersWithEveryByteExact: number;
  readonly droppersCutWithExactPrefix: number;
  readonly finallyRan: number;
  readonly serverSawClientLeave: number;
  readonly signalsAborted: number;
  readonly errors: number;
  readonly clientFailures: string[];
  readonly unhandledRejections: number;
  readonly consoleErrors: number;
  readonly maxListenersWarnings: number;
  readonly perStreamInFlight: number;
}

/**
 * Serves STREAMS concurrent streams to raw node:http clients, a third of which (chosen by `seed`)
 * disconnect at a random byte between the first and the second gate. Each generator yields its
 * first chunk, waits until every client has it (so all streams are open at once), yields MIDDLE
 * chunks a turn of the event loop apart, waits until every dropping client has left, then yields
 * the rest. Half of the generators listen to `currentSignal()` while they wait; the others only
 * notice `return()` at their next yield.
 */
async function runLoad(streams: number, seed: number, heapBefore: number): Promise<LoadSummary> {
  const progress = createProgress();
  const watch = watchProcess();
  const warnings = watchWarnings();
  const allOpen = deferred();
  const droppersGone = deferred();
  const server = { entered: 0, finalized: 0, aborted: 0, leftEarly: 0, connections: 0, open: 0 };
  const tally: ClientTally = { started: 0, keepersPastMiddle: 0, over: 0 };

  const app = express();
  app.get(
    '/stream/:id',
    (_req, res, next) => {
      res.on('close', () => {
        if (!res.writableFinished) server.leftEarly++;
        progress.notify();
      });
      next();
    },
    asyncStream(async function* (req) {
      const id = Number(req.params['id']);
      const signal = currentSignal();
      server.entered++;
      try {
        yield contentOf(id, 0, HEAD * CHUNK);
        await allOpen.promise;
        for (let i = HEAD; i < HEAD + MIDDLE; i++) {
          await new Promise((resolve) => setImmediate(resolve));
          yield contentOf(id, i * CHUNK, CHUNK);
        }
        if (id % 2 === 0) {
          await untilOrAborted(droppersGone.promise, signal);
          if (signal.aborted) return;
        } else {
          // Ignores the signal: if its client left, only return() at the next yield stops it.
          await droppersGone.promise;
        }
        for (let i = HEAD + MIDDLE; i < HEAD + MIDDLE + TAIL; i++) yield contentOf(id, i * CHUNK, CHUNK);
      } finally {
        server.finalized++;
        if (signal.aborted) server.aborted++;
        progress.notify();
      }
    }),
  );
  const errors = recordErrors(app);
  const httpServer = http.createServer(app);
  httpServer.on('connection', (socket) => {
    server.connections++;
    server.open++;
    socket.once('close', () => {
      server.open--;
      progress.notify();
    });
  });
  // Every client connects at once: a backlog as deep as the kernel allows (somaxconn) avoids SYN retries.
  await new Promise<void>((resolve) => httpServer.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
  const { port } = httpServer.address() as AddressInfo;

  const draw = random(seed);
  const clients: LoadClient[] = Array.from({ length: streams }, (_, id) => ({
    id,
    dropAt: draw() < 1 / 3 ? HEAD * CHUNK + 1 + Math.floor(draw() * MIDDLE * CHUNK) : Infinity,
    received: 0,
    mismatches: 0,
    outcome: 'open',
  }));
  const droppers = clients.filter((client) => client.dropAt !== Infinity);
  const keepers = clients.filter((client) => client.dropAt === Infinity);
  let perStreamInFlight: number;
  let openAtOnce: number;
  try {
    for (const client of clients) request(port, client, tally, progress.notify);
    await progress.until(
      () => tally.started === streams,
      `all ${streams} streams delivering their first chunk (seed ${seed})`,
      40_000,
    );
    openAtOnce = server.entered - server.finalized;
    perStreamInFlight = Math.round(((await heapAfterGc()) - heapBefore) / streams);
    allOpen.resolve();
    await progress.until(
      () => tally.keepersPastMiddle === keepers.length && server.leftEarly >= droppers.length,
      `every dropping client leaving mid-stream (seed ${seed})`,
      30_000,
    );
    droppersGone.resolve();
    await progress.until(
      () => tally.over === streams && server.finalized >= server.entered && server.open === 0,
      `every stream ending and every connection closing (seed ${seed})`,
      30_000,
    );
  } finally {
    allOpen.resolve();
    droppersGone.resolve();
    httpServer.closeAllConnections();
    await new Promise((resolve) => httpServer.close(resolve));
    warnings.stop();
    watch.stop();
  }
  const exact = (client: LoadClient): boolean => client.mismatches === 0;
  return {
    seed,
    streams,
    openAtOnce,
    droppers: droppers.length,
    keepersComplete: keepers.filter((client) => client.outcome === 'complete' && client.received === STREAM_BYTES)
      .length,
    keepersWithEveryByteExact: keepers.filter(exact).length,
    droppersCutWithExactPrefix: droppers.filter(
      (client) => client.outcome === 'aborted' && exact(client) && client.received < STREAM_BYTES,
    ).length,
    finallyRan: server.finalized,
    serverSawClientLeave: server.leftEarly,
    signalsAborted: server.aborted,
    errors: errors.length,
    clientFailures: [
      ...new Set(clients.filter((client) => client.outcome.startsWith('failed')).map((client) => client.outcome)),
    ],
    unhandledRejections: watch.unhandled.length,
    consoleErrors: watch.logged.length,
    maxListenersWarnings: warnings.warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning').length,
    perStreamInFlight,
  };
}

function request(port: number, client: LoadClient, tally: ClientTally, notify: () => void): void {
  const req = http.get({ host: '127.0.0.1', port, path: `/stream/${client.id}`, agent: false });
  const stays = client.dropAt === Infinity;
  let responded = false;
  let started = false;
  let pastMiddle = false;
  const record = (): void => {
    const over = client.outcome !== 'open';
    if (!started && (over || client.received >= HEAD * CHUNK)) {
      started = true;
      tally.started++;
    }
    if (stays && !pastMiddle && (over || client.received >= (HEAD + MIDDLE) * CHUNK)) {
      pastMiddle = true;
      tally.keepersPastMiddle++;
    }
    notify();
  };
  req.on('response', (res) => {
    responded = true;
    res.on('data', (data: Buffer) => {
      if (!matchesContent(client.id, client.received, data)) client.mismatches++;
      client.received += data.length;
      if (client.received >= client.dropAt) req.destroy();
      record();
    });
    // A dropping client cuts its own body short; the 'error' that comes with it is expected.
    res.on('error', () => {});
    res.on('close', () => {
      client.outcome = res.complete ? 'complete' : 'aborted';
      tally.over++;
      record();
    });
  });
  req.on('error', (error: NodeJS.ErrnoException) => {
    // After the response arrived, its 'close' tells how it ended.
    if (responded) return;
    client.outcome = `failed: ${error.code ?? error.message}`;
    tally.over++;
    record();
  });
}

function untilOrAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = (): void => resolve();
    signal.addEventListener('abort', onAbort, { once: true });
    void promise.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

describe(`asyncStream() with ${STREAMS} concurrent streams`, () => {
  itWithEnoughFiles(
    `delivers every byte to the clients that stay, closes every generator, and returns the heap to its level${skipNote}`,
    async () => {
      const seed = seedFrom('LOAD_SEED');
      // A small run first, so that code compiled and caches filled once do not count as growth.
      const warmUp = await runLoad(150, seed, await heapAfterGc());
      expect(warmUp.finallyRan).toBe(150);
      const before = await heapAfterGc();
      const summary = await runLoad(STREAMS, seed, before);
      const after = await heapAfterGc();
      const growth = after - before;
      const droppers = summary.droppers;
      const keepers = STREAMS - droppers;
      process.stdout.write(
        `load: ${STREAMS} streams (${droppers} dropped, seed ${seed}); heap before ${inMiB(before)}, after ${inMiB(after)}, ` +
          `growth ${inMiB(growth)} (${Math.round(growth / STREAMS)} B/stream); in flight ${summary.perStreamInFlight} B/stream\n`,
      );

      expect(summary).toEqual({
        seed,
        streams: STREAMS,
        openAtOnce: STREAMS,
        droppers,
        keepersComplete: keepers,
        keepersWithEveryByteExact: keepers,
        droppersCutWithExactPrefix: droppers,
        finallyRan: STREAMS,
        serverSawClientLeave: droppers,
        signalsAborted: droppers,
        errors: 0,
        clientFailures: [],
        unhandledRejections: 0,
        consoleErrors: 0,
        maxListenersWarnings: 0,
        perStreamInFlight: summary.perStreamInFlight,
      });
      // A third, give or take: far from none and from all.
      expect(droppers).toBeGreaterThan(STREAMS / 4);
      expect(droppers).toBeLessThan(STREAMS / 2.4);
      expect(growth).toBeLessThan(STREAMS * MAX_GROWTH_PER_STREAM);
    },
    // Above the sum of the waits inside (each fails with its own message first).
    150_000,
  );
});
