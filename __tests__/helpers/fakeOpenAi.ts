// A local OpenAI-compatible server whose chat completions stream the tokens a test sends.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deferred, type Deferred } from './deferred.js';

/** One streamed `POST /v1/chat/completions` request, answered token by token by the test. */
export interface FakeCompletion {
  /** The request's JSON body. */
  readonly body: { model: string; stream?: boolean; messages: { role: string; content: string }[] };
  /** Sends a `chat.completion.chunk` whose delta holds `token`. */
  send(token: string): void;
  /** Sends the last chunk (`finish_reason: 'stop'`), then `data: [DONE]`, and ends the response. */
  finish(): void;
  /** Resolves once the response has closed: finished, or cut by the client. */
  readonly closed: Promise<void>;
  /** Whether the response was finished (rather than closed by the client first). */
  readonly finished: boolean;
}

export interface FakeOpenAi {
  /** The `baseURL` to give `new OpenAI({ baseURL })`. */
  readonly baseURL: string;
  /** Resolves with the next completion request, in the order they arrive. */
  nextCompletion(): Promise<FakeCompletion>;
  /** Closes the server and any connection still open. */
  close(): Promise<void>;
}

const CREATED = 1_700_000_000;

/** The data of one server-sent event of a streamed chat completion, shaped as the real API sends it. */
function chunk(model: string, delta: Record<string, string>, finishReason: string | null): string {
  const choice = { index: 0, delta, logprobs: null, finish_reason: finishReason };
  return JSON.stringify({
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created: CREATED,
    model,
    choices: [choice],
  });
}

function answer(res: http.ServerResponse, raw: string): FakeCompletion {
  const body = JSON.parse(raw) as FakeCompletion['body'];
  const closed = new Promise<void>((resolve) => res.once('close', resolve));
  const write = (data: string): void => {
    res.write(`data: ${data}\n\n`);
  };
  res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache' });
  write(chunk(body.model, { role: 'assistant', content: '' }, null));
  let finished = false;
  return {
    body,
    closed,
    get finished() {
      return finished;
    },
    send: (token) => write(chunk(body.model, { content: token }, null)),
    finish: () => {
      finished = true;
      write(chunk(body.model, {}, 'stop'));
      write('[DONE]');
      res.end();
    },
  };
}

/** Listens on an ephemeral loopback port. */
export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  const arrived: FakeCompletion[] = [];
  const waiting: Deferred<FakeCompletion>[] = [];
  const server = http.createServer(function onRequest(req, res) {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404).end();
      return;
    }
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (text: string) => (raw += text));
    req.on('end', () => {
      const completion = answer(res, raw);
      const waiter = waiting.shift();
      if (waiter === undefined) arrived.push(completion);
      else waiter.resolve(completion);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    nextCompletion() {
      const completion = arrived.shift();
      if (completion !== undefined) return Promise.resolve(completion);
      const waiter = deferred<FakeCompletion>();
      waiting.push(waiter);
      return waiter.promise;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
