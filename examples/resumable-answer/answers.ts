// Answers being generated: each one's tokens go to its own topic, whether or not anyone follows it.
import { randomUUID } from 'node:crypto';
import { createTopic, type Topic, type TopicEvent, type TopicReset } from 'express-async-stream';
// No '.js' here: ts-node, which runs this example, does not map it to the '.ts' file in CommonJS.
import type { ForgettingStore } from '../shared/topicStore';
import type { Model } from './fakeModel';

/** The last event of every answer: `complete` is false when the model failed part way. */
export const DONE = 'done';
/** The first event of every answer, published before its id is handed out. */
export const QUESTION = 'question';

/** What happened to an answer, as `onAnswer` hears it. */
export interface AnswerChange {
  readonly id: string;
  /** `finished`: its `done` event is published; `freed`: its events are deleted from the store. */
  readonly state: 'finished' | 'freed';
  /** Tokens published. */
  readonly tokens: number;
  /** False when the model failed part way (the `done` event says so too). */
  readonly complete: boolean;
}

/** How an answer ended. */
type AnswerEnd = Pick<AnswerChange, 'tokens' | 'complete'>;

/** Where an answer stands for a client at position `after`, from {@link Answers.standing}. */
export type Standing = 'unknown' | 'read' | 'open';

/** Options of {@link Answers}. */
export interface AnswersOptions {
  readonly store: ForgettingStore;
  readonly model: Model;
  /** Milliseconds a finished answer stays readable before its events are deleted. */
  readonly keepFinished: number;
  readonly onAnswer: (change: AnswerChange) => void;
}

/** One event of an answer's topic, as `follow` yields it. */
export type AnswerEvent = TopicEvent | TopicReset;

/** An answer's topic keeps every event of it: a page that reloads rebuilds the answer from them. */
const MAX_EVENTS = 10_000;
const ANSWER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Starts answers, and lets clients follow them from any position while they are kept. */
export class Answers {
  private readonly generating = new Set<Promise<void>>();

  constructor(private readonly options: AnswersOptions) {}

  /**
   * Publishes the question, then lets the model answer it in the background; resolves the answer's
   * id. The generation depends on no client: it goes on while nobody follows it.
   */
  async start(question: string): Promise<string> {
    const id = randomUUID();
    const topic = this.topicOf(id);
    // Published before the id is handed out, so that a client that follows it at once finds it.
    await topic.publish({ question }, { event: QUESTION });
    const generation = this.generate(id, topic, question);
    this.generating.add(generation);
    void generation.then(() => this.generating.delete(generation));
    return id;
  }

  /**
   * `unknown` when the store keeps no event of the answer (a wrong id, or one freed after
   * `keepFinished`); `read` when `after` is its `done` event (that client has everything); else `open`.
   */
  async standing(id: string, after: string): Promise<Standing> {
    if (!ANSWER_ID.test(id)) return 'unknown';
    // A topic cannot tell an answer it never had from one with nothing new yet: the store can.
    const { events } = await this.options.store.readAfter(topicName(id), '0');
    const last = events.at(-1);
    if (last === undefined) return 'unknown';
    return last.event === DONE && last.id === after ? 'read' : 'open';
  }

  /**
   * The answer's events after `after` (`'0'`: all of them) as they come, until its `done` event;
   * resolves once the subscription is live.
   */
  async follow(id: string, after: string): Promise<AsyncGenerator<AnswerEvent>> {
    const subscription = this.topicOf(id).subscribe({ after });
    await subscription.ready;
    return untilDone(subscription);
  }

  /** Resolves once every answer being generated has its `done` event published (or failed to). */
  async settled(): Promise<void> {
    while (this.generating.size > 0) await Promise.all(this.generating);
  }

  private async generate(id: string, topic: Topic<unknown>, question: string): Promise<void> {
    try {
      const { tokens, complete } = await this.publishAnswer(id, topic, question);
      this.options.onAnswer({ id, state: 'finished', tokens, complete });
      // Kept a while for the pages that reload or come back to it, then freed: with Redis, a topic
      // per answer would otherwise stay in it for good (its history bounds its length, not its life).
      // Unref'd, so that it keeps no process alive; examples/README.md says what that leaves behind.
      setTimeout(() => void this.free(id, tokens, complete), this.options.keepFinished).unref();
    } catch (error) {
      // The store refused even the done event (Redis unreachable): nothing can tell the followers.
      console.error(`Answer ${id} could not be published:`, error);
    }
  }

  /** Publishes each token as the model gives it, then the `done` event. */
  private async publishAnswer(id: string, topic: Topic<unknown>, question: string): Promise<AnswerEnd> {
    let tokens = 0;
    try {
      // Each token is in the store before the model is asked for the next: none is lost if it fails.
      for await (const token of this.options.model(question)) {
        await topic.publish(token);
        tokens++;
      }
      await topic.publish({ tokens, complete: true }, { event: DONE });
      return { tokens, complete: true };
    } catch (error) {
      // The model failed (or the store refused a token): the page shows what there is, marked incomplete.
      console.error(`Answer ${id} stopped after ${tokens} tokens:`, error);
      await topic.publish({ tokens, complete: false }, { event: DONE });
      return { tokens, complete: false };
    }
  }

  private async free(id: string, tokens: number, complete: boolean): Promise<void> {
    try {
      await this.options.store.delete(topicName(id));
      this.options.onAnswer({ id, state: 'freed', tokens, complete });
    } catch (error) {
      console.error(`Answer ${id} could not be freed:`, error);
    }
  }

  private topicOf(id: string): Topic<unknown> {
    return createTopic(topicName(id), { store: this.options.store, history: MAX_EVENTS });
  }
}

async function* untilDone(events: AsyncIterable<AnswerEvent>): AsyncGenerator<AnswerEvent> {
  for await (const event of events) {
    yield event;
    if (event.event === DONE) return;
  }
}

function topicName(id: string): string {
  return `answer/${id}`;
}
