// What the Redis workloads read from Redis itself: its connections by client name (CLIENT LIST),
// and its CPU, input bytes and XREAD calls (INFO), over a connection of the bench's own.
import { createClient } from 'redis';

/** The bench's own connection's name: left out of every count. */
const MONITOR = 'bench-monitor';

/** Connects the monitor; resolves { version, connections(), counters(), close() }. */
export async function watchRedis(url) {
  const client = createClient({ url, name: MONITOR });
  client.on('error', (error) => console.error(`${MONITOR}: Redis: ${error.message}`));
  await client.connect();
  const info = async () => parseInfo(await client.sendCommand(['INFO', 'all']));
  const { redis_version: version } = await info();
  return {
    version,
    /** Open connections by client name ('' for unnamed ones), the monitor's own left out. */
    async connections() {
      const byName = new Map();
      for (const line of String(await client.sendCommand(['CLIENT', 'LIST'])).split('\n')) {
        const name = / name=(\S*)/.exec(line)?.[1];
        if (name === undefined || name === MONITOR) continue;
        byName.set(name, (byName.get(name) ?? 0) + 1);
      }
      return byName;
    },
    /** Cumulative counters, to subtract: CPU seconds, bytes received, XREAD calls and their µs. */
    async counters() {
      const fields = await info();
      const xread = /calls=(\d+),usec=(\d+)/.exec(fields.cmdstat_xread ?? '') ?? [0, 0, 0];
      return {
        at: performance.now(),
        cpuS: Number(fields.used_cpu_user) + Number(fields.used_cpu_sys),
        inputBytes: Number(fields.total_net_input_bytes),
        xreadCalls: Number(xread[1]),
        xreadUs: Number(xread[2]),
      };
    },
    close: () => client.destroy(),
  };
}

/** INFO's `field:value` lines as an object (section headers and blank lines skipped). */
function parseInfo(text) {
  const fields = {};
  for (const line of String(text).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/** What happened in Redis between two counters() readings. */
export function redisDelta(before, after) {
  const seconds = (after.at - before.at) / 1000;
  const xreadCalls = after.xreadCalls - before.xreadCalls;
  return {
    seconds,
    cpuS: after.cpuS - before.cpuS,
    inputBytes: after.inputBytes - before.inputBytes,
    xreadCalls,
    xreadUs: after.xreadUs - before.xreadUs,
  };
}
