// An LLM-style answer that survives a reload: the model's tokens go to a topic per answer, the page
// follows it, and a reloaded page (or another process, with REDIS_URL) resumes after the last token
// it showed while the generation goes on regardless.
// Run: npm run example:answer, open the URL it prints, ask, and reload the page mid-answer.
import express, { type Express, type Request, type RequestHandler, type Response } from 'express';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { closeStreams, lastEventId, memoryStore, sse } from 'express-async-stream';
// No '.js' here: ts-node, which runs this example, does not map it to the '.ts' file in CommonJS.
import { runExample } from '../shared/processes';
import { openTopicStore, type ForgettingStore } from '../shared/topicStore';
import { Answers, type AnswerChange } from './answers';
import { createFakeModel, type Model } from './fakeModel';

/** Options of the answer app's {@link createApp}. */
export interface AnswerAppOptions {
  /**
   * Where the answers' events live: `memoryStore()`, or `redisStore(client)` to share them between
   * processes.
   *
   * @default a new `memoryStore()`
   */
  readonly store?: ForgettingStore;
  /**
   * What generates each answer's tokens. Tests pass a model they drive by hand.
   *
   * @default a fake model: the same few sentences, a token every 100 ms
   */
  readonly model?: Model;
  /**
   * How long a finished answer stays readable, in milliseconds; then its events are deleted and
   * following it answers `404`.
   *
   * @default 600_000 (10 minutes)
   */
  readonly keepFinished?: number;
  /**
   * Called when an answer is finished (its `done` event published) and when it is freed.
   *
   * @default logs a line for each
   */
  readonly onAnswer?: (change: AnswerChange) => void;
}

/** The app and its answers: `answers.settled()` tells when every generation is over. */
export interface AnswerApp {
  readonly app: Express;
  readonly answers: Answers;
}

const MAX_QUESTION = 500;

function logAnswer({ id, state, tokens, complete }: AnswerChange): void {
  console.log(`answer ${id} ${state}: ${tokens} tokens${complete ? '' : ' (incomplete)'}`);
}

/**
 * Where the client resumes: its `Last-Event-ID` (the browser's own reconnect, newer than anything
 * in the URL), else `?after=` (the id a reloaded page saved), else `'0'` (the whole answer).
 */
function resumeFrom(req: Request): string {
  const after = req.query.after;
  return lastEventId(req) ?? (typeof after === 'string' && after !== '' ? after : '0');
}

function createPostAnswer(answers: Answers): RequestHandler {
  return async function onPostAnswer(req: Request, res: Response): Promise<void> {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const question = typeof body.question === 'string' ? body.question.trim() : '';
    if (question === '' || question.length > MAX_QUESTION) {
      res.status(400).type('text').send(`Send a \`question\` of 1 to ${MAX_QUESTION} characters.\n`);
      return;
    }
    const id = await answers.start(question);
    const events = `/answers/${id}/events`;
    // The form goes to the page that follows the answer; fetch() gets the id and where to follow it.
    if (req.is('application/json')) res.status(201).location(events).json({ id, events });
    else res.redirect(303, `/?answer=${id}`);
  };
}

/** The answer app, without listening: `npm run example:answer` listens, tests import it. */
export function createApp(options: AnswerAppOptions = {}): AnswerApp {
  const { store, model = createFakeModel(), keepFinished = 600_000, onAnswer = logAnswer } = options;
  const answers = new Answers({ store: store ?? memoryStore(), model, keepFinished, onAnswer });
  const app = express();

  app.get('/', (_req, res) => res.sendFile(path.join(__dirname, 'index.html')));

  app.post('/answers', express.json(), express.urlencoded({ extended: false }), createPostAnswer(answers));

  app.get(
    '/answers/:id/events',
    sse<{ id: string }>(async (req, res) => {
      const after = resumeFrom(req);
      const standing = await answers.standing(req.params.id, after);
      if (standing === 'unknown') {
        res.status(404).type('text').send('No such answer: it never existed, or it finished a while ago.\n');
        return;
      }
      // The client has the whole answer: 204 tells EventSource to stop reconnecting (WHATWG HTML,
      // https://html.spec.whatwg.org/multipage/server-sent-events.html#server-sent-events-intro).
      if (standing === 'read') {
        res.status(204).end();
        return;
      }
      return answers.follow(req.params.id, after);
    }),
  );

  return { app, answers };
}

/** `npm run example:answer`: the app on `port`, in Redis when REDIS_URL is set. */
async function startAnswers(port: number): Promise<void> {
  const { store, description, close } = await openTopicStore();
  const { app, answers } = createApp({ store });
  const server = app.listen(port, () => {
    const { port: listening } = server.address() as AddressInfo;
    console.log(`Answers on http://localhost:${listening}: ask, then reload the page mid-answer.`);
    console.log(`  Answers are kept ${description}.`);
  });
  // A deploy sends SIGTERM: the pages' streams end cleanly and reconnect to the next process (with
  // REDIS_URL, it has every token), while the answers being generated here finish first; the
  // platform's grace period has to cover one answer.
  const shutDown = async (): Promise<void> => {
    server.close();
    await closeStreams();
    await answers.settled();
    await close();
  };
  process.once('SIGTERM', () => void shutDown());
}

if (require.main === module) {
  const port = Number(process.env.PORT ?? 3002);
  runExample({ script: __filename, command: 'npm run example:answer', port, start: startAnswers });
}
