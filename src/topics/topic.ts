// Step: the topic. Publish to the store; fan each new event out, decoded once, to this process's subscribers.
import { describeValue, resolveOptions, type OptionRule, type OptionTable } from '../arguments.js';
import { getContext, RequestContext } from '../context.js';
import { AsyncStreamError } from '../errors.js';
import { warn } from '../warn.js';
import { memoryStore } from './memoryStore.js';
import { Subscription, type Stopper, type SubscriptionHost } from './subscription.js';
import { DeliveredEvent, encodePublished, type TopicEvent, type TopicReset } from './topicEvent.js';
import type { StoredEvent, StoreListener, TopicStore } from './topicStore.js';

/**
 * Options of {@link createTopic}.
 *
 * @example
 * import { createTopic, type TopicOptions } from 'express-async-stream';
 * const options: TopicOptions = { history: 500, maxPending: 200 };
 * const chat = createTopic('chat', options);
 */
export interface TopicOptions {
  /**
   * How many of the latest events the store keeps for subscribers that resume (`after`): a browser
   * that was away for fewer events than this catches up exactly; one away for longer gets a `reset`
   * event, then the kept ones. A positive integer. `redisStore` trims approximately
   * (`XADD … MAXLEN ~`), so it may keep a few more.
   *
   * @default 1_000
   */
  readonly history?: number | undefined;
  /**
   * Where the events live: `memoryStore()` (this process) or `redisStore(client)` (from
   * `express-async-stream/redis`: every process that uses the same Redis).
   *
   * @default one `memoryStore()` shared by every topic of this process
   */
  readonly store?: TopicStore | undefined;
  /**
   * How many events one subscriber may have waiting (its client reads slower than events come)
   * before it is dropped: its subscription ends, its `sse()` stream ends, and the browser
   * reconnects with `Last-Event-ID` and catches up from history. Bounds the memory one slow client
   * can hold. A positive integer.
   *
   * @default 1_000
   */
  readonly maxPending?: number | undefined;
}

/**
 * Options of {@link Topic.publish}.
 *
 * @example
 * await chat.publish({ user: 'ada', text: 'hi' }, { event: 'message' });
 */
export interface PublishOptions {
  /** The SSE event type (`addEventListener(event, …)` in the browser); `'reset'` is kept for the topic's own. */
  readonly event?: string | undefined;
}

/**
 * Options of {@link Topic.subscribe}.
 *
 * @example
 * app.get('/chat/events', sse((req) => chat.subscribe({ after: lastEventId(req) })));
 */
export interface SubscribeOptions {
  /**
   * Resume after this event id (the browser's `Last-Event-ID`): every kept event after it, then
   * live ones, none missed and none twice. `'0'` starts with every kept event. An id the topic
   * cannot place (another topic's, from before a restart of an in-process store, older than the
   * history) gives a `reset` event first. `undefined` or `''`: live events only.
   */
  readonly after?: string | undefined;
  /**
   * Ends the subscription when it aborts.
   *
   * @default `currentSignal()` inside a request handled by this package; none elsewhere
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * What {@link Topic.subscribe} returns: the events, as an async iterable `sse()` sends as it is.
 *
 * @example
 * const subscription = chat.subscribe({ after: '0' });
 * await subscription.ready; // every event published from now on is delivered
 * for await (const event of subscription) console.log(event.id, event.data);
 */
export interface TopicSubscription<T = unknown> extends AsyncIterableIterator<TopicEvent<T> | TopicReset> {
  /**
   * Resolves once the subscription is live: its place in the topic is fixed (on Redis, one round
   * trip) and the history after `after` read, so every event published from then on is delivered.
   * Events published earlier, between `subscribe()` and this, may be delivered too. Rejects when the
   * store cannot be read; `next()` then rejects as well. `sse()` sends its headers once it settles,
   * so a browser's `open` event means nothing published later is missed (after a failure, the
   * stream breaks at once and the browser reconnects).
   */
  readonly ready: Promise<void>;
}

/**
 * A named feed of events with ids: what one part of an app publishes, every subscriber (in this
 * process or, with `redisStore`, any process) receives in the same order. Made by {@link createTopic}.
 */
export interface Topic<T = unknown> {
  /** The topic's name. */
  readonly name: string;
  /** How many subscriptions of this topic object are open in this process. */
  readonly subscriberCount: number;
  /**
   * Appends an event; resolves its id once the store holds it.
   *
   * @param data - a string (sent as it is) or a JSON-serialisable value (sent as JSON).
   * @throws TypeError or RangeError at once for data or an event type that cannot be sent; the
   *   promise rejects when the store cannot take it (Redis unreachable) or the topic is closed.
   */
  publish(data: T, options?: PublishOptions): Promise<string>;
  /**
   * Subscribes: the events published from now on (and, with `after`, the kept ones after it), in
   * order, as an async iterable that `sse()` sends as it is. It ends when `options.signal` aborts,
   * when the loop over it stops, when the subscriber falls `maxPending` events behind, or when the
   * topic closes.
   *
   * @throws TypeError for bad options; AsyncStreamError once the topic is closed.
   */
  subscribe(options?: SubscribeOptions): TopicSubscription<T>;
  /** Ends every subscription of this topic object and stops listening to the store; `publish` then rejects. Idempotent. */
  close(): void;
}

const positiveInteger: OptionRule<number> = {
  default: 1_000,
  check(value, label) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new (typeof value === 'number' ? RangeError : TypeError)(
        `${label} must be a positive integer, but received ${describeValue(value)}.`,
      );
    }
    return value;
  },
};

const STORE_METHODS = ['append', 'readAfter', 'listen', 'compareIds'] as const;

const storeOption: OptionRule<TopicStore | undefined> = {
  default: undefined,
  check(value, label) {
    const store = value as Partial<TopicStore> | null;
    if (
      typeof store !== 'object' ||
      store === null ||
      STORE_METHODS.some((name) => typeof store[name] !== 'function')
    ) {
      throw new TypeError(
        `${label} must be a topic store, but received ${describeValue(value)}. ` +
          "Use memoryStore(), or redisStore(client) from 'express-async-stream/redis'.",
      );
    }
    return value as TopicStore;
  },
};

const topicOptionTable = {
  history: positiveInteger,
  maxPending: positiveInteger,
  store: storeOption,
} satisfies OptionTable<TopicOptions>;

const publishOptionTable = {
  event: { default: undefined, check: (value: unknown) => value },
} satisfies OptionTable<PublishOptions>;

const subscribeOptionTable = {
  after: {
    default: undefined as string | undefined,
    check(value, label) {
      if (typeof value !== 'string') {
        throw new TypeError(
          `${label} must be an event id (a string, e.g. lastEventId(req)), but received ${describeValue(value)}.`,
        );
      }
      return value;
    },
  },
  signal: {
    default: undefined as AbortSignal | undefined,
    check(value, label) {
      if (!(value instanceof AbortSignal)) {
        throw new TypeError(`${label} must be an AbortSignal, but received ${describeValue(value)}.`);
      }
      return value;
    },
  },
} satisfies OptionTable<SubscribeOptions>;

let defaultStore: TopicStore | undefined;

/**
 * What ends a subscription made inside a request when no signal is given: the request's context,
 * watched directly (as `currentSignal()` would be, without the controller it creates per request).
 */
function contextStopper(): Stopper | undefined {
  const context = getContext();
  return context instanceof RequestContext ? context : context?.signal;
}

/** Topic names: what fits in a key and a URL path without surprises; up to 200 characters. */
const TOPIC_NAME = /^[\p{L}\p{N}_.:@/+=-]{1,200}$/u;

/**
 * Creates (or, for a name already in use in the store, joins) a topic: ordered events with ids,
 * the last `history` of them kept so that a reconnecting browser resumes exactly where it left off.
 *
 * @param name - 1 to 200 letters, digits and `_ . : @ / + = -`, e.g. `chat`, `user:42`, `answer/7f3a`.
 * @param options - see {@link TopicOptions}.
 * @throws TypeError or RangeError for a bad name or option.
 * @example
 * import express from 'express';
 * import { createTopic, lastEventId, sse } from 'express-async-stream';
 * const chat = createTopic<{ user: string; text: string }>('chat');
 * const app = express();
 * app.get('/chat/events', sse((req) => chat.subscribe({ after: lastEventId(req) })));
 * app.post('/chat', express.json(), async (req, res) => {
 *   res.json({ id: await chat.publish({ user: req.body.user, text: req.body.text }) });
 * });
 */
export function createTopic<T = unknown>(name: string, options: TopicOptions = {}): Topic<T> {
  if (typeof name !== 'string' || !TOPIC_NAME.test(name)) {
    throw new (typeof name === 'string' ? RangeError : TypeError)(
      `createTopic(name): the name must be 1 to 200 letters, digits and _ . : @ / + = -, but received ` +
        `${describeValue(name)}. E.g. createTopic('chat') or createTopic(\`user:\${id}\`).`,
    );
  }
  const { history, maxPending, store } = resolveOptions(
    'createTopic(name, options)',
    options,
    topicOptionTable,
    "createTopic('chat', { history: 500 })",
  );
  return new LocalTopic<T>(name, store ?? (defaultStore ??= memoryStore()), history, maxPending);
}

class LocalTopic<T> implements Topic<T>, SubscriptionHost {
  private readonly subscriptions = new Set<Subscription>();
  private listener: StoreListener | undefined;
  private closed = false;

  constructor(
    readonly name: string,
    private readonly store: TopicStore,
    private readonly history: number,
    private readonly maxPending: number,
  ) {}

  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  publish(data: T, options: PublishOptions = {}): Promise<string> {
    const { event } = resolveOptions('topic.publish(data, options)', options, publishOptionTable, "{ event: 'chat' }");
    const encoded = encodePublished(data, event);
    if (this.closed) return Promise.reject(this.closedError('publish'));
    return this.store.append(this.name, encoded, this.history);
  }

  subscribe(options: SubscribeOptions = {}): TopicSubscription<T> {
    const { after, signal } = resolveOptions(
      'topic.subscribe(options)',
      options,
      subscribeOptionTable,
      '{ after: lastEventId(req) }',
    );
    if (this.closed) throw this.closedError('subscribe');
    const subscription = new Subscription(this, this.maxPending, signal ?? contextStopper());
    if (subscription.isEnded) return subscription as TopicSubscription<T>;
    this.subscriptions.add(subscription);
    const listener = (this.listener ??= this.listen());
    void this.begin(subscription, listener, after === '' ? undefined : after);
    return subscription as TopicSubscription<T>;
  }

  close(): void {
    this.closed = true;
    for (const subscription of this.subscriptions) subscription.end();
  }

  readonly compareIds = (a: string, b: string): number => this.store.compareIds(a, b);

  remove(subscription: Subscription): void {
    this.subscriptions.delete(subscription);
    if (this.subscriptions.size > 0 || this.listener === undefined) return;
    // Nothing outlives the last subscriber: the store stops delivering (Redis: the key leaves the reader).
    this.listener.stop();
    this.listener = undefined;
  }

  private listen(): StoreListener {
    const listener: StoreListener = this.store.listen(
      this.name,
      this.fanOut,
      (error) => this.lose(listener, error),
      this.history,
    );
    return listener;
  }

  /**
   * The store stopped delivering: every subscription ends (a gap: its client resumes from history)
   * or fails (an error), and the next subscriber listens again.
   */
  private lose(listener: StoreListener, error: unknown): void {
    if (this.listener !== listener) return;
    this.listener = undefined;
    listener.stop();
    for (const subscription of this.subscriptions) {
      if (error === undefined) subscription.end();
      else subscription.fail(error);
    }
  }

  /** Waits for the store to deliver, then reads the history after `after`, then lets the subscription go. */
  private async begin(subscription: Subscription, listener: StoreListener, after: string | undefined): Promise<void> {
    try {
      await listener.ready;
    } catch (error) {
      // A store that could not start listening is asked again by the next subscriber.
      if (this.listener === listener) {
        listener.stop();
        this.listener = undefined;
      }
      subscription.fail(error);
      return;
    }
    try {
      const read = after === undefined ? undefined : await this.store.readAfter(this.name, after);
      subscription.start(
        read && { exact: read.exact, events: read.events.flatMap((stored) => this.decode(stored) ?? []) },
        after,
      );
    } catch (error) {
      // This subscriber's history only: the listener delivers to the others, who are live already.
      subscription.fail(error);
    }
  }

  /**
   * One object per event, shared by every subscriber of this process: decoded and framed once.
   * `undefined`, with a warning, for an entry whose JSON does not parse (another writer's, in a
   * shared store): skipped alike in history and live, so that it cannot fail every resume.
   */
  private readonly decode = (stored: StoredEvent): DeliveredEvent | undefined => {
    try {
      return new DeliveredEvent(stored);
    } catch (error) {
      warn(
        'createTopic()',
        `the event ${stored.id} of topic '${this.name}' could not be decoded, so it was skipped: ${String(error)}`,
      );
      return undefined;
    }
  };

  private readonly fanOut = (stored: StoredEvent): void => {
    const event = this.decode(stored);
    if (event === undefined) return;
    for (const subscription of this.subscriptions) subscription.deliver(event);
  };

  private closedError(call: string): AsyncStreamError {
    return new AsyncStreamError(
      `topic.${call}(): the topic '${this.name}' is closed. Create it again with createTopic('${this.name}').`,
    );
  }
}
