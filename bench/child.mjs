// One contender's server in its own process. Started by run.mjs with the
// contender's name; reports { url } over IPC, then answers { cmd: 'latency' } by
// running the latency client here (same process, same clock) and exits on 'stop'.
import { contenders } from './contenders.mjs';
import { runLatency } from './workloads.mjs';

const server = await contenders[process.argv[2]]();
process.on('message', async (msg) => {
  if (msg.cmd === 'latency') {
    try {
      process.send({ delays: await runLatency(server.url) });
    } catch (err) {
      process.send({ error: String(err?.stack ?? err) });
    }
  } else if (msg.cmd === 'stop') {
    process.exit(0);
  }
});
process.send({ url: server.url });
