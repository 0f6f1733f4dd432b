// The README's SIGTERM example, run for real. closeStreams() is final for the whole file, so this
// file holds nothing else.
import { once } from 'node:events';
import type http from 'node:http';
import express from 'express';
import { asyncStream, sse } from '../../src/index.js';
import { streamRequest } from '../../src/testing/index.js';
import { docPage, runBlock } from './docPage.js';

/** The example's grace. */
const GRACE = 10_000;

describe('README: the closeStreams() example on SIGTERM', () => {
  it('ends the event stream cleanly, lets the download finish, and lets server.close() complete', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const app = express();
    app.get(
      '/events',
      sse(async function* () {
        for (let id = 1; ; id++) {
          yield { id, data: 'tick' };
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }),
    );
    app.get(
      '/download',
      asyncStream(async function* () {
        yield 'first\n';
        await released;
        yield 'last\n';
      }),
    );
    const before = process.listeners('SIGTERM');
    const code = docPage('README.md')
      .block('void closeStreams({ grace: 10_000 })')
      .replace('const server = app.listen(3000);', "export const server = app.listen(0, '127.0.0.1');");
    const { server } = runBlock(code, { app }) as { server: http.Server };
    const [onSigterm] = process.listeners('SIGTERM').filter((listener) => !before.includes(listener));
    expect(onSigterm).toBeInstanceOf(Function);
    await once(server, 'listening');
    const events = await streamRequest(server, '/events');
    const download = await streamRequest(server, '/download');
    expect((await events.receiveEvent())?.data).toBe('tick');
    expect(await download.receiveLine()).toBe('first');

    const started = Date.now();
    const closed = once(server, 'close');
    process.removeListener('SIGTERM', onSigterm!);
    (onSigterm as () => void)();
    release();

    // The event stream ends cleanly (null), after the events produced before the call.
    for (let event = await events.receiveEvent(); event !== null; event = await events.receiveEvent()) {
      expect(event.data).toBe('tick');
    }
    expect(await download.text()).toBe('last\n');
    await closed;
    expect(Date.now() - started).toBeLessThan(GRACE);
  });
});
