import fs from 'node:fs';
import path from 'node:path';
import express from 'express';
import {
  asyncStream,
  currentRequest,
  makeResponse,
  ndjson,
  sse,
  TIMEOUT_SETTING,
  withContext,
} from '../../src/index.js';
import { ReceiveTimeoutError } from '../../src/testing/index.js';
import { recordErrors } from '../helpers/app.js';
import { useConnections } from './connections.js';
import { docPage, runBlock } from './docPage.js';

const page = docPage('docs/options.md');
afterAll(() => page.expectEveryBlockUsed());
const streamRequest = useConnections();

const handler = async function* () {
  yield 'x';
};

describe('docs/options.md: the examples', () => {
  it('types the route parameters: GET /users/42 streams "user 42"', async () => {
    const app = express();
    runBlock(page.block('asyncStream<{ id: string }>'), { app });
    expect(await (await streamRequest(app, '/users/42')).text()).toBe('user 42\n');
  });

  it("timeout: null keeps a silent route open past the app's idle timeout", async () => {
    const app = express();
    app.set(TIMEOUT_SETTING, 50);
    runBlock(page.block("app.get('/slow'"), { app });
    const errors = recordErrors(app);
    const connection = await streamRequest(app, '/slow');
    expect(await connection.receiveLine()).toMatch(/^\d+$/);
    // Four times the app's 50 ms: nothing arrives, and the connection is not cut.
    await expect(connection.receive({ timeout: 200 })).rejects.toThrow(ReceiveTimeoutError);
    await connection.disconnect();
    expect(errors).toEqual([]);
  });

  it('TIMEOUT_SETTING is the app setting the block sets', () => {
    const app = express();
    runBlock(page.block('app.set(TIMEOUT_SETTING, 30_000)'), { app });
    expect(TIMEOUT_SETTING).toBe('stream timeout');
    expect(app.get('stream timeout')).toBeNull();
  });
});

describe('docs/options.md: the edge values it states', () => {
  it.each([0, -1, NaN, 2 ** 31])('asyncStream timeout %p is a RangeError', (timeout) => {
    expect(() => asyncStream(handler, { timeout })).toThrow(RangeError);
    expect(() => asyncStream(handler, { timeout })).toThrow('must be between 1 and 2147483647 milliseconds');
  });

  it.each([null, Infinity, 1, 2 ** 31 - 1])('asyncStream timeout %p is accepted', (timeout) => {
    expect(() => asyncStream(handler, { timeout })).not.toThrow();
  });

  it('a timeout that is not a number is a TypeError', () => {
    expect(() => asyncStream(handler, { timeout: '60s' as unknown as number })).toThrow(TypeError);
  });

  it('response.timeout = Infinity reads back as null', () => {
    const response = makeResponse('x');
    response.timeout = Infinity;
    expect(response.timeout).toBeNull();
  });

  it.each([
    [{ keepAlive: 0 }, RangeError],
    [{ keepAlive: -1 }, RangeError],
    [{ keepAlive: '15s' }, TypeError],
    [{ timeout: 0 }, RangeError],
    [{ errorEvent: 'stream-error' }, TypeError],
  ])('sse options %p throw a %p', (options, errorClass) => {
    expect(() => sse(handler, options as never)).toThrow(errorClass);
  });

  it.each([
    { keepAlive: null },
    { keepAlive: Infinity },
    { timeout: Infinity },
    { errorEvent: true },
    { errorEvent: () => 'gone' },
  ])('sse options %p are accepted', (options) => {
    expect(() => sse(handler, options)).not.toThrow();
  });

  it('a withContext generator created outside any request runs outside any, even when a request iterates it', async () => {
    const path = withContext(async function* () {
      yield currentRequest().path;
    });
    const outside = path();
    const app = express();
    app.get(
      '/inside',
      asyncStream(() => outside),
    );
    const errors = recordErrors(app);
    expect((await streamRequest(app, '/inside')).status).toBe(500);
    expect(errors).toEqual([
      expect.objectContaining({ message: expect.stringContaining('outside a request context') }),
    ]);
  });

  it("ndjson takes asyncStream's options only", () => {
    expect(() => ndjson(handler, { keepAlive: 1 } as never)).toThrow(TypeError);
  });

  it.each([199, 600, 103, 200.5])('status %p is a TypeError', (status) => {
    expect(() => makeResponse('x', status)).toThrow(TypeError);
  });

  it('an invalid app setting fails each request that relies on it, through next(err)', async () => {
    const app = express();
    app.set(TIMEOUT_SETTING, '60s');
    app.get('/', asyncStream(handler));
    const errors = recordErrors(app);
    expect((await streamRequest(app, '/')).status).toBe(500);
    expect(errors).toEqual([expect.any(TypeError)]);
  });
});

describe('docs/options.md: the Types table', () => {
  const markdown = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'options.md'), 'utf8');
  const index = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'index.ts'), 'utf8');
  const typeNames = [...index.matchAll(/\btype (\w+)/g)].map((match) => match[1]!);

  it.each(typeNames)('defines %s', (name) => {
    expect(markdown).toMatch(new RegExp(`^\\| \`${name}[<\`]`, 'm'));
  });
});
