// The examples import 'express-async-stream', which resolves to dist/: run `npm run build` first.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp as createClockApp } from '../examples/clock/server.js';
import { createApp as createTokensApp, type UpstreamStop } from '../examples/tokens/server.js';

interface Running {
  readonly url: string;
  close(): Promise<void>;
}

async function start(app: http.RequestListener): Promise<Running> {
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Resolves with the response once its status and headers have arrived; the body is unread. */
function get(url: string): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, resolve).on('error', reject);
  });
}

/** Reads the body as text until `isEnough(text)` holds, or the body ends. */
function readUntil(response: http.IncomingMessage, isEnough: (text: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', function onData(chunk: string) {
      text += chunk;
      if (isEnough(text)) {
        response.removeListener('data', onData);
        resolve(text);
      }
    });
    response.on('end', () => resolve(text));
    response.on('error', reject);
  });
}

const readAll = (response: http.IncomingMessage): Promise<string> => readUntil(response, () => false);

/** `onUpstreamStopped` for the tokens app, and a promise of its first call. */
function upstreamStopped(): { stopped: Promise<UpstreamStop>; onUpstreamStopped: (stop: UpstreamStop) => void } {
  let onUpstreamStopped!: (stop: UpstreamStop) => void;
  const stopped = new Promise<UpstreamStop>((resolve) => (onUpstreamStopped = resolve));
  return { stopped, onUpstreamStopped };
}

describe('examples/clock', () => {
  let server: Running;
  beforeAll(async () => (server = await start(createClockApp())));
  afterAll(() => server.close());

  describe('GET /report', () => {
    it('sends the tuple status and headers, then every line', async () => {
      const response = await get(`${server.url}/report`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['x-report']).toBe('v1');
      expect(response.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(await readAll(response)).toBe('day,visits\nmon,120\ntue,98\nwed,143\n');
    });
  });
});

describe('examples/tokens', () => {
  describe('GET /tokens', () => {
    it('streams the answer and reports a complete upstream', async () => {
      const { stopped, onUpstreamStopped } = upstreamStopped();
      const server = await start(createTokensApp({ tokenDelay: 0, maxTokens: 5, onUpstreamStopped }));
      try {
        const response = await get(`${server.url}/tokens`);
        expect(response.statusCode).toBe(200);
        expect(await readAll(response)).toBe('Streaming sends every token as \n');
        expect(await stopped).toEqual({ tokens: 5, aborted: false });
      } finally {
        await server.close();
      }
    });
  });

  describe('when the client disconnects mid-stream', () => {
    it('aborts the upstream model', async () => {
      const { stopped, onUpstreamStopped } = upstreamStopped();
      // Endless, so that only the disconnect can stop it.
      const server = await start(createTokensApp({ tokenDelay: 0, maxTokens: Infinity, onUpstreamStopped }));
      try {
        const response = await get(`${server.url}/tokens`);
        const firstTokens = await readUntil(response, (text) => text.split(' ').length > 3);
        expect(firstTokens).toMatch(/^Streaming sends every /);
        response.socket.destroy();
        expect(await stopped).toEqual({ tokens: expect.any(Number), aborted: true });
      } finally {
        await server.close();
      }
    });
  });
});
