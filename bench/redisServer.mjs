// The Redis of the Redis workloads: a redis-server the bench starts and stops itself, in a temp
// dir, on a free loopback port, keeping nothing (the tests' __tests__/helpers/redisServer.ts
// does the same for a test; bench/ is plain .mjs and cannot import it).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { accessSync, constants, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The redis-server binary on PATH, or where Debian installs it (`/usr/bin`); `undefined` when absent. */
export function findRedisServer() {
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin'];
  return dirs.map((dir) => path.join(dir, 'redis-server')).find(isExecutable);
}

function isExecutable(file) {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** What the report prints when there is no redis-server: the workload is skipped, not failed. */
export const NO_REDIS = 'redis-server is not installed (Debian: apt-get install -y redis-server)';

/**
 * Starts redis-server in the foreground on 127.0.0.1 and a port that was free a moment ago
 * (retried once taken meanwhile), saving nothing. Resolves { url, stop() } once it accepts
 * connections; stop() ends it (SIGTERM: with no save points it exits at once) and removes its dir.
 */
export async function startRedis() {
  const binary = findRedisServer();
  if (binary === undefined) throw new Error(NO_REDIS);
  for (let attempt = 1; ; attempt++) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'));
    const port = await freePort();
    try {
      return await launch(binary, dir, port);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      if (attempt === 3 || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

async function launch(binary, dir, port) {
  const args = [
    ...['--port', String(port), '--bind', '127.0.0.1', '--protected-mode', 'no', '--daemonize', 'no'],
    ...['--dir', dir, '--save', '', '--appendonly', 'no', '--logfile', ''],
  ];
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = once(child, 'exit');
  // Should the runner exit without stop() (an error thrown past it), redis-server goes with it.
  const killOnExit = () => child.kill('SIGTERM');
  process.once('exit', killOnExit);
  let log = '';
  // Read for as long as it runs: a full pipe would block redis-server on its next log line.
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('it did not accept connections within 10 s')), 10_000);
    const onOutput = (chunk) => {
      log += chunk;
      // Redis 7.0 and earlier: "Ready to accept connections"; 7.2: "... tcp".
      if (/Ready to accept connections/.test(log)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    exited.then(([code, signal]) => {
      clearTimeout(timer);
      reject(new Error(`it exited (${signal ?? code}) before accepting connections`));
    });
  });
  const stop = async () => {
    process.off('exit', killOnExit);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await ready;
  } catch (error) {
    await stop();
    throw new Error(`redis-server did not start on port ${port}: ${error.message}\n${log}`, { cause: error });
  }
  return { url: `redis://127.0.0.1:${port}`, stop };
}

/** A TCP port of 127.0.0.1 that the OS gave a listener closed at once. */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}
