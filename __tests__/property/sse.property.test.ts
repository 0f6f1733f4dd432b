import { inspect } from 'node:util';
import { createParser } from 'eventsource-parser';
import fc from 'fast-check';
import { encodeEvent, sse, type SseEvent } from '../../src/index.js';
import { streamRequest } from '../../src/testing/index.js';
import { recordErrorsByUrl, useProcessWatch } from '../helpers/app.js';
import { expressVersions } from '../helpers/express.js';
import { runs } from '../helpers/fastCheck.js';
import { listen, type TestServer } from '../helpers/server.js';
import { nameOf, pathFor, PROPERTY_TIMEOUT } from './support.js';

// Pure properties run in microseconds each; the end-to-end one is a request per run.
const STRING_RUNS = 1000;
const EVENT_RUNS = 1000;
const SEQUENCE_RUNS = 300;
const INVALID_RUNS = 500;
const END_TO_END_RUNS = 60; // per Express major

// ---------------------------------------------------------------------------------------------
// What an independent parser (eventsource-parser 3, WHATWG HTML §9.2.5-6) makes of a stream.
// ---------------------------------------------------------------------------------------------

type Parsed =
  | readonly ['comment', string]
  | readonly ['retry', number]
  | readonly ['event', { readonly id: string | undefined; readonly event: string | undefined; readonly data: string }]
  | readonly ['error', string];

/**
 * Feeds `chunks` to eventsource-parser and logs what it reports, in order. The stream is first
 * decoded from UTF-8 as a browser does (TextDecoder, which drops a byte order mark at its start).
 */
function parseStream(chunks: ReadonlyArray<string | Uint8Array>): Parsed[] {
  const log: Parsed[] = [];
  const parser = createParser({
    onEvent: ({ id, event, data }) => log.push(['event', { id, event, data }]),
    onRetry: (retry) => log.push(['retry', retry]),
    onComment: (comment) => log.push(['comment', comment]),
    onError: (error) => log.push(['error', error.message]),
  });
  const decoder = new TextDecoder('utf-8');
  for (const chunk of chunks) {
    parser.feed(decoder.decode(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, { stream: true }));
  }
  parser.feed(decoder.decode());
  return log;
}

/** §9.2.6: data lines are joined with LF, so CRLF and CR in the data come back as LF. */
const asReceived = (text: string): string => text.replace(/\r\n|\r/g, '\n');

/**
 * The contract of encodeEvent, from the README: fields go out as comment, event, id, retry, data;
 * a comment or data may span lines; non-string data is JSON; an event without data dispatches
 * nothing (its id and retry still apply); an empty event type is `message` (the parser: undefined).
 */
function expectedParse(event: SseEvent | string): Parsed[] {
  if (typeof event === 'string') return [['event', { id: undefined, event: undefined, data: asReceived(event) }]];
  const log: Parsed[] = [];
  if (event.comment !== undefined) for (const line of event.comment.split(/\r\n|\r|\n/)) log.push(['comment', line]);
  // -0 goes out as "0".
  if (event.retry !== undefined) log.push(['retry', event.retry + 0]);
  if (event.data !== undefined) {
    const data = typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
    log.push([
      'event',
      {
        id: event.id === undefined ? undefined : String(event.id),
        event: event.event || undefined,
        data: asReceived(data),
      },
    ]);
  }
  return log;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries.
// ---------------------------------------------------------------------------------------------

const codePoint = fc.string({ unit: 'binary', minLength: 1, maxLength: 1 });
/** Text dense in what matters to the format: line breaks, colons, spaces, NUL, BOM, other separators. */
const sseText = fc.string({
  unit: fc.oneof(
    { weight: 2, arbitrary: codePoint },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        '\n',
        '\r',
        '\r\n',
        '\n\n',
        ' ',
        ':',
        '\0',
        '\uFEFF',
        '\u2028',
        '\u2029',
        '\u0085',
        'data: x',
        'id: 1',
        'a',
      ),
    },
  ),
  maxLength: 16,
});
const singleLine = sseText.map((s) => s.replace(/[\r\n]/g, ''));
const validId = fc.oneof(
  singleLine.map((s) => s.replace(/\0/g, '')),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const validRetry = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, -0, Number.MAX_SAFE_INTEGER));
const validData = fc.oneof(
  sseText,
  fc.jsonValue({ maxDepth: 3, stringUnit: fc.oneof(codePoint, fc.constantFrom('\n', '\r', '\u2028')) }),
);
const maybe = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined, freq: 2 });

const eventObject: fc.Arbitrary<SseEvent> = fc
  .record({
    comment: maybe(sseText),
    event: maybe(singleLine),
    id: maybe(validId),
    retry: maybe(validRetry),
    data: maybe(validData),
  })
  .filter((event) => Object.values(event).some((field) => field !== undefined));
const anyEvent: fc.Arbitrary<SseEvent | string> = fc.oneof(sseText, { weight: 3, arbitrary: eventObject });

// ---------------------------------------------------------------------------------------------

describe('encodeEvent(event) against eventsource-parser', () => {
  it('round-trips any string as the data of one message event', () => {
    fc.assert(
      fc.property(sseText, (data) => {
        expect(parseStream([encodeEvent(data)])).toEqual([
          ['event', { id: undefined, event: undefined, data: asReceived(data) }],
        ]);
      }),
      runs(STRING_RUNS),
    );
  });

  it('round-trips every field of any valid event, in the order comment, retry, event', () => {
    fc.assert(
      fc.property(anyEvent, (event) => {
        expect(parseStream([encodeEvent(event)])).toEqual(expectedParse(event));
      }),
      runs(EVENT_RUNS),
    );
  });

  it('writes one frame of LF-terminated field lines and a single blank line, never a CR', () => {
    fc.assert(
      fc.property(anyEvent, (event) => {
        const frame = encodeEvent(event);
        expect(frame.endsWith('\n\n')).toBe(true);
        expect(frame).not.toContain('\r');
        expect(frame.startsWith('\uFEFF')).toBe(false);
        for (const line of frame.slice(0, -2).split('\n')) expect(line).toMatch(/^(:|event:|id:|retry: \d+$|data:)/);
      }),
      runs(EVENT_RUNS),
    );
  });

  it('keeps events apart in a stream however it is split into chunks', () => {
    const splitStream = fc.array(anyEvent, { minLength: 1, maxLength: 6 }).chain((events) => {
      const stream = events.map((event) => encodeEvent(event)).join('');
      return fc.record({
        events: fc.constant(events),
        cuts: fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, stream.length - 1) }), { maxLength: 6 }),
      });
    });
    fc.assert(
      fc.property(splitStream, ({ events, cuts }) => {
        const bytes = Buffer.from(events.map((event) => encodeEvent(event)).join(''), 'utf8');
        // Cut the bytes, even inside a UTF-8 sequence: the decoder and the parser must not care.
        const points = [0, ...cuts.filter((cut) => cut < bytes.length).sort((a, b) => a - b), bytes.length];
        const chunks = points.slice(1).map((end, i) => bytes.subarray(points[i], end));
        expect(parseStream(chunks)).toEqual(events.flatMap(expectedParse));
      }),
      runs(SEQUENCE_RUNS),
    );
  });

  describe('with what the format cannot carry', () => {
    interface Invalid {
      readonly field: keyof SseEvent | 'event itself';
      readonly value: unknown;
      readonly error: typeof TypeError | typeof RangeError;
      readonly phrases: readonly string[];
    }
    const short = fc.stringMatching(/^[a-z0-9 ]{0,5}$/);
    const withBreak = (breaks: string[]) =>
      fc.tuple(short, fc.constantFrom(...breaks), short).map(([a, b, c]) => `${a}${b}${c}`);
    const received = (value: unknown) =>
      `but received ${typeof value === 'string' ? `string (${inspect(value)})` : nameOf(value)}`;
    const notJsonable: fc.Arbitrary<unknown> = fc.constantFrom<unknown>(
      10n,
      { nested: [1, 2n] },
      (() => {
        const cycle: Record<string, unknown> = { a: 1 };
        cycle.self = cycle;
        return cycle;
      })(),
      function render() {},
      Symbol('s'),
      { toJSON: () => undefined },
    );

    const invalidField: fc.Arbitrary<Invalid> = fc.oneof(
      // §9.2.6: a line break would end the field; an id with NUL is ignored by the browser.
      withBreak(['\r', '\n', '\r\n', '\0']).map((id) => ({
        field: 'id' as const,
        value: id,
        error: TypeError,
        phrases: ['encodeEvent(): `id` must not contain CR, LF or NUL', received(id)],
      })),
      fc.constantFrom<unknown>(NaN, Infinity, -Infinity, null, true, {}, [], 1n).map((id) => ({
        field: 'id' as const,
        value: id,
        error: TypeError,
        phrases: ['encodeEvent(): `id` must be a string or a finite number', received(id)],
      })),
      withBreak(['\r', '\n', '\r\n']).map((type) => ({
        field: 'event' as const,
        value: type,
        error: TypeError,
        phrases: ['encodeEvent(): `event` must not contain CR or LF', received(type)],
      })),
      fc.constantFrom<unknown>(1, null, false, {}, ['tick']).map((type) => ({
        field: 'event' as const,
        value: type,
        error: TypeError,
        phrases: ['encodeEvent(): `event` must be a string', received(type)],
      })),
      fc.constantFrom<unknown>(1, null, false, ['a', 'b']).map((comment) => ({
        field: 'comment' as const,
        value: comment,
        error: TypeError,
        phrases: ['encodeEvent(): `comment` must be a string', received(comment)],
      })),
      // §9.2.6: the browser applies `retry` only when it is ASCII digits.
      fc
        .oneof(
          fc.integer({ max: -1 }),
          fc.double({ noInteger: true }),
          fc.constantFrom(NaN, Infinity, -Infinity, 2 ** 53, 1e21),
        )
        .map((retry) => ({
          field: 'retry' as const,
          value: retry,
          error: RangeError,
          phrases: ['encodeEvent(): `retry` must be a non-negative integer number of milliseconds', received(retry)],
        })),
      fc.constantFrom<unknown>('1000', null, true, 5n).map((retry) => ({
        field: 'retry' as const,
        value: retry,
        error: TypeError,
        phrases: ['encodeEvent(): `retry` must be a number of milliseconds', received(retry)],
      })),
      notJsonable.map((data) => ({
        field: 'data' as const,
        value: data,
        error: TypeError,
        phrases: [`encodeEvent(): \`data\` is ${nameOf(data)}`, 'JSON.stringify()'],
      })),
    );

    it('refuses an event with a field it cannot encode, naming the field and the value', () => {
      fc.assert(
        fc.property(eventObject, invalidField, (valid, { field, value, error, phrases }) => {
          const event = { ...valid, [field]: value };
          let thrown: unknown;
          try {
            encodeEvent(event);
          } catch (caught) {
            thrown = caught;
          }
          expect(thrown).toBeInstanceOf(error);
          for (const phrase of phrases) expect((thrown as Error).message).toContain(phrase);
        }),
        runs(INVALID_RUNS),
      );
    });

    it('refuses an event with no field, and anything that is neither a string nor an event object', () => {
      const noField = fc.oneof(
        fc.constant({}),
        fc.record({ data: fc.constant(undefined), id: fc.constant(undefined) }),
        fc.dictionary(
          fc.stringMatching(/^[a-z]{1,6}$/).filter((key) => !['comment', 'event', 'id', 'retry', 'data'].includes(key)),
          fc.jsonValue(),
          { minKeys: 1, maxKeys: 3 },
        ),
      );
      const notAnEvent = fc.constantFrom<unknown>(
        undefined,
        null,
        42,
        true,
        7n,
        Symbol('e'),
        ['data', 'x'],
        function event() {},
      );
      fc.assert(
        fc.property(
          fc.oneof(
            noField.map((value) => ({ value, phrase: 'has none of data, event, id, retry or comment' })),
            notAnEvent.map((value) => ({
              value,
              phrase: `an event must be a string or an object with data, event, id, retry or comment, but received ${nameOf(value)}`,
            })),
          ),
          ({ value, phrase }) => {
            expect(() => encodeEvent(value as SseEvent)).toThrow(TypeError);
            expect(() => encodeEvent(value as SseEvent)).toThrow(
              `encodeEvent(): ${phrase.startsWith('has') ? 'the event ' : ''}`,
            );
            expect(() => encodeEvent(value as SseEvent)).toThrow(phrase);
          },
        ),
        runs(INVALID_RUNS),
      );
    });
  });
});

describe.each(expressVersions)('sse(handler) end to end against eventsource-parser (%s)', (_name, createApp) => {
  let server: TestServer;
  let errors: Map<string, unknown[]>;
  let current: () => unknown = () => [];
  let run = 0;
  const watcher = useProcessWatch();

  beforeAll(async () => {
    const app = createApp();
    // No keep-alive comments: the stream holds exactly the events produced.
    app.get(
      '/',
      sse(() => current() as Iterable<SseEvent | string>, { keepAlive: null }),
    );
    errors = recordErrorsByUrl(app);
    server = await listen(app);
  });

  afterAll(async () => {
    await server.close();
  });

  it(
    'streams any events so that the parser reads back exactly what was encoded',
    async () => {
      const produced = fc.record({
        events: fc.array(anyEvent, { maxLength: 8 }),
        form: fc.constantFrom('async generator', 'sync generator', 'array'),
      });
      await fc.assert(
        fc.asyncProperty(produced, async ({ events, form }) => {
          const path = pathFor(++run);
          current = () => {
            if (form === 'array') return events;
            if (form === 'sync generator')
              return (function* () {
                yield* events;
              })();
            return (async function* () {
              yield* events;
            })();
          };

          const client = await streamRequest(server.url, path);
          const chunks: Buffer[] = [];
          for (let chunk = await client.receive(); chunk !== null; chunk = await client.receive()) chunks.push(chunk);

          expect((await client.readToEnd()).aborted).toBe(false);
          expect(errors.get(path)).toBeUndefined();
          expect(client.status).toBe(200);
          expect(client.headers['content-type']).toBe('text/event-stream; charset=utf-8');
          expect(client.headers['cache-control']).toBe('no-cache, no-transform');
          expect(client.headers['x-accel-buffering']).toBe('no');
          expect(client.headers['content-length']).toBeUndefined();
          expect(Buffer.concat(chunks)).toEqual(
            Buffer.from(events.map((event) => encodeEvent(event)).join(''), 'utf8'),
          );
          // Parsed as the chunks arrived, as a browser would.
          expect(parseStream(chunks)).toEqual(events.flatMap(expectedParse));
        }),
        runs(END_TO_END_RUNS),
      );
      expect(watcher.unhandled).toEqual([]);
      expect(watcher.logged).toEqual([]);
    },
    PROPERTY_TIMEOUT,
  );
});
