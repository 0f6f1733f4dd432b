// examples/resumable-answer over HTTP, on both stores it runs on. The example imports
// 'express-async-stream', which resolves to dist/: run `npm run build` first.
import type { Express } from 'express';
import { type StreamConnection, type StreamRequestInit } from '../../src/testing/index.js';
import type { AnswerChange, Answers } from '../../examples/resumable-answer/answers.js';
import { createApp } from '../../examples/resumable-answer/server.js';
import { useProcessWatch } from '../helpers/app.js';
import { useStreamRequest } from '../helpers/connections.js';
import { describeOnEachStore } from '../helpers/exampleStores.js';
import { createProducer, type Producer } from '../helpers/producer.js';
import { within } from '../helpers/within.js';

describeOnEachStore('examples/resumable-answer', (store) => {
  const streamRequest = useStreamRequest();
  const watcher = useProcessWatch();
  let model: Producer<string>;
  let changes: AnswerChanges;
  let app: Express;
  let answers: Answers;

  beforeEach(() => {
    model = createProducer<string>();
    changes = answerChanges();
    ({ app, answers } = createApp({ store: store().store, model: () => model.generate(), onAnswer: changes.record }));
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
      ({ app, answers } = createApp({
        store: store().store,
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
