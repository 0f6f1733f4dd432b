// A chat in the browser over server-sent events: every open tab sees every message, and a tab that
// lost its connection resumes from the last message it saw (the browser sends `Last-Event-ID`).
// Run: npm run example:sse, then open the URL it prints in two tabs. With REDIS_URL set, the chat
// lives in Redis, and `npm run example:sse -- --processes 2` starts two servers that share it.
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import {
  asyncStream,
  closeStreams,
  createTopic,
  currentSignal,
  lastEventId,
  sse,
  type Topic,
  type TopicStore,
} from 'express-async-stream';
// No '.js' here: ts-node, which runs this example, does not map it to the '.ts' file in CommonJS.
import { runExample } from '../shared/processes';
import { openTopicStore } from '../shared/topicStore';

/** One chat message, as published and as sent in each event's `data` (JSON). */
export interface ChatMessage {
  readonly author: string;
  readonly text: string;
}

/** Options of the chat app's {@link createApp}. */
export interface ChatAppOptions {
  /**
   * The topic whose messages the app serves. Pass your own to choose its store, to publish from
   * code or to watch `subscriberCount`.
   *
   * @default `createChat()`: a topic in this process's memory
   */
  readonly chat?: Topic<ChatMessage>;
  /**
   * How long a browser waits before it reconnects a lost event stream, in milliseconds: sent
   * as the `retry` field of each stream's first event.
   *
   * @default 1000
   */
  readonly retry?: number;
  /**
   * What `GET /ticks` waits for before each chunk. Tests pass a function that waits until they
   * release the next chunk.
   *
   * @default a 500 ms timer
   */
  readonly waitForTick?: (signal: AbortSignal) => Promise<void>;
}

/** How many recent messages a new tab shows, and how far back a reconnecting tab catches up. */
export const HISTORY = 100;
const MAX_AUTHOR = 40;
const MAX_TEXT = 500;

/** The chat topic, in `store` (the default store of this process when absent). */
export function createChat(store?: TopicStore): Topic<ChatMessage> {
  return createTopic<ChatMessage>('chat', { store, history: HISTORY });
}

const waitHalfASecond = (signal: AbortSignal): Promise<void> => setTimeout(500, undefined, { signal });

/** `events`, after a `retry` field that sets how long the browser waits before it reconnects. */
async function* withRetry<T>(retry: number, events: AsyncIterable<T>): AsyncGenerator<T | { retry: number }> {
  yield { retry };
  yield* events;
}

/** `?n=` of `GET /ticks`: an integer from 1 to 100, else 5. */
function tickCount(n: unknown): number {
  const count = Number(n);
  return Number.isInteger(count) && count >= 1 && count <= 100 ? count : 5;
}

function createPostMessage(chat: Topic<ChatMessage>): RequestHandler {
  return async function onPostMessage(req: Request, res: Response): Promise<void> {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const text = typeof body.text === 'string' ? body.text.trim() : '';
    const author = typeof body.author === 'string' ? body.author.trim() : '';
    if (text === '' || text.length > MAX_TEXT || author.length > MAX_AUTHOR) {
      const usage = `Send a \`text\` of 1 to ${MAX_TEXT} characters and an optional \`author\` of up to ${MAX_AUTHOR}.`;
      res.status(400).type('text').send(`${usage}\n`);
      return;
    }
    const message: ChatMessage = { author: author === '' ? 'anonymous' : author, text };
    // Answered once the store holds it: a message the sender saw accepted survives a reconnect.
    const id = await chat.publish(message);
    // A form posted without JavaScript goes back to the page; fetch() gets the message and its id.
    if (req.is('application/json')) res.status(201).json({ id, ...message });
    else res.redirect(303, '/');
  };
}

/** The chat app, without listening: `npm run example:sse` listens, tests import it. */
export function createApp(options: ChatAppOptions = {}): Express {
  const { chat = createChat(), retry = 1000, waitForTick = waitHalfASecond } = options;
  const app = express();

  app.get('/', (_req, res) => res.sendFile(path.join(__dirname, 'index.html')));

  // A first visit gets the recent messages ('0': every kept one); a reconnecting tab, the ones
  // after its Last-Event-ID; then both get each new message as it is posted.
  app.get(
    '/events',
    sse(async (req) => {
      const messages = chat.subscribe({ after: lastEventId(req) ?? '0' });
      // sse() holds the headers until a subscription it is given is live; this one is wrapped
      // (for the retry field), so the handler waits itself: the page's "Connected" means it is.
      await messages.ready;
      return withRetry(retry, messages);
    }),
  );

  app.post('/messages', express.json(), express.urlencoded({ extended: false }), createPostMessage(chat));

  // Counts to ?n= (default 5), one chunk per tick: the page's fetch() reader shows each number
  // as it arrives, which an asyncStream response makes possible.
  app.get(
    '/ticks',
    asyncStream(async function* (req, res) {
      res.type('text/plain');
      const n = tickCount(req.query.n);
      for (let i = 1; i <= n; i++) {
        await waitForTick(currentSignal());
        yield `tick ${i}\n`;
      }
    }),
  );

  return app;
}

/** `npm run example:sse`: the chat on `port`, in Redis when REDIS_URL is set. */
async function startChat(port: number): Promise<void> {
  const { store, description, close } = await openTopicStore();
  const chat = createChat(store);
  const server = createApp({ chat }).listen(port, () => {
    const { port: listening } = server.address() as AddressInfo;
    console.log(`Chat listening on http://localhost:${listening}: open it in two tabs and say hello.`);
    console.log(`  Messages are kept ${description}.`);
  });
  // A deploy sends SIGTERM: the event streams end cleanly, so each tab reconnects, to the next
  // process, from its Last-Event-ID (with REDIS_URL, the new process has every message). The
  // process exits once the last stream is released and the Redis connection is closed.
  const shutDown = async (): Promise<void> => {
    server.close();
    await closeStreams();
    chat.close();
    await close();
  };
  process.once('SIGTERM', () => void shutDown());
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 3000);
  runExample({ script: __filename, command: 'npm run example:sse', port, start: startChat });
}
