import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import zlib from 'node:zlib';
import express, { type Response } from 'express';
import { asyncStream } from '../../src/index.js';
import { ResponseAbortedError } from '../../src/testing/index.js';
import { recordErrors, useProcessWatch } from '../helpers/app.js';
import { createProducer } from '../helpers/producer.js';
import { useConnections } from './connections.js';
import { docPage, runBlock } from './docPage.js';

const page = docPage('docs/recipes.md');
afterAll(() => page.expectEveryBlockUsed());
const streamRequest = useConnections();

/** Resolves once `condition()` holds, checking after each turn of the event loop (no wall-clock wait). */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turn = 0; !condition(); turn++) {
    if (turn > 100_000) throw new Error(`${what} never happened`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

async function turns(count: number): Promise<void> {
  for (let turn = 0; turn < count; turn++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe('docs/recipes.md: compression', () => {
  it('sends each line gzipped, and the whole body decodes to the lines', async () => {
    const app = express();
    runBlock(page.block('app.use(compression())'), { app });
    const connection = await streamRequest(app, '/log', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(connection.headers['content-encoding']).toBe('gzip');
    expect(connection.headers['transfer-encoding']).toBe('chunked');
    expect(zlib.gunzipSync(await connection.buffer()).toString()).toBe('line 1\nline 2\n');
  });
});

describe('docs/recipes.md: CSV export with a download filename', () => {
  interface Sale {
    region: string;
    amount: number;
  }

  function csvApp() {
    const sales = createProducer<Sale>();
    const app = express();
    runBlock(page.block("res.attachment('rapport-€.csv')"), { app, sales: sales.generate });
    return { app, sales, errors: recordErrors(app) };
  }

  it('names the file in Content-Disposition as Express encodes it, with text/csv', async () => {
    const { app, sales } = csvApp();
    sales.end();
    const connection = await streamRequest(app, '/rapport.csv');
    expect(connection.status).toBe(200);
    expect(connection.headers['content-disposition']).toBe(
      `attachment; filename="rapport-?.csv"; filename*=UTF-8''rapport-%E2%82%AC.csv`,
    );
    expect(connection.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(connection.headers['transfer-encoding']).toBe('chunked');
    expect(await connection.text()).toBe('region,amount\r\n');
  });

  it('streams each row as the source produces it, quoting fields as RFC 4180 says', async () => {
    const { app, sales, errors } = csvApp();
    const connection = await streamRequest(app, '/rapport.csv');
    expect(await connection.receiveLine()).toBe('region,amount\r');
    sales.push({ region: 'Île-de-France', amount: 1200.5 });
    expect(await connection.receiveLine()).toBe('Île-de-France,1200.5\r'); // before the next row exists
    sales.push({ region: 'Nord, "Hauts"', amount: 3 }, { region: 'two\nlines', amount: 0 });
    sales.end();
    expect(await connection.text()).toBe('"Nord, ""Hauts""",3\r\n"two\nlines",0\r\n');
    await sales.finalized;
    expect(errors).toEqual([]);
  });
  it('cuts the download, rather than ending it cleanly, when the row source fails after the first line', async () => {
    const { app, sales, errors } = csvApp();
    const connection = await streamRequest(app, '/rapport.csv');
    expect(await connection.receiveLine()).toBe('region,amount\r');
    sales.fail(new Error('the database went away'));
    await expect(connection.text()).rejects.toThrow(ResponseAbortedError);
    expect(errors).toEqual([expect.objectContaining({ message: 'the database went away' })]);
  });
});

describe('docs/recipes.md: streaming a database cursor with backpressure', () => {
  const watch = useProcessWatch();
  const total = 20_000;
  const pageSize = 100;

  interface User {
    id: number;
    name: string;
  }

  /** A stand-in for a driver's cursor: fetches `pageSize` rows at a time when iterated, and counts them. */
  function pagedTable() {
    const stats = { fetched: 0, closes: 0 };
    const cursor = (sql: string) => {
      expect(sql).toBe('SELECT id, name FROM users ORDER BY id');
      let page: User[] = [];
      let offset = 0;
      return {
        [Symbol.asyncIterator]: () => ({
          async next(): Promise<IteratorResult<User>> {
            if (page.length === 0 && offset < total) {
              await new Promise<void>((resolve) => setImmediate(resolve)); // the round trip to the database
              page = Array.from({ length: Math.min(pageSize, total - offset) }, (_, i) => ({
                id: offset + i + 1,
                name: `user ${offset + i + 1} `.padEnd(1_000, '.'),
              }));
              offset += page.length;
              stats.fetched += page.length;
            }
            const row = page.shift();
            return row === undefined ? { value: undefined, done: true } : { value: row, done: false };
          },
        }),
        async close() {
          stats.closes++;
        },
      };
    };
    return { db: { cursor }, stats };
  }

  function cursorApp() {
    const table = pagedTable();
    const app = express();
    let response: Response | undefined;
    app.use((_req, res, next) => {
      response = res;
      next();
    });
    runBlock(page.block("db.cursor('SELECT id, name FROM users ORDER BY id')"), { app, db: table.db });
    return { app, stats: table.stats, errors: recordErrors(app), response: () => response! };
  }

  it('fetches no more rows while a client that stopped reading has the response backed up', async () => {
    const { app, stats, response } = cursorApp();
    const connection = await streamRequest(app, '/users.ndjson');
    connection.pause();
    await until(() => response().writableNeedDrain, 'a full response buffer');
    const fetched = stats.fetched;
    await turns(200);
    expect(stats.fetched).toBe(fetched);
    expect(stats.fetched).toBeLessThan(total / 2);
    await connection.disconnect();
  });

  it('sends every row in order once the client reads, then closes the cursor', async () => {
    const { app, stats, errors } = cursorApp();
    const connection = await streamRequest(app, '/users.ndjson');
    let count = 0;
    for (
      let user = await connection.receiveJson<User>();
      user !== undefined;
      user = await connection.receiveJson<User>()
    ) {
      expect(user.id).toBe(++count);
    }
    expect(count).toBe(total);
    expect(stats).toEqual({ fetched: total, closes: 1 });
    expect(errors).toEqual([]);
  });

  it('closes the cursor when the client leaves, without an error or a log line', async () => {
    const { app, stats, errors, response } = cursorApp();
    const connection = await streamRequest(app, '/users.ndjson');
    connection.pause();
    await until(() => response().writableNeedDrain, 'a full response buffer');
    await connection.disconnect(); // resolves once the generator's finally has run
    expect(stats.closes).toBe(1);
    expect(stats.fetched).toBeLessThan(total);
    expect(errors).toEqual([]);
    expect(watch.logged).toEqual([]);
  });
});

describe('docs/recipes.md: testing with supertest', () => {
  const app = express();
  app.get(
    '/count',
    asyncStream(async function* () {
      for (let i = 1; i <= 3; i++) yield `${i}\n`;
    }),
  );
  runBlock(page.block("import request from 'supertest'"), { app, it, expect });
});

describe('docs/recipes.md: server timeouts', () => {
  let server: http.Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });

  function listenAsTheBlockDoes(app: express.Express): http.Server {
    const listen = (port: number) => {
      expect(port).toBe(3000);
      server = http.createServer(app).listen(0, '127.0.0.1'); // the test's own port
      return server;
    };
    runBlock(page.block('server.timeout = 30_000'), { app: { listen } });
    return server!;
  }

  it('sets the socket inactivity timeout, which a silent stream outlives while a silent plain route is cut', async () => {
    const app = express();
    const gate = createProducer<string>();
    app.get('/quiet', asyncStream(gate.generate));
    app.get('/hangs', () => {});
    const listening = listenAsTheBlockDoes(app);
    expect(listening.timeout).toBe(30_000);
    listening.timeout = 100; // shortened so that the test waits 4× that, not 4× 30 s
    await new Promise<void>((resolve) => listening.once('listening', resolve));
    const url = `http://127.0.0.1:${(listening.address() as AddressInfo).port}`;

    gate.push('before\n');
    const quiet = await streamRequest(url, '/quiet');
    expect(await quiet.receiveLine()).toBe('before');
    await sleep(400);
    gate.push('after\n');
    gate.end();
    expect(await quiet.text()).toBe('after\n');

    await expect(streamRequest(url, '/hangs')).rejects.toThrow();
  });
});

describe('docs/recipes.md: the res.write loop by hand', () => {
  it('streams the same lines by hand and with asyncStream, and both stop when the client leaves', async () => {
    const { app } = runBlock(`${page.block("app.get('/time-by-hand'")}\nexport { app };`) as { app: express.Express };
    const errors = recordErrors(app);
    for (const [path, type] of [
      ['/time-by-hand', 'text/plain; charset=utf-8'],
      ['/time', 'text/html; charset=utf-8'],
    ]) {
      const connection = await streamRequest(app, path!);
      expect(connection.headers['content-type']).toBe(type);
      expect(await connection.receiveLine()).toMatch(/^\d{4}-\d\d-\d\dT/);
      await connection.disconnect();
    }
    expect(errors).toEqual([]);
  });
});
