// The examples import 'express-async-stream', which resolves to dist/: run `npm run build` first.
import type { Express } from 'express';
import { memoryStore, type Topic } from '../src/index.js';
import {
  streamRequest,
  type ServerSentEvent,
  type StreamConnection,
  type StreamRequestInit,
} from '../src/testing/index.js';
import { createApp as createClockApp } from '../examples/clock/server.js';
import { createApp as createChatApp, createChat, type ChatMessage } from '../examples/sse-chat/server.js';
import { createApp as createTokensApp, type UpstreamStop } from '../examples/tokens/server.js';
import type { Answers, AnswerChange } from '../examples/resumable-answer/answers.js';
import { createApp as createAnswerApp } from '../examples/resumable-answer/server.js';
import { useProcessWatch } from './helpers/app.js';
import { useStreamRequest } from './helpers/connections.js';
import { createProducer, type Producer } from './helpers/producer.js';
import { exitOfExample } from './helpers/exampleProcess.js';
import { within } from './helpers/within.js';

/** `onUpstreamStopped` for the tokens app, and a promise of its first call. */
function upstreamStopped(): { stopped: Promise<UpstreamStop>; onUpstreamStopped: (stop: UpstreamStop) => void } {
  let onUpstreamStopped!: (stop: UpstreamStop) => void;
  const stopped = new Promise<UpstreamStop>((resolve) => (onUpstreamStopped = resolve));
  return { stopped, onUpstreamStopped };
}

describe('examples/clock', () => {
  describe('GET /report', () => {
    it('sends the tuple status and headers, then every line', async () => {
      const connection = await streamRequest(createClockApp(), '/report');
      expect(connection.status).toBe(200);
      expect(connection.headers['x-report']).toBe('v1');
      expect(connection.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(await connection.text()).toBe('day,visits\nmon,120\ntue,98\nwed,143\n');
    });
  });
});

describe('examples/tokens', () => {
  describe('GET /tokens', () => {
    it('streams the answer and reports a complete upstream', async () => {
      const { stopped, onUpstreamStopped } = upstreamStopped();
      const connection = await streamRequest(
        createTokensApp({ tokenDelay: 0, maxTokens: 5, onUpstreamStopped }),
        '/tokens',
      );
      expect(connection.status).toBe(200);
      expect(await connection.text()).toBe('Streaming sends every token as \n');
      expect(await stopped).toEqual({ tokens: 5, aborted: false });
    });
  });

  describe('when the client disconnects mid-stream', () => {
    it('aborts the upstream model', async () => {
      const { stopped, onUpstreamStopped } = upstreamStopped();
      // Endless, so that only the disconnect can stop it.
      const app = createTokensApp({ tokenDelay: 0, maxTokens: Infinity, onUpstreamStopped });
      const connection = await streamRequest(app, '/tokens');
      let firstTokens = '';
      while (firstTokens.split(' ').length <= 3) firstTokens += (await connection.receive())!.toString();
      expect(firstTokens).toMatch(/^Streaming sends every /);
      await connection.disconnect();
      expect(await stopped).toEqual({ tokens: expect.any(Number), aborted: true });
    });
  });
});

describe('examples/sse-chat', () => {
  const streamRequest = useStreamRequest();
  let chat: Topic<ChatMessage>;
  let app: Express;

  beforeEach(() => {
    chat = createChat(memoryStore());
    app = createChatApp({ chat, retry: 100 });
  });
  afterEach(() => chat.close());

  /** Posts a message as the page does; resolves the id the server gave it. */
  async function post(author: string, text: string): Promise<string> {
    const response = await streamRequest(app, '/messages', { method: 'POST', body: { author, text } });
    expect(response.status).toBe(201);
    const { id, ...message } = JSON.parse(await response.text()) as ChatMessage & { id: string };
    expect(message).toEqual({ author, text });
    return id;
  }

  const event = (id: string, author: string, text: string): ServerSentEvent => ({
    id,
    data: JSON.stringify({ author, text }),
  });

  describe('GET /events', () => {
    it('sends the retry delay with the kept messages, then each new one to every client', async () => {
      const kept = await post('ada', 'first');
      const [alice, bob] = [await streamRequest(app, '/events'), await streamRequest(app, '/events')];
      for (const client of [alice, bob])
        expect(await client.receiveEvent()).toEqual({ retry: 100, ...event(kept, 'ada', 'first') });
      // Both have received the kept message: both are subscribed.
      const ids = [await post('alice', 'hello bob'), await post('bob', 'hi alice')];
      for (const client of [alice, bob]) {
        expect(await client.receiveEvent()).toEqual(event(ids[0]!, 'alice', 'hello bob'));
        expect(await client.receiveEvent()).toEqual(event(ids[1]!, 'bob', 'hi alice'));
      }
    });

    it('ends the subscription when the client leaves', async () => {
      await post('ada', 'one');
      const client = await streamRequest(app, '/events');
      await client.receiveEvent();
      expect(chat.subscriberCount).toBe(1);
      await client.disconnect();
      expect(chat.subscriberCount).toBe(0);
    });
  });

  describe('when a client reconnects with Last-Event-ID', () => {
    it('sends the messages it missed, then new ones, none twice', async () => {
      const first = await streamRequest(app, '/events');
      const seen = await post('ada', 'one');
      expect(await first.receiveEvent()).toEqual({ retry: 100, ...event(seen, 'ada', 'one') });
      await first.disconnect();
      const missed = [await post('ada', 'two'), await post('ada', 'three')];

      const again = await streamRequest(app, '/events', { headers: { 'Last-Event-ID': seen } });
      expect(await again.receiveEvent()).toEqual({ retry: 100, ...event(missed[0]!, 'ada', 'two') });
      expect(await again.receiveEvent()).toEqual(event(missed[1]!, 'ada', 'three'));
      const live = await post('ada', 'four');
      expect(await again.receiveEvent()).toEqual(event(live, 'ada', 'four'));
    });

    it('sends a reset event, then the kept messages, when it cannot place the id (another server)', async () => {
      const kept = await post('ada', 'one');
      const client = await streamRequest(app, '/events', { headers: { 'Last-Event-ID': 'elsewhere-7' } });
      expect(await client.receiveEvent()).toEqual({
        retry: 100,
        event: 'reset',
        data: '{"lastEventId":"elsewhere-7"}',
      });
      expect(await client.receiveEvent()).toEqual(event(kept, 'ada', 'one'));
    });
  });

  describe('POST /messages', () => {
    it('refuses an empty message with 400 and what to send', async () => {
      const response = await streamRequest(app, '/messages', { method: 'POST', body: { text: ' ' } });
      expect(response.status).toBe(400);
      expect(await response.text()).toMatch(/^Send a `text` of 1 to 500 characters/);
    });
  });
});

describe('examples/resumable-answer', () => {
  const streamRequest = useStreamRequest();
  const watcher = useProcessWatch();
  let model: Producer<string>;
  let changes: AnswerChanges;
  let app: Express;
  let answers: Answers;

  beforeEach(() => {
    model = createProducer<string>();
    changes = answerChanges();
    ({ app, answers } = createAnswerApp({
      store: memoryStore(),
      model: () => model.generate(),
      onAnswer: changes.record,
    }));
  });
  afterEach(async () => {
    model.end();
    await answers.settled();
  });

  /** Asks as the page's form does (in JSON); resolves the answer's id. */
  async function ask(question: string): Promise<string> {
    const response = await streamRequest(app, '/answers', { method: 'POST', body: { question } });
    expect(response.status).toBe(201);
    const { id, events } = JSON.parse(await response.text()) as { id: string; events: string };
    expect(response.headers.location).toBe(events);
    expect(events).toBe(`/answers/${id}/events`);
    return id;
  }

  const follow = (id: string, query = '', init: StreamRequestInit = {}): Promise<StreamConnection> =>
    streamRequest(app, `/answers/${id}/events${query}`, init);

  /** Receives `tokens` from `client`; resolves the id of the last one. */
  async function receiveTokens(client: StreamConnection, tokens: readonly string[]): Promise<string> {
    let id = '';
    for (const token of tokens) {
      const event = await client.receiveEvent();
      expect(event).toEqual({ id: expect.any(String), data: token });
      id = event!.id!;
    }
    return id;
  }

  describe('GET /answers/:id/events', () => {
    it('sends the question, each token as the model gives it, then done, and ends the stream', async () => {
      const id = await ask('Why?');
      const client = await follow(id);
      expect(await client.receiveEvent()).toEqual({
        event: 'question',
        id: expect.any(String),
        data: '{"question":"Why?"}',
      });
      model.push('Because');
      await receiveTokens(client, ['Because']);
      model.push(' it', ' streams.');
      await receiveTokens(client, [' it', ' streams.']);
      model.end();
      expect(await client.receiveEvent()).toEqual({
        event: 'done',
        id: expect.any(String),
        data: '{"tokens":3,"complete":true}',
      });
      expect(await client.receiveEvent()).toBeNull();
    });

    it('answers 404 for an answer it does not have', async () => {
      const client = await follow('00000000-0000-4000-8000-000000000000');
      expect(client.status).toBe(404);
      expect(await client.text()).toMatch(/^No such answer/);
    });
  });

  describe('when the client leaves mid-answer', () => {
    it('goes on generating, and a client with Last-Event-ID gets exactly the remaining tokens, then the end', async () => {
      const id = await ask('Why?');
      const first = await follow(id);
      await first.receiveEvent();
      model.push('One', ' two');
      const seen = await receiveTokens(first, ['One', ' two']);
      await first.disconnect();

      model.push(' three', ' four');
      model.end();
      // Finished while nobody listened.
      expect(await changes.next()).toEqual({ id, state: 'finished', tokens: 4, complete: true });

      const second = await follow(id, '', { headers: { 'Last-Event-ID': seen } });
      await receiveTokens(second, [' three', ' four']);
      expect(await second.receiveEvent()).toMatchObject({ event: 'done' });
      expect(await second.receiveEvent()).toBeNull();
    });
  });

  describe('when a reloaded page resumes with ?after=', () => {
    it('sends the tokens after that id', async () => {
      const id = await ask('Why?');
      const first = await follow(id);
      await first.receiveEvent();
      model.push('One', ' two', ' three');
      const afterOne = await receiveTokens(first, ['One']);
      await receiveTokens(first, [' two', ' three']);
      await first.disconnect();

      const reloaded = await follow(id, `?after=${afterOne}`);
      await receiveTokens(reloaded, [' two', ' three']);
    });

    it("resumes from Last-Event-ID instead when both are sent: the browser's own reconnect is newer", async () => {
      const id = await ask('Why?');
      const first = await follow(id);
      await first.receiveEvent();
      model.push('One', ' two', ' three');
      const afterOne = await receiveTokens(first, ['One']);
      const afterTwo = await receiveTokens(first, [' two']);
      await first.disconnect();

      const reconnected = await follow(id, `?after=${afterOne}`, { headers: { 'Last-Event-ID': afterTwo } });
      await receiveTokens(reconnected, [' three']);
    });
  });

  describe('POST /answers', () => {
    it('from the form without JavaScript, redirects to the page that follows the answer', async () => {
      const response = await streamRequest(app, '/answers', {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'question=Why%3F',
      });
      expect(response.status).toBe(303);
      expect(response.headers.location).toMatch(/^\/\?answer=[0-9a-f-]{36}$/);
    });

    it('refuses an empty question with 400 and what to send', async () => {
      const response = await streamRequest(app, '/answers', { method: 'POST', body: { question: '' } });
      expect(response.status).toBe(400);
      expect(await response.text()).toBe('Send a `question` of 1 to 500 characters.\n');
    });
  });

  describe('when the client already has the done event', () => {
    it('answers 204, which stops EventSource from reconnecting', async () => {
      const id = await ask('Why?');
      model.end();
      await changes.next();
      const client = await follow(id);
      await client.receiveEvent();
      const done = (await client.receiveEvent())!;
      expect(done.event).toBe('done');
      const again = await follow(id, '', { headers: { 'Last-Event-ID': done.id! } });
      expect(again.status).toBe(204);
      expect(await again.text()).toBe('');
    });
  });

  describe('when the model fails part way', () => {
    it('ends the answer with a done event that says it is incomplete', async () => {
      const id = await ask('Why?');
      const client = await follow(id);
      await client.receiveEvent();
      model.push('One');
      await receiveTokens(client, ['One']);
      model.fail(new Error('model overloaded'));
      expect(await client.receiveEvent()).toMatchObject({ event: 'done', data: '{"tokens":1,"complete":false}' });
      expect(await changes.next()).toEqual({ id, state: 'finished', tokens: 1, complete: false });
      expect(watcher.logged).toEqual([[`Answer ${id} stopped after 1 tokens:`, new Error('model overloaded')]]);
    });
  });

  describe('a finished answer', () => {
    it('is freed after keepFinished: following it then answers 404', async () => {
      ({ app, answers } = createAnswerApp({
        store: memoryStore(),
        model: () => model.generate(),
        keepFinished: 0,
        onAnswer: changes.record,
      }));
      const id = await ask('Why?');
      model.end();
      expect(await changes.next()).toMatchObject({ id, state: 'finished' });
      expect(await changes.next()).toMatchObject({ id, state: 'freed' });
      expect((await follow(id)).status).toBe(404);
    });
  });
});

/** What `onAnswer` heard, in order, and a promise of the next change not yet taken. */
interface AnswerChanges {
  readonly record: (change: AnswerChange) => void;
  next(): Promise<AnswerChange>;
}

function answerChanges(): AnswerChanges {
  const heard: AnswerChange[] = [];
  const waiting: Array<(change: AnswerChange) => void> = [];
  return {
    record(change) {
      const waiter = waiting.shift();
      if (waiter === undefined) heard.push(change);
      else waiter(change);
    },
    next: () =>
      within(
        new Promise((resolve) => {
          const change = heard.shift();
          if (change === undefined) waiting.push(resolve);
          else resolve(change);
        }),
        'the next answer change',
      ),
  };
}

describe('examples with --processes', () => {
  it.each(['examples/sse-chat/server.ts', 'examples/resumable-answer/server.ts'])(
    '%s refuses several processes without REDIS_URL, and says how to run Redis',
    async (script) => {
      const { code, stdout, stderr } = await exitOfExample({
        script,
        args: ['--processes', '2'],
        env: { REDIS_URL: '' },
      });
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toMatch(
        /^--processes 2 needs REDIS_URL: without it each process keeps its topics in its own memory/,
      );
      expect(stderr).toContain('REDIS_URL=redis://127.0.0.1:6379 npm run example:');
    },
  );

  it('refuses a count that is not an integer from 1 to 16', async () => {
    const { code, stderr } = await exitOfExample({ script: 'examples/sse-chat/server.ts', args: ['--processes', '0'] });
    expect(code).toBe(2);
    expect(stderr).toBe('--processes must be an integer from 1 to 16, but received "0". E.g. --processes 2.\n');
  });
});
