// The runner's side of its children (child.mjs, and the fanout workload's server and
// clients): fork one, ask it things over IPC, stop it.
import { execFileSync, fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./child.mjs', import.meta.url));

/** The child's next IPC message; rejects with its error, or if it exits first. */
export async function nextMessage(proc) {
  // The signal removes the listener of whichever did not happen: one ask per measurement adds up.
  const ac = new AbortController();
  try {
    const [msg] = await Promise.race([
      once(proc, 'message', { signal: ac.signal }),
      once(proc, 'exit', { signal: ac.signal }).then(([code]) => {
        throw new Error(`child exited with ${code}`);
      }),
    ]);
    if (msg.error) throw new Error(msg.error);
    return msg;
  } finally {
    ac.abort();
  }
}

/**
 * Forks child.mjs for contender `name` of `set` (octet or sse); `gc` adds
 * --expose-gc. Resolves { url, ask(msg), stop() } once the server listens.
 */
export function startChild(set, name, { gc = false } = {}) {
  return startProcess(CHILD, [set, name], { gc });
}

/** The soft and hard limits on open files (`ulimit -n`, `ulimit -Hn`) children inherit, read from a shell. */
export function openFileLimits() {
  const [soft, hard] = execFileSync('sh', ['-c', 'ulimit -n; ulimit -Hn'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => (line === 'unlimited' ? Infinity : Number(line)));
  return { soft, hard };
}

/**
 * Starts the Node script `script` with `args` and an IPC channel; `gc` adds
 * --expose-gc; `fileLimit`, when above the inherited soft limit, raises the child's
 * limit on open files to it (`sh -c 'ulimit -n …; exec node …'`, which keeps the IPC
 * channel's descriptor). Resolves the child's first message, with ask(msg) and stop().
 */
export async function startProcess(script, args, { gc = false, fileLimit = 0 } = {}) {
  const execArgv = gc ? ['--expose-gc'] : [];
  const proc =
    fileLimit > openFileLimits().soft
      ? spawn(
          'sh',
          ['-c', `ulimit -n ${fileLimit} && exec "$0" "$@"`, process.execPath, ...execArgv, script, ...args],
          { stdio: ['inherit', 'inherit', 'inherit', 'ipc'] },
        )
      : fork(script, args, { stdio: 'inherit', execArgv });
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = once(proc, 'exit');
    proc.send({ cmd: 'stop' });
    // A child too busy to read its IPC (a contender that never stops producing) is killed.
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(kill);
  };
  try {
    const first = await nextMessage(proc);
    return {
      ...first,
      ask: (msg) => {
        const answer = nextMessage(proc);
        proc.send(msg);
        return answer;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
