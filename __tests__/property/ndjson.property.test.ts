import fc from 'fast-check';
import { ndjson } from '../../src/index.js';
import { streamRequest } from '../../src/testing/index.js';
import { recordErrorsByUrl, useProcessWatch } from '../helpers/app.js';
import { expressVersions } from '../helpers/express.js';
import { runs } from '../helpers/fastCheck.js';
import { listen, type TestServer } from '../helpers/server.js';
import { within } from '../helpers/within.js';
import { nameOf, pathFor, PROPERTY_TIMEOUT } from './support.js';

// Runs per property and per Express major; each run is one request over a fresh loopback connection.
const ROUND_TRIP_RUNS = 200;
const UNSERIALISABLE_RUNS = 150;
const NOT_ITERABLE_RUNS = 60;

// Strings dense in what could break a line-based format: CR, LF, U+2028/U+2029 (raw in JSON
// text since ES2019), NEL, lone surrogates (escaped by JSON.stringify since ES2019) and non-BMP.
const lineUnit = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom('\n', '\r', '\r\n', '\u2028', '\u2029', '\u0085', '\0', '"', '\\', '😀') },
  fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)),
);
const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3, stringUnit: lineUnit }),
  fc.string({ unit: lineUnit, maxLength: 12 }),
  fc.dictionary(fc.string({ unit: lineUnit, maxLength: 4 }), fc.string({ unit: lineUnit, maxLength: 6 }), {
    maxKeys: 3,
  }),
);

type Form = 'array' | 'sync generator' | 'async generator' | 'promise of an async generator';
const form = fc.constantFrom<Form>('array', 'sync generator', 'async generator', 'promise of an async generator');

/** The handler's result in the given form, and a promise that settles when a generator's finally ran. */
function produce(values: readonly unknown[], kind: Form): { result: unknown; finalized: Promise<void> | undefined } {
  let closed!: () => void;
  const finalized = new Promise<void>((resolve) => (closed = resolve));
  const asyncValues = async function* () {
    try {
      yield* values;
    } finally {
      closed();
    }
  };
  switch (kind) {
    case 'array':
      return { result: values, finalized: undefined };
    case 'sync generator':
      return {
        result: (function* () {
          try {
            yield* values;
          } finally {
            closed();
          }
        })(),
        finalized,
      };
    case 'async generator':
      return { result: asyncValues(), finalized };
    case 'promise of an async generator':
      return { result: Promise.resolve(asyncValues()), finalized };
  }
}

/** Values JSON.stringify() cannot turn into a line, and how the error must name them. */
const unserialisable: fc.Arbitrary<{ readonly value: unknown; readonly name: string; readonly reason: string }> =
  fc.oneof(
    fc
      .constantFrom<unknown>(undefined, Symbol('s'), function makeRow() {}, { toJSON: () => undefined })
      .map((value) => ({
        value,
        name: nameOf(value),
        reason: 'JSON.stringify() turns it into nothing',
      })),
    fc
      .oneof(
        fc.bigInt(),
        fc.bigInt().map((n) => ({ total: n })),
        fc.bigInt().map((n) => [1, [n]]),
        fc.constant(null).map(() => {
          const row: Record<string, unknown> = { id: 1 };
          row.self = row;
          return row;
        }),
        fc.constant(null).map(() => {
          const list: unknown[] = [1];
          list.push({ back: list });
          return list;
        }),
        fc.constant({
          toJSON() {
            throw new Error('no JSON for you');
          },
        }),
      )
      .map((value) => ({ value, name: nameOf(value), reason: 'JSON.stringify() threw' })),
  );

describe.each(expressVersions)('ndjson(handler) with arbitrary values (%s)', (_name, createApp) => {
  let server: TestServer;
  let errors: Map<string, unknown[]>;
  let current: () => unknown = () => [];
  let run = 0;
  const watcher = useProcessWatch();

  beforeAll(async () => {
    const app = createApp();
    app.get(
      '/',
      ndjson(() => current() as Iterable<unknown>),
    );
    errors = recordErrorsByUrl(app);
    server = await listen(app);
  });

  afterAll(async () => {
    await server.close();
  });

  it(
    'sends one line per JSON value, and every line parses back to the value',
    async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(jsonValue, { maxLength: 12 }), form, async (values, kind) => {
          const path = pathFor(++run);
          current = () => produce(values, kind).result;

          const connection = await streamRequest(server.url, path);
          const received = {
            status: connection.status,
            headers: connection.headers,
            ...(await connection.readToEnd()),
          };

          expect(errors.get(path)).toBeUndefined();
          expect(received.aborted).toBe(false);
          expect(received.status).toBe(200);
          expect(received.headers['content-type']).toBe('application/x-ndjson');
          if (values.length > 0) {
            expect(received.headers['transfer-encoding']).toBe('chunked');
            expect(received.headers['content-length']).toBeUndefined();
          }
          const text = received.body.toString('utf8');
          // The UTF-8 was valid: lone surrogates went out escaped, not replaced.
          expect(Buffer.from(text, 'utf8')).toEqual(received.body);
          // README: each value is sent as JSON.stringify(value) + '\n'.
          expect(text).toBe(values.map((value) => `${JSON.stringify(value)}\n`).join(''));
          const lines = text.split('\n');
          expect(lines.pop()).toBe('');
          expect(lines).toHaveLength(values.length);
          // JSON.parse(JSON.stringify(v)) is the value as JSON can carry it (-0 becomes 0).
          expect(lines.map((line) => JSON.parse(line) as unknown)).toEqual(
            values.map((value) => JSON.parse(JSON.stringify(value)) as unknown),
          );
        }),
        runs(ROUND_TRIP_RUNS),
      );
      expect(watcher.unhandled).toEqual([]);
      expect(watcher.logged).toEqual([]);
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'fails at the first value JSON cannot carry: a 500 before any line, a cut connection after the lines before it',
    async () => {
      const failing = fc.record({
        before: fc.array(jsonValue, { maxLength: 5 }),
        bad: unserialisable,
        after: fc.array(jsonValue, { maxLength: 3 }),
        kind: form,
      });
      await fc.assert(
        fc.asyncProperty(failing, async ({ before, bad, after, kind }) => {
          const path = pathFor(++run);
          let finalized: Promise<void> | undefined;
          current = () => {
            const produced = produce([...before, bad.value, ...after], kind);
            finalized = produced.finalized;
            return produced.result;
          };

          const connection = await streamRequest(server.url, path);
          const received = {
            status: connection.status,
            headers: connection.headers,
            ...(await connection.readToEnd()),
          };

          const [error, ...more] = errors.get(path) ?? [];
          expect(more).toEqual([]);
          expect(error).toBeInstanceOf(TypeError);
          const { message } = error as Error;
          expect(message).toContain(`ndjson(): value ${before.length} of the body is ${bad.name}`);
          expect(message).toContain(`which cannot be sent as a JSON line (${bad.reason}`);
          if (bad.reason === 'JSON.stringify() threw') expect((error as Error).cause).toBeDefined();
          if (before.length === 0) {
            expect(received.status).toBe(500);
            expect(received.aborted).toBe(false);
          } else {
            expect(received.status).toBe(200);
            expect(received.aborted).toBe(true);
            expect(received.body.toString('utf8')).toBe(before.map((value) => `${JSON.stringify(value)}\n`).join(''));
          }
          // The values are closed: a generator's finally runs.
          if (finalized !== undefined) await within(finalized, "the generator's finally");
        }),
        runs(UNSERIALISABLE_RUNS),
      );
      expect(watcher.unhandled).toEqual([]);
      expect(watcher.logged).toEqual([]);
    },
    PROPERTY_TIMEOUT,
  );

  it(
    'answers 500 with a TypeError naming a handler result that is not an iterable of values',
    async () => {
      const notIterable = fc.oneof(
        fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 8 }), fc.constant(new Date(0))),
        fc.dictionary(fc.stringMatching(/^[a-z]{1,4}$/), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }),
        fc.uint8Array({ maxLength: 4 }).map((bytes) => Buffer.from(bytes)),
      );
      await fc.assert(
        fc.asyncProperty(notIterable, async (result) => {
          const path = pathFor(++run);
          current = () => result;

          const connection = await streamRequest(server.url, path);
          const received = {
            status: connection.status,
            headers: connection.headers,
            ...(await connection.readToEnd()),
          };

          expect(received.status).toBe(500);
          expect(received.headers['content-type']).not.toBe('application/x-ndjson');
          const [error, ...more] = errors.get(path) ?? [];
          expect(more).toEqual([]);
          expect(error).toBeInstanceOf(TypeError);
          expect((error as Error).message).toContain(`ndjson(): the handler returned ${nameOf(result)}`);
        }),
        runs(NOT_ITERABLE_RUNS),
      );
    },
    PROPERTY_TIMEOUT,
  );
});
