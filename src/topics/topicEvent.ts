// Step: stored event → delivered event. What subscribers receive, its data decoded and its frame built once.
import { dataText, eventType, FramedEvent, formatEvent } from '../sse/encodeEvent.js';
import type { StoredEvent } from './topicStore.js';

/**
 * One event of a topic, as `topic.subscribe()` delivers it and `sse()` sends it (with its `id`,
 * which the browser sends back as `Last-Event-ID`).
 *
 * @example
 * import type { TopicEvent } from 'express-async-stream';
 * const event: TopicEvent<{ text: string }> = { id: '1700000000000-0', data: { text: 'hi' }, event: 'message' };
 */
export interface TopicEvent<T = unknown> {
  /** Its position in the topic: pass it as `subscribe({ after })` to resume after it. */
  readonly id: string;
  /** What was published: a string as it was, any other value as `JSON.parse(JSON.stringify(data))`. */
  readonly data: T;
  /** The SSE event type given to `publish`, or `undefined` (the browser's `message`). */
  readonly event?: string | undefined;
}

/**
 * The first event of a subscription that cannot resume exactly where it asked to (`after` is an id
 * of another topic, from before a restart of an in-process store, or older than the kept history):
 * every kept event follows, so a page should drop what it shows and rebuild from them. It has no
 * `id`, so the browser's last event id stays until the next event.
 *
 * @example
 * // In the browser:
 * // source.addEventListener('reset', () => list.replaceChildren());
 */
export interface TopicReset {
  /** Always `'reset'`, an event type `publish` refuses, so no published event is taken for one. */
  readonly event: 'reset';
  /** Where the subscriber asked to resume. */
  readonly data: {
    /** The id that could not be resumed from (the `after` given to `subscribe`). */
    readonly lastEventId: string;
  };
  /**
   * None, so the browser keeps its last event id until the next event. `event.id === undefined` tells
   * a reset from a {@link TopicEvent} (and narrows the type; `event.event === 'reset'` does not).
   */
  readonly id?: undefined;
}

/** The event type a topic keeps for its {@link TopicReset}; `publish` refuses it. */
export const RESET_EVENT = 'reset';

/** A stored event's fields checked and turned into their wire form: what a store appends. */
export function encodePublished(data: unknown, event: unknown): Omit<StoredEvent, 'id'> {
  const where = 'topic.publish()';
  if (event !== undefined && eventType(event, where) === RESET_EVENT) {
    throw new RangeError(
      `${where}: the event type 'reset' is kept for the reset event subscribers get when they cannot resume ` +
        'exactly. Name your event differently, e.g. { event: "restart" }.',
    );
  }
  return { event: event as string | undefined, text: dataText(data, where), json: typeof data !== 'string' };
}

/**
 * A stored event as subscribers see it. One object per event and process, shared by every
 * subscriber: its data is parsed once, and its text/event-stream frame built once (by the first
 * `sse()` stream that sends it), not once per subscriber.
 */
export class DeliveredEvent extends FramedEvent implements TopicEvent {
  readonly id: string;
  readonly data: unknown;
  readonly event: string | undefined;
  readonly #text: string;
  #frame: string | undefined;

  constructor(stored: StoredEvent) {
    super();
    this.id = stored.id;
    this.data = stored.json ? (JSON.parse(stored.text) as unknown) : stored.text;
    this.event = stored.event;
    this.#text = stored.text;
  }

  frame(): string {
    // The JSON text sent as a string is the same frame as the parsed value sent as JSON.
    return (this.#frame ??= formatEvent({ event: this.event, id: this.id, data: this.#text }, 'topic'));
  }

  /**
   * The events `queue[from]` (this one) onwards, as one run of frames of at most `maxLength`
   * characters, for a subscriber that has them waiting; `undefined` when only this one fits. A topic hands every
   * subscriber the same event objects in the same order, so a run is known by its first event,
   * its last and their count: the subscribers that have the same one waiting (all of them, after a
   * burst) share its text, built once.
   */
  runFrom(queue: readonly DeliveredEvent[], from: number, maxLength: number): EventRun | undefined {
    const cached = latestRun;
    if (cached?.first === this && queue[from + cached.count - 1] === cached.last && cached.length <= maxLength) {
      return cached;
    }
    let end = from + 1;
    let length = this.frame().length;
    while (end < queue.length && length + queue[end]!.frame().length <= maxLength) {
      length += queue[end++]!.frame().length;
    }
    if (end === from + 1) return undefined;
    const frames = new Array<string>(end - from);
    for (let i = from; i < end; i++) frames[i - from] = queue[i]!.frame();
    return (latestRun = new EventRun(this, queue[end - 1]!, end - from, frames.join('')));
  }
}

/**
 * The run built last. One is enough: the pumps of a topic's subscribers are woken one after the
 * other (topics/tickEnd.ts), so those with the same run take it in a row; and it bounds what runs
 * hold to one of them.
 */
let latestRun: EventRun | undefined;

/** Consecutive events of a topic as one text/event-stream text, shared by the subscribers that have them waiting. */
export class EventRun extends FramedEvent {
  constructor(
    /** Its first event. */
    readonly first: DeliveredEvent,
    /** Its last event. */
    readonly last: DeliveredEvent,
    /** How many events it holds. */
    readonly count: number,
    private readonly text: string,
  ) {
    super();
  }

  /** The length of its frames, in characters. */
  get length(): number {
    return this.text.length;
  }

  frame(): string {
    return this.text;
  }
}
