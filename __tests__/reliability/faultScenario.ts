import http from 'node:http';
import type { Socket } from 'node:net';
import fc from 'fast-check';
import { asyncStream, currentSignal, StreamTimeoutError } from '../../src/index.js';
import { recordErrors, watchProcess } from '../helpers/app.js';
import { deferred, settle } from '../helpers/deferred.js';
import { expressVersions } from '../helpers/express.js';
import { createProducer, type Producer } from '../helpers/producer.js';
import { listen } from '../helpers/server.js';
import { watchWarnings } from '../helpers/warnings.js';
import { within } from '../helpers/within.js';
import { startStream, type RawOutcome, type RawStream } from './rawStream.js';
import {
  countAllListeners,
  countListeners,
  probeResponses,
  type ListenerCounts,
  type ResponseProbe,
} from './responseProbe.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** The route's idle timeout. Timers are faked: it fires only when a scenario advances them. */
export const IDLE_TIMEOUT = 1_000;
/** Larger than the loopback socket buffers, so that it is still being written when the client leaves. */
export const BIG_CHUNK = 8 * MiB;
/** What a producer offers a client that stopped reading: far more than the socket buffers hold. */
export const FLOOD = { chunkSize: 64 * KiB, count: 1_024 } as const;
/** A producer holding back for a stalled client keeps its lead under this (socket buffers are a few MiB). */
export const MAX_LEAD = 32 * MiB;
/** How long one step may take before the scenario fails naming it (a fail-fast guard, on real time). */
const STEP_DEADLINE = 10_000;

/**
 * How the client misbehaves, `at` chunks into the body (0: before the headers): it disconnects
 * while the producer waits, or mid-way through a large chunk, or stops reading until the server
 * blocks and then disconnects (`stopReading`) or stays connected until the idle timeout (`stall`).
 */
export type ClientFault = 'disconnect' | 'midChunk' | 'stopReading' | 'stall';
/** What the producer does after its chunks: end, throw, or wait for the test forever. */
export type Ending = 'end' | 'throw' | 'hang';

export type ClientPlan =
  { readonly fault: ClientFault; readonly at: number } | { readonly fault: 'none'; readonly then: 'reuse' | 'close' };

export interface Plan {
  readonly express: string;
  readonly chunkSizes: readonly number[];
  readonly ending: Ending;
  /** `producer.generateUntil(currentSignal())` rather than a producer that ignores the signal. */
  readonly listensToSignal: boolean;
  /** The generator's `finally` throws (wrapped around the producer). */
  readonly finallyThrows: boolean;
  readonly client: ClientPlan;
}

/** Everything a scenario leaves behind that a user could observe. */
export interface Observation {
  readonly status: number | null;
  readonly outcome: RawOutcome;
  readonly body: 'as produced' | 'a strict prefix of what was produced' | 'an error page' | 'corrupt';
  /** A producer flooding a client that stopped reading stayed within MAX_LEAD of it. */
  readonly producerHeldBack: boolean | 'n/a';
  readonly errors: readonly string[];
  readonly signal: string;
  /** `finallyCount` once the response closed, before the test let a parked producer go on. */
  readonly finallyBeforeRelease: number;
  readonly finallyCount: number;
  readonly writesAfterClose: number;
  readonly serverSocket: 'destroyed' | 'reused by the next request' | 'not reused';
  readonly socketListeners: 'as after a plain response' | 'not checked: destroyed' | ListenerCounts;
  readonly responseListeners: 'as before the stream' | { before: ListenerCounts; after: ListenerCounts };
  readonly timersLeft: number;
  readonly unhandledRejections: readonly string[];
  readonly consoleErrors: number;
  readonly warnings: readonly string[];
}

export const producerError = new Error('producer failed');
export const finallyError = new Error('finally failed');
/** What a hung producer's await finally returns, long after the response closed: never sent. */
const LATE = Buffer.from('late chunk, after the response closed');

/** Plans for the given client behaviours and producer endings; `at` never exceeds the chunk count. */
export function plans(options: {
  readonly faults: readonly ClientFault[] | 'none';
  readonly endings: readonly Ending[];
  readonly finallyThrows?: readonly boolean[];
}): fc.Arbitrary<Plan> {
  const base = fc.record({
    express: fc.constantFrom(...expressVersions.map(([name]) => name)),
    chunkSizes: fc.array(fc.integer({ min: 1, max: 48 * KiB }), { maxLength: 3 }),
    ending: fc.constantFrom(...options.endings),
    listensToSignal: fc.boolean(),
    finallyThrows: fc.constantFrom(...(options.finallyThrows ?? [false, true])),
  });
  return base.chain((partial) => {
    const { faults } = options;
    const client: fc.Arbitrary<ClientPlan> =
      faults === 'none'
        ? fc.record({ fault: fc.constant('none' as const), then: fc.constantFrom('reuse' as const, 'close' as const) })
        : fc.record({ fault: fc.constantFrom(...faults), at: fc.integer({ min: 0, max: partial.chunkSizes.length }) });
    return client.map((clientPlan): Plan => ({ ...partial, client: clientPlan }));
  });
}

/** Chunk `index`'s bytes: a pattern that differs per chunk, so that a lost or repeated byte shows. */
export function contentOf(index: number, size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (index * 97 + i * 31 + (i >> 8)) & 0xff;
  return bytes;
}

export function describeError(error: unknown): string {
  if (error instanceof StreamTimeoutError) {
    return `StreamTimeoutError (${error.timeout} ms, headers ${error.headersSent ? 'sent' : 'not sent'})`;
  }
  const { name, message } = (error ?? {}) as { name?: unknown; message?: unknown };
  return typeof name === 'string' ? `${name}: ${String(message)}` : String(error);
}

async function* throwInFinally<T>(source: AsyncGenerator<T, void, undefined>): AsyncGenerator<T, void, undefined> {
  try {
    yield* source;
  } finally {
    // The fault under test: a finally that throws, replacing whatever ended the generator.
    // eslint-disable-next-line no-unsafe-finally
    throw finallyError;
  }
}

/**
 * Runs one request through `plan` on a fresh server, over a keep-alive connection that first
 * served a plain response, and reports what it left behind. Every step waits on an event (a chunk
 * reaching the client, the producer waiting, the response closing); the idle timeout is fired by
 * advancing jest's fake timers, which replace only `setTimeout` and friends.
 */
export async function runScenario(plan: Plan): Promise<Observation> {
  jest.useFakeTimers({
    doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'queueMicrotask', 'Date', 'hrtime', 'performance'],
  });
  const watch = watchProcess();
  const warnings = watchWarnings();
  const producer = createProducer<Buffer>();
  const probes: ResponseProbe[] = [];
  const entered = deferred<AbortSignal>();
  const app = expressVersions.find(([name]) => name === plan.express)![1]();
  app.get('/plain', probeResponses(probes), (_req, res) => {
    res.send('plain');
  });
  app.get(
    '/stream',
    probeResponses(probes),
    asyncStream(
      () => {
        entered.resolve(currentSignal());
        const source = plan.listensToSignal ? producer.generateUntil(currentSignal()) : producer.generate();
        return plan.finallyThrows ? throwInFinally(source) : source;
      },
      { timeout: IDLE_TIMEOUT },
    ),
  );
  const errors = recordErrors(app);
  const server = await listen(app);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    // The stream runs on a kept-alive connection; what its socket carries after a plain response
    // is the baseline it must return to.
    await getPlain(server.url, agent, probes);
    const socket = server.sockets[0]!;
    const baseline = countAllListeners(socket);

    const client = startStream(`${server.url}/stream`, agent);
    const signal = await within(entered.promise, 'the request reaching the handler', STEP_DEADLINE);
    await within(producer.waiting(), 'the producer waiting for its first chunk', STEP_DEADLINE);
    const probe = probes.at(-1)!;
    const run = new Run(plan, producer, client, probe);
    const { finallyBeforeRelease, producerHeldBack } = await run.play();
    // Letting a parked producer go on settles in microtasks: its finally has run after this, or never will.
    await settle();

    const outcome = await client.outcome;
    const received = client.body();
    if (probe.socket !== socket)
      throw new Error('the stream did not run on the kept-alive connection of the plain response');
    let serverSocket: Observation['serverSocket'] = 'destroyed';
    let socketListeners: Observation['socketListeners'] = 'not checked: destroyed';
    if (outcome === 'complete' && plan.client.fault === 'none' && plan.client.then === 'reuse') {
      const after = countAllListeners(socket);
      socketListeners = sameCounts(after, baseline) ? 'as after a plain response' : after;
      const next = await getPlain(server.url, agent, probes);
      serverSocket = next === socket && server.sockets.length === 1 ? 'reused by the next request' : 'not reused';
    } else {
      if (outcome === 'complete') client.socket!.destroy();
      if (!socket.destroyed)
        await within(
          new Promise((resolve) => socket.once('close', resolve)),
          'the server socket closing',
          STEP_DEADLINE,
        );
    }
    await settle();

    return {
      status: client.status ?? null,
      outcome,
      body: classifyBody(received, run.produced, client.status),
      producerHeldBack,
      errors: errors.map(describeError),
      signal: signal.aborted ? `aborted by ${describeError(signal.reason)}` : 'not aborted',
      finallyBeforeRelease,
      finallyCount: producer.finallyCount,
      writesAfterClose: probe.writesAfterClose,
      serverSocket,
      socketListeners,
      responseListeners: compareResponseListeners(probe),
      timersLeft: jest.getTimerCount(),
      unhandledRejections: watch.unhandled.map(describeError),
      consoleErrors: watch.logged.length,
      warnings: warnings.warnings
        .filter((warning) => warning.name === 'MaxListenersExceededWarning' || warning.name === 'AsyncStreamWarning')
        .map((warning) => `${warning.name}: ${warning.message}`),
    };
  } finally {
    // A failed run must not leave a parked generator or a socket behind for the next one.
    producer.end();
    agent.destroy();
    await server.close();
    warnings.stop();
    watch.stop();
    jest.useRealTimers();
  }
}

/** One scenario's steps, in the order the plan gives them. */
class Run {
  /** Every chunk handed to the producer before the client left or the producer ended. */
  readonly produced: Buffer[] = [];
  private sent = 0;

  constructor(
    private readonly plan: Plan,
    private readonly producer: Producer<Buffer>,
    private readonly client: RawStream,
    private readonly probe: ResponseProbe,
  ) {}

  async play(): Promise<{ finallyBeforeRelease: number; producerHeldBack: boolean | 'n/a' }> {
    const { plan, producer } = this;
    const chunks = plan.chunkSizes.map((size, index) => contentOf(index, size));
    const faultAt = plan.client.fault === 'none' ? chunks.length : plan.client.at;
    for (const [index, chunk] of chunks.slice(0, faultAt).entries()) {
      this.push(chunk);
      await within(this.client.untilReceived(this.sent), `chunk ${index} reaching the client`, STEP_DEADLINE);
      await within(producer.waiting(), `the producer waiting after chunk ${index}`, STEP_DEADLINE);
    }
    let producerHeldBack: boolean | 'n/a' = 'n/a';
    if (plan.client.fault === 'none') {
      this.endProducer();
    } else {
      producerHeldBack = await this.injectClientFault(plan.client.fault);
    }
    await within(this.probe.closed, 'the response closing on the server', STEP_DEADLINE);
    if (plan.client.fault === 'stall') this.client.resume();
    await within(this.client.outcome, 'the client seeing the end of the response', STEP_DEADLINE);
    await settle();
    const finallyBeforeRelease = producer.finallyCount;
    // A producer parked in an await that ignores the signal only notices return() once that await
    // settles: let it settle now, with the chunks it had left, its ending, or a late value.
    for (const chunk of chunks.slice(faultAt)) producer.push(chunk);
    if (plan.ending === 'end') producer.end();
    else if (plan.ending === 'throw') producer.fail(producerError);
    else producer.push(LATE);
    return { finallyBeforeRelease, producerHeldBack };
  }

  private push(chunk: Buffer): void {
    this.producer.push(chunk);
    this.produced.push(chunk);
    this.sent += chunk.length;
  }

  private endProducer(): void {
    const { plan, producer } = this;
    if (plan.ending === 'end') producer.end();
    else if (plan.ending === 'throw') producer.fail(producerError);
    // Hung with nothing written for IDLE_TIMEOUT: the idle timeout is the backstop.
    else jest.advanceTimersByTime(IDLE_TIMEOUT);
  }

  private async injectClientFault(fault: ClientFault): Promise<boolean | 'n/a'> {
    const { client } = this;
    if (fault === 'disconnect') {
      client.disconnect();
      return 'n/a';
    }
    if (fault === 'midChunk') {
      // Closed from inside the first 'data' event of the large chunk, while the server still writes it.
      client.disconnectAt(this.sent + 1);
      this.push(contentOf(1_000, BIG_CHUNK));
      return 'n/a';
    }
    client.pauseAt(this.sent);
    const flood = contentOf(2_000, FLOOD.chunkSize);
    for (let i = 0; i < FLOOD.count; i++) this.push(flood);
    await within(this.untilStalled(), 'the server blocking on the stalled client', STEP_DEADLINE);
    // Bytes of the flood pulled from the producer: its lead over a client that read none of them.
    const lead = (this.producer.produced - (this.produced.length - FLOOD.count)) * FLOOD.chunkSize;
    // Nothing can be written for IDLE_TIMEOUT either way; a stalled client stays until the timeout.
    if (fault === 'stall') jest.advanceTimersByTime(IDLE_TIMEOUT);
    else client.disconnect();
    return lead < MAX_LEAD;
  }

  /**
   * Resolves once `res.write()` has reported a full buffer and, over 20 turns of the event loop,
   * no `'drain'` came and nothing more was pulled from the producer: the stream is held back.
   */
  private async untilStalled(): Promise<void> {
    for (;;) {
      await this.probe.whenBlocked();
      const produced = this.producer.produced;
      await settle(20);
      if (this.probe.blocked && this.producer.produced === produced) return;
    }
  }
}

/** GETs `/plain` on `agent`; resolves, once the server closed the response, with its socket. */
async function getPlain(baseUrl: string, agent: http.Agent, probes: ResponseProbe[]): Promise<Socket> {
  const count = probes.length;
  const client = startStream(`${baseUrl}/plain`, agent);
  const outcome = await within(client.outcome, 'the plain response', STEP_DEADLINE);
  if (outcome !== 'complete' || client.body().toString() !== 'plain') throw new Error(`GET /plain: ${outcome}`);
  const probe = probes[count]!;
  await within(probe.closed, 'the plain response closing on the server', STEP_DEADLINE);
  await settle(2);
  return probe.socket;
}

function classifyBody(received: Buffer, produced: readonly Buffer[], status: number | undefined): Observation['body'] {
  if (status !== undefined && status >= 500) return 'an error page';
  let offset = 0;
  for (const part of produced) {
    if (offset >= received.length) break;
    const length = Math.min(part.length, received.length - offset);
    if (!received.subarray(offset, offset + length).equals(part.subarray(0, length))) return 'corrupt';
    offset += length;
  }
  const total = produced.reduce((sum, part) => sum + part.length, 0);
  if (offset < received.length) return 'corrupt';
  return received.length === total ? 'as produced' : 'a strict prefix of what was produced';
}

function sameCounts(a: ListenerCounts, b: ListenerCounts): boolean {
  const names = new Set([...Object.keys(a), ...Object.keys(b)]);
  return [...names].every((name) => (a[name] ?? 0) === (b[name] ?? 0));
}

/**
 * The response's listeners once it closed, against those it had before `asyncStream` ran. One
 * `'drain'` listener may stay: the session adds it once per response, on purpose (see
 * `StreamSession.drained()`), and it goes away with the response.
 */
function compareResponseListeners(probe: ResponseProbe): Observation['responseListeners'] {
  const before = probe.listenersBefore;
  const after = countListeners(probe.res);
  const drainOk = after['drain']! - before['drain']! <= 1;
  const othersOk = Object.keys(before).every((event) => event === 'drain' || after[event] === before[event]);
  return drainOk && othersOk ? 'as before the stream' : { before, after };
}
