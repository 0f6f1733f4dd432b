// Random subscriber churn under a steady publish rate: the run each store's churn test plays, and what it checks.
import { setMaxListeners } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import express from 'express';
import { createTopic, lastEventId, sse, type Topic, type TopicStore } from '../../src/index.js';
import {
  ResponseAbortedError,
  streamRequest,
  type ServerSentEvent,
  type StreamConnection,
} from '../../src/testing/index.js';
import { recordErrors, watchProcess } from '../helpers/app.js';
import { nodeProcess, watchWarnings } from '../helpers/warnings.js';
import { within } from '../helpers/within.js';
import { heapAfterGc, inMiB } from './heap.js';
import { createProgress } from './progress.js';
import { random, seedFrom } from './random.js';

/** A store to churn on, opened once per test file: for Redis, its server and the app's client. */
export interface ChurnStore {
  readonly label: string;
  open(): Promise<OpenStore>;
}

export interface OpenStore {
  readonly store: TopicStore;
  /** The app's Redis connections with no subscriber: its own client's; `undefined` without Redis. */
  readonly idleConnections: number | undefined;
  /** How many connections the app has open to Redis (the inspecting one excepted); `undefined` without Redis. */
  appConnections(): Promise<number | undefined>;
  /**
   * Resolves once the app has `count` connections to Redis, polling for up to 5 s (the reader's
   * connection closes a moment after its last subscriber leaves); rejects if it does not.
   */
  untilAppConnections(count: number | undefined): Promise<void>;
  close(): Promise<void>;
}

/** What one run does: how many subscribers, how many of them churn, how many events at what rate. */
interface ChurnPlan {
  readonly topic: string;
  readonly subscribers: number;
  readonly churners: number;
  readonly events: number;
}

const RATE = 30;
const INTERVAL = 1_000 / RATE;
/** 150 subscribers, a third of them churning, 30 events/s for 30 s: 4,500 deliveries/s, well within 2 shared cores. */
const PLAN: ChurnPlan = { topic: 'churn', subscribers: 150, churners: 50, events: 30 * RATE };
/** A short run first, so that code compiled and caches filled once do not count as growth. */
const WARM_UP: ChurnPlan = { topic: 'churn-warm-up', subscribers: 150, churners: 50, events: 3 * RATE };
/**
 * When each subscriber first connects, after publishing starts (ms): at most halfway through, so
 * that it is live well before the last event (one joining later would wait for the next for ever).
 */
const JOIN = [0, 2_000] as const;
/** How long a churner stays connected before it drops, and how long it stays away (ms). */
const CONNECTED = [200, 3_000] as const;
const AWAY = [20, 1_500] as const;
/** A wide margin on every wait for an event (the receive timeout of each client among them). */
const WAIT = 20_000;
/**
 * Heap growth allowed between the baseline (after the warm-up) and after everyone has left, after
 * GC: 3 MiB. Measured: 0.4 to 0.7 MiB on Node 20 and 26, of which the in-process store's 900 kept
 * events are 0.17 MiB and most of the rest comes with a first run at this length (a second run
 * grows 0.15 MiB). An open subscriber holds about 20 KiB (`perSubscriber`, both ends of its
 * connection), so keeping what one session in four held (about 650 sessions: 150 joins and some
 * 500 resumes) would exceed it.
 */
const MAX_GROWTH = 3 * 1024 * 1024;

interface Subscriber {
  /** Pairs of (ms connected, ms away), drawn up front so the schedule depends on the seed alone. */
  readonly cycles: readonly (readonly [number, number])[];
  readonly join: number;
  readonly received: ServerSentEvent[];
  lastId: string | undefined;
  connection: StreamConnection | undefined;
  /** The current connection's reading, which ends when the connection does. */
  reading: Promise<void>;
  /** The test cuts this connection on purpose: its ResponseAbortedError is expected. */
  leaving: boolean;
  readonly failures: string[];
}

interface ChurnSummary {
  readonly seed: number;
  readonly subscribers: number;
  readonly churners: number;
  readonly events: number;
  readonly publishFailures: string[];
  readonly drops: number;
  readonly resumes: number;
  /** Subscribers whose received sequence is exactly the topic's from their first id to its last. */
  readonly exactSequences: number;
  readonly lost: number;
  readonly repeated: number;
  readonly outOfOrder: number;
  readonly resets: number;
  readonly clientFailures: string[];
  readonly peakAppConnections: number | undefined;
  /** Heap after GC with every subscriber connected, less once they have left, per subscriber (B). */
  readonly perSubscriber: number;
}

/** Everything the run needs besides the plan: the app, its server and what it watches. */
interface Bench {
  readonly url: string;
  readonly topics: Map<string, Topic<{ n: number }>>;
  readonly open: OpenStore;
  readonly progress: ReturnType<typeof createProgress>;
  readonly server: { sockets: number };
}

/**
 * Registers the churn test for `churnStore`: a warm-up run, a baseline, the run, and once everyone
 * has left, the heap, the process's handles, the topic's subscribers and the app's Redis
 * connections back at the baseline. `CHURN_SEED=<seed>` replays a run's schedule.
 */
export function itSurvivesChurn(churnStore: ChurnStore): void {
  it(
    `delivers each of ${PLAN.subscribers} subscribers, ${PLAN.churners} of them dropping and resuming at random, ` +
      `the topic's exact sequence, and leaves nothing behind`,
    async () => {
      const seed = seedFrom('CHURN_SEED');
      const watch = watchProcess();
      const warnings = watchWarnings();
      const open = await churnStore.open();
      const progress = createProgress();
      const server = { sockets: 0 };
      const app = express();
      const topics = new Map<string, Topic<{ n: number }>>();
      for (const { topic } of [WARM_UP, PLAN]) topics.set(topic, createTopic(topic, { store: open.store }));
      app.get(
        '/events/:topic',
        (_req, res, next) => {
          // The subscription ends as the response closes, after its socket: look again once it has.
          res.once('close', () => setImmediate(progress.notify));
          next();
        },
        sse((req) => topics.get(String(req.params['topic']))!.subscribe({ after: lastEventId(req) })),
      );
      const errors = recordErrors(app);
      const httpServer = http.createServer(app);
      httpServer.on('connection', (socket) => {
        server.sockets++;
        socket.once('close', () => {
          server.sockets--;
          progress.notify();
        });
      });
      await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
      const url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
      const bench: Bench = { url, topics, open, progress, server };
      try {
        const warmUp = await runChurn(bench, WARM_UP, seed);
        expect(warmUp.exactSequences).toBe(WARM_UP.subscribers);
        const before = await snapshot(bench, open.idleConnections);
        const summary = await runChurn(bench, PLAN, seed);
        const after = await snapshot(bench, before.appConnections);
        const growth = after.heap - before.heap;
        process.stdout.write(
          `churn (${churnStore.label}, seed ${seed}): ${PLAN.subscribers} subscribers (${PLAN.churners} churning), ` +
            `${PLAN.events} events at ${RATE}/s, ${summary.drops} drops, ${summary.resumes} resumes, lost ${summary.lost}, ` +
            `repeated ${summary.repeated}; heap before ${inMiB(before.heap)}, after ${inMiB(after.heap)} ` +
            `(growth ${inMiB(growth)}), ${summary.perSubscriber} B per connected subscriber; handles before ` +
            `${JSON.stringify(before.handles)}, after ${JSON.stringify(after.handles)}; Redis connections of the app ` +
            `before ${before.appConnections}, peak ${summary.peakAppConnections}, after ${after.appConnections}\n`,
        );

        expect({ ...summary, ...after, heap: undefined }).toEqual({
          ...summary,
          publishFailures: [],
          exactSequences: PLAN.subscribers,
          lost: 0,
          repeated: 0,
          outOfOrder: 0,
          resets: 0,
          clientFailures: [],
          // Every drop was followed by a resume, on the seed's schedule.
          resumes: summary.drops,
          handles: before.handles,
          subscriberCount: 0,
          appConnections: before.appConnections,
          heap: undefined,
        });
        // One reader connection per process while anyone subscribes, whatever the number of subscribers.
        if (before.appConnections !== undefined) expect(summary.peakAppConnections).toBe(before.appConnections + 1);
        // About ten cycles for each churner (connected 1.6 s and away 0.8 s on average, for 30 s).
        expect(summary.drops).toBeGreaterThan(PLAN.churners * 5);
        expect(growth).toBeLessThan(MAX_GROWTH);
        expect({
          errors,
          unhandledRejections: watch.unhandled,
          consoleErrors: watch.logged,
          maxListenersWarnings: warnings.warnings.filter((warning) => warning.name === 'MaxListenersExceededWarning'),
        }).toEqual({ errors: [], unhandledRejections: [], consoleErrors: [], maxListenersWarnings: [] });
      } finally {
        for (const topic of topics.values()) topic.close();
        httpServer.closeAllConnections();
        await new Promise((resolve) => httpServer.close(resolve));
        await open.close();
        warnings.stop();
        watch.stop();
      }
    },
    // Above the sum of the waits inside (each fails with its own message first).
    120_000,
  );
}

/** What must be back at its level after everyone leaves. */
async function snapshot(
  bench: Bench,
  appConnections: number | undefined,
): Promise<{ heap: number; handles: Record<string, number>; subscriberCount: number; appConnections?: number }> {
  await bench.open.untilAppConnections(appConnections);
  const heap = await heapAfterGc();
  return {
    heap,
    handles: await activeResources(),
    subscriberCount: [...bench.topics.values()].reduce((sum, topic) => sum + topic.subscriberCount, 0),
    appConnections: await bench.open.appConnections(),
  };
}

/**
 * The resources keeping the event loop alive, counted by type (`TCPSocketWrap`, `Timeout`…): the
 * fewest of each over three readings 150 ms apart. Jest, running one file in its own process, keeps
 * a 100 ms timer of its own now and then (its status line, its buffered output); a leaked handle
 * stays. An unref'd timer (the keep-alive of `sse()`) is not counted: a leaked one shows in the heap.
 */
async function activeResources(): Promise<Record<string, number>> {
  const readings: Record<string, number>[] = [];
  for (let reading = 0; reading < 3; reading++) {
    if (reading > 0) await delay(150);
    const counts: Record<string, number> = {};
    for (const type of nodeProcess().getActiveResourcesInfo()) counts[type] = (counts[type] ?? 0) + 1;
    readings.push(counts);
  }
  const types = new Set(readings.flatMap((counts) => Object.keys(counts)));
  return Object.fromEntries(
    [...types].sort().map((type) => [type, Math.min(...readings.map((counts) => counts[type] ?? 0))]),
  );
}

/** The seed's schedule: when each subscriber joins, and for a churner, its cycles of staying and leaving. */
function drawSubscribers(plan: ChurnPlan, seed: number): Subscriber[] {
  const draw = random(seed);
  const between = ([low, high]: readonly [number, number]): number => Math.round(low + draw() * (high - low));
  const churning = new Set<number>();
  while (churning.size < plan.churners) churning.add(Math.floor(draw() * plan.subscribers));
  const duration = plan.events * INTERVAL;
  return Array.from({ length: plan.subscribers }, (_, index): Subscriber => {
    const join = between([JOIN[0], Math.min(JOIN[1], duration / 2)]);
    const cycles: [number, number][] = [];
    for (let at = join; churning.has(index) && at < duration;) {
      const cycle: [number, number] = [between(CONNECTED), between(AWAY)];
      cycles.push(cycle);
      at += cycle[0] + cycle[1];
    }
    return {
      cycles,
      join,
      received: [],
      lastId: undefined,
      connection: undefined,
      reading: Promise.resolve(),
      leaving: false,
      failures: [],
    };
  });
}

/**
 * Publishes `plan.events` events at RATE while the subscribers join and churn on the seed's
 * schedule; waits until every subscriber has the last event, then lets them all leave and waits
 * until the server has closed every socket and the topic has no subscriber.
 */
async function runChurn(bench: Bench, plan: ChurnPlan, seed: number): Promise<ChurnSummary> {
  const topic = bench.topics.get(plan.topic)!;
  const subscribers = drawSubscribers(plan, seed);
  const counts = { drops: 0, resumes: 0, peakAppConnections: await bench.open.appConnections() };
  const stop = new AbortController();
  // Every churner waits on it.
  setMaxListeners(plan.subscribers + 1, stop.signal);
  const published: string[] = [];
  const publishFailures: string[] = [];
  const live = subscribers.map((subscriber) => follow(bench, plan, subscriber, counts, stop.signal));
  const sampling = sampleConnections(bench.open, counts, stop.signal);
  await within(publish(topic, plan.events, published, publishFailures), `publishing ${plan.events} events`, WAIT * 3);
  stop.abort();
  await within(Promise.all([...live, sampling]), `every subscriber reconnecting (seed ${seed})`, WAIT);
  const last = published.at(-1);
  await bench.progress.until(
    () => subscribers.every((subscriber) => subscriber.lastId === last || subscriber.failures.length > 0),
    `every subscriber receiving the last event (seed ${seed})`,
    WAIT,
  );
  const heapConnected = await heapAfterGc();
  for (const subscriber of subscribers) subscriber.leaving = true;
  await Promise.all(subscribers.flatMap((subscriber) => subscriber.connection?.disconnect() ?? []));
  await Promise.all(subscribers.map((subscriber) => subscriber.reading));
  await bench.progress.until(
    () => bench.server.sockets === 0 && topic.subscriberCount === 0,
    `the server closing every socket and the topic every subscription (seed ${seed})`,
    WAIT,
  );
  // What they received is still held: the difference is what the open connections held.
  const perSubscriber = Math.round((heapConnected - (await heapAfterGc())) / plan.subscribers);
  return {
    seed,
    subscribers: plan.subscribers,
    churners: plan.churners,
    events: plan.events,
    publishFailures,
    drops: counts.drops,
    resumes: counts.resumes,
    ...compareSequences(subscribers, published),
    clientFailures: [...new Set(subscribers.flatMap((subscriber) => subscriber.failures))],
    peakAppConnections: counts.peakAppConnections,
    perSubscriber,
  };
}

/** Publishes `{ n }` for n = 0 … count - 1, one every INTERVAL ms, recording each id at its index. */
async function publish(topic: Topic<{ n: number }>, count: number, ids: string[], failures: string[]): Promise<void> {
  const pending: Promise<void>[] = [];
  const started = performance.now();
  for (let n = 0; n < count; n++) {
    // On the clock, not after the previous publish: a steady rate whatever a publish takes.
    await delay(Math.max(0, started + n * INTERVAL - performance.now()));
    pending.push(
      topic.publish({ n }).then(
        (id) => void (ids[n] = id),
        (error: unknown) => void failures.push(`event ${n}: ${String(error)}`),
      ),
    );
  }
  await Promise.all(pending);
}

/** The app's Redis connections, once a second while the run lasts: their peak. */
async function sampleConnections(
  open: OpenStore,
  counts: { peakAppConnections: number | undefined },
  signal: AbortSignal,
): Promise<void> {
  while (!signal.aborted) {
    const count = await open.appConnections();
    if (count !== undefined) counts.peakAppConnections = Math.max(counts.peakAppConnections ?? 0, count);
    await delay(1_000, undefined, { signal }).catch(() => {});
  }
}

/**
 * One subscriber's life: joins at its time; a churner then drops and resumes on its schedule until
 * `stop`, and is connected again when it returns.
 */
async function follow(
  bench: Bench,
  plan: ChurnPlan,
  subscriber: Subscriber,
  counts: { drops: number; resumes: number },
  stop: AbortSignal,
): Promise<void> {
  await delay(subscriber.join);
  await connect(bench, plan, subscriber);
  for (const [connected, away] of subscriber.cycles) {
    if (!(await pause(connected, stop))) return;
    // A drop before the first event would resume with no Last-Event-ID: from the next live event, a gap by design.
    if (subscriber.lastId === undefined) continue;
    subscriber.leaving = true;
    await subscriber.connection!.disconnect();
    await subscriber.reading;
    subscriber.leaving = false;
    counts.drops++;
    await pause(away, stop);
    await connect(bench, plan, subscriber);
    counts.resumes++;
  }
}

/** Waits `ms` unless `signal` aborts first; resolves whether it waited it out. */
function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return delay(ms, true, { signal }).catch(() => false);
}

/** Opens a connection, with `Last-Event-ID` once it has an event, and reads it until it ends. */
async function connect(bench: Bench, plan: ChurnPlan, subscriber: Subscriber): Promise<void> {
  const headers = subscriber.lastId === undefined ? {} : { 'Last-Event-ID': subscriber.lastId };
  try {
    const connection = await streamRequest(bench.url, `/events/${plan.topic}`, { headers, timeout: WAIT });
    subscriber.connection = connection;
    subscriber.reading = read(bench, subscriber, connection);
  } catch (error) {
    subscriber.failures.push(`connecting: ${String(error)}`);
    bench.progress.notify();
  }
}

async function read(bench: Bench, subscriber: Subscriber, connection: StreamConnection): Promise<void> {
  try {
    for (let event = await connection.receiveEvent(); event !== null; event = await connection.receiveEvent()) {
      subscriber.received.push(event);
      subscriber.lastId = event.id;
      bench.progress.notify();
    }
    subscriber.failures.push('the server ended the stream');
  } catch (error) {
    if (!(subscriber.leaving && error instanceof ResponseAbortedError)) subscriber.failures.push(String(error));
  }
  bench.progress.notify();
}

/**
 * Each subscriber's received events against the topic's sequence from its first id on: equal when
 * nothing is lost, repeated or out of order. The data names the event's place (`{ n }`), so an
 * event with the right id and wrong data shows too.
 */
function compareSequences(
  subscribers: readonly Subscriber[],
  published: readonly string[],
): Pick<ChurnSummary, 'exactSequences' | 'lost' | 'repeated' | 'outOfOrder' | 'resets'> {
  const place = new Map(published.map((id, n) => [id, n]));
  const tally = { exactSequences: 0, lost: 0, repeated: 0, outOfOrder: 0, resets: 0 };
  for (const { received } of subscribers) {
    const events = received.filter((event) => event.event !== 'reset');
    tally.resets += received.length - events.length;
    const first = place.get(events[0]?.id ?? '') ?? published.length;
    const expected = published.slice(first).map((id, n) => `${id} {"n":${first + n}}`);
    const actual = events.map((event) => `${event.id} ${event.data}`);
    if (actual.length === expected.length && actual.every((line, n) => line === expected[n])) tally.exactSequences++;
    const seen = new Set(actual);
    tally.repeated += actual.length - seen.size;
    tally.lost += expected.filter((line) => !seen.has(line)).length;
    const places = events.map((event) => place.get(event.id ?? '') ?? -1);
    tally.outOfOrder += places.filter((at, n) => n > 0 && at < places[n - 1]!).length;
  }
  return tally;
}
