// An example run as users run it (ts-node, its own process): the URLs it prints, its output, its exit.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { within } from './within.js';

const root = path.join(__dirname, '..', '..');

/** An example's process, once every server it starts has printed its URL. */
export interface ExampleProcess {
  /** `http://localhost:<port>` of each server, in the order they printed it. */
  readonly urls: readonly string[];
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /**
   * Sends `signal` (SIGTERM, as a deploy does); resolves with the exit code once it has exited.
   * SIGKILL goes to the processes it started too, which would not hear of it otherwise.
   */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** How to start an example: its file, command-line arguments and environment. */
export interface ExampleRun {
  readonly script: string;
  readonly args?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
}

/** What a process that exits by itself left: its exit code and output. */
export interface ExampleExit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnExample({ script, args = [], env = {} }: ExampleRun) {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', script, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Its own process group, so that a SIGKILL reaches the processes it started too.
    detached: true,
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return { child, output, exited };
}

/**
 * Starts an example and resolves once `servers` URLs are printed (one per process for
 * `--processes N`); rejects with its stderr if it exits first, or after 20 s.
 */
export async function startExample(run: ExampleRun, servers = 1): Promise<ExampleProcess> {
  const { child, output, exited } = spawnExample(run);
  const urlsOf = (): string[] => [...output.stdout.matchAll(/http:\/\/localhost:\d+/g)].map(([url]) => url);
  const printed = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', function onOutput() {
      if (urlsOf().length >= servers) resolve();
    });
    void exited.then((code) => reject(new Error(`${run.script} exited with ${code}: ${output.stderr}`)));
  });
  try {
    await within(printed, `${run.script} printing ${servers} URL(s)`, 20_000);
  } catch (error) {
    process.kill(-child.pid!, 'SIGKILL');
    throw error;
  }
  return {
    urls: urlsOf().slice(0, servers),
    stderr: () => output.stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) {
        if (signal === 'SIGKILL') process.kill(-child.pid!, signal);
        else child.kill(signal);
      }
      return exited;
    },
  };
}

/** Runs an example that is expected to exit by itself (a refused command line); resolves how it exited. */
export async function exitOfExample(run: ExampleRun): Promise<ExampleExit> {
  const { output, exited } = spawnExample(run);
  const code = await within(exited, `${run.script} exiting`, 20_000);
  return { code, ...output };
}
