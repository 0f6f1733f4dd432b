// The resource workloads' clients. They run in the runner's process, so that their
// memory never counts in the server's figures.
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { DISCONNECT, IDLE, SLOW } from './resourceWorkloads.mjs';

const agent = new http.Agent({ keepAlive: false });
// More at once would overflow the server's listen backlog (511) and cost SYN retries.
const OPEN_BATCH = 100;

/** Rejects with a message naming `what` if `promise` takes longer than `ms`: a stuck contender fails loudly. */
function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** GET url; resolves { req, res, first } once the first body chunk has arrived. */
function firstChunk(url) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`${url}: status ${res.statusCode}`));
      res.once('data', (first) => {
        // Nothing more is expected; read on (and discard) so nothing stalls.
        res.resume();
        resolve({ req, res, first: String(first) });
      });
    });
    req.on('error', (err) => {
      if (!req.dropped) reject(err);
    });
  });
}

/**
 * idle: opens `streams` requests (OPEN_BATCH at a time) and resolves once every one
 * has received its first chunk. Returns the requests, to drop them with dropAll().
 */
export async function openIdle(baseUrl, streams) {
  const open = [];
  for (let i = 0; i < streams; i += OPEN_BATCH) {
    const batch = Array.from({ length: Math.min(OPEN_BATCH, streams - i) }, () => firstChunk(`${baseUrl}/idle`));
    open.push(...(await within(30_000, 'idle: first chunks', Promise.all(batch))));
  }
  for (const { first } of open) {
    if (!first.startsWith(IDLE.firstChunk)) throw new Error(`idle: first chunk ${JSON.stringify(first)}`);
  }
  return open;
}

/** Destroys every client socket, one right after the other: the clients leave. */
export function dropAll(open) {
  for (const { req } of open) {
    req.dropped = true;
    req.destroy();
  }
}

/**
 * disconnect: DISCONNECT.streams requests; each drops its socket as soon as it has
 * read DISCONNECT.readChunks chunks. Resolves, once all have dropped, one
 * { id, received, dropAt } per stream: the server-side stream id (from the chunks),
 * how many chunks the client had read, and when it dropped (Date.now()).
 */
export function runDisconnect(baseUrl) {
  const { streams, readChunks, chunkBytes } = DISCONNECT;
  const one = () =>
    new Promise((resolve, reject) => {
      const req = http.get(`${baseUrl}/disconnect`, { agent }, (res) => {
        let text = '';
        res.setEncoding('latin1');
        res.on('data', (chunk) => {
          if (req.dropped) return;
          text += chunk;
          if (text.length < readChunks * chunkBytes) return;
          req.dropped = true;
          req.destroy();
          resolve({ id: Number(text.slice(0, 5)), received: Math.floor(text.length / chunkBytes), dropAt: Date.now() });
        });
      });
      req.on('error', (err) => {
        if (!req.dropped) reject(err);
      });
    });
  return within(30_000, 'disconnect: reading', Promise.all(Array.from({ length: streams }, one)));
}

/**
 * slow reader: reads the endless /slow body at about 1 MB/s (the socket stays paused
 * between reads, so the kernel's buffers fill and TCP pushes back) for `windowMs`,
 * stops reading, waits `settleMs` for the server to write what the socket still
 * accepts, and resolves { bytes, kernelBytes, drop } without closing: the server is
 * measured while the client is still connected.
 */
export function runSlowReader(baseUrl, windowMs, settleMs = 250) {
  return within(
    windowMs + 30_000,
    'slow reader',
    new Promise((resolve, reject) => {
      const req = http.get(`${baseUrl}/slow`, { agent }, (res) => {
        let bytes = 0;
        let budget = 0;
        const reader = setInterval(() => {
          // A read returns what is buffered; any excess is paid back on the next turns.
          budget += SLOW.chunkBytes;
          let chunk;
          while (budget > 0 && (chunk = res.read()) !== null) {
            bytes += chunk.length;
            budget -= chunk.length;
          }
        }, SLOW.readEveryMs);
        setTimeout(async () => {
          clearInterval(reader);
          await sleep(settleMs);
          const { localPort, remotePort } = req.socket;
          resolve({
            bytes,
            kernelBytes: await kernelQueued(localPort, remotePort),
            drop() {
              req.dropped = true;
              req.destroy();
            },
          });
        }, windowMs);
      });
      req.on('error', (err) => {
        if (!req.dropped) reject(err);
      });
    }),
  );
}

/**
 * Bytes of one loopback connection that sit in kernel buffers: the server socket's
 * send queue plus the client socket's receive queue, from /proc/net/tcp (Linux,
 * proc(5): tx_queue and rx_queue, hex). Most of what a slow reader's server has
 * produced ahead is there, whatever the contender; null where there is no procfs.
 */
async function kernelQueued(clientPort, serverPort) {
  let table;
  try {
    table = await readFile('/proc/net/tcp', 'latin1');
  } catch {
    return null;
  }
  const loopback = (port) => `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const [client, server] = [loopback(clientPort), loopback(serverPort)];
  let bytes = 0;
  for (const line of table.split('\n')) {
    const [, local, remote, , queues] = line.trim().split(/\s+/);
    const [tx, rx] = (queues ?? '').split(':').map((hex) => parseInt(hex, 16));
    if (local === server && remote === client) bytes += tx;
    if (local === client && remote === server) bytes += rx;
  }
  return bytes;
}
