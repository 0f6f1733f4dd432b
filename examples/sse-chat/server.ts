// A chat in the browser over server-sent events: every open tab sees every message, and a tab that
// lost its connection resumes from the last message it saw (the browser sends `Last-Event-ID`).
// Run: npm run example:sse, then open the URL it prints in two tabs.
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { asyncStream, closeStreams, currentSignal, lastEventId, sse } from 'express-async-stream';
// No '.js' here: ts-node, which runs this example, does not map it to the '.ts' file in CommonJS.
import { ChatRoom } from './chatRoom';

/** Options of the chat app's {@link createApp}. */
export interface ChatAppOptions {
  /**
   * The room whose messages the app serves. Pass your own to post from code or to watch
   * `subscriberCount`.
   *
   * @default a new, empty `ChatRoom`
   */
  readonly room?: ChatRoom;
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

const MAX_AUTHOR = 40;
const MAX_TEXT = 500;

const waitHalfASecond = (signal: AbortSignal): Promise<void> => setTimeout(500, undefined, { signal });

/** The id the browser resumes from: 0 (replay everything kept) when absent or not ours. */
function resumeId(req: Request): number {
  const id = lastEventId(req);
  return id !== undefined && /^\d{1,15}$/.test(id) ? Number(id) : 0;
}

/** `?n=` of `GET /ticks`: an integer from 1 to 100, else 5. */
function tickCount(n: unknown): number {
  const count = Number(n);
  return Number.isInteger(count) && count >= 1 && count <= 100 ? count : 5;
}

function createPostMessage(room: ChatRoom): RequestHandler {
  return function onPostMessage(req: Request, res: Response): void {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const text = typeof body.text === 'string' ? body.text.trim() : '';
    const author = typeof body.author === 'string' ? body.author.trim() : '';
    if (text === '' || text.length > MAX_TEXT || author.length > MAX_AUTHOR) {
      const usage = `Send a \`text\` of 1 to ${MAX_TEXT} characters and an optional \`author\` of up to ${MAX_AUTHOR}.`;
      res.status(400).type('text').send(`${usage}\n`);
      return;
    }
    const message = room.post(author === '' ? 'anonymous' : author, text);
    // A form posted without JavaScript goes back to the page; fetch() gets the message.
    if (req.is('application/json')) res.status(201).json(message);
    else res.redirect(303, '/');
  };
}

/** The chat app, without listening: `npm run example:sse` listens, tests import it. */
export function createApp(options: ChatAppOptions = {}): Express {
  const { room = new ChatRoom(), retry = 1000, waitForTick = waitHalfASecond } = options;
  const app = express();

  app.get('/', (_req, res) => res.sendFile(path.join(__dirname, 'index.html')));

  app.get(
    '/events',
    sse(async function* (req) {
      yield { retry };
      for await (const message of room.messagesAfter(resumeId(req), currentSignal())) {
        yield { id: message.id, data: message };
      }
    }),
  );

  app.post('/messages', express.json(), express.urlencoded({ extended: false }), createPostMessage(room));

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

if (require.main === module) {
  // CHAT_LOG=chat.jsonl keeps the messages across restarts: stop the server, start it again, and
  // the open tabs carry on where they were.
  const room = new ChatRoom(1000, process.env.CHAT_LOG);
  const server = createApp({ room }).listen(Number(process.env.PORT ?? 3000), () => {
    const { port } = server.address() as AddressInfo;
    console.log(`Chat listening on http://localhost:${port}: open it in two tabs and say hello.`);
  });
  // A deploy sends SIGTERM: the event streams end cleanly, so each tab reconnects,
  // to the next process, from its Last-Event-ID. The process exits once the last stream is released.
  const shutDown = () => {
    server.close();
    void closeStreams();
  };
  process.once('SIGTERM', shutDown);
}
