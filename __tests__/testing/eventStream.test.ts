import type http from 'node:http';
import express from 'express';
import { createParser } from 'eventsource-parser';
import { sse } from '../../src/index.js';
import {
  ReceiveTimeoutError,
  streamRequest,
  type ServerSentEvent,
  type StreamConnection,
} from '../../src/testing/index.js';
import { useTrickle } from '../helpers/trickle.js';

/** An app that answers with `body` as an event stream, in one write. */
function wholeStream(body: string): http.RequestListener {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.end(body);
  };
}

async function receiveAll(connection: StreamConnection): Promise<ServerSentEvent[]> {
  const events: ServerSentEvent[] = [];
  for (let event = await connection.receiveEvent(); event !== null; event = await connection.receiveEvent())
    events.push(event);
  return events;
}

/** What eventsource-parser, a parser used by many SSE clients, dispatches for `body`. */
function parsedByEventsourceParser(body: string): Array<{ data: string; event?: string }> {
  const events: Array<{ data: string; event?: string }> = [];
  const parser = createParser({
    onEvent: ({ data, event }) => events.push({ data, ...(event !== undefined && { event }) }),
  });
  // TextDecoder, as a browser decodes the stream: it strips a leading byte order mark.
  parser.feed(new TextDecoder().decode(Buffer.from(body)));
  // The end of the stream: a CR it holds back, waiting to see whether an LF follows, ends a line.
  parser.reset({ consume: true });
  return events;
}

// The event-stream interpretation of the WHATWG HTML standard, case by case:
// https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
const interpretations: Array<[string, string, ServerSentEvent[]]> = [
  ['skips comments', ': hello\n\ndata: x\n\n', [{ data: 'x' }]],
  ['joins data lines with LF, keeping an empty last one', 'data: a\ndata:b\ndata\n\n', [{ data: 'a\nb\n' }]],
  ['removes one leading space of a value, no more', 'data:  x\n\n', [{ data: ' x' }]],
  ['dispatches nothing for a block without data, and forgets its type', 'event: e\n\ndata: y\n\n', [{ data: 'y' }]],
  ['dispatches an event whose data is empty', 'data\n\n', [{ data: '' }]],
  [
    'gives the event type, absent when empty',
    'event: tick\ndata: 1\n\nevent:\ndata: 2\n\n',
    [{ event: 'tick', data: '1' }, { data: '2' }],
  ],
  [
    'carries the last event ID to later events until an empty id resets it',
    'id: 1\ndata: a\n\ndata: b\n\nid\ndata: c\n\n',
    [{ data: 'a', id: '1' }, { data: 'b', id: '1' }, { data: 'c' }],
  ],
  ['takes an id from a block without data', 'id: 7\n\ndata: a\n\n', [{ data: 'a', id: '7' }]],
  [
    'ignores an id that contains NUL',
    'id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n',
    [
      { data: 'a', id: '1' },
      { data: 'b', id: '1' },
    ],
  ],
  [
    'gives a retry to the next event, once',
    'retry: 3000\n\ndata: a\n\ndata: b\n\n',
    [{ data: 'a', retry: 3000 }, { data: 'b' }],
  ],
  ['ignores a retry that is not only ASCII digits', 'retry: 1e3\ndata: a\n\n', [{ data: 'a' }]],
  ['ignores unknown fields', 'foo: bar\ndata: a\n\n', [{ data: 'a' }]],
  ['ends lines at CRLF, LF or CR', 'data: a\rdata: b\r\n\r\ndata: c\r\r: end\n', [{ data: 'a\nb' }, { data: 'c' }]],
  ['strips one leading byte order mark, only at the start', '\uFEFFdata: a\n\n\uFEFFdata: b\n\n', [{ data: 'a' }]],
  ['discards an event the stream ends in the middle of', 'data: a\n\ndata: b\n', [{ data: 'a' }]],
];

describe('StreamConnection.receiveEvent()', () => {
  const trickle = useTrickle('text/event-stream');
  let connection: StreamConnection | undefined;

  afterEach(async () => {
    await connection?.disconnect();
    connection = undefined;
  });

  describe('as the WHATWG HTML standard interprets an event stream', () => {
    it.each(interpretations)('%s', async (_rule, body, expected) => {
      connection = await streamRequest(wholeStream(body), '/');
      expect(await receiveAll(connection)).toEqual(expected);
    });

    it.each(interpretations)('%s, with each byte in a TCP chunk of its own', async (_rule, body, expected) => {
      const server = trickle();
      connection = await streamRequest(server.app, '/');
      const events = receiveAll(connection);
      await server.send(body);
      server.end();
      expect(await events).toEqual(expected);
    });

    it.each(interpretations)('%s, as eventsource-parser does (data and type)', (_rule, body, expected) => {
      expect(parsedByEventsourceParser(body)).toEqual(
        expected.map(({ data, event }) => ({ data, ...(event !== undefined && { event }) })),
      );
    });
  });

  it('reads what sse() sends', async () => {
    const app = express();
    app.get(
      '/',
      sse(() => [{ event: 'tick', data: 'a\nb', id: '1', retry: 500 }, 'plain']),
    );
    connection = await streamRequest(app, '/');
    expect(await connection.receiveEvent()).toEqual({ event: 'tick', data: 'a\nb', id: '1', retry: 500 });
    expect(await connection.receiveEvent()).toEqual({ data: 'plain', id: '1' });
    expect(await connection.receiveEvent()).toBeNull();
    expect(await connection.receiveEvent()).toBeNull();
  });

  // eventsource-parser holds a last CR back, waiting for a possible LF, and drops it at the end.
  it('dispatches an event whose blank line is a CR at the very end of the stream', async () => {
    connection = await streamRequest(wholeStream('data: c\r\r'), '/');
    expect(await receiveAll(connection)).toEqual([{ data: 'c' }]);
  });

  it('gives an event ended by a CR at once, and takes an LF that follows as part of that line break', async () => {
    const server = trickle();
    connection = await streamRequest(server.app, '/');
    await server.send('data: a\r\r');
    expect(await connection.receiveEvent()).toEqual({ data: 'a' });
    await server.send('\nx');
    expect((await connection.receive())?.toString()).toBe('x');
  });

  it('throws a ResponseAbortedError when the connection is cut in the middle of an event', async () => {
    const server = trickle();
    connection = await streamRequest(server.app, '/');
    await server.send('data: a\n\ndata: b\n');
    server.cut();
    expect(await connection.receiveEvent()).toEqual({ data: 'a' });
    await expect(connection.receiveEvent()).rejects.toMatchObject({ name: 'ResponseAbortedError', receivedBytes: 17 });
  });

  it('throws a ReceiveTimeoutError when the event is late, leaving its first lines unread', async () => {
    const server = trickle();
    connection = await streamRequest(server.app, '/', { timeout: 100 });
    await server.send('id: 9\ndata: a\n');
    const error = await connection.receiveEvent().catch((reason: unknown) => reason);
    expect(error).toBeInstanceOf(ReceiveTimeoutError);
    expect(error).toMatchObject({ awaited: 'the next event', timeout: 100 });
    await server.send('data: b\n\n');
    expect(await connection.receiveEvent()).toEqual({ data: 'a\nb', id: '9' });
  });
});
