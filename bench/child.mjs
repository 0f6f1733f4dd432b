// One contender's server in its own process. Started by run.mjs as
// `child.mjs <set> <contender>` (set: octet or sse); reports { url } over IPC, then
// answers the runner's commands, one at a time, and exits on 'stop'. The resource
// workloads fork it with --expose-gc, for 'probe'.
import { setTimeout as sleep } from 'node:timers/promises';
import { contenders } from './contenders.mjs';
import { floorContenders, sseFloorContenders } from './floorContenders.mjs';
import { collectedMemory } from './memory.mjs';
import { stats } from './resourceWorkloads.mjs';
import { sseContenders } from './sseContenders.mjs';
import { runLatency } from './workloads.mjs';
import { serveRole } from './roleProcess.mjs';

const sets = { octet: { ...contenders, ...floorContenders }, sse: { ...sseContenders, ...sseFloorContenders } };
const server = await sets[process.argv[2]][process.argv[3]]();

// Server-side sockets closed so far: the idle workload waits until the server has
// seen every client leave.
let closedSockets = 0;
server.server.on('connection', (socket) => socket.once('close', () => closedSockets++));

/** Polls `isDone` every 10 ms; resolves whether it became true within `ms`. */
async function waitFor(isDone, ms) {
  const deadline = Date.now() + ms;
  while (!isDone() && Date.now() < deadline) await sleep(10);
  return isDone();
}

const commands = {
  latency: async () => ({ delays: await runLatency(server.url) }),
  // What the resource workloads read: memory after GC (if asked), the counters.
  probe: async ({ gc }) => ({ memory: gc ? await collectedMemory() : undefined, closedSockets, stats }),
  // idle, after the clients left: wait for the server to see every socket close (or
  // fail), then up to finallyMs for the generators' finally blocks.
  settle: async ({ closedSockets: expected, finished, finallyMs }) => {
    if (!(await waitFor(() => closedSockets >= expected, 30_000))) {
      throw new Error(`settle: the server saw ${closedSockets} sockets close, expected ${expected}`);
    }
    await waitFor(() => stats.idle.finished >= finished, finallyMs);
    return { closedSockets, stats };
  },
};

serveRole(commands, { url: server.url });
