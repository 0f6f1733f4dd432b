// The processes of the topic workloads (topicServer.mjs, topicClients.mjs), each holding thousands
// of sockets: fork one, ask it things over IPC, stop it; and the clock they share.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startProcess } from './childProcess.mjs';

/**
 * Wall-clock milliseconds with sub-millisecond precision, comparable between the processes of one
 * machine: each process's time origin is the system clock read at its start.
 */
export const now = () => performance.timeOrigin + performance.now();

/**
 * How many sockets one process of a topic workload may hold: the hard limit on open files, less
 * room for what else it opens (Redis connections, IPC, the runtime's own descriptors). Node raises
 * its soft limit to the hard one as it starts (`PlatformInit` in Node's src/node.cc), so a
 * child of a shell with `ulimit -n 1024` may still open up to `ulimit -Hn`; only that bounds it.
 */
export function socketsPerProcess() {
  const hard = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return hard === 'unlimited' ? Infinity : Number(hard) - 100;
}

/**
 * Forks `script` (a file of bench/) with `args` as `process.argv[2…]`; `gc` adds --expose-gc.
 * Resolves { first, ask(msg), stop() } with the child's first message, once it has sent it.
 */
export async function forkRole(script, args, { gc = false } = {}) {
  const { ask, stop, ...first } = await startProcess(fileURLToPath(new URL(script, import.meta.url)), args, { gc });
  return { first, ask, stop };
}

/** A child's side: answers each command with `commands[msg.cmd](msg)`, exits on 'stop', then sends `first`. */
export function serveRole(commands, first) {
  process.on('message', async (msg) => {
    if (msg.cmd === 'stop') process.exit(0);
    try {
      process.send(await commands[msg.cmd](msg));
    } catch (error) {
      process.send({ error: String(error?.stack ?? error) });
    }
  });
  process.send(first);
}
