// The example imports 'express-async-stream', which resolves to dist/: run `npm run build` first.
import { streamRequest } from '../../src/testing/index.js';
import { createApp, type UpstreamStop } from '../../examples/tokens/server.js';

/** `onUpstreamStopped` for the tokens app, and a promise of its first call. */
function upstreamStopped(): { stopped: Promise<UpstreamStop>; onUpstreamStopped: (stop: UpstreamStop) => void } {
  let onUpstreamStopped!: (stop: UpstreamStop) => void;
  const stopped = new Promise<UpstreamStop>((resolve) => (onUpstreamStopped = resolve));
  return { stopped, onUpstreamStopped };
}

describe('examples/tokens', () => {
  describe('GET /tokens', () => {
    it('streams the answer and reports a complete upstream', async () => {
      const { stopped, onUpstreamStopped } = upstreamStopped();
      const connection = await streamRequest(createApp({ tokenDelay: 0, maxTokens: 5, onUpstreamStopped }), '/tokens');
      expect(connection.status).toBe(200);
      expect(await connection.text()).toBe('Streaming sends every token as \n');
      expect(await stopped).toEqual({ tokens: 5, aborted: false });
    });
  });

  describe('when the client disconnects mid-stream', () => {
    it('aborts the upstream model', async () => {
      const { stopped, onUpstreamStopped } = upstreamStopped();
      // Endless, so that only the disconnect can stop it.
      const app = createApp({ tokenDelay: 0, maxTokens: Infinity, onUpstreamStopped });
      const connection = await streamRequest(app, '/tokens');
      let firstTokens = '';
      while (firstTokens.split(' ').length <= 3) firstTokens += (await connection.receive())!.toString();
      expect(firstTokens).toMatch(/^Streaming sends every /);
      await connection.disconnect();
      expect(await stopped).toEqual({ tokens: expect.any(Number), aborted: true });
    });
  });
});
