// The model of the topic properties: one run drives processes sharing a topic, then checks every subscriber's sequence.
import fc from 'fast-check';
import {
  createTopic,
  type Topic,
  type TopicEvent,
  type TopicReset,
  type TopicStore,
  type TopicSubscription,
} from '../../src/index.js';
import { runs } from '../helpers/fastCheck.js';
import { scenario, type From, type How, type Scenario, type ScenarioShape, type Step } from './topicScenario.js';

/** A store as the properties drive it: a row of a test file's table. */
export interface StoreUnderTest {
  /** The stores of one run: a fresh topic, and one store per process sharing it. */
  open(): Promise<RunStores>;
  /**
   * Whether the store appends and delivers at the publish call, keeps exactly `history` events and
   * has one process (memoryStore): the model then predicts each subscriber's first event exactly.
   * Otherwise (Redis: approximate trimming, deliveries that lag, several processes) it checks
   * bounds, from what the store held before and after each history read (`RunStores.inspect`).
   */
  readonly exact: boolean;
  /** Drops a topic's history while it has subscribers, for a store that can (memoryStore's `delete`). */
  readonly forget?: ((store: TopicStore, topic: string) => void) | undefined;
}

/** One run's stores, from {@link StoreUnderTest.open}. */
export interface RunStores {
  /** The topic's name: fresh for each run, so that runs sharing a server never meet. */
  readonly topic: string;
  /** One store per process; each process has a topic object of its own. */
  readonly stores: readonly TopicStore[];
  /** Resolves once every event appended so far has reached the listeners of `listening`. */
  settle(listening: readonly TopicStore[]): Promise<void>;
  /**
   * What the topic holds now, asked on process `on`'s connection: in order with that store's own
   * commands, so that an inspection sent before a history read is answered before it. Required
   * unless the store is exact.
   */
  readonly inspect?: ((on: number, id: string) => Promise<Held>) | undefined;
  /** Removes what the run left in the store. */
  dispose(): Promise<void>;
}

/** What a topic held at one moment. */
export interface Held {
  /** Whether it kept the event asked about. */
  readonly holds: boolean;
  /** Its oldest kept event, if any. */
  readonly oldest: string | undefined;
}

/** Resolves on the next turn of the event loop: what one in-process store needs to settle. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Runs `numRuns` scenarios of `shape` against `store`, each checked by the model. */
export async function checkTopicProperty(store: StoreUnderTest, shape: ScenarioShape, numRuns: number): Promise<void> {
  const foreignId = await publishElsewhere(store);
  await fc.assert(
    fc.asyncProperty(scenario(shape, store.forget !== undefined), async (drawn) => {
      const stores = await store.open();
      const run = new TopicRun(store, stores, drawn, foreignId);
      try {
        for (const step of drawn.steps) {
          const running = run.apply(step);
          if (running !== undefined) await running;
        }
        await run.finish();
        run.check();
      } finally {
        run.close();
        await stores.dispose();
      }
    }),
    runs(numRuns),
  );
}

/** An id of another topic (and, for memoryStore, another store): a position no run can place. */
async function publishElsewhere(store: StoreUnderTest): Promise<string> {
  const stores = await store.open();
  const other = createTopic(stores.topic, { store: stores.stores[0]! });
  try {
    return await other.publish('x');
  } finally {
    other.close();
    await stores.dispose();
  }
}

type Payload = string | { readonly n: number };
type Received = TopicEvent<Payload> | TopicReset;

/** One publish call; its index in `published` (`call`) is in its data. */
interface Published {
  readonly call: number;
  /** The process it was published from. */
  readonly on: number;
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
}

/** A process: its store, its topic object, and what its store delivered. */
interface Process extends Watched {
  readonly topic: Topic<Payload>;
}

/** What the test sees of a process's store. */
interface Watched {
  readonly on: number;
  readonly store: TopicStore;
  /** Store listeners not stopped. */
  listeners: number;
  /**
   * No event at or before this id can reach a subscriber that starts now: the last event its
   * listener delivered, or the last one stored before its listener started.
   */
  floor: string | undefined;
}

interface Subscriber {
  readonly label: string;
  readonly on: number;
  readonly iterator: TopicSubscription<Payload>;
  /** Its `after` (`''` is no position, as `undefined`). */
  readonly after: string | undefined;
  /** Publish calls before subscribe(): with an exact store, every event from this one on is owed to it. */
  readonly subscribedAt: number;
  /** Its process's floor when it subscribed: its live events come after it. */
  readonly floor: string | undefined;
  readonly controller: AbortController | undefined;
  readonly eager: boolean;
  read?: ReadSeen;
  /** Publish calls before its `ready` was seen to resolve: every event from this one on is owed to it. */
  readyAt?: number;
  /** What the topic held before its history read began, and after it was done (stores that are not exact). */
  heldBefore?: Held;
  heldAfter?: Held;
  /** Publish calls before the first settle after subscribe(): every event from there on is live. */
  settledAt?: number;
  readonly received: Received[];
  /** Call of the last event received, and its id (a browser's lastEventId). */
  last?: number;
  lastId?: string;
  /** Ended by the test, or seen ending by itself (dropped). */
  state: 'open' | 'ended' | 'dropped';
  /** How many events it was behind, at most, when seen dropped. */
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

/** The publish call of a received event, from its data. */
function callOf(event: TopicEvent<Payload>): number {
  return typeof event.data === 'string' ? Number(event.data.slice(1)) : event.data.n;
}

/**
 * One run: the processes, what was published, the subscribers and what they received. The topic's
 * order is the order of its ids: with one process, the order of the publish calls; with several,
 * known once every publish resolved, so while the run goes the model counts only what is sure.
 */
class TopicRun {
  private readonly published: Published[] = [];
  private readonly publishing: Promise<void>[] = [];
  /** Publishes, history reads, listeners starting and inspections not settled yet. */
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Every id the test has seen (from publish or a subscriber), with its publish call. */
  private readonly places = new Map<string, number>();
  /** Publish calls before each forget. */
  private readonly forgets: number[] = [];
  private readonly subscribers: Subscriber[] = [];
  /** Subscribers whose history read the store has not begun, in subscribe order. */
  private readonly awaitingRead: Subscriber[] = [];
  private readonly unmatchedReads: ReadSeen[] = [];
  private readonly processes: Process[];
  private readonly foreignIds: string[];
  private readonly history: number;
  private readonly maxPending: number;
  /** Publish calls whose events had reached every listener at the last settle. */
  private settledCalls = 0;
  /** The latest id that publish resolved. */
  private lastStored: string | undefined;

  constructor(
    private readonly under: StoreUnderTest,
    private readonly stores: RunStores,
    { history, maxPending }: Scenario,
    foreignId: string,
  ) {
    if (under.exact && stores.stores.length !== 1) throw new Error('An exact store has one process.');
    this.processes = stores.stores.map((store, on) => {
      const watched: Watched = { on, store, listeners: 0, floor: undefined };
      const topic = createTopic<Payload>(stores.topic, { store: this.observe(watched), history, maxPending });
      return Object.assign(watched, { topic });
    });
    this.history = history ?? 1_000;
    this.maxPending = maxPending ?? 1_000;
    this.foreignIds = [foreignId, '1700000000000-0', 'not-an-id'];
  }

  /** Runs a step; at once when it can, so that the steps up to the next await share one tick. */
  apply(step: Step): Promise<unknown> | undefined {
    switch (step.step) {
      case 'publish':
        return this.publish(this.process(step.on), step.count, step.awaited);
      case 'subscribe':
        return this.subscribe(this.process(step.on), this.afterFor(step.from, step.pick), step.eager, step.signal);
      case 'read':
        return this.read(this.pick(step.who), step.count);
      case 'end':
        return this.end(this.pick(step.who), step.how);
      case 'resume':
        return this.resume(this.pick(step.who), step.how, step.eager, this.process(step.on));
      case 'tick':
        return step.turn === 'microtask' ? Promise.resolve() : this.settle();
      case 'forget':
        this.forgets.push(this.published.length);
        this.under.forget!(this.processes[0]!.store, this.stores.topic);
        return undefined;
    }
  }

  /** Lets everything in flight complete, reads each subscriber to the end, ends it, and sees it yield no more. */
  async finish(): Promise<void> {
    await Promise.all(this.publishing);
    await this.settle();
    for (const subscriber of this.subscribers) {
      if (!subscriber.eager) await this.readToEnd(subscriber);
    }
    for (const subscriber of this.subscribers) {
      if (subscriber.state === 'open' && this.owed(subscriber) > 0) {
        throw new Error(`${subscriber.label} is ${this.owed(subscriber)} values short once the store settled.`);
      }
      if (subscriber.state === 'open') this.endSubscriber(subscriber, 'return');
      if (!subscriber.eager) await this.expectEnded(subscriber, `it ${subscriber.state}`);
    }
    for (const subscriber of this.subscribers) await subscriber.reading;
    // History reads and inspections of subscriptions that ended before them.
    await this.quiesce();
  }

  /** Guarantees 1, 2 and 3 on what every subscriber received, and the topic left with none. */
  check(): void {
    expect(this.subscriberCount()).toBe(0);
    // Nothing outlives the last subscriber: the store delivers to no one.
    expect(this.processes.map((process) => process.listeners)).toEqual(this.processes.map(() => 0));
    // Each subscriber with a position read the history after it once; none read it without one.
    expect(this.awaitingRead.map((subscriber) => subscriber.label)).toEqual([]);
    expect(this.unmatchedReads).toEqual([]);
    this.checkPublished();
    // The topic's order: an exact store's is the order of the publish calls (and its ids restart
    // when a forget drops a topic nobody listens to); any other's, the order of the ids.
    const order = this.under.exact ? this.published : [...this.published].sort((a, b) => this.compare(a.id!, b.id!));
    const placeOfCall: number[] = [];
    order.forEach((record, place) => (placeOfCall[record.call] = place));
    for (const subscriber of this.subscribers) this.checkSubscriber(subscriber, order, placeOfCall);
  }

  close(): void {
    for (const process of this.processes) process.topic.close();
  }

  // Steps ------------------------------------------------------------------------------------

  private publish(process: Process, count: number, awaited: boolean): Promise<unknown> | undefined {
    const burst: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const call = this.published.length;
      const record: Published = {
        call,
        on: process.on,
        data: call % 2 === 0 ? { n: call } : `e${call}`,
        event: call % 3 === 0 ? 'tick' : undefined,
      };
      this.published.push(record);
      const published = process.topic.publish(record.data, { event: record.event }).then((id) => {
        record.id = id;
        this.places.set(id, call);
        this.lastStored = this.later(this.lastStored, id);
      });
      this.track(published);
      burst.push(published);
      this.publishing.push(published);
    }
    return awaited ? Promise.all(burst) : undefined;
  }

  private subscribe(
    process: Process,
    after: string | undefined,
    eager: boolean,
    signal: 'none' | 'controller' | 'aborted',
  ): undefined {
    const controller = signal === 'none' ? undefined : new AbortController();
    if (signal === 'aborted') controller!.abort();
    const before = process.topic.subscriberCount;
    const iterator = process.topic.subscribe({ after, signal: controller?.signal });
    const position = after === '' ? undefined : after;
    // Asked now, on the connection its store reads with: answered before its history read.
    const heldBefore = position === undefined || signal === 'aborted' ? undefined : this.inspect(process, position);
    const subscriber: Subscriber = {
      label:
        `subscriber ${this.subscribers.length} of process ${process.on} (after ${JSON.stringify(after)}, ` +
        `${eager ? 'eager' : 'read by steps'}, subscribed after ${this.published.length} publishes)`,
      on: process.on,
      iterator,
      after: position,
      subscribedAt: this.published.length,
      floor: process.floor,
      controller,
      eager,
      received: [],
      state: signal === 'aborted' ? 'ended' : 'open',
    };
    this.subscribers.push(subscriber);
    if (signal === 'aborted') {
      // Already aborted: it ends at once (finish() checks that it yields nothing), and the topic never counts it.
      expect(process.topic.subscriberCount).toBe(before);
      return undefined;
    }
    if (heldBefore !== undefined) this.track(heldBefore.then((held) => (subscriber.heldBefore = held)));
    this.track(iterator.ready.then(() => this.becameReady(subscriber, process)));
    if (position !== undefined) this.awaitingRead.push(subscriber);
    if (eager) subscriber.reading = this.readEagerly(subscriber);
    return undefined;
  }

  private becameReady(subscriber: Subscriber, process: Process): void {
    subscriber.readyAt ??= this.published.length;
    const heldAfter = subscriber.after === undefined ? undefined : this.inspect(process, subscriber.after);
    if (heldAfter !== undefined) this.track(heldAfter.then((held) => (subscriber.heldAfter = held)));
  }

  private read(subscriber: Subscriber | undefined, count: number): Promise<void> | undefined {
    if (subscriber === undefined || subscriber.eager) return undefined;
    if (subscriber.state !== 'open') return this.expectEnded(subscriber, `it ${subscriber.state}`);
    if (this.mustBeDropped(subscriber)) {
      const behind = this.behind(subscriber);
      subscriber.state = 'dropped';
      subscriber.behind = behind;
      return this.expectEnded(subscriber, `more than maxPending (${this.maxPending}) live events wait for it`);
    }
    const owed = Math.min(count, this.owed(subscriber));
    return owed === 0 ? undefined : this.takeSome(subscriber, owed);
  }

  private end(subscriber: Subscriber | undefined, how: How): undefined {
    if (subscriber?.state === 'open') this.endSubscriber(subscriber, how);
    return undefined;
  }

  private resume(subscriber: Subscriber | undefined, how: How, eager: boolean, process: Process): undefined {
    if (subscriber === undefined) return undefined;
    if (subscriber.state === 'open') this.endSubscriber(subscriber, how);
    // A reset has no id: a browser keeps the Last-Event-ID it had.
    return this.subscribe(process, subscriber.lastId ?? subscriber.after, eager, 'controller');
  }

  private async settle(): Promise<void> {
    await this.quiesce();
    this.settledCalls = this.published.length;
    for (const subscriber of this.subscribers) subscriber.settledAt ??= this.published.length;
    // Guarantee 3: the topic holds exactly the subscribers that neither ended nor fell too far behind.
    const open = this.subscribers.filter((subscriber) => subscriber.state === 'open');
    const atMost = open.filter((subscriber) => !this.mustBeDropped(subscriber)).length;
    const atLeast = open.filter((subscriber) => this.behind(subscriber) <= this.maxPending).length;
    expect(this.subscriberCount()).toBeLessThanOrEqual(atMost);
    expect(this.subscriberCount()).toBeGreaterThanOrEqual(atLeast);
  }

  /**
   * Waits until nothing is in flight (publishes, listeners starting, history reads, inspections),
   * then until the store has delivered every event to every listener.
   */
  private async quiesce(): Promise<void> {
    while (this.inFlight.size > 0) {
      await Promise.allSettled(this.inFlight);
      // A history read begins once its listener is ready, an inspection once its subscriber is.
      await nextTurn();
    }
    const listening = this.processes.filter((process) => process.listeners > 0);
    await this.stores.settle(listening.map((process) => process.store));
    await nextTurn();
  }

  private endSubscriber(subscriber: Subscriber, how: How): void {
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

  /** Takes values until none comes once the store settled: those it is owed, and those it may get. */
  private async readToEnd(subscriber: Subscriber): Promise<void> {
    while (subscriber.state === 'open') {
      const step = await this.nextOrStall(subscriber);
      if (step === STALLED) return;
      if (step.done === true) this.sawEnd(subscriber);
      else this.receive(subscriber, step.value);
    }
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

  /**
   * next(), or STALLED when the store settled and nothing came: an owed value that never comes
   * fails, not hangs. A value already there is taken without settling the store.
   */
  private async nextOrStall(subscriber: Subscriber): Promise<IteratorResult<Received> | typeof STALLED> {
    const next = subscriber.iterator.next();
    const soon = await Promise.race([next, nextTurn().then((): typeof STALLED => STALLED)]);
    if (soon !== STALLED) return soon;
    const settled = this.quiesce();
    const step = await Promise.race([next, settled.then(nextTurn).then((): typeof STALLED => STALLED)]);
    // Nothing of the settling goes on behind the next step.
    await settled;
    return step;
  }

  private receive(subscriber: Subscriber, value: Received): void {
    subscriber.received.push(value);
    if (value.id === undefined) return;
    subscriber.last = callOf(value);
    subscriber.lastId = value.id;
    this.places.set(value.id, subscriber.last);
  }

  private sawEnd(subscriber: Subscriber): void {
    if (subscriber.state !== 'open') return;
    subscriber.state = 'dropped';
    subscriber.behind = this.behind(subscriber);
  }

  // Watching the store -----------------------------------------------------------------------

  /** Wraps a process's store to see when each history read begins, what it delivers, and which listeners are left. */
  private observe(process: Watched): TopicStore {
    const { store } = process;
    return {
      append: (topic, event, history) => store.append(topic, event, history),
      listen: (topic, deliver) => {
        // A listener starts after what the store holds: at the latest, after what publish resolved.
        process.floor = this.later(process.floor, this.lastStored);
        const listener = store.listen(topic, (event) => {
          process.floor = this.later(process.floor, event.id);
          deliver(event);
        });
        this.track(listener.ready);
        let listening = true;
        process.listeners++;
        const stop = (): void => {
          if (listening) process.listeners--;
          listening = false;
          listener.stop();
        };
        return { ready: listener.ready, stop };
      },
      compareIds: (a, b) => store.compareIds(a, b),
      readAfter: (topic, after) => {
        const read: ReadSeen = { after, calledAt: this.published.length, forgets: this.forgets.length };
        // A process's reads begin in subscribe order (each waits for the same listener): the first awaiting one with this `after`.
        const index = this.awaitingRead.findIndex(
          (subscriber) => subscriber.on === process.on && subscriber.after === after,
        );
        if (index === -1) this.unmatchedReads.push(read);
        else this.awaitingRead.splice(index, 1)[0]!.read = read;
        const reading = store.readAfter(topic, after);
        this.track(reading);
        return reading;
      },
    };
  }

  /** Counts `promise` as in flight until it settles. Its failure is for whoever awaits it. */
  private track(promise: Promise<unknown>): void {
    this.inFlight.add(promise);
    const settled = (): boolean => this.inFlight.delete(promise);
    promise.then(settled, settled);
  }

  private inspect(process: Process, id: string): Promise<Held> | undefined {
    return this.stores.inspect?.(process.on, id);
  }

  // The model --------------------------------------------------------------------------------

  private process(on: number): Process {
    return this.processes[on % this.processes.length]!;
  }

  private pick(who: number): Subscriber | undefined {
    return this.subscribers[who % Math.max(1, this.subscribers.length)];
  }

  private subscriberCount(): number {
    return this.processes.reduce((sum, process) => sum + process.topic.subscriberCount, 0);
  }

  private readonly compare = (a: string, b: string): number => this.processes[0]!.store.compareIds(a, b);

  private later(a: string | undefined, b: string | undefined): string | undefined {
    if (a === undefined || b === undefined) return a ?? b;
    return this.compare(a, b) < 0 ? b : a;
  }

  private afterFor(from: From, pick: number): string | undefined {
    if (from === 'start') return START;
    if (from === 'foreign') return this.foreignIds[pick % this.foreignIds.length];
    // Recent ids first (fast-check draws small numbers more often): the edge of the kept history.
    const seen = [...this.places.keys()].sort((a, b) => this.compare(b, a));
    if (from === 'seen' && seen.length > 0) return seen[pick % seen.length];
    return pick % 2 === 0 ? undefined : '';
  }

  /** Ids publish resolved, after `id` (and `id` itself when `orAt`). */
  private storedAfter(id: string, orAt = false): number {
    return this.published.filter((record) => {
      if (record.id === undefined) return false;
      const order = this.compare(record.id, id);
      return order > 0 || (orAt && order === 0);
    }).length;
  }

  /** Values the subscriber will yield for sure (unless dropped): every event from its latest possible start on. */
  private owed(subscriber: Subscriber): number {
    if (this.under.exact) {
      const starts = this.exactStarts(subscriber);
      const next = subscriber.last === undefined ? Math.max(...starts.map((start) => start.max)) : subscriber.last + 1;
      const reset = subscriber.received.length === 0 && starts.every((start) => start.reset);
      return Math.max(0, this.published.length - next) + (reset ? 1 : 0);
    }
    // Whatever it received, its sequence is a run of the topic's order to its end.
    if (subscriber.lastId !== undefined) return this.storedAfter(subscriber.lastId);
    const reset = subscriber.received.length === 0 && this.mustReset(subscriber) ? 1 : 0;
    const { after, readyAt } = subscriber;
    // Resumed for sure (its position still kept after its read): every event after it.
    if (after !== undefined && this.places.has(after) && subscriber.heldAfter?.holds === true) {
      return this.storedAfter(after);
    }
    // Otherwise: from the first event published after its ready, or the oldest kept after its read.
    const anchors = this.published.flatMap((record) =>
      readyAt !== undefined && record.call >= readyAt && record.id !== undefined ? [record.id] : [],
    );
    const oldest = subscriber.heldAfter?.oldest;
    if (after !== undefined && oldest !== undefined) anchors.push(oldest);
    const anchor = anchors.reduce<string | undefined>(
      (a, b) => (a === undefined || this.compare(b, a) < 0 ? b : a),
      undefined,
    );
    return reset + (anchor === undefined ? 0 : this.storedAfter(anchor, true));
  }

  /** With a store that is not exact: whether its position is surely lost (another topic's, or gone before its read). */
  private mustReset(subscriber: Subscriber): boolean {
    const { after } = subscriber;
    if (after === undefined || after === START) return false;
    return !this.places.has(after) || subscriber.heldBefore?.holds === false;
  }

  /** How many events could be waiting for it, at most: what it has not read, of what it got live. */
  private behind(subscriber: Subscriber): number {
    if (this.under.exact) {
      const next = subscriber.last === undefined ? 0 : subscriber.last + 1;
      return this.published.length - Math.max(next, subscriber.subscribedAt);
    }
    // Its live events come after its floor; those it took, up to its last id. Any event not stored yet may wait.
    const read = this.later(subscriber.floor, subscriber.lastId);
    if (read === undefined) return this.published.length;
    const stored = this.published.filter((record) => record.id !== undefined).length;
    return this.published.length - (stored - this.storedAfter(read));
  }

  /** More than maxPending events are sure to wait for it: it must have been dropped. */
  private mustBeDropped(subscriber: Subscriber): boolean {
    if (subscriber.eager) return false;
    // Its live queue holds exactly the events from its subscribe on, less those it took (its
    // history is what came before); with a store that delivers at the publish call, that is `behind`.
    if (this.under.exact) return this.behind(subscriber) > this.maxPending;
    const { settledAt, lastId } = subscriber;
    if (settledAt === undefined) return false;
    // Published after its history read, and delivered by the last settle: in its live queue, unless taken.
    const waiting = this.published.filter(
      (record) =>
        record.call >= settledAt &&
        record.call < this.settledCalls &&
        (lastId === undefined || this.compare(record.id!, lastId) > 0),
    );
    return waiting.length > this.maxPending;
  }

  /**
   * With an exact store, where a subscriber starts, in publish calls. With no position: at the
   * first event published after it subscribed. At a kept position (or the one before the oldest
   * kept): right after it. Otherwise a reset, then the kept events, or the live ones from its
   * subscribe when a burst published during its history read trimmed those.
   */
  private exactStarts(subscriber: Subscriber): Start[] {
    const { after, read, subscribedAt: live } = subscriber;
    if (after === undefined) return [{ reset: false, min: live, max: live }];
    if (read === undefined) return [false, true].map((reset) => ({ reset, min: 0, max: live }));
    const forgotten = this.forgets[read.forgets - 1] ?? 0;
    const oldestKept = Math.max(forgotten, read.calledAt - this.history);
    const fromKept = Math.min(oldestKept, live);
    if (after === START) return [{ reset: false, min: fromKept, max: fromKept }];
    const reset = { reset: true, min: fromKept, max: fromKept };
    const place = this.places.get(after);
    if (place === undefined || place < forgotten) return [reset];
    return place + 1 >= oldestKept ? [{ reset: false, min: place + 1, max: place + 1 }] : [reset];
  }

  /**
   * With a store that is not exact, where a subscriber starts, in places of the topic's order.
   * Its live events come after its floor, and include every one published after its ready. Its
   * kept events start at the oldest kept during its read: at or after the oldest kept before, at or
   * before the oldest kept after. Its position, kept before its read, resumes exactly; gone after
   * it, resets; in between (trimmed meanwhile), either.
   */
  private boundedStarts(
    subscriber: Subscriber,
    placeOf: (id: string | undefined, otherwise: number) => number,
  ): Start[] {
    const end = this.published.length;
    const { after, readyAt, heldBefore, heldAfter } = subscriber;
    const owed = this.published.filter((record) => readyAt !== undefined && record.call >= readyAt);
    const latest = Math.min(end, ...owed.map((record) => placeOf(record.id, end)));
    const afterFloor = placeOf(subscriber.floor, -1) + 1;
    if (after === undefined) return [{ reset: false, min: afterFloor, max: latest }];
    const kept = {
      min: Math.min(afterFloor, placeOf(heldBefore?.oldest, 0)),
      max: Math.min(latest, placeOf(heldAfter?.oldest, end)),
    };
    if (after === START) return [{ reset: false, ...kept }];
    if (!this.places.has(after)) return [{ reset: true, ...kept }];
    const place = placeOf(after, end);
    const starts: Start[] = [];
    if (heldBefore?.holds !== false) starts.push({ reset: false, min: place + 1, max: place + 1 });
    if (heldAfter?.holds !== true) {
      // Gone at its read: the kept events are all after it (its live ones may not be).
      const min = Math.min(afterFloor, Math.max(place + 1, placeOf(heldBefore?.oldest, 0)));
      starts.push({ reset: true, min, max: kept.max });
    }
    return starts;
  }

  // Checks -----------------------------------------------------------------------------------

  private checkPublished(): void {
    const ids = this.published.map((record) => record.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Each process's events are in the topic in the order it published them (a forget may start another log).
    for (const process of this.processes) {
      const own = this.published.filter((record) => record.on === process.on);
      for (let i = 1; i < own.length; i++) {
        const [before, after] = [own[i - 1]!, own[i]!];
        if (this.forgets.some((forget) => before.call < forget && forget <= after.call)) continue;
        expect({ call: after.call, order: Math.sign(this.compare(before.id!, after.id!)) }).toEqual({
          call: after.call,
          order: -1,
        });
      }
    }
  }

  private checkSubscriber(subscriber: Subscriber, order: readonly Published[], placeOfCall: readonly number[]): void {
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
    const start = events.length === 0 ? undefined : placeOfCall[callOf(events[0]!)];
    const run = events.map((_event, i) => {
      const { id, data, event } = order[start! + i] ?? { data: 'beyond the last event published' };
      return { id, data, event };
    });
    expect({ label, events }).toEqual({ label, events: run });
    // It starts where its position says, or with a reset only where the position was lost.
    const placeOf = (id: string | undefined, otherwise: number): number =>
      id === undefined ? otherwise : placeOfCall[this.places.get(id)!]!;
    const starts = this.under.exact ? this.exactStarts(subscriber) : this.boundedStarts(subscriber, placeOf);
    const fits =
      received.length === 0 ||
      starts.some(
        (expected) =>
          expected.reset === reset && (start === undefined || (expected.min <= start && start <= expected.max)),
      );
    if (!fits) {
      const { read, readyAt, floor, heldBefore, heldAfter } = subscriber;
      throw new Error(
        `${label} began with ${reset ? 'a reset, then ' : ''}${start === undefined ? 'no event' : `event ${start}`}; ` +
          `expected ${JSON.stringify(starts)} ` +
          `(read ${JSON.stringify({ read, readyAt, floor, heldBefore, heldAfter })}, forgets ${JSON.stringify(this.forgets)}).`,
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
