// `--processes N`: an example started N times on consecutive ports, sharing its topics through Redis.
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const MAX_PROCESSES = 16;

/** How an example runs from the command line: in this process, or as `--processes N` copies. */
export interface ExampleCommand {
  /** The example's file (`__filename`), which the copies run. */
  readonly script: string;
  /** How users start it, for messages: `npm run example:sse`. */
  readonly command: string;
  /** The first port (PORT); `0` gives each process an ephemeral port. */
  readonly port: number;
  /** Starts the example in this process, on `port`. */
  readonly start: (port: number) => Promise<void>;
}

/**
 * Runs the example as its command line asks: in this process, or `--processes N` times on consecutive
 * ports. A bad flag, or several processes without Redis, is refused with a message and exit code 2.
 */
export function runExample({ script, command, port, start }: ExampleCommand): void {
  let count: number;
  try {
    count = processCount();
  } catch (error) {
    return refuse((error as Error).message);
  }
  const problem = whyProcessesCannotRun(count, command);
  if (problem !== undefined) return refuse(problem);
  if (count > 1) return startProcesses(script, count, port);
  if (process.send !== undefined) stopWithLauncher();
  start(port).catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}

/**
 * In a copy started by `--processes`: SIGTERM to itself when the launcher is gone without passing a
 * signal on (killed with SIGKILL), rather than running on, unseen, on its port.
 */
function stopWithLauncher(): void {
  process.once('disconnect', function onLauncherGone() {
    process.kill(process.pid, 'SIGTERM');
  });
  // The IPC channel alone must not keep the copy alive once its server has closed.
  process.channel?.unref();
}

function refuse(message: string): void {
  console.error(message);
  process.exitCode = 2;
}

/**
 * The `--processes N` (or `-p N`) of the command line: 1 when absent.
 *
 * @throws RangeError for anything but an integer from 1 to 16, or an unknown flag.
 */
export function processCount(args: readonly string[] = process.argv.slice(2)): number {
  const { values } = parseArgs({ args: [...args], options: { processes: { type: 'string', short: 'p' } } });
  const count = Number(values.processes ?? 1);
  if (!Number.isInteger(count) || count < 1 || count > MAX_PROCESSES) {
    throw new RangeError(
      `--processes must be an integer from 1 to ${MAX_PROCESSES}, but received ${JSON.stringify(values.processes)}. ` +
        'E.g. --processes 2.',
    );
  }
  return count;
}

/**
 * Why `count` processes cannot run without Redis, with the commands that make them work; `undefined`
 * when they can. Memory topics live in one process: a tab on one would never see what was published
 * on another, which is the very thing `--processes` is there to show.
 */
export function whyProcessesCannotRun(count: number, command: string): string | undefined {
  if (count === 1 || (process.env.REDIS_URL ?? '') !== '') return undefined;
  const startRedis = isOnPath('redis-server')
    ? "redis-server --port 6379 --save ''        # in another terminal"
    : 'docker run --rm -p 6379:6379 redis:7      # in another terminal, or any Redis 6.2+';
  return [
    `--processes ${count} needs REDIS_URL: without it each process keeps its topics in its own memory,`,
    'so a tab on one process would never see what is posted on another. Start Redis and point the example at it:',
    `  ${startRedis}`,
    `  REDIS_URL=redis://127.0.0.1:6379 ${command} -- --processes ${count}`,
  ].join('\n');
}

/**
 * Runs `script` `count` times, on ports `basePort`, `basePort + 1`… (each its own ephemeral port for
 * `0`), passing SIGINT and SIGTERM on to them. When one exits with an error (its port is taken),
 * the others are stopped and the launcher exits with that error too.
 */
export function startProcesses(script: string, count: number, basePort: number): void {
  const children = new Set<ChildProcess>();
  const execArgv = script.endsWith('.ts') ? [...process.execArgv, '-r', 'ts-node/register/transpile-only'] : [];
  for (let i = 0; i < count; i++) {
    const port = basePort === 0 ? 0 : basePort + i;
    const child = fork(script, [], { env: { ...process.env, PORT: String(port) }, execArgv });
    children.add(child);
    child.once('exit', function onChildExit(code, signal) {
      children.delete(child);
      if (code === 0 || signal === 'SIGTERM' || signal === 'SIGINT') return;
      process.exitCode = code ?? 1;
      for (const other of children) other.kill('SIGTERM');
    });
  }
  const passOn = (signal: NodeJS.Signals): void => {
    for (const child of children) child.kill(signal);
  };
  process.on('SIGINT', passOn);
  process.on('SIGTERM', passOn);
}

function isOnPath(command: string): boolean {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .some((dir) => dir !== '' && existsSync(path.join(dir, command)));
}
