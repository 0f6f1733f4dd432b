// An Express process sharing a topic on Redis (__tests__/fixtures/topics/server.mjs, on dist/): started, watched, killed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

const server = path.join(__dirname, '..', 'fixtures', 'topics', 'server.mjs');

/** The Redis client libraries the fixture can use. */
export type RedisLibrary = 'redis' | 'ioredis';

/** What `POST /publish` answered: 200 with the event's id, or an error status with the store's message. */
export type PublishAnswer =
  { readonly ok: true; readonly id: string } | { readonly ok: false; readonly status: number; readonly error: string };

/** One app process. It runs the build: `npm run build` first (npm test does). */
export interface TopicApp {
  readonly url: string;
  readonly library: RedisLibrary;
  /** Everything it wrote to stderr: what nobody handled (its Redis outages go to stdout). */
  stderr(): string;
  /** Everything it wrote to stdout: `listening`, and each `redis <event>` of its client. */
  stdout(): string;
  /** Whether the process still runs. */
  readonly isAlive: boolean;
  /** Resolves when its Redis client next prints `event` (`reconnecting`: it lost Redis; `ready`: it is back). */
  nextRedisEvent(event: 'reconnecting' | 'ready'): Promise<void>;
  /** Publishes `text` and resolves its id; rejects unless the answer is 200. */
  publish(text: string): Promise<string>;
  /** Publishes `text` and resolves with whatever the app answered. */
  tryPublish(text: string): Promise<PublishAnswer>;
  /** SIGKILL: the process dies mid-stream, as a crash would. */
  kill(): Promise<void>;
  /** SIGTERM: its handler ends the streams and closes its Redis client; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the fixture on `topic` with a client of `library`; resolves once it listens. */
export async function startTopicApp(redisUrl: string, library: RedisLibrary, topic: string): Promise<TopicApp> {
  const child = spawn(process.execPath, [server], {
    env: { ...process.env, REDIS_URL: redisUrl, LIBRARY: library, TOPIC: topic },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = once(child, 'exit') as Promise<[number | null]>;
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', function onListening() {
      const match = /listening (\d+)/.exec(stdout);
      if (match === null) return;
      child.stdout.off('data', onListening);
      resolve(Number(match[1]));
    });
    void exited.then(([code]) => reject(new Error(`the app process exited with ${code}: ${stderr}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  const isAlive = (): boolean => child.exitCode === null && child.signalCode === null;
  const app: TopicApp = {
    url,
    library,
    stderr: () => stderr,
    stdout: () => stdout,
    get isAlive() {
      return isAlive();
    },
    nextRedisEvent(event) {
      const line = `redis ${event}\n`;
      const seen = stdout.split(line).length;
      return new Promise<void>((resolve, reject) => {
        const onOutput = (): void => {
          if (stdout.split(line).length <= seen) return;
          child.stdout.off('data', onOutput);
          resolve();
        };
        child.stdout.on('data', onOutput);
        void exited.then(([code]) => reject(new Error(`the app process exited with ${code} before "redis ${event}"`)));
      });
    },
    async tryPublish(text) {
      const response = await fetch(`${url}/publish`, {
        method: 'POST',
        body: text,
        headers: { 'content-type': 'text/plain' },
      });
      const body = (await response.json()) as { id?: string; error?: string };
      return response.status === 200
        ? { ok: true, id: body.id! }
        : { ok: false, status: response.status, error: body.error! };
    },
    async publish(text) {
      const answer = await app.tryPublish(text);
      if (!answer.ok) throw new Error(`publishing ${text} answered ${answer.status}: ${answer.error}`);
      return answer.id;
    },
    async kill() {
      if (!isAlive()) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!isAlive()) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = await exited;
      return code;
    },
  };
  return app;
}
