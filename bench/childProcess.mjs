// The runner's side of child.mjs: fork one contender's server, ask it things over
// IPC, stop it.
import { fork } from 'node:child_process';
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
export async function startChild(set, name, { gc = false } = {}) {
  const proc = fork(CHILD, [set, name], { stdio: 'inherit', execArgv: gc ? ['--expose-gc'] : [] });
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
    const { url } = await nextMessage(proc);
    return {
      url,
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
