// Running a real nginx for a test: its own prefix in a temp dir, a free loopback port, no root needed.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describeWhenInstalled } from './describeWhenInstalled.js';
import { findExecutable } from './findExecutable.js';
import { freePort } from './freePort.js';
import { nodeProcess } from './warnings.js';

/** An nginx started by {@link startNginx}. */
export interface Nginx {
  /** `http://127.0.0.1:<port>`, where it listens. */
  readonly url: string;
  readonly port: number;
  /** What nginx wrote to its error log so far. */
  errorLog(): string;
  /** Stops nginx (its master waits for its workers) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The nginx binary: the one on PATH, else Debian's `/usr/sbin/nginx` (`/usr/sbin` is on root's
 * PATH only). `undefined` when neither exists.
 */
export function findNginx(): string | undefined {
  return findExecutable('nginx', ['/usr/sbin']);
}

/**
 * Starts nginx in the foreground with `server` (given the port to listen on) inside an `http`
 * block whose logs and temp files stay in a temp dir. Resolves once it listens; rejects with its
 * error log if it exits first. A port taken between picking and binding is retried.
 */
export async function startNginx(server: (port: number) => string): Promise<Nginx> {
  const binary = findNginx();
  if (binary === undefined)
    throw new Error('nginx is not installed: apt-get install -y nginx (.ci/run does it on CI).');
  for (let attempt = 1; ; attempt++) {
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'nginx-'));
    // A root master runs its workers as `nobody`, who must reach the temp files.
    fs.chmodSync(prefix, 0o755);
    const port = await freePort();
    try {
      return await launch(binary, prefix, port, server(port));
    } catch (error) {
      fs.rmSync(prefix, { recursive: true, force: true });
      if (attempt === 3 || !/Address already in use/.test(String(error))) throw error;
    }
  }
}

function httpConfig(prefix: string, server: string): string {
  const inPrefix = (name: string): string => path.join(prefix, name);
  return [
    'worker_processes 1;',
    'events { worker_connections 64; }',
    'http {',
    `    access_log ${inPrefix('access.log')};`,
    `    client_body_temp_path ${inPrefix('client_body')};`,
    `    proxy_temp_path ${inPrefix('proxy')};`,
    `    fastcgi_temp_path ${inPrefix('fastcgi')};`,
    `    uwsgi_temp_path ${inPrefix('uwsgi')};`,
    `    scgi_temp_path ${inPrefix('scgi')};`,
    server.replace(/^(?=.)/gm, '    '),
    '}',
    '',
  ].join('\n');
}

async function launch(binary: string, prefix: string, port: number, server: string): Promise<Nginx> {
  const conf = path.join(prefix, 'nginx.conf');
  const log = path.join(prefix, 'error.log');
  const pidFile = path.join(prefix, 'nginx.pid');
  fs.writeFileSync(conf, httpConfig(prefix, server));
  // -e: the log for startup errors too, which otherwise go to /var/log/nginx (not writable unless root).
  const child = spawn(binary, ['-p', prefix, '-c', conf, '-e', log, '-g', `daemon off; pid ${pidFile};`], {
    stdio: 'ignore',
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const errorLog = (): string => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
  // Should the test process exit without afterAll (a crash, --forceExit), nginx goes with it. A
  // master killed outright leaves its worker behind, so it gets SIGTERM, which it passes on.
  const host = nodeProcess();
  const killOnExit = (): void => void child.kill('SIGTERM');
  host.once('exit', killOnExit);
  const stop = once(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    host.off('exit', killOnExit);
    fs.rmSync(prefix, { recursive: true, force: true });
  });
  try {
    await listening(child, prefix, pidFile, errorLog);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `http://127.0.0.1:${port}`, port, errorLog, stop };
}

/** nginx writes its pid file after it has bound its listening sockets. */
function listening(child: ChildProcess, prefix: string, pidFile: string, errorLog: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const watcher = fs.watch(prefix);
    const done = (error?: Error): void => {
      watcher.close();
      child.off('exit', onExit);
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
    const onExit = (code: number | null): void =>
      done(new Error(`nginx exited with ${code} before listening:\n${errorLog()}`));
    const timer = setTimeout(() => done(new Error(`nginx did not start within 10 s:\n${errorLog()}`)), 10_000);
    child.once('exit', onExit);
    watcher.on('change', function onPrefixChange() {
      if (fs.existsSync(pidFile)) done();
    });
    if (fs.existsSync(pidFile)) done();
  });
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= fn());
}

/**
 * `describe` when nginx is installed. Without it the suite fails on CI (`CI` set), where `.ci/run`
 * installs it, and is skipped with one line saying how to install it elsewhere.
 */
export function describeWithNginx(name: string, fn: () => void): void {
  describeWhenInstalled({ name: 'nginx', path: findNginx(), install: 'apt-get install -y nginx' }, name, fn);
}
