// The idle SSE workload's clients: raw TCP sockets in the runner's process (their memory
// and CPU never count in the server's figures), each sending one GET /idle-sse and then
// only counting the keep-alive comments that arrive and the time between them.
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

const COMMENT = ': keep-alive\n\n';
// Connects per batch; batches are spread evenly over the ramp.
const BATCH = 10;

/** One subscriber: resolves once the response head (status 200) has arrived. */
function subscribe(port, subscriber) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let head = '';
    let tail = '';
    socket.setEncoding('latin1');
    socket.on('data', (text) => {
      if (subscriber.headAt === undefined) {
        head += text;
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!head.startsWith('HTTP/1.1 200'))
          return reject(new Error(`idle SSE: ${JSON.stringify(head.slice(0, 80))}`));
        subscriber.headAt = performance.now();
        subscriber.last = subscriber.headAt;
        text = head.slice(end + 4);
        resolve();
      }
      // A comment split across reads is found in the carried tail.
      const seen = tail + text;
      for (let at = seen.indexOf(COMMENT); at !== -1; at = seen.indexOf(COMMENT, at + COMMENT.length)) {
        comment(subscriber);
      }
      tail = seen.slice(-(COMMENT.length - 1));
    });
    socket.on('error', (err) => {
      if (!socket.dropped) reject(err);
    });
    socket.write('GET /idle-sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    subscriber.socket = socket;
  });
}

function comment(subscriber) {
  const now = performance.now();
  const gap = now - subscriber.last;
  subscriber.last = now;
  subscriber.comments++;
  subscriber.minGap = Math.min(subscriber.minGap, gap);
  subscriber.maxGap = Math.max(subscriber.maxGap, gap);
}

/**
 * Opens `count` subscribers to `url`, spread evenly over `rampMs` (as clients arriving at
 * random over a keep-alive period would be), each once its head has come. Resolves them.
 */
export async function openSubscribers(url, count, rampMs) {
  const { port } = new URL(url);
  const subscribers = Array.from({ length: count }, () => ({ comments: 0, minGap: Infinity, maxGap: 0 }));
  const heads = [];
  const start = performance.now();
  for (let i = 0; i < count; i += BATCH) {
    await sleep(Math.max(0, start + (i / count) * rampMs - performance.now()));
    for (const subscriber of subscribers.slice(i, i + BATCH)) heads.push(subscribe(port, subscriber));
  }
  let timer;
  const deadline = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('idle SSE: response heads not all in within 30 s')), 30_000);
  });
  await Promise.race([Promise.all(heads), deadline]).finally(() => clearTimeout(timer));
  return subscribers;
}

/** Starts a counting window: comments and gaps from now on. */
export function resetCounts(subscribers) {
  for (const s of subscribers) Object.assign(s, { comments: 0, minGap: Infinity, maxGap: 0 });
}

/** Totals over the window: comments, the fewest and most one subscriber got, the shortest and longest gap (ms). */
export function countComments(subscribers) {
  const total = { comments: 0, fewest: Infinity, most: 0, minGap: Infinity, maxGap: 0 };
  for (const s of subscribers) {
    total.comments += s.comments;
    total.fewest = Math.min(total.fewest, s.comments);
    total.most = Math.max(total.most, s.comments);
    total.minGap = Math.min(total.minGap, s.minGap);
    total.maxGap = Math.max(total.maxGap, s.maxGap);
  }
  return total;
}

/** Destroys every subscriber's socket. */
export function dropSubscribers(subscribers) {
  for (const { socket } of subscribers) {
    socket.dropped = true;
    socket.destroy();
  }
}
