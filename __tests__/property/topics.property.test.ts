// Property: whatever the interleaving, every subscriber of a topic gets the topic's events as issue 12 promises.
import fc from 'fast-check';
import {
  createTopic,
  memoryStore,
  type MemoryStore,
  type Topic,
  type TopicEvent,
  type TopicReset,
  type TopicStore,
} from '../../src/index.js';
import { useProcessWatch } from '../helpers/app.js';
import { runs } from '../helpers/fastCheck.js';
import { PROPERTY_TIMEOUT } from './support.js';

// Per property; a run is up to 40 steps in this process, a few milliseconds.
const RUNS = 150;
const NAME = 'feed';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------------
// The stores under test. The model below knows of a store only what TopicStore promises.
// ---------------------------------------------------------------------------------------------

/** A store as the properties drive it: add a row to `stores` to run them against another one. */
interface StoreUnderTest {
  /** A fresh, empty store for one run. */
  create(): TopicStore;
  /**
   * Resolves once what is in flight has completed: each subscription has read its history, and
   * every event appended so far has been delivered.
   */
  settle(): Promise<void>;
  /**
   * Whether the store appends and delivers at the publish call and keeps exactly `history` events
   * (memoryStore): the model then predicts each subscriber's first event exactly. For a store behind
   * a connection (Redis: approximate trimming, deliveries that lag), it checks bounds instead.
   */
  readonly exact: boolean;
  /** Drops a topic's history while it has subscribers, for a store that can (memoryStore's `delete`). */
  readonly forget?: ((store: TopicStore, topic: string) => void) | undefined;
}

const stores: [string, StoreUnderTest][] = [
  [
    'memoryStore',
    {
      create: () => memoryStore(),
      settle: nextTurn,
      exact: true,
      forget: (store, topic) => (store as MemoryStore).delete(topic),
    },
  ],
];

// ---------------------------------------------------------------------------------------------
// What the test does: a random sequence of steps.
// ---------------------------------------------------------------------------------------------

/** Where a subscriber starts: live only, a real id seen before, `'0'`, or an id the topic never gave. */
type From = 'live' | 'seen' | 'start' | 'foreign';

type Step =
  /** `count` publishes in one tick; awaited, or left in flight. */
  | { readonly step: 'publish'; readonly count: number; readonly awaited: boolean }
  | {
      readonly step: 'subscribe';
      readonly from: From;
      readonly pick: number;
      /** Reads as fast as events come (a `for await` loop), rather than when a `read` step says. */
      readonly eager: boolean;
      readonly signal: 'none' | 'controller' | 'aborted';
    }
  /** Takes up to `count` values from a subscriber that is not eager: the ones it is owed by now. */
  | { readonly step: 'read'; readonly who: number; readonly count: number }
  /** Ends a subscriber: return(), or its signal aborts. */
  | { readonly step: 'end'; readonly who: number; readonly how: 'return' | 'abort' }
  /** What a browser does: the subscriber ends, and a new one starts after the last id it received. */
  | { readonly step: 'resume'; readonly who: number; readonly how: 'return' | 'abort'; readonly eager: boolean }
  | { readonly step: 'tick'; readonly turn: 'microtask' | 'settle' }
  | { readonly step: 'forget' };

interface Scenario {
  readonly history: number | undefined;
  readonly maxPending: number | undefined;
  readonly steps: readonly Step[];
}

interface ScenarioShape {
  readonly history: fc.Arbitrary<number | undefined>;
  readonly maxPending: fc.Arbitrary<number | undefined>;
  readonly from: readonly From[];
  /** Weight of `read` steps: low for subscribers that fall behind. */
  readonly reads: number;
  readonly forget: boolean;
}

function scenario(shape: ScenarioShape, store: StoreUnderTest): fc.Arbitrary<Scenario> {
  const who = fc.nat({ max: 15 });
  const how = fc.constantFrom<'return' | 'abort'>('return', 'abort');
  const steps: fc.WeightedArbitrary<Step>[] = [
    {
      weight: 6,
      arbitrary: fc.record({
        step: fc.constant('publish'),
        count: fc.integer({ min: 1, max: 4 }),
        awaited: fc.boolean(),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        step: fc.constant('subscribe'),
        from: fc.constantFrom(...shape.from),
        pick: fc.nat({ max: 200 }),
        eager: fc.boolean(),
        signal: fc.constantFrom<'none' | 'controller' | 'aborted'>('controller', 'controller', 'none', 'aborted'),
      }),
    },
    {
      weight: shape.reads,
      arbitrary: fc.record({ step: fc.constant('read'), who, count: fc.integer({ min: 1, max: 6 }) }),
    },
    { weight: 1, arbitrary: fc.record({ step: fc.constant('end'), who, how }) },
    { weight: 2, arbitrary: fc.record({ step: fc.constant('resume'), who, how, eager: fc.boolean() }) },
    { weight: 3, arbitrary: fc.record({ step: fc.constant('tick'), turn: fc.constantFrom('microtask', 'settle') }) },
  ];
  if (shape.forget && store.forget !== undefined) {
    steps.push({ weight: 1, arbitrary: fc.record({ step: fc.constant('forget') }) });
  }
  return fc.record({
    history: shape.history,
    maxPending: shape.maxPending,
    steps: fc.array(fc.oneof(...steps), { maxLength: 40, size: 'max' }),
  });
}

// ---------------------------------------------------------------------------------------------
// The model: the topic's order is the order of the publish calls (each store appends in call
// order), and each subscriber's values are checked against it.
// ---------------------------------------------------------------------------------------------

type Payload = string | { readonly n: number };
type Received = TopicEvent<Payload> | TopicReset;

/** One publish call; its index in `published` is its place in the topic. */
interface Published {
  readonly data: Payload;
  readonly event: string | undefined;
  /** What publish resolved. */
  id?: string;
}

/** A history read as the store saw it, counted in publish calls. */
interface ReadSeen {
  readonly after: string;
  /** Publish calls and forgets before it began. */
  readonly calledAt: number;
  readonly forgets: number;
  /** Publish calls before it resolved. */
  doneAt?: number;
}

interface Subscriber {
  readonly label: string;
  readonly iterator: AsyncIterableIterator<Received>;
  /** Its `after` (`''` is no position, as `undefined`). */
  readonly after: string | undefined;
  /** Publish calls before subscribe(): every event from this one on is owed to it. */
  readonly subscribedAt: number;
  readonly controller: AbortController | undefined;
  readonly eager: boolean;
  read?: ReadSeen;
  /** Publish calls before the first settle after subscribe(): every event from there on is live. */
  settledAt?: number;
  readonly received: Received[];
  /** Place of the last event received, and its id (a browser's lastEventId). */
  last?: number;
  lastId?: string;
  /** Ended by the test, or seen ending by itself (dropped). */
  state: 'open' | 'ended' | 'dropped';
  /** How many events it was behind when seen dropped. */
  behind?: number;
  reading?: Promise<void>;
  failure?: unknown;
}

/** A subscriber's possible first values: a reset or not, then the event at a place in [min, max]. */
interface Start {
  readonly reset: boolean;
  readonly min: number;
  readonly max: number;
}

const STALLED = Symbol('stalled');
const START = '0';

/** The place of a received event in the topic, from its data. */
function placeOf(event: TopicEvent<Payload>): number {
  return typeof event.data === 'string' ? Number(event.data.slice(1)) : event.data.n;
}

/** One run: the topic, what was published, the subscribers and what they received. */
class TopicRun {
  readonly published: Published[] = [];
  private readonly publishing: Promise<void>[] = [];
  /** Every id the test has seen (from publish or a subscriber), with its place. */
  private readonly places = new Map<string, number>();
  /** Publish calls before each forget. */
  private readonly forgets: number[] = [];
  private readonly subscribers: Subscriber[] = [];
  /** Subscribers whose history read the store has not begun, by `after`, in subscribe order. */
  private readonly awaitingRead: Subscriber[] = [];
  private readonly unmatchedReads: ReadSeen[] = [];
  /** Store listeners not stopped. */
  private listeners = 0;
  private readonly foreignIds: string[];
  private readonly store: TopicStore;
  private readonly topic: Topic<Payload>;
  private readonly history: number;
  private readonly maxPending: number;

  constructor(
    private readonly under: StoreUnderTest,
    { history, maxPending }: Scenario,
    foreignId: string,
  ) {
    this.store = under.create();
    this.topic = createTopic<Payload>(NAME, { store: this.observe(this.store), history, maxPending });
    this.history = history ?? 1_000;
    this.maxPending = maxPending ?? 1_000;
    this.foreignIds = [foreignId, '1700000000000-0', 'not-an-id'];
  }

  /** Runs a step; at once when it can, so that the steps up to the next await share one tick. */
  apply(step: Step): Promise<unknown> | undefined {
    switch (step.step) {
      case 'publish':
        return this.publish(step.count, step.awaited);
      case 'subscribe':
        return this.subscribe(this.afterFor(step.from, step.pick), step.eager, step.signal);
      case 'read':
        return this.read(this.pick(step.who), step.count);
      case 'end':
        return this.end(this.pick(step.who), step.how);
      case 'resume':
        return this.resume(this.pick(step.who), step.how, step.eager);
      case 'tick':
        return step.turn === 'microtask' ? Promise.resolve() : this.settle();
      case 'forget':
        this.forgets.push(this.published.length);
        this.under.forget!(this.store, NAME);
        return undefined;
    }
  }

  /** Lets everything in flight complete, reads each subscriber to the end, ends it, and sees it yield no more. */
  async finish(): Promise<void> {
    await Promise.all(this.publishing);
    await this.settle();
    for (const subscriber of this.subscribers) {
      if (subscriber.eager) continue;
      while (subscriber.state === 'open' && this.owed(subscriber) > 0 && (await this.take(subscriber)));
    }
    for (const subscriber of this.subscribers) {
      if (subscriber.state === 'open' && this.owed(subscriber) > 0) {
        throw new Error(`${subscriber.label} is ${this.owed(subscriber)} values short once the store settled.`);
      }
      if (subscriber.state === 'open') this.endSubscriber(subscriber, 'return');
      if (!subscriber.eager) await this.expectEnded(subscriber, `it ${subscriber.state}`);
    }
    for (const subscriber of this.subscribers) await subscriber.reading;
  }

  /** Guarantees 1, 2 and 3 on what every subscriber received, and the topic left with none. */
  check(): void {
    expect(this.topic.subscriberCount).toBe(0);
    // Nothing outlives the last subscriber: the store delivers to no one.
    expect(this.listeners).toBe(0);
    // Each subscriber with a position read the history after it once; none read it without one.
    expect(this.awaitingRead.map((subscriber) => subscriber.label)).toEqual([]);
    expect(this.unmatchedReads).toEqual([]);
    this.checkPublished();
    for (const subscriber of this.subscribers) this.checkSubscriber(subscriber);
  }

  close(): void {
    this.topic.close();
  }

  // Steps ------------------------------------------------------------------------------------

  private publish(count: number, awaited: boolean): Promise<unknown> | undefined {
    const burst: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const place = this.published.length;
      const record: Published = {
        data: place % 2 === 0 ? { n: place } : `e${place}`,
        event: place % 3 === 0 ? 'tick' : undefined,
      };
      this.published.push(record);
      const published = this.topic.publish(record.data, { event: record.event }).then((id) => {
        record.id = id;
        this.places.set(id, place);
      });
      burst.push(published);
      this.publishing.push(published);
    }
    return awaited ? Promise.all(burst) : undefined;
  }

  private subscribe(after: string | undefined, eager: boolean, signal: 'none' | 'controller' | 'aborted'): undefined {
    const controller = signal === 'none' ? undefined : new AbortController();
    if (signal === 'aborted') controller!.abort();
    const before = this.topic.subscriberCount;
    const iterator = this.topic.subscribe({ after, signal: controller?.signal });
    const position = after === '' ? undefined : after;
    const subscriber: Subscriber = {
      label:
        `subscriber ${this.subscribers.length} (after ${JSON.stringify(after)}, ` +
        `${eager ? 'eager' : 'read by steps'}, subscribed after ${this.published.length} publishes)`,
      iterator,
      after: position,
      subscribedAt: this.published.length,
      controller,
      eager,
      received: [],
      state: signal === 'aborted' ? 'ended' : 'open',
    };
    this.subscribers.push(subscriber);
    if (signal === 'aborted') {
      // Already aborted: it ends at once (finish() checks that it yields nothing), and the topic never counts it.
      expect(this.topic.subscriberCount).toBe(before);
      return undefined;
    }
    if (position !== undefined) this.awaitingRead.push(subscriber);
    if (eager) subscriber.reading = this.readEagerly(subscriber);
    return undefined;
  }

  private read(subscriber: Subscriber | undefined, count: number): Promise<void> | undefined {
    if (subscriber === undefined || subscriber.eager) return undefined;
    if (subscriber.state !== 'open') return this.expectEnded(subscriber, `it ${subscriber.state}`);
    if (this.mustBeDropped(subscriber)) {
      const behind = this.behind(subscriber);
      subscriber.state = 'dropped';
      subscriber.behind = behind;
      return this.expectEnded(subscriber, `${behind} live events wait for it, and maxPending is ${this.maxPending}`);
    }
    const owed = Math.min(count, this.owed(subscriber));
    return owed === 0 ? undefined : this.takeSome(subscriber, owed);
  }

  private end(subscriber: Subscriber | undefined, how: 'return' | 'abort'): undefined {
    if (subscriber?.state === 'open') this.endSubscriber(subscriber, how);
    return undefined;
  }

  private resume(subscriber: Subscriber | undefined, how: 'return' | 'abort', eager: boolean): undefined {
    if (subscriber === undefined) return undefined;
    if (subscriber.state === 'open') this.endSubscriber(subscriber, how);
    // A reset has no id: a browser keeps the Last-Event-ID it had.
    return this.subscribe(subscriber.lastId ?? subscriber.after, eager, 'controller');
  }

  private async settle(): Promise<void> {
    await this.under.settle();
    for (const subscriber of this.subscribers) subscriber.settledAt ??= this.published.length;
    // Guarantee 3: the topic holds exactly the subscribers that neither ended nor fell too far behind.
    const open = this.subscribers.filter((subscriber) => subscriber.state === 'open');
    const atMost = open.filter((subscriber) => !this.mustBeDropped(subscriber)).length;
    const atLeast = open.filter((subscriber) => this.behind(subscriber) <= this.maxPending).length;
    expect(this.topic.subscriberCount).toBeLessThanOrEqual(atMost);
    expect(this.topic.subscriberCount).toBeGreaterThanOrEqual(atLeast);
  }

  private endSubscriber(subscriber: Subscriber, how: 'return' | 'abort'): void {
    subscriber.state = 'ended';
    if (how === 'abort' && subscriber.controller !== undefined) subscriber.controller.abort();
    // Settles at once; what it yields afterwards is checked by finish().
    else void subscriber.iterator.return!();
  }

  // Reading ----------------------------------------------------------------------------------

  private async readEagerly(subscriber: Subscriber): Promise<void> {
    try {
      for (;;) {
        const step = await subscriber.iterator.next();
        if (step.done === true) break;
        this.receive(subscriber, step.value);
      }
      this.sawEnd(subscriber);
    } catch (error) {
      subscriber.failure = error;
    }
  }

  private async takeSome(subscriber: Subscriber, count: number): Promise<void> {
    for (let taken = 0; taken < count && (await this.take(subscriber)); taken++);
  }

  /** Takes one value; false once the subscription has ended. */
  private async take(subscriber: Subscriber): Promise<boolean> {
    const step = await this.nextOrStall(subscriber);
    if (step === STALLED) {
      throw new Error(`${subscriber.label} stalled: ${this.owed(subscriber)} values it is owed never came.`);
    }
    if (step.done === true) {
      this.sawEnd(subscriber);
      return false;
    }
    this.receive(subscriber, step.value);
    return true;
  }

  private async expectEnded(subscriber: Subscriber, why: string): Promise<void> {
    const step = await this.nextOrStall(subscriber);
    if (step === STALLED || step.done !== true) {
      throw new Error(
        `${subscriber.label} should have ended (${why}), ` +
          `but next() gave ${step === STALLED ? 'nothing' : JSON.stringify(step.value)}.`,
      );
    }
  }

  /** next(), or STALLED when the store settled and nothing came: an owed value that never comes fails, not hangs. */
  private nextOrStall(subscriber: Subscriber): Promise<IteratorResult<Received> | typeof STALLED> {
    const stalled = this.under
      .settle()
      .then(nextTurn)
      .then((): typeof STALLED => STALLED);
    return Promise.race([subscriber.iterator.next(), stalled]);
  }

  private receive(subscriber: Subscriber, value: Received): void {
    subscriber.received.push(value);
    if (value.id === undefined) return;
    subscriber.last = placeOf(value);
    subscriber.lastId = value.id;
    this.places.set(value.id, subscriber.last);
  }

  private sawEnd(subscriber: Subscriber): void {
    if (subscriber.state !== 'open') return;
    subscriber.state = 'dropped';
    subscriber.behind = this.behind(subscriber);
  }

  // The model --------------------------------------------------------------------------------

  /** Wraps the store to see when each history read happens (in publish calls), and which listeners are left. */
  private observe(store: TopicStore): TopicStore {
    return {
      append: (topic, event, history) => store.append(topic, event, history),
      listen: (topic, deliver) => {
        const listener = store.listen(topic, deliver);
        let listening = true;
        this.listeners++;
        const stop = (): void => {
          if (listening) this.listeners--;
          listening = false;
          listener.stop();
        };
        return { ready: listener.ready, stop };
      },
      compareIds: (a, b) => store.compareIds(a, b),
      readAfter: (topic, after) => {
        const read: ReadSeen = { after, calledAt: this.published.length, forgets: this.forgets.length };
        // Reads begin in subscribe order (each waits for the same listener): the first awaiting one with this `after`.
        const index = this.awaitingRead.findIndex((subscriber) => subscriber.after === after);
        if (index === -1) this.unmatchedReads.push(read);
        else this.awaitingRead.splice(index, 1)[0]!.read = read;
        const reading = store.readAfter(topic, after);
        reading.then(
          () => (read.doneAt = this.published.length),
          () => {},
        );
        return reading;
      },
    };
  }

  private afterFor(from: From, pick: number): string | undefined {
    if (from === 'start') return START;
    if (from === 'foreign') return this.foreignIds[pick % this.foreignIds.length];
    // Recent ids first (fast-check draws small numbers more often): the edge of the kept history.
    const seen = [...this.places].sort(([, a], [, b]) => b - a);
    if (from === 'seen' && seen.length > 0) return seen[pick % seen.length]![0];
    return pick % 2 === 0 ? undefined : '';
  }

  private pick(who: number): Subscriber | undefined {
    return this.subscribers[who % Math.max(1, this.subscribers.length)];
  }

  /**
   * Where a subscriber may start. With no position: at the first event published after it
   * subscribed. At a kept position (or the one before the oldest kept): right after it. Otherwise a
   * reset, then the kept events, or the live ones from its subscribe when a burst published during
   * its history read trimmed those.
   */
  private startsOf(subscriber: Subscriber): Start[] {
    const { after, read, subscribedAt: live } = subscriber;
    const exact = this.under.exact;
    if (after === undefined) return [{ reset: false, min: exact ? live : 0, max: live }];
    if (read === undefined) return [false, true].map((reset) => ({ reset, min: 0, max: live }));
    const forgotten = this.forgets[read.forgets - 1] ?? 0;
    const count = exact ? read.calledAt : (read.doneAt ?? this.published.length);
    const oldestKept = Math.max(forgotten, count - this.history);
    const fromKept = Math.min(oldestKept, live);
    if (after === START) return [{ reset: false, min: exact ? fromKept : 0, max: fromKept }];
    const reset = { reset: true, min: exact ? fromKept : 0, max: fromKept };
    const place = this.places.get(after);
    if (place === undefined || place < forgotten) return [reset];
    const resumed = { reset: false, min: place + 1, max: place + 1 };
    if (place + 1 >= oldestKept) return [resumed];
    // A store that trims approximately may still hold it.
    return exact ? [reset] : [resumed, reset];
  }

  /** Values the subscriber will yield for sure (unless dropped): every event from its latest possible start. */
  private owed(subscriber: Subscriber): number {
    const starts = this.startsOf(subscriber);
    const next = subscriber.last === undefined ? Math.max(...starts.map((start) => start.max)) : subscriber.last + 1;
    const reset = subscriber.received.length === 0 && starts.every((start) => start.reset);
    return Math.max(0, this.published.length - next) + (reset ? 1 : 0);
  }

  /** How many events could be waiting for it, at most: what it has not read, of what it got live. */
  private behind(subscriber: Subscriber): number {
    const next = subscriber.last === undefined ? 0 : subscriber.last + 1;
    return this.published.length - (this.under.exact ? Math.max(next, subscriber.subscribedAt) : next);
  }

  /** The first event sure to wait in its live queue: its history was read before `settledAt`. */
  private liveFrom(subscriber: Subscriber): number {
    return Math.max(subscriber.settledAt!, subscriber.last === undefined ? 0 : subscriber.last + 1);
  }

  /** More than maxPending events are sure to wait for it: it must have been dropped. */
  private mustBeDropped(subscriber: Subscriber): boolean {
    if (subscriber.eager) return false;
    // Its live queue holds exactly the events from its subscribe on, less those it took (its
    // history is what came before); with a store that delivers at the publish call, that is `behind`.
    if (this.under.exact) return this.behind(subscriber) > this.maxPending;
    if (subscriber.settledAt === undefined) return false;
    return this.published.length - this.liveFrom(subscriber) > this.maxPending;
  }

  // Checks -----------------------------------------------------------------------------------

  private checkPublished(): void {
    const ids = this.published.map((record) => record.id);
    expect(new Set(ids).size).toBe(ids.length);
    // The store orders its ids as it appended them (within one log: a forget may start another).
    for (let place = 1; place < ids.length; place++) {
      if (this.forgets.includes(place)) continue;
      expect({ place, order: Math.sign(this.store.compareIds(ids[place - 1]!, ids[place]!)) }).toEqual({
        place,
        order: -1,
      });
    }
  }

  private checkSubscriber(subscriber: Subscriber): void {
    const { label, received } = subscriber;
    expect({ label, failure: subscriber.failure }).toEqual({ label, failure: undefined });
    const reset = received[0] !== undefined && received[0].id === undefined;
    const events = (reset ? received.slice(1) : received) as TopicEvent<Payload>[];
    // Guarantee 2: a reset goes first, has no id, and names the id it could not resume from.
    if (reset)
      expect({ label, reset: received[0] }).toEqual({
        label,
        reset: { event: 'reset', data: { lastEventId: subscriber.after } },
      });
    // Guarantee 1: no gap, no duplicate, in order: a run of the topic's events, each as published.
    const start = events.length === 0 ? undefined : placeOf(events[0]!);
    const run = events.map((_event, i) => {
      const { id, data, event } = this.published[start! + i] ?? { data: 'beyond the last event published' };
      return { id, data, event };
    });
    expect({ label, events }).toEqual({ label, events: run });
    // It starts where its position says, or with a reset only where the position was lost.
    const starts = this.startsOf(subscriber);
    const fits =
      received.length === 0 ||
      starts.some(
        (expected) =>
          expected.reset === reset && (start === undefined || (expected.min <= start && start <= expected.max)),
      );
    if (!fits) {
      throw new Error(
        `${label} began with ${reset ? 'a reset, then ' : ''}${start === undefined ? 'no event' : `event ${start}`}; ` +
          `expected ${JSON.stringify(starts)} ` +
          `(read ${JSON.stringify(subscriber.read)}, forgets ${JSON.stringify(this.forgets)}).`,
      );
    }
    // Guarantee 3: it ended by itself only when more than maxPending events were waiting for it.
    if (subscriber.state === 'dropped') {
      expect({ label, behindMoreThanMaxPending: subscriber.behind! > this.maxPending }).toEqual({
        label,
        behindMoreThanMaxPending: true,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The properties.
// ---------------------------------------------------------------------------------------------

describe.each(stores)('createTopic(name, { store: %s() }) under random publishers and subscribers', (_name, store) => {
  const watcher = useProcessWatch();

  async function check(shape: ScenarioShape): Promise<void> {
    const other = createTopic('other', { store: store.create() });
    const foreignId = await other.publish('x');
    await fc.assert(
      fc.asyncProperty(scenario(shape, store), async (drawn) => {
        const run = new TopicRun(store, drawn, foreignId);
        try {
          for (const step of drawn.steps) {
            const running = run.apply(step);
            if (running !== undefined) await running;
          }
          await run.finish();
          run.check();
        } finally {
          run.close();
        }
      }),
      runs(RUNS),
    );
    expect(watcher.unhandled).toEqual([]);
    expect(watcher.logged).toEqual([]);
  }

  it(
    'gives each subscriber every event published after it subscribed, once and in order, and resuming from the last id it received continues with no gap',
    () =>
      check({
        history: fc.constant(undefined),
        maxPending: fc.constant(undefined),
        from: ['live', 'seen', 'start'],
        reads: 4,
        forget: false,
      }),
    PROPERTY_TIMEOUT,
  );

  it(
    'sends one reset first, with no id, for a position the topic cannot place (foreign, forgotten or trimmed), then every kept event, then the live ones',
    () =>
      check({
        history: fc.integer({ min: 1, max: 4 }),
        maxPending: fc.constant(undefined),
        from: ['live', 'seen', 'seen', 'start', 'foreign'],
        reads: 4,
        forget: true,
      }),
    PROPERTY_TIMEOUT,
  );

  it(
    'drops a subscriber more than maxPending events behind: it got a prefix with no gap, resuming continues it, and the others miss nothing',
    () =>
      check({
        history: fc.integer({ min: 1, max: 12 }),
        maxPending: fc.integer({ min: 1, max: 4 }),
        from: ['live', 'seen', 'start'],
        reads: 2,
        forget: false,
      }),
    PROPERTY_TIMEOUT,
  );
});
