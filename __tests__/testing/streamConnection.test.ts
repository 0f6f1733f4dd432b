import express from 'express';
import { asyncStream, isAsyncStreamError, ndjson } from '../../src/index.js';
import {
  ReceiveTimeoutError,
  ResponseAbortedError,
  streamRequest,
  type StreamConnection,
} from '../../src/testing/index.js';
import { useTrickle } from '../helpers/trickle.js';

/** An app whose `/` yields `chunks` in one tick, which the server coalesces into one write. */
function sameTickApp(...chunks: string[]): express.Express {
  const app = express();
  app.get(
    '/',
    asyncStream(async function* () {
      yield* chunks;
    }),
  );
  return app;
}

describe('StreamConnection', () => {
  const trickle = useTrickle();
  let connection: StreamConnection | undefined;

  afterEach(async () => {
    await connection?.disconnect();
    connection = undefined;
  });

  describe('receive()', () => {
    it('gives chunks written in the same tick as one', async () => {
      connection = await streamRequest(sameTickApp('1\n', '2\n', '3\n'), '/');
      expect((await connection.receive())?.toString()).toBe('1\n2\n3\n');
    });
  });

  describe('receiveLine()', () => {
    it('gives one line at a time without its newline, then null, and null again', async () => {
      connection = await streamRequest(sameTickApp('1\n', '2\n', '3\n'), '/');
      expect(await connection.receiveLine()).toBe('1');
      expect(await connection.receiveLine()).toBe('2');
      expect(await connection.receiveLine()).toBe('3');
      expect(await connection.receiveLine()).toBeNull();
      expect(await connection.receiveLine()).toBeNull();
    });

    it('joins a line that arrives one byte per TCP chunk, multi-byte UTF-8 included', async () => {
      const server = trickle();
      connection = await streamRequest(server.app, '/');
      const line = connection.receiveLine();
      await server.send('café € 😀\n');
      expect(await line).toBe('café € 😀');
    });

    it('gives a last line without a newline once the body has ended', async () => {
      const server = trickle();
      connection = await streamRequest(server.app, '/');
      await server.send('a\nb');
      server.end();
      expect(await connection.receiveLine()).toBe('a');
      expect(await connection.receiveLine()).toBe('b');
      expect(await connection.receiveLine()).toBeNull();
    });

    it('keeps a carriage return before the newline', async () => {
      connection = await streamRequest(sameTickApp('a\r\n'), '/');
      expect(await connection.receiveLine()).toBe('a\r');
    });

    it('throws a ResponseAbortedError when the connection is cut in the middle of a line', async () => {
      const server = trickle();
      connection = await streamRequest(server.app, '/');
      await server.send('whole\npart');
      server.cut();
      expect(await connection.receiveLine()).toBe('whole');
      await expect(connection.receiveLine()).rejects.toMatchObject({ name: 'ResponseAbortedError', receivedBytes: 10 });
    });

    it('throws a ReceiveTimeoutError when the line is late, leaving its first bytes unread', async () => {
      const server = trickle();
      connection = await streamRequest(server.app, '/', { timeout: 100 });
      await server.send('par');
      const error = await connection.receiveLine().catch((reason: unknown) => reason);
      expect(error).toBeInstanceOf(ReceiveTimeoutError);
      expect(error).toMatchObject({ awaited: 'the next line', timeout: 100 });
      await server.send('tial\n');
      expect(await connection.receiveLine()).toBe('partial');
    });
  });

  describe('receiveJson()', () => {
    it('gives each value of an ndjson() body, null included, then undefined', async () => {
      const app = express();
      app.get(
        '/',
        ndjson(() => [{ id: 1 }, null, 'two', [3]]),
      );
      connection = await streamRequest(app, '/');
      expect(await connection.receiveJson()).toEqual({ id: 1 });
      expect(await connection.receiveJson()).toBeNull();
      expect(await connection.receiveJson()).toBe('two');
      expect(await connection.receiveJson()).toEqual([3]);
      expect(await connection.receiveJson()).toBeUndefined();
      expect(await connection.receiveJson()).toBeUndefined();
    });

    it('parses a line that arrives one byte per TCP chunk', async () => {
      const server = trickle();
      connection = await streamRequest(server.app, '/');
      const value = connection.receiveJson();
      await server.send('{"name":"café 😀"}\n');
      expect(await value).toEqual({ name: 'café 😀' });
    });

    it('skips blank lines and parses a last line without a newline', async () => {
      connection = await streamRequest(sameTickApp('\n{"a":1}\r\n', '  \n', '2'), '/');
      expect(await connection.receiveJson()).toEqual({ a: 1 });
      expect(await connection.receiveJson()).toBe(2);
      expect(await connection.receiveJson()).toBeUndefined();
    });

    it('throws an AsyncStreamError for a line that is not JSON, then reads on', async () => {
      connection = await streamRequest(sameTickApp('{"a":\n', '1\n'), '/');
      const error = await connection.receiveJson().catch((reason: unknown) => reason);
      expect(isAsyncStreamError(error)).toBe(true);
      expect((error as Error).message).toContain('receiveJson() read a line that is not JSON, string (\'{"a":\')');
      expect((error as Error).cause).toBeInstanceOf(SyntaxError);
      expect(await connection.receiveJson()).toBe(1);
    });

    it('throws a ResponseAbortedError when the connection is cut in the middle of a line', async () => {
      const server = trickle();
      connection = await streamRequest(server.app, '/');
      await server.send('{"a":1');
      server.cut();
      await expect(connection.receiveJson()).rejects.toThrow(ResponseAbortedError);
    });
  });

  describe('readToEnd()', () => {
    it('gives the rest of a body that ended cleanly, with aborted false', async () => {
      connection = await streamRequest(sameTickApp('1\n', '2\n'), '/');
      expect(await connection.receiveLine()).toBe('1');
      const { body, aborted } = await connection.readToEnd();
      expect(body.toString()).toBe('2\n');
      expect(aborted).toBe(false);
    });

    it('gives what arrived of a body cut short, with aborted true, instead of throwing', async () => {
      const server = trickle();
      connection = await streamRequest(server.app, '/');
      await server.send('partial');
      server.cut();
      const { body, aborted } = await connection.readToEnd();
      expect(body.toString()).toBe('partial');
      expect(aborted).toBe(true);
    });

    it('throws a ReceiveTimeoutError when a chunk is late', async () => {
      const server = trickle();
      connection = await streamRequest(server.app, '/', { timeout: 100 });
      await expect(connection.readToEnd()).rejects.toMatchObject({
        name: 'ReceiveTimeoutError',
        awaited: 'the next chunk',
      });
    });
  });

  describe('receivedBytes', () => {
    it('counts the bytes that arrived, read or not', async () => {
      const server = trickle();
      connection = await streamRequest(server.app, '/');
      expect(connection.receivedBytes).toBe(0);
      await server.send('abc');
      expect(connection.receivedBytes).toBe(3);
      expect(await connection.receive()).toBeInstanceOf(Buffer);
      expect(connection.receivedBytes).toBe(3);
    });
  });

  describe('rawHeaders', () => {
    it('holds each header line as sent: the case of its name, and one entry per line', async () => {
      const app = express();
      app.get('/', (_req, res) => {
        res.setHeader('Set-Cookie', ['a=1', 'b=2']);
        res.setHeader('X-Mixed-Case', 'yes');
        res.end();
      });
      connection = await streamRequest(app, '/');
      const lines = [];
      for (let i = 0; i < connection.rawHeaders.length; i += 2)
        lines.push(`${connection.rawHeaders[i]}: ${connection.rawHeaders[i + 1]}`);
      expect(lines).toEqual(expect.arrayContaining(['Set-Cookie: a=1', 'Set-Cookie: b=2', 'X-Mixed-Case: yes']));
    });
  });

  describe('mixing readers', () => {
    it('reads on where the last reader stopped, keeping the rest of a chunk whole', async () => {
      connection = await streamRequest(sameTickApp('1\n', '2\n', '3\n'), '/');
      expect(await connection.receiveLine()).toBe('1');
      expect((await connection.receive())?.toString()).toBe('2\n3\n');
      expect(await connection.text()).toBe('');
    });

    it('gives text() what the lines left unread', async () => {
      connection = await streamRequest(sameTickApp('{"a":1}\n', 'rest\n'), '/');
      expect(await connection.receiveJson()).toEqual({ a: 1 });
      expect(await connection.text()).toBe('rest\n');
    });
  });

  describe.each(['receiveLine', 'receiveEvent', 'receiveJson'] as const)('%s(options)', (method) => {
    it('rejects an invalid timeout, naming the method', async () => {
      connection = await streamRequest(sameTickApp('x\n'), '/');
      await expect(connection[method]({ timeout: 0 })).rejects.toThrow(
        `${method}(options): \`timeout\` must be between 1`,
      );
    });
  });
});
