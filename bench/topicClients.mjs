// The subscribers of the topic workloads, in a process of their own (forked by roleProcess.mjs):
// SSE clients that note when each event reaches them, on the clock every bench process shares.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { now, serveRole } from './roleProcess.mjs';

// More at once would overflow the server's listen backlog (511) and cost SYN retries.
const OPEN_BATCH = 100;
const agent = new http.Agent({ keepAlive: false });

/**
 * What the subscribers received, per event (by its sequence number, the first word of its data):
 * how many received it and when the last of them did; and what must never happen.
 */
const received = {
  count: [],
  last: [],
  total: 0,
  /** An event at or before one its subscriber had already: repeated, or out of order. */
  disordered: 0,
  /** An event of another topic than the subscriber's. */
  misrouted: 0,
};
const open = [];

/**
 * One subscriber's parser of a text/event-stream body: a frame is the text between blank lines
 * (every server here writes LF only), and its `data` field is `<seq> <topic>`, which must name
 * this subscriber's topic. Frames without data (keep-alive comments) are skipped.
 */
class Subscriber {
  tail = '';
  lastSeq = -1;

  constructor(topic) {
    this.topic = topic;
  }

  push(text, at) {
    const frames = (this.tail + text).split('\n\n');
    this.tail = frames.pop();
    for (const frame of frames) {
      const data = frame.split('\n').find((line) => line.startsWith('data: '));
      if (data !== undefined) this.receive(data.slice(6), at);
    }
  }

  receive(data, at) {
    const space = data.indexOf(' ');
    const seq = Number(data.slice(0, space));
    if (data.slice(space + 1) !== this.topic) received.misrouted++;
    if (seq <= this.lastSeq) received.disordered++;
    this.lastSeq = Math.max(seq, this.lastSeq);
    received.count[seq] = (received.count[seq] ?? 0) + 1;
    if (!(received.last[seq] >= at)) received.last[seq] = at;
    received.total++;
  }
}

/** Opens one subscription; resolves once its response headers came (the server subscribed it before sending them). */
function subscribe(url, topic) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { accept: 'text/event-stream' } }, (res) => {
      const type = res.headers['content-type'] ?? '';
      if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
        reject(new Error(`${url}: status ${res.statusCode}, ${type || 'no content-type'}`));
        return;
      }
      const subscriber = new Subscriber(topic);
      res.setEncoding('utf8');
      res.on('data', (text) => subscriber.push(text, now()));
      res.on('end', () => {
        if (!req.dropped) reject(new Error(`${url}: the stream ended`));
      });
      resolve(req);
    });
    req.on('error', (error) => {
      if (!req.dropped) reject(error);
    });
  });
}

const commands = {
  /** Opens one subscriber per { url, topic }, OPEN_BATCH at a time; resolves once all are live. */
  async open({ subscribers }) {
    const t0 = performance.now();
    for (let i = 0; i < subscribers.length; i += OPEN_BATCH) {
      const batch = subscribers.slice(i, i + OPEN_BATCH).map(({ url, topic }) => subscribe(url, topic));
      open.push(...(await Promise.all(batch)));
    }
    return { open: open.length, ms: performance.now() - t0 };
  },
  /** Waits until `total` events have been received in all, or `ms` have passed; answers with this process's CPU time too. */
  async settle({ total, ms }) {
    const deadline = performance.now() + ms;
    while (received.total < total && performance.now() < deadline) await sleep(20);
    return { total: received.total, cpu: process.cpuUsage() };
  },
  report: async () => ({ count: received.count, last: received.last, ...tallies() }),
  /** Drops every subscriber, and forgets what they received. */
  async drop() {
    for (const req of open.splice(0)) {
      req.dropped = true;
      req.destroy();
    }
    Object.assign(received, { count: [], last: [], total: 0, disordered: 0, misrouted: 0 });
    return {};
  },
};

const tallies = () => ({ total: received.total, disordered: received.disordered, misrouted: received.misrouted });

serveRole(commands, { ready: true });
