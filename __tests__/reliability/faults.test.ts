import fc from 'fast-check';
import { runs } from '../helpers/fastCheck.js';
import {
  describeError,
  finallyError,
  IDLE_TIMEOUT,
  plans,
  producerError,
  runScenario,
  type Observation,
  type Plan,
} from './faultScenario.js';

/**
 * Fault injection: fast-check picks the scenario (Express major, chunk sizes, where the client
 * misbehaves, how the producer ends, whether it listens to `currentSignal()`, whether its `finally`
 * throws) and `runScenario` plays it over a real loopback connection, step by step on events.
 * A failure prints the plan, its seed and path; `FC_SEED=<seed> FC_PATH=<path>` replays it (see `runs()`).
 */

const RUNS = 100;
const TEST_TIMEOUT = 120_000;

const disconnectReason = 'aborted by AbortError: The client closed the connection before the response ended.';

/** What a user should observe for `plan`: the specification these tests hold the code to. */
function expectedObservation(plan: Plan): Observation {
  const chunks = plan.chunkSizes.length;
  const clean = {
    writesAfterClose: 0,
    finallyCount: 1,
    responseListeners: 'as before the stream',
    timersLeft: 0,
    unhandledRejections: [],
    consoleErrors: 0,
    warnings: [],
  } as const;

  if (plan.client.fault !== 'none') {
    const { fault, at } = plan.client;
    const noResponse = fault === 'disconnect' && at === 0;
    // A client that stays connected but reads nothing is the idle timeout's to end; the headers went out with the flood.
    const timeout = `StreamTimeoutError (${IDLE_TIMEOUT} ms, headers sent)`;
    return {
      ...clean,
      status: noResponse ? null : 200,
      outcome: noResponse ? 'no response' : 'aborted',
      body: fault === 'disconnect' ? 'as produced' : 'a strict prefix of what was produced',
      producerHeldBack: fault === 'stopReading' || fault === 'stall' ? true : 'n/a',
      errors: fault === 'stall' ? [timeout] : [],
      signal: fault === 'stall' ? `aborted by ${timeout}` : disconnectReason,
      // A generator suspended at a yield (the pump waits for 'drain') is closed by return() at once;
      // one parked in an await closes at once only if that await listens to the signal.
      finallyBeforeRelease: fault !== 'disconnect' || plan.listensToSignal ? 1 : 0,
      serverSocket: 'destroyed',
      socketListeners: 'not checked: destroyed',
    };
  }

  const failure =
    plan.ending === 'hang'
      ? `StreamTimeoutError (${IDLE_TIMEOUT} ms, headers ${chunks > 0 ? 'sent' : 'not sent'})`
      : plan.finallyThrows
        ? describeError(finallyError)
        : plan.ending === 'throw'
          ? describeError(producerError)
          : undefined;
  const cut = failure !== undefined && chunks > 0;
  const reused = !cut && plan.client.then === 'reuse';
  return {
    ...clean,
    status: failure === undefined || cut ? 200 : plan.ending === 'hang' ? 503 : 500,
    outcome: cut ? 'aborted' : 'complete',
    body: failure === undefined || cut ? 'as produced' : 'an error page',
    producerHeldBack: 'n/a',
    errors: failure === undefined ? [] : [failure],
    signal: failure === undefined ? 'not aborted' : `aborted by ${failure}`,
    finallyBeforeRelease: plan.ending === 'hang' && !plan.listensToSignal ? 0 : 1,
    serverSocket: reused ? 'reused by the next request' : 'destroyed',
    socketListeners: reused ? 'as after a plain response' : 'not checked: destroyed',
  };
}

function holdsFor(arbitrary: fc.Arbitrary<Plan>, numRuns = RUNS): Promise<void> {
  return fc.assert(
    fc.asyncProperty(arbitrary, async (plan) => {
      expect(await runScenario(plan)).toEqual(expectedObservation(plan));
    }),
    runs(numRuns),
  );
}

describe('asyncStream() under injected faults', () => {
  describe('when the client goes away', () => {
    it(
      'before the headers or between chunks: closes the generator once, reports nothing and destroys the socket',
      () => holdsFor(plans({ faults: ['disconnect'], endings: ['end', 'throw', 'hang'] })),
      TEST_TIMEOUT,
    );

    it(
      'in the middle of a large chunk: closes the generator once, reports nothing and destroys the socket',
      () => holdsFor(plans({ faults: ['midChunk'], endings: ['end', 'throw', 'hang'] }), 50),
      TEST_TIMEOUT,
    );

    it(
      'after it stopped reading and the server blocked: the producer was held back, then closed once',
      () => holdsFor(plans({ faults: ['stopReading'], endings: ['end', 'throw', 'hang'] }), 40),
      TEST_TIMEOUT,
    );

    it(
      'never, but stops reading: the idle timeout cuts the response, reports once and closes the generator once',
      () => holdsFor(plans({ faults: ['stall'], endings: ['end', 'throw', 'hang'] }), 30),
      TEST_TIMEOUT,
    );

    it(
      'after a clean end: nothing is reported, and a kept-alive socket serves the next request',
      () => holdsFor(plans({ faults: 'none', endings: ['end'], finallyThrows: [false] }), 50),
      TEST_TIMEOUT,
    );
  });

  describe('when the producer fails while the client reads', () => {
    it(
      'by throwing before its first yield or between yields: the error reaches the error handler once (500 before the headers, a cut response after)',
      () => holdsFor(plans({ faults: 'none', endings: ['throw'], finallyThrows: [false] })),
      TEST_TIMEOUT,
    );

    it(
      'by throwing inside finally: that error reaches the error handler once',
      () => holdsFor(plans({ faults: 'none', endings: ['end', 'throw'], finallyThrows: [true] })),
      TEST_TIMEOUT,
    );

    it(
      'by hanging in an await: the idle timeout answers 503 or cuts the response, and the generator closes once',
      () => holdsFor(plans({ faults: 'none', endings: ['hang'] })),
      TEST_TIMEOUT,
    );
  });
});
