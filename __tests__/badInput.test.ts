// Bad input, one row per input: where it is rejected (when the route is defined, when a function is
// called, or at request time before or after the headers), with which error class and which message
// (the value received and the fix), and that nothing is left behind: a body handed over is closed,
// no promise rejection goes unhandled, nothing is logged, and the app goes on serving.
import { Readable } from 'node:stream';
import type { Express, RequestHandler } from 'express';
import {
  asyncStream,
  closeStreams,
  encodeEvent,
  makeResponse,
  ndjson,
  sse,
  withContext,
  type SseEvent,
} from '../src/index.js';
import { ResponseAbortedError, streamRequest, type StreamConnection } from '../src/testing/index.js';
import { recordErrors, useProcessWatch } from './helpers/app.js';
import { deferred, settle } from './helpers/deferred.js';
import { expressVersions } from './helpers/express.js';
import { useTestServer } from './helpers/server.js';
import { watchWarnings } from './helpers/warnings.js';
import { rawGet } from './helpers/rawHttp.js';
import { within } from './helpers/within.js';

type ErrorClass = new (...args: never[]) => Error;

/** What a rejection looks like: the exact class and the phrases its message must hold. */
interface Rejection {
  readonly error: ErrorClass;
  /** Key phrases: the value received as the message names it, and the fix it points to. */
  readonly says: readonly string[];
}

function expectRejection(error: unknown, { error: ErrorClass, says }: Rejection): void {
  expect(error).toBeInstanceOf(ErrorClass);
  // The class itself, not a subclass: Node's own ERR_INVALID_CHAR is a TypeError subclass too.
  expect(Object.getPrototypeOf(error)).toBe(ErrorClass.prototype);
  for (const phrase of says) expect((error as Error).message).toContain(phrase);
}

/** The error `call` throws synchronously; fails if it returns (even a rejected promise). */
function thrownBy(call: () => unknown): unknown {
  let result: unknown;
  try {
    result = call();
  } catch (error) {
    return error;
  }
  if (result instanceof Promise) result.catch(() => {});
  throw new Error(`expected a synchronous throw, but it returned ${String(result)}`);
}

/** The error the promise `call` returns rejects with; fails if `call` throws synchronously or resolves. */
async function rejectionOf(call: () => unknown): Promise<unknown> {
  const result = call();
  if (!(result instanceof Promise)) throw new Error('expected a promise');
  return result.then(
    () => {
      throw new Error('expected a rejection, but it resolved');
    },
    (error: unknown) => error,
  );
}

/**
 * Bodies the test can inspect: whether a handler created one, whether its code started, and whether
 * it was closed (a generator's `finally`, which only `return()` can run once it is parked at a
 * `yield`; a `Readable` destroyed; a `ReadableStream` cancelled).
 */
interface Tracked {
  // Typed as yielding `never` so that any route accepts them: they yield what the row says, bad or not.
  /** An async generator that yields `chunks` one by one, then ends. */
  body(chunks?: readonly unknown[]): AsyncGenerator<never, void, undefined>;
  /** A sync generator that yields `chunks`. */
  syncBody(chunks: readonly unknown[]): Generator<never, void, undefined>;
  /** An object-mode `Readable` of `chunks`. */
  readable(chunks: readonly unknown[]): Readable;
  /** A web `ReadableStream` of `chunks`, one per pull. */
  readableStream(chunks: readonly unknown[]): ReadableStream<unknown>;
  /** A body already started, parked inside its `try`: as a handler that peeked at it leaves it. */
  started(): Promise<AsyncGenerator<never, void, undefined>>;
  readonly created: number;
  readonly ran: boolean;
  readonly finalized: Promise<void>;
}

function track(): Tracked {
  let created = 0;
  let ran = false;
  const finalized = deferred();
  const close = (): void => finalized.resolve();
  async function* generate(chunks: readonly unknown[]): AsyncGenerator<unknown, void, undefined> {
    ran = true;
    try {
      for (const chunk of chunks) yield chunk;
    } finally {
      close();
    }
  }
  function* generateSync(chunks: readonly unknown[]): Generator<unknown, void, undefined> {
    ran = true;
    try {
      for (const chunk of chunks) yield chunk;
    } finally {
      close();
    }
  }
  const body = (chunks: readonly unknown[] = ['never sent']) => {
    created++;
    return generate(chunks) as AsyncGenerator<never, void, undefined>;
  };
  return {
    body,
    syncBody(chunks) {
      created++;
      return generateSync(chunks) as Generator<never, void, undefined>;
    },
    readable(chunks) {
      created++;
      const queue = [...chunks];
      // Not Readable.from(): its 'close' also follows a natural end, and here only destroy() counts.
      const readable = new Readable({
        objectMode: true,
        read() {
          ran = true;
          if (queue.length > 0) this.push(queue.shift());
        },
      });
      readable.on('close', close);
      return readable;
    },
    readableStream(chunks) {
      created++;
      const queue = [...chunks];
      return new ReadableStream<unknown>(
        {
          pull(controller) {
            ran = true;
            if (queue.length > 0) controller.enqueue(queue.shift());
          },
          cancel: close,
        },
        { highWaterMark: 0 },
      );
    },
    async started() {
      const generator = body(['peeked', 'never sent']);
      await generator.next();
      return generator;
    },
    get created() {
      return created;
    },
    get ran() {
      return ran;
    },
    finalized: finalized.promise,
  };
}

/** What must be true of the tracked body once the request is over. */
type LeftBehind =
  /** A body reached the package and was closed: its `finally` ran. */
  | 'closed'
  /** The handler made a body but the package never got it, and none of its code ran. */
  | 'not started'
  /** The handler was never called. */
  | 'not created';

async function expectNothingLeft(tracked: Tracked, expected: LeftBehind): Promise<void> {
  if (expected === 'closed') {
    await within(tracked.finalized, "the body's finally");
  } else {
    await settle();
    expect(tracked.ran).toBe(false);
    expect(tracked.created).toBe(expected === 'not created' ? 0 : 1);
  }
}

/** A value as a title shows it: strings quoted, BigInts with their `n`. */
function show(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  return String(value);
}

// ---------------------------------------------------------------------------------------------
// Rejected synchronously: by a factory when the route is defined, or by a function when called.
// ---------------------------------------------------------------------------------------------

interface CallRow extends Rejection {
  readonly input: string;
  readonly call: () => unknown;
}

const handler = () => 'x';
async function* ticks(): AsyncGenerator<string> {
  yield 'tick';
}

const TIMEOUT_TYPE = 'must be a number of milliseconds or null (no timeout), but received';
const TIMEOUT_RANGE = 'must be between 1 and 2147483647 milliseconds, but received';
const TIMEOUT_FIX = 'Use null to switch the idle timeout off.';

/** `timeout` values every factory must reject, with the class and the value as the message names it. */
const badTimeouts: ReadonlyArray<readonly [value: unknown, error: ErrorClass, named: string]> = [
  ['60s', TypeError, "string ('60s')"],
  [true, TypeError, 'boolean (true)'],
  [1000n, TypeError, 'bigint (1000n)'],
  [{ ms: 5 }, TypeError, 'object ({ ms: 5 })'],
  [0, RangeError, 'number (0)'],
  [-1, RangeError, 'number (-1)'],
  [NaN, RangeError, 'number (NaN)'],
  [-Infinity, RangeError, 'number (-Infinity)'],
  [2 ** 31, RangeError, 'number (2147483648)'],
];

function timeoutRows(factory: string, define: (timeout: unknown) => unknown, label: string): CallRow[] {
  return badTimeouts.map(([value, error, named]) => ({
    input: `${factory} with timeout ${named}`,
    call: () => define(value),
    error,
    says:
      error === TypeError ? [`${label} ${TIMEOUT_TYPE} ${named}`] : [`${label} ${TIMEOUT_RANGE} ${named}`, TIMEOUT_FIX],
  }));
}

const definitionRows: CallRow[] = [
  // asyncStream(handler, options)
  {
    input: 'asyncStream() with a string handler',
    call: () => asyncStream('rows' as never),
    error: TypeError,
    says: [
      "asyncStream(handler) expects a function or a generator function, but received string ('rows')",
      'Pass the function itself',
    ],
  },
  {
    input: 'asyncStream() with a generator object instead of its function',
    call: () => asyncStream(ticks() as never),
    error: TypeError,
    says: [
      'expects a function or a generator function, but received object (Object [AsyncGenerator] {})',
      'not asyncStream(rows())',
    ],
  },
  {
    input: 'asyncStream() with numeric options',
    call: () => asyncStream(handler, 5000 as never),
    error: TypeError,
    says: [
      'asyncStream(handler, options): options must be an object, but received number (5000)',
      'e.g. asyncStream(handler, { timeout: 30_000 })',
    ],
  },
  ...timeoutRows(
    'asyncStream()',
    (timeout) => asyncStream(handler, { timeout: timeout as never }),
    'asyncStream(): `timeout`',
  ),
  {
    input: 'asyncStream() with null options',
    call: () => asyncStream(handler, null as never),
    error: TypeError,
    says: ['asyncStream(handler, options): options must be an object, but received null'],
  },
  {
    input: 'asyncStream() with options given as an array',
    call: () => asyncStream(handler, [{ timeout: 1000 }] as never),
    error: TypeError,
    says: ['asyncStream(handler, options): options must be an object, but received array'],
  },
  {
    input: 'asyncStream() with a misspelt option (Timeout)',
    call: () => asyncStream(handler, { Timeout: 1000 } as never),
    error: TypeError,
    says: [
      'asyncStream(handler, options): unknown option `Timeout`. Did you mean `timeout`?',
      'The options are `timeout`.',
    ],
  },
  {
    input: 'sse() with a misspelt option (keepalive)',
    call: () => sse(ticks, { keepalive: 1000 } as never),
    error: TypeError,
    says: [
      'sse(handler, options): unknown option `keepalive`. Did you mean `keepAlive`?',
      'The options are `keepAlive`, `timeout`, `errorEvent`.',
    ],
  },
  {
    input: 'ndjson() with an option it does not have (keepAlive)',
    call: () => ndjson(ticks, { keepAlive: 1000 } as never),
    error: TypeError,
    says: ['ndjson(handler, options): unknown option `keepAlive`. The options are `timeout`.'],
  },
  // sse(handler, options)
  {
    input: 'sse() with an undefined handler',
    call: () => sse(undefined as never),
    error: TypeError,
    says: [
      'sse(handler) expects a function or a generator function, but received undefined',
      'Pass the function itself',
    ],
  },
  {
    input: 'sse() with a generator object instead of its function',
    call: () => sse(ticks() as never),
    error: TypeError,
    says: [
      'sse(handler) expects a function or a generator function, but received object (Object [AsyncGenerator] {})',
      'Pass the function itself: sse(events), not sse(events()).',
    ],
  },
  {
    input: 'sse() with string options',
    call: () => sse(ticks, 'keepAlive' as never),
    error: TypeError,
    says: [
      "sse(handler, options): options must be an object, but received string ('keepAlive')",
      'e.g. sse(handler, { keepAlive: 30_000 })',
    ],
  },
  {
    input: 'sse() with null options',
    call: () => sse(ticks, null as never),
    error: TypeError,
    says: ['sse(handler, options): options must be an object, but received null'],
  },
  ...timeoutRows('sse()', (timeout) => sse(ticks, { timeout: timeout as never }), 'sse(): `timeout`'),
  {
    input: "sse() with keepAlive string ('15s')",
    call: () => sse(ticks, { keepAlive: '15s' as never }),
    error: TypeError,
    says: [
      "sse(): `keepAlive` must be a number of milliseconds or null (no keep-alive comments), but received string ('15s')",
    ],
  },
  ...(
    [
      [0, 'number (0)'],
      [-5, 'number (-5)'],
      [NaN, 'number (NaN)'],
      [2 ** 31, 'number (2147483648)'],
    ] as const
  ).map(([keepAlive, named]): CallRow => ({
    input: `sse() with keepAlive ${named}`,
    call: () => sse(ticks, { keepAlive }),
    error: RangeError,
    says: [
      `sse(): \`keepAlive\` must be between 1 and 2147483647 milliseconds, but received ${named}`,
      'Use null to send no keep-alive comments.',
    ],
  })),
  ...(
    [
      ['yes', "string ('yes')"],
      [1, 'number (1)'],
      [null, 'null'],
      [{ event: 'error' }, "object ({ event: 'error' })"],
    ] as const
  ).map(([errorEvent, named]): CallRow => ({
    input: `sse() with errorEvent ${named}`,
    call: () => sse(ticks, { errorEvent: errorEvent as never }),
    error: TypeError,
    says: [`sse(): \`errorEvent\` must be a boolean or a function (error) => event, but received ${named}`],
  })),
  // ndjson(handler, options)
  {
    input: 'ndjson() with a number handler',
    call: () => ndjson(42 as never),
    error: TypeError,
    says: [
      'ndjson(handler) expects a function or a generator function, but received number (42)',
      'Pass the function itself',
    ],
  },
  {
    input: 'ndjson() with a generator object instead of its function',
    call: () => ndjson(ticks() as never),
    error: TypeError,
    says: [
      'but received object (Object [AsyncGenerator] {})',
      'Pass the function itself: ndjson(rows), not ndjson(rows()).',
    ],
  },
  {
    input: 'ndjson() with null options',
    call: () => ndjson(ticks, null as never),
    error: TypeError,
    says: [
      'ndjson(handler, options): options must be an object, but received null',
      'e.g. ndjson(handler, { timeout: 30_000 })',
    ],
  },
  {
    input: 'ndjson() with numeric options',
    call: () => ndjson(ticks, 5 as never),
    error: TypeError,
    says: ['ndjson(handler, options): options must be an object, but received number (5)'],
  },
  ...timeoutRows('ndjson()', (timeout) => ndjson(ticks, { timeout: timeout as never }), 'ndjson(): `timeout`'),
  // withContext(fn)
  {
    input: 'withContext() with a generator object',
    call: () => withContext(ticks() as never),
    error: TypeError,
    says: ['withContext(fn) expects an async or sync generator function, but received object'],
  },
  ...(
    [
      [42, 'number (42)'],
      [undefined, 'undefined'],
    ] as const
  ).map(([fn, named]): CallRow => ({
    input: `withContext() with ${named}`,
    call: () => withContext(fn as never),
    error: TypeError,
    says: [`withContext(fn) expects an async or sync generator function, but received ${named}`],
  })),
];

const STATUS_RANGE = 'status must be an integer from 200 to 599, but received';
const STATUS_FIX = 'Pass a number such as 200 or 404';
const INFORMATIONAL = 'is informational (1xx), which cannot end a response';
const INFORMATIONAL_FIX = 'Use a status from 200 to 599';

/** Statuses every entry point must reject, as `makeResponse()` names them. */
const badStatuses: ReadonlyArray<readonly [value: unknown, says: readonly string[]]> = [
  ['200', [`${STATUS_RANGE} string ('200')`, 'convert a string first with Number(status)']],
  [200.5, [`${STATUS_RANGE} number (200.5)`, STATUS_FIX]],
  [NaN, [`${STATUS_RANGE} number (NaN)`, STATUS_FIX]],
  [Infinity, [`${STATUS_RANGE} number (Infinity)`, STATUS_FIX]],
  [99, [`${STATUS_RANGE} number (99)`, STATUS_FIX]],
  [-200, [`${STATUS_RANGE} number (-200)`, STATUS_FIX]],
  [600, [`${STATUS_RANGE} number (600)`, STATUS_FIX]],
  [1000, [`${STATUS_RANGE} number (1000)`, STATUS_FIX]],
  [200n, [`${STATUS_RANGE} bigint (200n)`, STATUS_FIX]],
  [null, [`${STATUS_RANGE} null`, STATUS_FIX]],
  [100, [`status 100 ${INFORMATIONAL}`, INFORMATIONAL_FIX]],
  [103, [`status 103 ${INFORMATIONAL}`, 'res.writeEarlyHints()']],
  [199, [`status 199 ${INFORMATIONAL}`, INFORMATIONAL_FIX]],
];

const HEADERS_SHAPE =
  'headers must be a plain object, a Headers instance or an array of [name, value] pairs, but received';
const NAME_FIX = 'e.g. X-Request-Id';
const VALUE_TYPE = 'header "X-A" must be a string, a number or an array of strings, but received';
const VALUE_TYPE_FIX = 'Convert it with String(value), or leave the header out.';
const SPLIT = 'contains a CR, LF or NUL character';
const SPLIT_FIX = 'Remove line breaks from header values.';
const CHAR_FIX = 'For a download filename, call res.attachment(filename) in the handler';

/** Headers every entry point must reject, and what the message says (after its `where:` prefix). */
const badHeaders: ReadonlyArray<readonly [input: string, headers: unknown, says: readonly string[]]> = [
  ['headers that are a string', 'X-A: 1', [`${HEADERS_SHAPE} string ('X-A: 1')`]],
  ['headers that are a Map', new Map([['X-A', '1']]), [`${HEADERS_SHAPE} Map object`, 'use Object.fromEntries(map)']],
  ['headers that are a number', 5, [`${HEADERS_SHAPE} number (5)`]],
  [
    'a header pair of one element',
    [['X-A']],
    ["headers[0] must be a [name, value] pair, but received array of length 1 ([ 'X-A' ])"],
  ],
  [
    'a header pair of three elements',
    [['X-A', '1', '2']],
    ['headers[0] must be a [name, value] pair, but received array of length 3'],
  ],
  [
    'a header name with a space',
    { 'Bad Name': 'x' },
    ["string ('Bad Name') is not a valid header name (RFC 9110 token)", NAME_FIX],
  ],
  ['an empty header name', { '': 'x' }, ["string ('') is not a valid header name", NAME_FIX]],
  ['a header name with a colon', { 'X-A:': 'x' }, ["string ('X-A:') is not a valid header name", NAME_FIX]],
  ['a non-ASCII header name', { 'X-Ä': 'x' }, ["string ('X-Ä') is not a valid header name", NAME_FIX]],
  [
    'a header name with CRLF',
    { 'X-A\r\nInjected': 'yes' },
    ["string ('X-A\\r\\nInjected') is not a valid header name", NAME_FIX],
  ],
  ['a header name that is a number', [[7, 'x']], ['number (7) is not a valid header name', NAME_FIX]],
  ['a header value that is null', { 'X-A': null }, [`${VALUE_TYPE} null`, VALUE_TYPE_FIX]],
  ['a header value that is true', { 'X-A': true }, [`${VALUE_TYPE} boolean (true)`, VALUE_TYPE_FIX]],
  ['a header value that is an object', { 'X-A': { a: 1 } }, [`${VALUE_TYPE} object ({ a: 1 })`, VALUE_TYPE_FIX]],
  ['a header value that is NaN', { 'X-A': NaN }, [`${VALUE_TYPE} number (NaN)`, VALUE_TYPE_FIX]],
  ['a header value that is Infinity', { 'X-A': Infinity }, [`${VALUE_TYPE} number (Infinity)`, VALUE_TYPE_FIX]],
  ['a header value that is a BigInt', { 'X-A': 5n }, [`${VALUE_TYPE} bigint (5n)`, VALUE_TYPE_FIX]],
  [
    'a header array holding null',
    { 'Set-Cookie': ['a=1', null] },
    ['header "Set-Cookie" must be a string, a number or an array of strings, but received null'],
  ],
  [
    'a header value with CRLF',
    { 'X-A': 'v\r\nInjected: yes' },
    [`header "X-A" ${SPLIT} ("v\\r\\nInjected: yes")`, SPLIT_FIX],
  ],
  ['a header value with LF', { 'X-A': 'v\nInjected: yes' }, [`header "X-A" ${SPLIT} ("v\\nInjected: yes")`, SPLIT_FIX]],
  ['a header value with a lone CR', { 'X-A': 'v\rInjected: yes' }, [`header "X-A" ${SPLIT}`, SPLIT_FIX]],
  ['a header value with NUL', { 'X-A': 'v\0w' }, [`header "X-A" ${SPLIT} ("v\\u0000w")`, SPLIT_FIX]],
  [
    'a header value with CRLF CRLF (a smuggled body)',
    { 'X-A': 'v\r\n\r\n<script>' },
    [`header "X-A" ${SPLIT}`, SPLIT_FIX],
  ],
  [
    'a header array element with CRLF',
    [['Set-Cookie', ['a=1', 'b=2\r\nInjected: yes']]],
    [`header "Set-Cookie" ${SPLIT}`, SPLIT_FIX],
  ],
  [
    'a header value with a control character',
    { 'X-A': 'a\u0001b' },
    ['header "X-A" contains the character U+0001 in string (\'a\\x01b\')', CHAR_FIX],
  ],
  ['a header value with DEL', { 'X-A': 'a\u007fb' }, ['header "X-A" contains the character U+007F', CHAR_FIX]],
  [
    'a header value with a character above Latin-1',
    { 'X-A': 'price: 5€' },
    ['header "X-A" contains the character U+20AC in string (\'price: 5€\')', CHAR_FIX],
  ],
  ['a header value with an emoji', { 'X-A': 'ok 😀' }, ['header "X-A" contains the character U+1F600', CHAR_FIX]],
  [
    'a Content-Length that is not a number',
    { 'Content-Length': 'abc' },
    [
      'header "Content-Length" must be one non-negative integer (RFC 9110 §8.6), but received string (\'abc\')',
      'Leave it out to send the body chunked.',
    ],
  ],
  [
    'a negative Content-Length',
    { 'Content-Length': -1 },
    ['header "Content-Length" must be one non-negative integer (RFC 9110 §8.6), but received string (\'-1\')'],
  ],
  [
    'a fractional Content-Length',
    { 'Content-Length': 1.5 },
    ['header "Content-Length" must be one non-negative integer (RFC 9110 §8.6), but received string (\'1.5\')'],
  ],
  [
    'two different Content-Length values',
    [
      ['Content-Length', '1'],
      ['content-length', '2'],
    ],
    [
      "header \"content-length\" must be one non-negative integer (RFC 9110 §8.6), but received array of length 2 ([ '1', '2' ])",
    ],
  ],
];

const callRows: CallRow[] = [
  ...badStatuses.map(([status, says]): CallRow => ({
    input: `makeResponse() with status ${show(status)}`,
    call: () => makeResponse('body', status as never),
    error: TypeError,
    says: says.map((phrase) => (phrase.startsWith('status ') ? `makeResponse(): ${phrase}` : phrase)),
  })),
  ...badHeaders.map(([input, headers, says]): CallRow => ({
    input: `makeResponse() with ${input}`,
    call: () => makeResponse('body', 200, headers as never),
    error: TypeError,
    says: [`makeResponse(): ${says[0]!}`, ...says.slice(1)],
  })),
  {
    input: 'response.status = 99',
    call: () => (makeResponse('body').status = 99),
    error: TypeError,
    says: [`StreamResponse.status: ${STATUS_RANGE} number (99)`, STATUS_FIX],
  },
  {
    input: 'response.status = 101',
    call: () => (makeResponse('body').status = 101),
    error: TypeError,
    says: [`StreamResponse.status: status 101 ${INFORMATIONAL}`, INFORMATIONAL_FIX],
  },
  {
    input: 'response.headers = a Map',
    call: () => (makeResponse('body').headers = new Map() as never),
    error: TypeError,
    says: [`StreamResponse.headers: ${HEADERS_SHAPE} Map object`, 'Object.fromEntries(map)'],
  },
  {
    input: 'response.headers = a value with CRLF',
    call: () => (makeResponse('body').headers = { Location: '/next\r\nInjected: yes' }),
    error: TypeError,
    says: [`StreamResponse.headers: header "Location" ${SPLIT}`, SPLIT_FIX],
  },
  ...badTimeouts.map(([value, error, named]): CallRow => ({
    input: `response.timeout = ${named}`,
    call: () => (makeResponse('body').timeout = value as never),
    error,
    says:
      error === TypeError
        ? [`StreamResponse.timeout ${TIMEOUT_TYPE} ${named}`]
        : [`StreamResponse.timeout ${TIMEOUT_RANGE} ${named}`, TIMEOUT_FIX],
  })),
  // encodeEvent(event): SSE fields (WHATWG HTML §9.2.6).
  ...(
    [
      [
        'an id with LF',
        { id: 'a\nb' },
        TypeError,
        [
          "encodeEvent(): `id` must not contain CR, LF or NUL (the browser would cut or ignore it), but received string ('a\\nb')",
          'Use a single-line id without NUL characters.',
        ],
      ],
      [
        'an id with CR',
        { id: 'a\rb' },
        TypeError,
        ["`id` must not contain CR, LF or NUL (the browser would cut or ignore it), but received string ('a\\rb')"],
      ],
      [
        'an id with NUL',
        { id: 'a\0b' },
        TypeError,
        ["`id` must not contain CR, LF or NUL (the browser would cut or ignore it), but received string ('a\\x00b')"],
      ],
      [
        'an id that is NaN',
        { id: NaN },
        TypeError,
        ['encodeEvent(): `id` must be a string or a finite number, but received number (NaN)'],
      ],
      [
        'an id that is an object',
        { id: { n: 1 } },
        TypeError,
        ['`id` must be a string or a finite number, but received object ({ n: 1 })'],
      ],
      [
        'an event with LF',
        { event: 'tick\ndata: forged' },
        TypeError,
        [
          "encodeEvent(): `event` must not contain CR or LF (a line break would end the field), but received string ('tick\\ndata: forged')",
          'Use a single-line event name.',
        ],
      ],
      ['an event with CR', { event: 'a\rb' }, TypeError, ['`event` must not contain CR or LF']],
      [
        'an event that is a number',
        { event: 5 },
        TypeError,
        ['encodeEvent(): `event` must be a string, but received number (5)'],
      ],
      [
        'a negative retry',
        { retry: -1 },
        RangeError,
        [
          'encodeEvent(): `retry` must be a non-negative integer number of milliseconds, but received number (-1)',
          'Round it, e.g. Math.round(ms).',
        ],
      ],
      [
        'a fractional retry',
        { retry: 1.5 },
        RangeError,
        ['`retry` must be a non-negative integer number of milliseconds, but received number (1.5)', 'Math.round(ms)'],
      ],
      ['a NaN retry', { retry: NaN }, RangeError, ['but received number (NaN)']],
      ['an infinite retry', { retry: Infinity }, RangeError, ['but received number (Infinity)']],
      [
        'a string retry',
        { retry: '1000' },
        TypeError,
        ["encodeEvent(): `retry` must be a number of milliseconds, but received string ('1000')"],
      ],
      [
        'data that is a function',
        { data: () => 1 },
        TypeError,
        [
          'encodeEvent(): `data` is function (data), which JSON.stringify() turns into nothing',
          'Send a string, or a JSON-serialisable value.',
        ],
      ],
      [
        'data that is a symbol',
        { data: Symbol('s') },
        TypeError,
        ['`data` is symbol (Symbol(s)), which JSON.stringify() turns into nothing'],
      ],
      [
        'data that is a BigInt',
        { data: 1n },
        TypeError,
        [
          '`data` is bigint (1n), which JSON.stringify() cannot serialise',
          'Send a string, or a JSON-serialisable value.',
        ],
      ],
      [
        'data with a cycle',
        {
          data: (() => {
            const cycle: Record<string, unknown> = {};
            cycle.self = cycle;
            return cycle;
          })(),
        },
        TypeError,
        ['which JSON.stringify() cannot serialise (Converting circular structure to JSON'],
      ],
      [
        'a comment that is a number',
        { comment: 42 },
        TypeError,
        ['encodeEvent(): `comment` must be a string, but received number (42)'],
      ],
      [
        'an event with no field',
        {},
        TypeError,
        ['encodeEvent(): the event object ({}) has none of data, event, id, retry or comment', 'use { data: value }'],
      ],
      [
        'an event with a misspelt field only',
        { date: 'x' },
        TypeError,
        ["the event object ({ date: 'x' }) has none of data, event, id, retry or comment"],
      ],
      [
        'an event that is null',
        null,
        TypeError,
        [
          'encodeEvent(): an event must be a string or an object with data, event, id, retry or comment, but received null',
          'use { data: value }',
        ],
      ],
      ['an event that is a number', 42, TypeError, ['but received number (42)']],
      ['an event that is an array', ['a'], TypeError, ["but received array of length 1 ([ 'a' ])"]],
      [
        'an event that is undefined',
        undefined,
        TypeError,
        [
          'encodeEvent(): an event must be a string or an object with data, event, id, retry or comment, but received undefined',
        ],
      ],
      [
        'undefined data and no other field',
        { data: undefined },
        TypeError,
        ['encodeEvent(): the event object ({ data: undefined }) has none of data, event, id, retry or comment'],
      ],
      [
        'an object without event fields',
        { message: 'hi' },
        TypeError,
        [
          "the event object ({ message: 'hi' }) has none of data, event, id, retry or comment",
          'To send a value as JSON, use { data: value }',
        ],
      ],
    ] as const
  ).map(([input, event, error, says]): CallRow => ({
    input: `encodeEvent() with ${input}`,
    call: () => encodeEvent(event as never),
    error,
    // Every message names the function first.
    says: says[0].startsWith('encodeEvent(): ') ? says : ['encodeEvent(): ', ...says],
  })),
  ...(
    [
      ['a number', () => 42, 'number (42)'],
      ['a promise (an async function)', async () => 'text', 'Promise object'],
      ['an array', () => ['a', 'b'], 'array of length 2'],
    ] as const
  ).map(([what, fn, named]): CallRow => ({
    input: `a withContext() wrapper of a function returning ${what}`,
    call: withContext(fn as never),
    error: TypeError,
    says: [`withContext(fn): fn returned ${named}`, 'instead of a generator'],
  })),
  {
    input: 'a withContext() wrapper of a plain function',
    call: withContext(function notAGenerator() {
      return 'x';
    } as never),
    error: TypeError,
    says: ["withContext(fn): notAGenerator returned string ('x') instead of a generator"],
  },
  // Checked before anything is shut down: a bad call leaves every stream open (as this file goes on to show).
  ...[
    ['a string', '10s', TypeError, "closeStreams(options): options must be an object, but received string ('10s')"],
    ['a misspelt option', { graceMs: 1 }, TypeError, 'unknown option `graceMs`. The options are `grace`.'],
    [
      'a grace in words',
      { grace: '10s' },
      TypeError,
      "closeStreams(): `grace` must be a number of milliseconds, but received string ('10s')",
    ],
    [
      'a negative grace',
      { grace: -1 },
      RangeError,
      'closeStreams(): `grace` must be between 0 and 2147483647 milliseconds, but received number (-1)',
    ],
    [
      'a NaN grace',
      { grace: NaN },
      RangeError,
      'must be between 0 and 2147483647 milliseconds, but received number (NaN)',
    ],
    [
      'an endless grace',
      { grace: Infinity },
      RangeError,
      'must be between 0 and 2147483647 milliseconds, but received number (Infinity)',
    ],
  ].map(([input, options, error, says]): CallRow => ({
    input: `closeStreams() with ${input as string}`,
    call: () => closeStreams(options as never),
    error: error as ErrorClass,
    says: [says as string],
  })),
];

/** The test kit rejects (it is async) rather than throwing. */
const kitRows: CallRow[] = [
  {
    input: 'streamRequest() with a path without a leading slash',
    call: () => streamRequest('http://127.0.0.1:9', 'events'),
    error: TypeError,
    says: ['streamRequest(target, path): path must start with "/", but received string (\'events\')'],
  },
  {
    input: 'streamRequest() with timeout 0',
    call: () => streamRequest('http://127.0.0.1:9', '/', { timeout: 0 }),
    error: RangeError,
    says: ['streamRequest(): `timeout` must be between 1 and 2147483647 milliseconds, but received number (0)'],
  },
  {
    input: 'streamRequest() with timeout -1',
    call: () => streamRequest('http://127.0.0.1:9', '/', { timeout: -1 }),
    error: RangeError,
    says: ['streamRequest(): `timeout` must be between 1 and 2147483647 milliseconds, but received number (-1)'],
  },
  {
    input: "streamRequest() with timeout '5s'",
    call: () => streamRequest('http://127.0.0.1:9', '/', { timeout: '5s' as never }),
    error: TypeError,
    says: ["streamRequest(): `timeout` must be a number of milliseconds, but received string ('5s')"],
  },
  {
    input: 'streamRequest() with a number as target',
    call: () => streamRequest(3000 as never, '/'),
    error: TypeError,
    says: ['target must be an Express app, an http.Server or a base URL, but received number (3000)'],
  },
];

describe('bad input rejected synchronously', () => {
  const watcher = useProcessWatch();

  async function expectNothingUnhandled(): Promise<void> {
    await settle();
    expect(watcher.unhandled).toEqual([]);
    expect(watcher.logged).toEqual([]);
  }

  describe('when the route is defined (asyncStream, sse, ndjson, withContext)', () => {
    it.each(definitionRows)('$input: throws a $error.name at once', async (row) => {
      expectRejection(thrownBy(row.call), row);
      await expectNothingUnhandled();
    });
  });

  describe('when called (makeResponse, StreamResponse setters, encodeEvent, a withContext wrapper, closeStreams)', () => {
    it.each(callRows)('$input: throws a $error.name at once', async (row) => {
      expectRejection(thrownBy(row.call), row);
      await expectNothingUnhandled();
    });
  });

  describe('by the test kit (streamRequest)', () => {
    it.each(kitRows)('$input: rejects with a $error.name', async (row) => {
      expectRejection(await rejectionOf(row.call), row);
      await expectNothingUnhandled();
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Rejected at request time: next(err), before the headers (an error status) or after them (a cut
// connection, after the chunks that were fine).
// ---------------------------------------------------------------------------------------------

interface RequestRow extends Rejection {
  readonly input: string;
  /** The route under test, given the tracked body its handler may return. */
  readonly route: (tracked: Tracked) => RequestHandler;
  readonly setUp?: (app: Express) => void;
  readonly body: LeftBehind;
}

interface AfterHeadersRow extends RequestRow {
  /** What reached the client before the connection was cut. */
  readonly sent: string;
}

/** A route whose handler returns `[a started body, ...rest]`. */
const tupleOf =
  (...rest: unknown[]) =>
  (tracked: Tracked) =>
    asyncStream(async () => [await tracked.started(), ...rest] as never);

const resultRows: RequestRow[] = [
  // Results that are not a body.
  ...(
    [
      [42, 'number (42)'],
      [null, 'null'],
      [true, 'boolean (true)'],
      [new Date(0), 'Date object (1970-01-01T00:00:00.000Z)'],
      [new WeakMap(), 'WeakMap object (WeakMap { <items unknown> })'],
      [new (class Rows {})(), 'Rows object (Rows {})'],
      [Symbol('s'), 'symbol (Symbol(s))'],
      [ticks, 'function (ticks)'],
      [Promise.resolve(42), 'number (42)'],
    ] as const
  ).map(([result, named]): RequestRow => ({
    input: `a handler returning ${named}${result instanceof Promise ? ' in a promise' : ''}`,
    route: () => asyncStream(() => result as never),
    error: TypeError,
    says: [`asyncStream(): cannot send ${named} as a body`, 'A body is an async or sync generator'],
    body: 'not created',
  })),
  {
    input: 'an empty tuple',
    route: () => asyncStream(() => [] as never),
    error: TypeError,
    says: ['asyncStream(): the handler returned an array of length 0', 'To send a JSON array, return [array, 200].'],
    body: 'not created',
  },
  {
    input: 'a tuple whose body is undefined',
    route: () => asyncStream(() => [undefined, 200] as never),
    error: TypeError,
    says: ['asyncStream(): cannot send undefined as a body'],
    body: 'not created',
  },
  // Malformed tuples: the started body they carry is closed.
  ...(
    [
      [[], 'an array of length 1'],
      [['200'], "[body, string ('200')]"],
      [[99], '[body, number (99)]'],
      [[100], '[body, number (100)]'],
      [[1000], '[body, number (1000)]'],
      [[200.5], '[body, number (200.5)]'],
      [[NaN], '[body, number (NaN)]'],
      [[200, 'X-A: 1'], "[body, number (200), string ('X-A: 1')]"],
      [[{ 'X-A': '1' }, 200], "[body, object ({ 'X-A': '1' }), number (200)]"],
      [[200, {}, 'extra'], 'an array of length 4'],
      [[200, undefined], '[body, number (200), undefined]'],
    ] as const
  ).map(([rest, named]): RequestRow => ({
    input: `a tuple ${named}`,
    route: tupleOf(...rest),
    error: TypeError,
    says: [
      `asyncStream(): the handler returned ${named}`,
      '[body, status], [body, headers] or [body, status, headers]',
      'where status is an integer from 200 to 599',
      'To send a JSON array, return [array, 200].',
    ],
    body: 'closed',
  })),
  {
    input: 'a tuple [body, Map]',
    route: tupleOf(new Map([['X-A', '1']])),
    error: TypeError,
    says: [
      'asyncStream(): the handler returned [body, Map object',
      '[body, status], [body, headers] or [body, status, headers]',
    ],
    body: 'closed',
  },
  {
    input: 'a malformed tuple whose body is a promise',
    route: (tracked) => asyncStream(() => [tracked.started(), 'OK'] as never),
    error: TypeError,
    says: ["asyncStream(): the handler returned [body, string ('OK')]"],
    body: 'closed',
  },
  // Well-formed tuples with bad headers: the status is checked by shape, the headers by content.
  ...badHeaders
    .filter(([, headers]) => Array.isArray(headers) || (typeof headers === 'object' && !(headers instanceof Map)))
    .map(([input, headers, says]): RequestRow => ({
      input: `a tuple with ${input}`,
      route: tupleOf(200, headers),
      error: TypeError,
      says: [`asyncStream(): ${says[0]!}`, ...says.slice(1)],
      body: 'closed',
    })),
  // makeResponse() and its setters, called inside the handler: the handler throws, before it could
  // hand the body over.
  ...badStatuses.slice(0, 3).map(([status, says]): RequestRow => ({
    input: `makeResponse(body, ${show(status)}) in the handler`,
    route: (tracked) => asyncStream(() => makeResponse(tracked.body(), status as never)),
    error: TypeError,
    says,
    body: 'not started',
  })),
  {
    input: 'response.timeout = 0 in the handler',
    route: (tracked) =>
      asyncStream(() => {
        const response = makeResponse(tracked.body());
        response.timeout = 0;
        return response;
      }),
    error: RangeError,
    says: [`StreamResponse.timeout ${TIMEOUT_RANGE} number (0)`, TIMEOUT_FIX],
    body: 'not started',
  },
  {
    input: 'headers changed to hold CRLF after makeResponse() checked them',
    route: (tracked) =>
      asyncStream(() => {
        const headers: Record<string, string> = { 'X-A': 'fine' };
        const response = makeResponse(tracked.body(['first']), 200, headers);
        headers['X-A'] = 'v\r\nInjected: yes';
        return response;
      }),
    error: TypeError,
    says: [`asyncStream(): header "X-A" ${SPLIT}`, SPLIT_FIX],
    body: 'closed',
  },
  // The values handlers check what their handler returns.
  {
    input: 'an sse() handler returning a string',
    route: () => sse(() => 'data: hi\n\n' as never),
    error: TypeError,
    says: [
      "sse(): the handler returned string ('data: hi\\n\\n'). It must return (or be a generator function yielding) an async or sync iterable of events",
    ],
    body: 'not created',
  },
  ...(
    [
      [42, 'number (42)'],
      [{ data: 'one event' }, "object ({ data: 'one event' })"],
    ] as const
  ).map(([result, named]): RequestRow => ({
    input: `an sse() handler returning ${named}`,
    route: () => sse(() => result as never),
    error: TypeError,
    says: [`sse(): the handler returned ${named}`, 'an async or sync iterable of events'],
    body: 'not created',
  })),
  {
    input: 'an ndjson() handler returning a plain object',
    route: () => ndjson(() => ({ id: 1 }) as never),
    error: TypeError,
    says: ['ndjson(): the handler returned object ({ id: 1 })', 'an async or sync iterable of values'],
    body: 'not created',
  },
];

const CHUNK_FIX = 'a chunk must be a string, a Buffer or a Uint8Array. Serialise other values first';

/**
 * Chunks that are not text or bytes, as the message names them: the type, then a preview. An
 * ArrayBuffer's preview is util.inspect()'s own rendering of its fields, which Node changes between
 * lines (`byteLength: 2` on Node 20, `[byteLength]: 2` from Node 22), so only its type is named here.
 */
const badChunks: ReadonlyArray<readonly [chunk: unknown, named: string]> = [
  [42, 'number (42)'],
  [null, 'null'],
  [undefined, 'undefined'],
  [true, 'boolean (true)'],
  [{ text: 'hi' }, "object ({ text: 'hi' })"],
  [['a'], "array of length 1 ([ 'a' ])"],
  [Symbol('s'), 'symbol (Symbol(s))'],
  [7n, 'bigint (7n)'],
  [new ArrayBuffer(2), 'ArrayBuffer object'],
  [new String('boxed'), "String object ([String: 'boxed'])"],
];

const chunkRowsBefore: RequestRow[] = [
  ...badChunks.map(([chunk, named]): RequestRow => ({
    input: `a first chunk that is ${named}`,
    route: (tracked) => asyncStream(() => tracked.body([chunk, 'never sent'])),
    error: TypeError,
    says: [`asyncStream(): chunk 0 of the body is ${named}`, CHUNK_FIX],
    body: 'closed',
  })),
  {
    input: 'a first chunk after empty ones (the index counts them)',
    route: (tracked) => asyncStream(() => tracked.body(['', Buffer.alloc(0), 5])),
    error: TypeError,
    says: [`asyncStream(): chunk 2 of the body is number (5); ${CHUNK_FIX}`],
    body: 'closed',
  },
  {
    input: 'a sync generator whose first chunk is a number',
    route: (tracked) => asyncStream(() => tracked.syncBody([7, 'never sent'])),
    error: TypeError,
    says: [`chunk 0 of the body is number (7); ${CHUNK_FIX}`],
    body: 'closed',
  },
  // Application setting read on each request: the handler is never called.
  ...badTimeouts.slice(0, 7).map(([value, error, named]): RequestRow => ({
    input: `app.set('stream timeout', ${named})`,
    setUp: (app) => app.set('stream timeout', value),
    route: (tracked) => asyncStream(() => tracked.body()),
    error,
    says:
      error === TypeError
        ? [`app.set('stream timeout') ${TIMEOUT_TYPE} ${named}`]
        : [`app.set('stream timeout') ${TIMEOUT_RANGE} ${named}`, TIMEOUT_FIX],
    body: 'not created',
  })),
  {
    input: "app.set('stream timeout', '60s') on an ndjson() route",
    setUp: (app) => app.set('stream timeout', '60s'),
    route: (tracked) => ndjson(() => tracked.body([{ id: 1 }])),
    error: TypeError,
    says: [`app.set('stream timeout') ${TIMEOUT_TYPE} string ('60s')`],
    body: 'not created',
  },
  // ndjson() values before the first line.
  ...(
    [
      [undefined, 'undefined', 'JSON.stringify() turns it into nothing'],
      [() => 1, 'function (anonymous)', 'JSON.stringify() turns it into nothing'],
      [1n, 'bigint (1n)', 'JSON.stringify() threw: Do not know how to serialize a BigInt'],
    ] as const
  ).map(([value, named, reason]): RequestRow => ({
    input: `an ndjson() first value that is ${named}`,
    route: (tracked) => ndjson(() => tracked.body([value, { never: 'sent' }])),
    error: TypeError,
    says: [
      `ndjson(): value 0 of the body is ${named}, which cannot be sent as a JSON line (${reason}`,
      'Yield JSON-serialisable values',
    ],
    body: 'closed',
  })),
];

const afterHeadersRows: AfterHeadersRow[] = [
  ...badChunks.slice(0, 6).map(([chunk, named]): AfterHeadersRow => ({
    input: `a second chunk that is ${named}`,
    route: (tracked) => asyncStream(() => tracked.body(['fine\n', chunk, 'never sent'])),
    error: TypeError,
    says: [`asyncStream(): chunk 1 of the body is ${named}; ${CHUNK_FIX}`],
    body: 'closed',
    sent: 'fine\n',
  })),
  {
    input: 'an object-mode Readable yielding an object second',
    route: (tracked) => asyncStream(() => tracked.readable(['fine\n', { n: 1 }, 'never sent'])),
    error: TypeError,
    says: [`asyncStream(): chunk 1 of the body is object ({ n: 1 }); ${CHUNK_FIX}`],
    body: 'closed',
    sent: 'fine\n',
  },
  {
    input: 'a ReadableStream yielding a number second',
    route: (tracked) => asyncStream(() => tracked.readableStream(['fine\n', 2, 'never sent']) as never),
    error: TypeError,
    says: [`asyncStream(): chunk 1 of the body is number (2); ${CHUNK_FIX}`],
    body: 'closed',
    sent: 'fine\n',
  },
  // SSE: the headers go out when the handler returns, so every bad event is after them.
  ...(
    [
      [
        { id: 'a\nb', data: 'x' },
        TypeError,
        "`id` must not contain CR, LF or NUL (the browser would cut or ignore it), but received string ('a\\nb')",
      ],
      [
        { id: 'a\0b' },
        TypeError,
        "`id` must not contain CR, LF or NUL (the browser would cut or ignore it), but received string ('a\\x00b')",
      ],
      [
        { event: 'tick\r\ndata: forged', data: 'x' },
        TypeError,
        "`event` must not contain CR or LF (a line break would end the field), but received string ('tick\\r\\ndata: forged')",
      ],
      [
        { retry: -1 },
        RangeError,
        '`retry` must be a non-negative integer number of milliseconds, but received number (-1)',
      ],
      [
        { retry: 2.5 },
        RangeError,
        '`retry` must be a non-negative integer number of milliseconds, but received number (2.5)',
      ],
      [{ data: 1n }, TypeError, '`data` is bigint (1n), which JSON.stringify() cannot serialise'],
      [{ data: () => 1 }, TypeError, '`data` is function (data), which JSON.stringify() turns into nothing'],
      [{}, TypeError, 'the event object ({}) has none of data, event, id, retry or comment'],
      [
        42,
        TypeError,
        'an event must be a string or an object with data, event, id, retry or comment, but received number (42)',
      ],
    ] as const
  ).map(([event, error, phrase]): AfterHeadersRow => ({
    input: `an sse() event ${JSON.stringify(event, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : typeof value === 'function' ? 'fn' : value))}`,
    route: (tracked) => sse(() => tracked.body(['first', event as SseEvent, 'never sent']), { keepAlive: null }),
    error,
    says: [`sse(): event 1: ${phrase}`],
    body: 'closed',
    sent: 'data: first\n\n',
  })),
  {
    input: 'an invalid first sse() event',
    route: (tracked) => sse(() => tracked.body([{ retry: -5 }]), { keepAlive: null }),
    error: RangeError,
    says: ['sse(): event 0: `retry` must be a non-negative integer number of milliseconds, but received number (-5)'],
    body: 'closed',
    sent: '',
  },
  {
    input: 'an invalid sse() event with errorEvent: true',
    route: (tracked) => sse(() => tracked.body(['first', { id: 'x\ny' }]), { keepAlive: null, errorEvent: true }),
    error: TypeError,
    says: ['sse(): event 1: `id` must not contain CR, LF or NUL'],
    body: 'closed',
    sent: 'data: first\n\nevent: stream-error\ndata: Internal Server Error\n\n',
  },
  // ndjson() values after the first line.
  ...(
    [
      [Symbol('s'), 'symbol (Symbol(s))', 'JSON.stringify() turns it into nothing'],
      [
        (() => {
          const cycle: Record<string, unknown> = {};
          cycle.self = cycle;
          return cycle;
        })(),
        'object (<ref *1> { self: [Circular *1] })',
        'JSON.stringify() threw: Converting circular structure to JSON',
      ],
    ] as const
  ).map(([value, named, reason]): AfterHeadersRow => ({
    input: `an ndjson() second value that is ${named}`,
    route: (tracked) => ndjson(() => tracked.body([{ id: 1 }, value, { never: 'sent' }])),
    error: TypeError,
    says: [
      `ndjson(): value 1 of the body is ${named}, which cannot be sent as a JSON line (${reason}`,
      'Yield JSON-serialisable values',
    ],
    body: 'closed',
    sent: '{"id":1}\n',
  })),
];

/** Reads the body until it ends or is cut; resolves with the bytes and how it ended. */
async function drain(connection: StreamConnection): Promise<{ received: string; failure: unknown }> {
  const parts: Buffer[] = [];
  try {
    for (let chunk = await connection.receive(); chunk !== null; chunk = await connection.receive()) parts.push(chunk);
    return { received: Buffer.concat(parts).toString(), failure: undefined };
  } catch (failure) {
    return { received: Buffer.concat(parts).toString(), failure };
  }
}

describe.each(expressVersions)('bad input rejected at request time (%s)', (_version, createApp) => {
  const { serve } = useTestServer();
  const watcher = useProcessWatch();

  /** Serves `row` on `/bad` and a plain route on `/ok`; resolves with the base URL and the errors. */
  async function serveRow(row: RequestRow, tracked: Tracked): Promise<{ url: string; errors: unknown[] }> {
    const app = createApp();
    row.setUp?.(app);
    app.get('/bad', row.route(tracked));
    app.get('/ok', (_req, res) => {
      res.send('still serving');
    });
    const errors = recordErrors(app);
    return { url: await serve(app), errors };
  }

  /** Nothing left behind: the body closed (or never run), nothing unhandled or logged, the app serving. */
  async function expectCleanAfter(row: RequestRow, tracked: Tracked, url: string): Promise<void> {
    await expectNothingLeft(tracked, row.body);
    const next = await streamRequest(url, '/ok');
    expect(next.status).toBe(200);
    expect(await next.text()).toBe('still serving');
    expect(watcher.unhandled).toEqual([]);
    expect(watcher.logged).toEqual([]);
  }

  describe('before the headers: next(err), answered with 500', () => {
    it.each([...resultRows, ...chunkRowsBefore])('$input: a $error.name', async (row) => {
      const tracked = track();
      const { url, errors } = await serveRow(row, tracked);
      const connection = await streamRequest(url, '/bad');
      expect(connection.status).toBe(500);
      expect(connection.headers['x-a']).toBeUndefined();
      await connection.text();
      expect(errors).toHaveLength(1);
      expectRejection(errors[0], row);
      await expectCleanAfter(row, tracked, url);
    });
  });

  describe('after the headers: next(err), and the connection is cut', () => {
    it.each(afterHeadersRows)('$input: a $error.name', async (row) => {
      const tracked = track();
      const { url, errors } = await serveRow(row, tracked);
      const connection = await streamRequest(url, '/bad');
      expect(connection.status).toBe(200);
      const { received, failure } = await drain(connection);
      expect(failure).toBeInstanceOf(ResponseAbortedError);
      expect(received).toBe(row.sent);
      expect(errors).toHaveLength(1);
      expectRejection(errors[0], row);
      await expectCleanAfter(row, tracked, url);
    });

    it('an errorEvent function returning an invalid event: warns, sends nothing more, cuts the connection', async () => {
      const warnings = watchWarnings();
      try {
        const tracked = track();
        const row: RequestRow = {
          input: 'errorEvent returning { retry: -1 }',
          route: (t) => sse(() => t.body(['first', 42]), { keepAlive: null, errorEvent: () => ({ retry: -1 }) }),
          error: TypeError,
          says: ['sse(): event 1: an event must be a string or an object'],
          body: 'closed',
        };
        const { url, errors } = await serveRow(row, tracked);
        const { received, failure } = await drain(await streamRequest(url, '/bad'));
        expect(failure).toBeInstanceOf(ResponseAbortedError);
        expect(received).toBe('data: first\n\n');
        expectRejection(errors[0], row);
        await expectCleanAfter(row, tracked, url);
        expect(warnings.warnings.map((warning) => [warning.name, warning.message])).toEqual([
          [
            'AsyncStreamWarning',
            expect.stringContaining(
              'sse(): `errorEvent` returned an event that cannot be sent (sse(): the event returned by `errorEvent`: `retry` must be a non-negative integer',
            ),
          ],
        ]);
      } finally {
        warnings.stop();
      }
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Header injection, checked on the raw bytes of the response.
// ---------------------------------------------------------------------------------------------

interface InjectionRow {
  readonly input: string;
  readonly handler: (tracked: Tracked) => unknown;
  readonly says: string;
  readonly body: LeftBehind;
}

const injectionRows: InjectionRow[] = [
  {
    input: 'a tuple [body, headers] with CRLF in a value',
    handler: async (t) => [await t.started(), { 'X-Note': 'v\r\nInjected: yes' }],
    says: `asyncStream(): header "X-Note" ${SPLIT} ("v\\r\\nInjected: yes")`,
    body: 'closed',
  },
  {
    input: 'a tuple [body, status, pairs] with LF in a value',
    handler: async (t) => [await t.started(), 200, [['X-Note', 'v\nInjected: yes']]],
    says: `asyncStream(): header "X-Note" ${SPLIT} ("v\\nInjected: yes")`,
    body: 'closed',
  },
  {
    input: 'a tuple with a lone CR in a value',
    handler: async (t) => [await t.started(), { 'X-Note': 'v\rInjected: yes' }],
    says: `asyncStream(): header "X-Note" ${SPLIT} ("v\\rInjected: yes")`,
    body: 'closed',
  },
  {
    input: 'a tuple with CRLF in a header name',
    handler: async (t) => [await t.started(), { 'X-Note\r\nInjected': 'yes' }],
    says: "asyncStream(): string ('X-Note\\r\\nInjected') is not a valid header name",
    body: 'closed',
  },
  {
    input: 'a tuple with CRLF in one value of a repeated header',
    handler: async (t) => [await t.started(), { 'Set-Cookie': ['a=1', 'b=2\r\nInjected: yes'] }],
    says: `asyncStream(): header "Set-Cookie" ${SPLIT}`,
    body: 'closed',
  },
  {
    input: 'a tuple with CRLF CRLF and a forged body',
    handler: async (t) => [await t.started(), { 'X-Note': 'v\r\n\r\nInjected: yes' }],
    says: `asyncStream(): header "X-Note" ${SPLIT}`,
    body: 'closed',
  },
  {
    input: 'makeResponse() with CRLF in a value',
    handler: (t) => makeResponse(t.body(), 200, { 'X-Note': 'v\r\nInjected: yes' }),
    says: `makeResponse(): header "X-Note" ${SPLIT}`,
    body: 'not started',
  },
  {
    input: 'response.headers set to a value with CRLF',
    handler: (t) => {
      const response = makeResponse(t.body());
      response.headers = { 'X-Note': 'v\r\nInjected: yes' };
      return response;
    },
    says: `StreamResponse.headers: header "X-Note" ${SPLIT}`,
    body: 'not started',
  },
  {
    input: 'makeResponse() headers changed to hold CRLF afterwards',
    handler: (t) => {
      const headers = { 'X-Note': 'fine' };
      const response = makeResponse(t.body(['first']), 200, headers);
      headers['X-Note'] = 'v\r\nInjected: yes';
      return response;
    },
    says: `asyncStream(): header "X-Note" ${SPLIT}`,
    body: 'closed',
  },
  {
    input: 'a whole string body with CRLF in a header value',
    handler: () => ['whole', { 'X-Note': 'v\r\nInjected: yes' }],
    says: `asyncStream(): header "X-Note" ${SPLIT}`,
    body: 'not created',
  },
];

describe.each(expressVersions)('header injection (%s)', (_version, createApp) => {
  const { serve } = useTestServer();
  const watcher = useProcessWatch();

  it.each(injectionRows)('$input: rejected, and no injected line reaches the wire', async (row) => {
    const app = createApp();
    const tracked = track();
    app.get(
      '/bad',
      asyncStream(() => row.handler(tracked) as never),
    );
    const errors = recordErrors(app);
    const raw = await rawGet(await serve(app), '/bad');
    const [head = '', ...rest] = raw.split('\r\n\r\n');
    const headLines = head.split(/\r\n|\r|\n/);
    expect(headLines[0]).toBe('HTTP/1.1 500 Internal Server Error');
    expect(headLines.filter((line) => /^(injected|x-note|set-cookie)\b/i.test(line))).toEqual([]);
    // The error page quotes the value with its line breaks escaped, never raw.
    expect(rest.join('\r\n\r\n')).not.toMatch(/[\r\n]Injected/);
    expect(errors).toHaveLength(1);
    expectRejection(errors[0], { error: TypeError, says: [row.says] });
    await expectNothingLeft(tracked, row.body);
    expect(watcher.unhandled).toEqual([]);
    expect(watcher.logged).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The edges of what is accepted, so that the checks above are not stricter than the rules.
// ---------------------------------------------------------------------------------------------

describe('accepted at the boundaries', () => {
  it.each([
    ['no options ({})', {}],
    ['timeout 1', { timeout: 1 }],
    ['timeout 2147483647', { timeout: 2 ** 31 - 1 }],
    ['timeout Infinity', { timeout: Infinity }],
    ['timeout null', { timeout: null }],
    ['timeout undefined', { timeout: undefined }],
    ['timeout 1.5', { timeout: 1.5 }],
  ])('asyncStream(), sse() and ndjson() accept %s', (_case, options) => {
    expect(() => asyncStream(handler, options)).not.toThrow();
    expect(() => sse(ticks, options)).not.toThrow();
    expect(() => ndjson(ticks, options)).not.toThrow();
  });

  it.each([
    ['keepAlive 1', { keepAlive: 1 }],
    ['keepAlive null', { keepAlive: null }],
    ['keepAlive Infinity', { keepAlive: Infinity }],
    ['errorEvent false', { errorEvent: false }],
    ['errorEvent true', { errorEvent: true }],
    ['errorEvent a function', { errorEvent: () => 'failed' }],
  ])('sse() accepts %s', (_case, options) => {
    expect(() => sse(ticks, options)).not.toThrow();
  });

  it.each([200, 204, 599])('makeResponse() accepts status %s', (status) => {
    expect(makeResponse('x', status).status).toBe(status);
  });

  it.each<[string, Record<string, string | number | string[]>]>([
    ['a tab inside a value', { 'X-A': 'a\tb' }],
    ['Latin-1 text', { 'X-A': 'café' }],
    ['an empty value', { 'X-A': '' }],
    ['a number', { 'X-A': -1.5 }],
    ['a repeated header', { 'Set-Cookie': ['a=1', 'b=2'] }],
    ['a Content-Length of digits', { 'Content-Length': '0' }],
    ['a Content-Length number', { 'Content-Length': 12 }],
    ['every token character in a name', { "!#$%&'*+-.^_`|~09azAZ": 'x' }],
  ])('makeResponse() accepts %s', (_case, headers) => {
    expect(() => makeResponse('x', 200, headers)).not.toThrow();
  });

  it.each<[SseEvent, string]>([
    [{ id: '' }, 'id:\n\n'],
    [{ retry: 0 }, 'retry: 0\n\n'],
    [{ id: -1.5 }, 'id: -1.5\n\n'],
    [{ event: 'a\0b' }, 'event: a\0b\n\n'],
    [{ data: null }, 'data: null\n\n'],
    [{ comment: 'a\nb' }, ': a\n: b\n\n'],
  ])('encodeEvent(%p) is accepted', (event, frame) => {
    expect(encodeEvent(event)).toBe(frame);
  });

  describe.each(expressVersions)('on the wire (%s)', (_version, createApp) => {
    const { serve } = useTestServer();

    it('sends status 599, a tab and a matching Content-Length as given', async () => {
      const app = createApp();
      async function* ok(): AsyncGenerator<string> {
        yield 'o';
        yield 'k';
      }
      app.get(
        '/edge',
        asyncStream(() => makeResponse(ok(), 599, { 'X-Tab': 'a\tb', 'Content-Length': 2 })),
      );
      const raw = await rawGet(await serve(app), '/edge');
      expect(raw).toMatch(/^HTTP\/1\.1 599 /);
      expect(raw).toContain('\r\nX-Tab: a\tb\r\n');
      expect(raw).toContain('\r\nContent-Length: 2\r\n');
      expect(raw.endsWith('\r\n\r\nok')).toBe(true);
    });
  });
});
