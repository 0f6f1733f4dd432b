// An SSE client that resumes as a browser's EventSource does: a stream that ends or breaks is requested again with Last-Event-ID.
import {
  ResponseAbortedError,
  streamRequest,
  type ServerSentEvent,
  type StreamConnection,
} from '../../src/testing/index.js';

/** Requests in a row that may fail to get a stream (refused, not 200) before the client gives up. */
const MAX_FAILURES = 20;

/** Options of {@link openResumingClient}. */
export interface ResumingClientOptions {
  /** The base URL of the first request (`attempt` 0) and of each one after a break (1, 2, …). */
  readonly target: (attempt: number) => string;
  readonly path: string;
  /** Called with the client after each event it receives: waits on many clients' tallies need no polling. */
  readonly onEvent?: (client: ResumingClient) => void;
  /** How long to wait for the headers, and for each event, in ms. @default 30_000 */
  readonly timeout?: number;
}

/** What one client has seen so far. */
export interface ResumingClient {
  /** Every event received, over every connection, in order. */
  readonly events: readonly ServerSentEvent[];
  /** The URL of each stream it got, in order. */
  readonly streams: readonly string[];
  /** How each stream or request so far ended: `ended` (cleanly), `aborted` (cut), `failed: …` (no stream). */
  readonly breaks: readonly string[];
  /** Why it gave up (a read timed out, or too many requests failed in a row); `undefined` while it runs. */
  readonly failure: string | undefined;
  /** Stops it; resolves once its connection is closed and its loop is over. Idempotent. */
  close(): Promise<void>;
}

/**
 * Opens a client; resolves once its first stream's headers arrived (`sse()` of a topic sends them
 * once the subscription is live, so nothing published later is missed). Unlike a browser, it
 * reconnects at once rather than after the stream's `retry` delay: the tests wait on events, not time.
 */
export async function openResumingClient(options: ResumingClientOptions): Promise<ResumingClient> {
  const client = new Resumer(options);
  await client.start();
  return client;
}

class Resumer implements ResumingClient {
  readonly events: ServerSentEvent[] = [];
  readonly streams: string[] = [];
  readonly breaks: string[] = [];
  failure: string | undefined;
  private connection: StreamConnection | undefined;
  private closed = false;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly options: ResumingClientOptions) {}

  async start(): Promise<void> {
    const first = await this.request(0);
    this.loop = this.run(first);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.connection?.disconnect().catch(() => {});
    await this.loop;
  }

  private async request(attempt: number): Promise<StreamConnection> {
    const url = this.options.target(attempt);
    const lastId = this.events.at(-1)?.id;
    const headers = lastId === undefined ? {} : { 'Last-Event-ID': lastId };
    const connection = await streamRequest(url, this.options.path, { headers, timeout: this.timeout });
    if (connection.status !== 200) {
      await connection.disconnect();
      throw new Error(`${url}${this.options.path} answered ${connection.status}`);
    }
    this.streams.push(url);
    return connection;
  }

  private async run(first: StreamConnection): Promise<void> {
    let connection: StreamConnection | undefined = first;
    for (let attempt = 1, failures = 0; !this.closed; attempt++) {
      if (connection === undefined) {
        try {
          connection = await this.request(attempt);
          failures = 0;
        } catch (error) {
          this.breaks.push(`failed: ${(error as Error).message}`);
          if (++failures === MAX_FAILURES) this.failure = `${failures} requests in a row got no stream`;
          if (this.failure !== undefined) return;
          continue;
        }
      }
      this.connection = connection;
      // close() may have come while the request was under way, before it could see the connection.
      if (this.closed) await connection.disconnect().catch(() => {});
      const end = await this.read(connection);
      this.connection = connection = undefined;
      if (this.closed || this.failure !== undefined) return;
      this.breaks.push(end);
    }
  }

  /** Reads events until the stream ends; resolves how it ended. */
  private async read(connection: StreamConnection): Promise<string> {
    try {
      for (;;) {
        const event = await connection.receiveEvent({ timeout: this.timeout });
        if (event === null) return 'ended';
        this.events.push(event);
        this.options.onEvent?.(this);
      }
    } catch (error) {
      if (error instanceof ResponseAbortedError) return 'aborted';
      if (!this.closed) this.failure = `reading ${connection.url}: ${(error as Error).message}`;
      return 'failed';
    }
  }

  private get timeout(): number {
    return this.options.timeout ?? 30_000;
  }
}

/**
 * Many clients, with counts kept as their events arrive: waiting until each has N events costs
 * one check per event, not a scan of every client.
 */
export class ResumingClients {
  readonly clients: ResumingClient[] = [];
  private readonly waiters = new Set<{ count: number; have: number; resolve(): void }>();

  /** Opens `count` clients, `concurrency` requests at a time (a server's listen backlog is finite). */
  async open(count: number, options: Omit<ResumingClientOptions, 'onEvent'>, concurrency = 100): Promise<void> {
    const onEvent = (client: ResumingClient): void => this.counted(client);
    for (let opened = 0; opened < count; opened += concurrency) {
      const batch = Array.from({ length: Math.min(concurrency, count - opened) }, () =>
        openResumingClient({ ...options, onEvent }),
      );
      this.clients.push(...(await Promise.all(batch)));
    }
  }

  /** Resolves once every client has `count` events or more; rejects after `ms` saying how many do. */
  eachHas(count: number, ms: number): Promise<void> {
    const have = this.clients.filter((client) => client.events.length >= count).length;
    let waiter: { count: number; have: number; resolve(): void } | undefined;
    const reached = new Promise<void>((resolve) => {
      waiter = { count, have, resolve };
      this.waiters.add(waiter);
      if (have >= this.clients.length) resolve();
    });
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const failures = this.clients.flatMap((client) => client.failure ?? []);
        reject(
          new Error(
            `${waiter!.have} of ${this.clients.length} clients had ${count} events after ${ms} ms; ` +
              `failures: ${JSON.stringify(failures.slice(0, 3))}`,
          ),
        );
      }, ms);
    });
    return Promise.race([reached, expired]).finally(() => {
      clearTimeout(timer);
      this.waiters.delete(waiter!);
    });
  }

  /** Closes every client. */
  async close(): Promise<void> {
    await Promise.all(this.clients.map((client) => client.close()));
  }

  private counted(client: ResumingClient): void {
    for (const waiter of this.waiters) {
      // Events come one at a time, so each client reaches `count` exactly once.
      if (client.events.length !== waiter.count) continue;
      if (++waiter.have >= this.clients.length) waiter.resolve();
    }
  }
}
