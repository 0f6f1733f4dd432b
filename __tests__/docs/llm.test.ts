import { streamText } from 'ai';
import { MockLanguageModelV3 } from 'ai/test';
import express from 'express';
import OpenAI from 'openai';
import { streamRequest, type StreamConnection } from '../../src/testing/index.js';
import { recordErrors } from '../helpers/app.js';
import { startFakeOpenAi, type FakeOpenAi } from '../helpers/fakeOpenAi.js';
import { createProducer, type Producer } from '../helpers/producer.js';
import { within } from '../helpers/within.js';
import { docPage, runBlock } from './docPage.js';

const page = docPage('docs/llm.md');
afterAll(() => page.expectEveryBlockUsed());

// The model interface's types, from the mock (their own package, @ai-sdk/provider, comes with `ai`).
type LanguageModelV3CallOptions = Parameters<MockLanguageModelV3['doStream']>[0];
type LanguageModelV3StreamPart =
  Awaited<ReturnType<MockLanguageModelV3['doStream']>>['stream'] extends ReadableStream<infer Part> ? Part : never;

const receiveText = async (connection: StreamConnection): Promise<string | undefined> =>
  (await connection.receive())?.toString();

describe('docs/llm.md: the openai package', () => {
  const block = page.block('openai.chat.completions.create');
  let fake: FakeOpenAi;
  beforeAll(async () => {
    fake = await startFakeOpenAi();
  });
  afterAll(() => fake.close());

  function chatApp() {
    const app = express();
    // No retries: a cut request must stay cut for the fake to see it.
    const openai = new OpenAI({ apiKey: 'sk-test', baseURL: fake.baseURL, maxRetries: 0 });
    runBlock(block, { app, openai });
    return { app, errors: recordErrors(app) };
  }

  it('streams the tokens in order, each as the model sends it', async () => {
    const { app, errors } = chatApp();
    const opening = streamRequest(app, '/chat', { method: 'POST', body: { prompt: 'Say hello' } });
    const completion = await fake.nextCompletion();
    expect(completion.body).toEqual({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Say hello' }],
      stream: true,
    });
    completion.send('Hel');
    const connection = await opening;
    expect(connection.status).toBe(200);
    expect(await receiveText(connection)).toBe('Hel');
    for (const token of ['lo', ',', ' world']) {
      completion.send(token);
      expect(await receiveText(connection)).toBe(token);
    }
    completion.finish();
    expect(await connection.receive()).toBeNull();
    expect(errors).toEqual([]);
  });

  it('closes the request to the model when the client disconnects mid-answer', async () => {
    const { app, errors } = chatApp();
    const opening = streamRequest(app, '/chat', { method: 'POST', body: { prompt: 'Tell a long story' } });
    const completion = await fake.nextCompletion();
    completion.send('Once');
    const connection = await opening;
    expect(await receiveText(connection)).toBe('Once');
    await connection.disconnect();
    await within(completion.closed, "the model's response closing");
    expect(completion.finished).toBe(false);
    expect(errors).toEqual([]);
  });
});

/** A ReadableStream of `source`, whose cancel() returns the iterator (as ReadableStream.from does, Node 20.6+). */
function readableFrom<T>(source: AsyncIterable<T>): ReadableStream<T> {
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream<T>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(next.value);
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}

const usage = {
  inputTokens: { total: 3, noCache: 3, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: 2, text: 2, reasoning: undefined },
};

/** The stream parts of a model answering with `tokens` as one text. */
async function* textParts(tokens: AsyncIterable<string>): AsyncGenerator<LanguageModelV3StreamPart> {
  yield { type: 'stream-start', warnings: [] };
  yield { type: 'text-start', id: 'text-1' };
  for await (const delta of tokens) yield { type: 'text-delta', id: 'text-1', delta };
  yield { type: 'text-end', id: 'text-1' };
  yield { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage };
}

/**
 * The AI SDK's mock model, whose answers yield the tokens the test pushes to `producer` and stop
 * when the call's abortSignal aborts (with the producer's `finally` run).
 */
function mockModel(producer: Producer<string>): { model: MockLanguageModelV3; calls: LanguageModelV3CallOptions[] } {
  const calls: LanguageModelV3CallOptions[] = [];
  const model = new MockLanguageModelV3({
    doStream: async (options) => {
      calls.push(options);
      return { stream: readableFrom(textParts(producer.generateUntil(options.abortSignal!))) };
    },
  });
  return { model, calls };
}

/** The same answer, all at once, for the SDK's own response to compare with. */
function finishedModel(tokens: string[]): MockLanguageModelV3 {
  const producer = createProducer<string>();
  producer.push(...tokens);
  producer.end();
  return mockModel(producer).model;
}

describe('docs/llm.md: the AI SDK', () => {
  function aiApp(blockMarker: string) {
    const producer = createProducer<string>();
    const { model, calls } = mockModel(producer);
    const app = express();
    runBlock(page.block(blockMarker), { app, model });
    return { app, producer, calls, errors: recordErrors(app) };
  }
  const textStreamMarker = 'yield* result.textStream';
  const uiStreamMarker = 'toUIMessageStream()';

  describe('textStream through asyncStream', () => {
    it('streams the text deltas in order, each as the model yields it', async () => {
      const { app, producer, calls, errors } = aiApp(textStreamMarker);
      producer.push('Hel');
      const connection = await streamRequest(app, '/complete', { method: 'POST', body: { prompt: 'Say hello' } });
      expect(await receiveText(connection)).toBe('Hel');
      for (const token of ['lo', ' world']) {
        producer.push(token);
        expect(await receiveText(connection)).toBe(token);
      }
      producer.end();
      expect(await connection.receive()).toBeNull();
      expect(calls[0]!.prompt).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Say hello' }] }]);
      expect(errors).toEqual([]);
    });

    it("aborts the model call when the client disconnects, and the model's stream ends", async () => {
      const { app, producer, calls } = aiApp(textStreamMarker);
      producer.push('Once');
      const connection = await streamRequest(app, '/complete', {
        method: 'POST',
        body: { prompt: 'Tell a long story' },
      });
      expect(await receiveText(connection)).toBe('Once');
      await connection.disconnect();
      await within(producer.finalized, "the model stream's finally");
      expect(calls[0]!.abortSignal?.aborted).toBe(true);
    });
  });

  describe('the UI message stream through sse', () => {
    it("sends the SDK's UI message stream header and the event-stream headers", async () => {
      const { app, producer } = aiApp(uiStreamMarker);
      const connection = await streamRequest(app, '/api/chat', { method: 'POST', body: { prompt: 'Say hello' } });
      expect(connection.status).toBe(200);
      expect(connection.headers['x-vercel-ai-ui-message-stream']).toBe('v1');
      expect(connection.headers['content-type']).toBe('text/event-stream; charset=utf-8');
      producer.end();
      await connection.text();
    });

    it('sends each UI message chunk as a JSON data event as the model yields it, then [DONE]', async () => {
      const { app, producer, errors } = aiApp(uiStreamMarker);
      const connection = await streamRequest(app, '/api/chat', { method: 'POST', body: { prompt: 'Say hello' } });
      const receiveData = async (): Promise<unknown> => JSON.parse((await connection.receiveEvent())!.data);
      producer.push('Hel');
      expect(await receiveData()).toEqual({ type: 'start' });
      expect(await receiveData()).toEqual({ type: 'start-step' });
      expect(await receiveData()).toEqual({ type: 'text-start', id: 'text-1' });
      expect(await receiveData()).toEqual({ type: 'text-delta', id: 'text-1', delta: 'Hel' });
      producer.push('lo');
      expect(await receiveData()).toEqual({ type: 'text-delta', id: 'text-1', delta: 'lo' });
      producer.end();
      expect(await receiveData()).toEqual({ type: 'text-end', id: 'text-1' });
      expect(await receiveData()).toEqual({ type: 'finish-step' });
      expect(await receiveData()).toEqual({ type: 'finish', finishReason: 'stop' });
      expect(await connection.receiveEvent()).toEqual({ data: '[DONE]' });
      expect(await connection.receiveEvent()).toBeNull();
      expect(errors).toEqual([]);
    });

    it("sends byte for byte the body of the SDK's own toUIMessageStreamResponse()", async () => {
      const tokens = ['Hel', 'lo', ' world'];
      const { app, producer } = aiApp(uiStreamMarker);
      producer.push(...tokens);
      producer.end();
      const connection = await streamRequest(app, '/api/chat', { method: 'POST', body: { prompt: 'Say hello' } });
      const own = streamText({ model: finishedModel(tokens), prompt: 'Say hello' }).toUIMessageStreamResponse();
      expect(await connection.text()).toBe(await own.text());
      expect(own.headers.get('x-vercel-ai-ui-message-stream')).toBe(
        connection.headers['x-vercel-ai-ui-message-stream'],
      );
    });

    it("aborts the model's abortSignal when the client disconnects, and the model's stream ends", async () => {
      const { app, producer, calls } = aiApp(uiStreamMarker);
      const connection = await streamRequest(app, '/api/chat', {
        method: 'POST',
        body: { prompt: 'Tell a long story' },
      });
      producer.push('Once');
      const once = JSON.stringify({ type: 'text-delta', id: 'text-1', delta: 'Once' });
      for (let event = await connection.receiveEvent(); event?.data !== once; event = await connection.receiveEvent())
        expect(event).not.toBeNull();
      await connection.disconnect();
      await within(producer.finalized, "the model stream's finally");
      expect(producer.finallyCount).toBe(1);
      expect(calls[0]!.abortSignal?.aborted).toBe(true);
    });
  });
});
