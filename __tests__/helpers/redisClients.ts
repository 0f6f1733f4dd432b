// Redis clients of both libraries for topic tests, and reading a subscription or Redis's state without sleeps.
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import type { TopicEvent, TopicReset } from '../../src/index.js';

/** A client of one library, connected to a URL, and how to inspect Redis through it and close it. */
export interface TestClient {
  readonly client: unknown;
  /** Sends a raw command (to inspect or change Redis as `redis-cli` would). */
  send(args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

/** Connects a client of each library; both retry every 20 ms while Redis is away. */
export const clientLibraries: [library: string, connect: (url: string) => Promise<TestClient>][] = [
  [
    'redis',
    async (url) => {
      const client = createClient({ url, socket: { reconnectStrategy: () => 20 } });
      client.on('error', () => {});
      await client.connect();
      return {
        client,
        send: (args) => client.sendCommand(args),
        close: async () => void (client.isOpen ? client.destroy() : undefined),
      };
    },
  ],
  [
    'ioredis',
    async (url) => {
      const client = new Redis(url, { retryStrategy: () => 20, lazyConnect: true });
      client.on('error', () => {});
      await client.connect();
      return {
        client,
        send: ([command, ...args]) => client.call(command!, ...args),
        close: async () => client.disconnect(),
      };
    },
  ],
];

export type Received = TopicEvent | TopicReset;

/** Takes `count` values from a subscription, failing if it ends first. */
export async function take(iterator: AsyncIterator<Received>, count: number): Promise<Received[]> {
  const values: Received[] = [];
  while (values.length < count) {
    const step = await iterator.next();
    if (step.done === true) throw new Error(`the subscription ended after ${values.length} of ${count} events`);
    values.push(step.value);
  }
  return values;
}

/** The `CLIENT LIST` lines of the connections blocked in an `XREAD`: the topic readers waiting for events. */
export async function blockedReaders(inspector: TestClient): Promise<string[]> {
  const list = String(await inspector.send(['CLIENT', 'LIST', 'TYPE', 'normal']));
  return list.split('\n').filter((line) => / cmd=xread\b/.test(line) && / flags=\w*b/.test(line));
}

/** Polls `check` on real time until it holds (a state Redis reports, with nothing to wait on). */
export async function waitFor(check: () => Promise<boolean> | boolean, what = 'the condition'): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what} did not hold within 5 s`);
}
