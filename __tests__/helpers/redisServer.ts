// Running a real redis-server for a test: its own temp dir, a free loopback port and a unix socket, no root needed.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describeWhenInstalled } from './describeWhenInstalled.js';
import { findExecutable } from './findExecutable.js';
import { freePort } from './freePort.js';
import { nodeProcess } from './warnings.js';

/**
 * A redis-server started by {@link startRedis}. To take Redis away for a while and bring it back
 * with its data, call `shutdown()` (or `kill()`, a crash that loses what was not saved) and later
 * `start()`; `restart()` does both at once. Clients see their connection close, are refused
 * while it is down, and find the same port, socket and data when it is back.
 */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>`, for `createClient({ url })` or `new Redis(url)`. */
  readonly url: string;
  readonly port: number;
  /** The unix socket it also listens on, in its temp dir. */
  readonly socketPath: string;
  /** What redis-server printed so far, over all its starts. */
  log(): string;
  /** Saves the data (`SHUTDOWN SAVE`) and exits; resolves once the process is gone. */
  shutdown(): Promise<void>;
  /** Kills the process (SIGKILL), a crash: the writes since the last `shutdown()` are lost. */
  kill(): Promise<void>;
  /** Starts it again on the same port and socket, with the data saved by the last `shutdown()`. */
  start(): Promise<void>;
  /** `shutdown()`, then `start()`. */
  restart(): Promise<void>;
  /** Stops it for good and removes its temp dir. Idempotent; call it in `afterAll`. */
  stop(): Promise<void>;
}

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** More redis-server arguments, after the helper's own, e.g. `['--maxmemory', '10mb']`. */
  readonly args?: readonly string[];
}

/** The redis-server binary on PATH (Debian's is `/usr/bin/redis-server`), or `undefined`. */
export function findRedisServer(): string | undefined {
  return findExecutable('redis-server', ['/usr/bin']);
}

/**
 * `describe` when redis-server is installed. Without it the suite fails on CI (`CI` set), where
 * `.ci/run` installs it, and is skipped with one line saying how to install it elsewhere.
 */
export function describeWithRedis(name: string, fn: () => void): void {
  const program = { name: 'redis-server', path: findRedisServer(), install: 'apt-get install -y redis-server' };
  describeWhenInstalled(program, name, fn);
}

/**
 * Starts redis-server in the foreground, in a temp dir, on a free port of 127.0.0.1 and a unix
 * socket. Resolves once it accepts connections; rejects with its log if it exits first. A port
 * taken between picking and binding is retried. It saves nothing on its own (`--save ''`).
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const binary = findRedisServer();
  if (binary === undefined)
    throw new Error('redis-server is not installed: apt-get install -y redis-server (.ci/run does it on CI).');
  for (let attempt = 1; ; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-'));
    const port = await freePort();
    const server = createRedisServer(binary, dir, port, options.args ?? []);
    try {
      await server.start();
      return server;
    } catch (error) {
      await server.stop();
      if (attempt === 3 || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

function createRedisServer(binary: string, dir: string, port: number, extra: readonly string[]): RedisServer {
  const socketPath = path.join(dir, 'redis.sock');
  const args = [
    ...['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--daemonize', 'no'],
    ...['--unixsocket', socketPath, '--unixsocketperm', '700', '--logfile', ''],
    // Data only where a test asks for it: restart() saves on shutdown into this dir, and loads from it.
    ...['--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no'],
    ...extra,
  ];
  let output = '';
  let current: RunningRedis | undefined;
  // Should the test process exit without afterAll (a crash, --forceExit), redis-server goes with it.
  const host = nodeProcess();
  const killOnExit = (): void => {
    current?.child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  host.once('exit', killOnExit);
  const halt = async (how: () => Promise<void>): Promise<void> => {
    if (current === undefined) return;
    await how();
    await current.exited;
    current = undefined;
  };
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    socketPath,
    log: () => output,
    async start() {
      if (current !== undefined) throw new Error(`redis-server already runs on port ${port}; shutdown() it first.`);
      current = launch(binary, args, (text) => (output += text));
      try {
        await current.ready;
      } catch (error) {
        await halt(async () => void current?.child.kill('SIGKILL'));
        throw new Error(`redis-server did not start on port ${port}: ${String(error)}\n${output}`, { cause: error });
      }
    },
    shutdown: () => halt(() => sendShutdownSave(socketPath)),
    kill: () => halt(async () => void current?.child.kill('SIGKILL')),
    async restart() {
      await server.shutdown();
      await server.start();
    },
    stop: once(async () => {
      // No save points, so SIGTERM exits at once without writing; it also ends a background save.
      await halt(async () => void current?.child.kill('SIGTERM'));
      host.off('exit', killOnExit);
      fs.rmSync(dir, { recursive: true, force: true });
    }),
  };
  return server;
}

interface RunningRedis {
  readonly child: ChildProcess;
  /** Resolves once redis-server accepts connections; rejects if it exits or hangs first. */
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
}

function launch(binary: string, args: readonly string[], print: (text: string) => void): RunningRedis {
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // Read for as long as it runs: a full pipe would block redis-server on its next log line.
  let text = '';
  const ready = new Promise<void>((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer);
      child.off('exit', onExit);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onExit = (code: number | null, signal: string | null): void =>
      done(new Error(`it exited (${signal ?? code}) before accepting connections.`));
    const timer = setTimeout(() => done(new Error('it did not accept connections within 10 s.')), 10_000);
    child.once('exit', onExit);
    const onOutput = (chunk: Buffer): void => {
      print(chunk.toString());
      text += chunk.toString();
      // Redis 7.0 and earlier: "Ready to accept connections"; 7.2: "... tcp" and "... unix".
      if (/Ready to accept connections/.test(text)) done();
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
  });
  return { child, ready, exited };
}

/** Sends `SHUTDOWN SAVE` over the unix socket: Redis saves, then closes the connection and exits. */
function sendShutdownSave(socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let reply = '';
    socket.on('data', (chunk) => (reply += chunk.toString()));
    // The connection may be reset as the server exits, which is the success this waits for.
    socket.on('error', () => {});
    socket.on('close', function onShutdownClose() {
      // Redis answers only when it does not shut down, e.g. `-ERR Errors trying to SHUTDOWN`.
      if (reply.startsWith('-')) reject(new Error(`SHUTDOWN SAVE failed: ${reply.trim()}`));
      else resolve();
    });
    socket.end('*2\r\n$8\r\nSHUTDOWN\r\n$4\r\nSAVE\r\n');
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= fn());
}
