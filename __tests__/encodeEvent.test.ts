import { encodeEvent, type SseEvent } from '../src/index.js';

interface Dispatched {
  readonly type: string;
  readonly data: string;
  readonly lastEventId: string;
}

/**
 * What a browser makes of a `text/event-stream`, written from the WHATWG HTML standard's parsing
 * (§9.2.5) and interpreting (§9.2.6) algorithms, independently of the encoder under test.
 */
function parseEventStream(text: string) {
  const events: Dispatched[] = [];
  const comments: string[] = [];
  let data = '';
  let type = '';
  let idBuffer = '';
  let retry: number | undefined;
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  // What follows the last line break is an incomplete line: discarded at the end of the stream.
  lines.pop();
  for (const line of lines) {
    if (line === '') {
      // Dispatch: the last event ID is set even when no event is dispatched.
      if (data !== '') events.push({ type: type || 'message', data: data.replace(/\n$/, ''), lastEventId: idBuffer });
      data = '';
      type = '';
      continue;
    }
    if (line.startsWith(':')) {
      comments.push(line.slice(1));
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (name === 'event') type = value;
    else if (name === 'data') data += `${value}\n`;
    else if (name === 'id' && !value.includes('\0')) idBuffer = value;
    else if (name === 'retry' && /^[0-9]+$/.test(value)) retry = Number(value);
  }
  return { events, comments, lastEventId: idBuffer, retry };
}

describe('encodeEvent(event)', () => {
  describe('with valid events', () => {
    it.each<[string, SseEvent | string, string]>([
      ['a string as a data-only event', 'hello', 'data: hello\n\n'],
      ['an empty string', '', 'data:\n\n'],
      ['string data', { data: 'hello' }, 'data: hello\n\n'],
      ['data that starts with a space (the space survives)', { data: ' x' }, 'data:  x\n\n'],
      ['data with a colon', { data: 'a: b' }, 'data: a: b\n\n'],
      ['non-ASCII data', { data: 'héllo ✓' }, 'data: héllo ✓\n\n'],
      ['object data as JSON', { data: { a: 1, b: 'two' } }, 'data: {"a":1,"b":"two"}\n\n'],
      ['array data as JSON', { data: [1, 'x'] }, 'data: [1,"x"]\n\n'],
      ['number data as JSON', { data: 42 }, 'data: 42\n\n'],
      ['null data as JSON', { data: null }, 'data: null\n\n'],
      ['boolean data as JSON', { data: false }, 'data: false\n\n'],
      ['JSON with a line break in a string (escaped: one line)', { data: { t: 'a\nb' } }, 'data: {"t":"a\\nb"}\n\n'],
      ['an event type', { event: 'tick', data: 'x' }, 'event: tick\ndata: x\n\n'],
      ['an empty event type', { event: '', data: 'x' }, 'event:\ndata: x\n\n'],
      ['a string id', { id: '7', data: 'x' }, 'id: 7\ndata: x\n\n'],
      ['a number id', { id: 42 }, 'id: 42\n\n'],
      ['an empty id (reset)', { id: '' }, 'id:\n\n'],
      ['retry 0', { retry: 0 }, 'retry: 0\n\n'],
      ['retry in milliseconds', { retry: 3000, data: 'x' }, 'retry: 3000\ndata: x\n\n'],
      ['a comment', { comment: 'hi' }, ': hi\n\n'],
      ['an empty comment', { comment: '' }, ':\n\n'],
      ['a multi-line comment', { comment: 'a\nb\r\nc' }, ': a\n: b\n: c\n\n'],
      [
        'every field, in the order comment, event, id, retry, data',
        { data: 'd', retry: 5, id: 'i', event: 'e', comment: 'c' },
        ': c\nevent: e\nid: i\nretry: 5\ndata: d\n\n',
      ],
      ['fields set to undefined, which are left out', { data: 'x', id: undefined, event: undefined }, 'data: x\n\n'],
    ])('encodes %s', (_name, event, frame) => {
      expect(encodeEvent(event)).toBe(frame);
    });
  });

  describe('with multi-line data', () => {
    it.each([
      ['LF', 'a\nb', 'data: a\ndata: b\n\n'],
      ['CR', 'a\rb', 'data: a\ndata: b\n\n'],
      ['CRLF', 'a\r\nb', 'data: a\ndata: b\n\n'],
      ['mixed breaks', 'a\nb\rc\r\nd', 'data: a\ndata: b\ndata: c\ndata: d\n\n'],
      ['LF then CR (two breaks)', 'a\n\rb', 'data: a\ndata:\ndata: b\n\n'],
      ['a blank line inside', 'a\r\n\r\nb', 'data: a\ndata:\ndata: b\n\n'],
      ['a trailing newline (kept as an empty last line)', 'a\n', 'data: a\ndata:\n\n'],
      ['a leading newline', '\na', 'data:\ndata: a\n\n'],
    ])('splits on %s into several data lines', (_name, data, frame) => {
      expect(encodeEvent({ data })).toBe(frame);
      expect(encodeEvent(data)).toBe(frame);
    });
  });

  describe('with invalid events', () => {
    it('names the value received and the fix', () => {
      expect(() => encodeEvent({ id: 'line\nbreak' })).toThrow(
        "`id` must not contain CR, LF or NUL (the browser would cut or ignore it), but received string ('line\\nbreak'). " +
          'Use a single-line id without NUL characters.',
      );
      expect(() => encodeEvent({ retry: -5 })).toThrow('but received number (-5). Round it');
    });

    it('keeps the serialisation error as the cause', () => {
      let thrown: unknown;
      try {
        encodeEvent({ data: 1n });
      } catch (error) {
        thrown = error;
      }
      expect((thrown as Error).cause).toBeInstanceOf(TypeError);
    });
  });

  describe('decoded by the standard parsing algorithm', () => {
    it.each<[string, SseEvent | string, Partial<Dispatched>]>([
      ['a string', 'hello', { type: 'message', data: 'hello' }],
      ['multi-line data with every kind of break', { data: 'a\nb\rc\r\nd' }, { data: 'a\nb\nc\nd' }],
      ['a trailing newline', { data: 'a\n' }, { data: 'a\n' }],
      ['a blank line inside', { data: 'a\n\nb' }, { data: 'a\n\nb' }],
      ['leading spaces', { data: '  two spaces' }, { data: '  two spaces' }],
      ['JSON data', { data: { n: [1, 2], s: 'x\ny' } }, { data: '{"n":[1,2],"s":"x\\ny"}' }],
      ['an event type', { event: 'tick', data: 'x' }, { type: 'tick', data: 'x' }],
      ['an empty event type', { event: '', data: 'x' }, { type: 'message', data: 'x' }],
      ['an id', { id: 'abc', data: 'x' }, { data: 'x', lastEventId: 'abc' }],
      ['a number id', { id: 12, data: 'x' }, { data: 'x', lastEventId: '12' }],
    ])('gives back %s', (_name, event, expected) => {
      const { events } = parseEventStream(encodeEvent(event));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject(expected);
    });

    it('gives back a stream of events, ids, a reset id, retry and comments', () => {
      const stream = [
        encodeEvent({ comment: 'hello\nthere', retry: 0 }),
        encodeEvent({ id: '1', data: 'one' }),
        encodeEvent({ id: '', data: 'reset' }),
        encodeEvent({ id: '3' }),
        encodeEvent({ event: 'last', data: { n: 4 } }),
      ].join('');
      const parsed = parseEventStream(stream);
      expect(parsed.events).toEqual([
        { type: 'message', data: 'one', lastEventId: '1' },
        { type: 'message', data: 'reset', lastEventId: '' },
        // An id-only event dispatches nothing but still sets the id the browser resumes from.
        { type: 'last', data: '{"n":4}', lastEventId: '3' },
      ]);
      expect(parsed.retry).toBe(0);
      expect(parsed.comments).toEqual([' hello', ' there']);
    });

    it('gives back empty data as an empty message (one `data:` line), unlike an event without data', () => {
      expect(parseEventStream(encodeEvent('')).events).toEqual([{ type: 'message', data: '', lastEventId: '' }]);
      expect(parseEventStream(encodeEvent({ event: 'nothing' })).events).toEqual([]);
    });
  });
});
