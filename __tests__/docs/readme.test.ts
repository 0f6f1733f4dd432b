import express from 'express';
import { streamRequest } from '../../src/testing/index.js';
import { recordErrors, useProcessWatch } from '../helpers/app.js';
import { readmeBlock, runReadmeBlock } from './readmeBlocks.js';

describe('README: the sse() example', () => {
  const watch = useProcessWatch();

  function ticksApp() {
    const app = express();
    runReadmeBlock(readmeBlock("app.get('/ticks'"), { app });
    return { app, errors: recordErrors(app) };
  }

  /** The first tick event's text, read up to its blank line. */
  async function firstTick(app: express.Express, headers: Record<string, string>): Promise<string> {
    const connection = await streamRequest(app, '/ticks', { headers });
    let text = '';
    const tick = (): string | undefined => text.split('\n\n').find((frame, i, all) => i < all.length - 1 && frame.includes('event: tick'));
    while (tick() === undefined) text += (await connection.receive())!.toString();
    await connection.disconnect();
    return tick()!;
  }

  it.each([
    ['no Last-Event-ID', {}, 1],
    ['Last-Event-ID: 7', { 'Last-Event-ID': '7' }, 8],
  ])('resumes the count: %s', async (_label, headers, expected) => {
    const { app, errors } = ticksApp();
    expect(await firstTick(app, headers)).toBe(`event: tick\nid: ${expected}\ndata: {"n":${expected}}`);
    expect(errors).toEqual([]);
  });

  it.each(['abc', '-5', '1.5', '1e400', '9007199254740993', ''])(
    'starts over at 1, without an error or a log line, for a hostile Last-Event-ID: %j',
    async (id) => {
      const { app, errors } = ticksApp();
      expect(await firstTick(app, { 'Last-Event-ID': id })).toBe('event: tick\nid: 1\ndata: {"n":1}');
      expect(errors).toEqual([]);
      expect(watch.logged).toEqual([]);
    },
  );
});
