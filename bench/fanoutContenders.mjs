// The contenders of the fanout workload: each serves GET /fanout as one subscriber's
// server-sent events, and resolves { url, server, close, publish(data), subscribers() }:
// publish(data) sends the object `data` (fanoutWorkload.mjs) to every subscriber as JSON,
// subscribers() is how many are registered now. Each library with its default options.
import http from 'node:http';
import { listenNode } from './servers.mjs';

const EVENT_STREAM = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' };

export const fanoutContenders = {
  // The baseline: one Set of responses; each event encoded once and written to each.
  async 'hand-written loop'() {
    const broadcast = new Broadcast();
    const served = await listenNode(
      http.createServer((req, res) => {
        if (req.url !== '/fanout') return res.writeHead(404).end();
        broadcast.add(res);
      }),
    );
    return { ...served, publish: (data) => broadcast.publish(data), subscribers: () => broadcast.size };
  },

  // The same loop in an Express route: what Express itself costs per subscriber (its
  // req/res decoration: on Node 20, a hidden class of their own for each), to tell it
  // apart from what the packages on Express add.
  async 'express loop'() {
    const { default: express } = await import('express');
    const broadcast = new Broadcast();
    const app = express();
    app.get('/fanout', (req, res) => broadcast.add(res));
    return {
      ...(await listenNode(http.createServer(app))),
      publish: (data) => broadcast.publish(data),
      subscribers: () => broadcast.size,
    };
  },

  // As better-sse's README shows for Express: a session per request, registered with a
  // channel; broadcast() pushes to each session, which serialises the data itself (and
  // adds an event name and one random id per broadcast). Keep-alive every 10 s.
  async 'better-sse channel'() {
    const { default: express } = await import('express');
    const { createChannel, createSession } = await import('better-sse');
    const channel = createChannel();
    const app = express();
    app.get('/fanout', async (req, res) => {
      channel.register(await createSession(req, res));
    });
    return {
      ...(await listenNode(http.createServer(app))),
      publish: (data) => channel.broadcast(data),
      subscribers: () => channel.sessionCount,
    };
  },

  // What a user of this package writes today without topics: a queue per subscriber,
  // which publish() pushes the event object to, drained by an sse() generator that
  // ends when the request's signal aborts. sse() encodes the event for each stream.
  async 'queue + sse()'() {
    const { default: express } = await import('express');
    const { currentSignal, sse } = await import('./package.mjs');
    const queues = new Set();
    const app = express();
    app.get(
      '/fanout',
      sse(async function* () {
        const queue = new EventQueue(currentSignal());
        queues.add(queue);
        try {
          for (let event = await queue.shift(); event !== undefined; event = await queue.shift()) yield event;
        } finally {
          queues.delete(queue);
        }
      }),
    );
    return {
      ...(await listenNode(http.createServer(app))),
      publish(data) {
        const event = { id: String(data.seq), data };
        for (const queue of queues) queue.push(event);
      },
      subscribers: () => queues.size,
    };
  },

  // This package's topics, the in-process store: sse() streams the subscription as it is.
  async createTopic() {
    const { default: express } = await import('express');
    const { createTopic, sse } = await import('./package.mjs');
    const topic = createTopic('fanout');
    const app = express();
    app.get(
      '/fanout',
      sse(() => topic.subscribe()),
    );
    return {
      ...(await listenNode(http.createServer(app))),
      publish: (data) => void topic.publish(data),
      subscribers: () => topic.subscriberCount,
    };
  },
};

/** The hand-written loop: one Set of responses; each event encoded once and written to each. */
class Broadcast {
  clients = new Set();

  get size() {
    return this.clients.size;
  }

  add(res) {
    res.writeHead(200, EVENT_STREAM);
    // The head now, as EventSource expects to open; otherwise it waits for the first event.
    res.flushHeaders();
    this.clients.add(res);
    res.once('close', () => this.clients.delete(res));
  }

  publish(data) {
    const frame = `id: ${data.seq}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of this.clients) res.write(frame);
  }
}

/** The queue a user writes for the "queue + sse()" contender: shift() resolves the next event, or undefined once `signal` aborts. */
class EventQueue {
  items = [];
  waiting = undefined;

  constructor(signal) {
    signal.addEventListener('abort', () => this.waiting?.(undefined), { once: true });
    this.signal = signal;
  }

  push(event) {
    if (this.waiting === undefined) return void this.items.push(event);
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve(event);
  }

  shift() {
    if (this.items.length > 0) return Promise.resolve(this.items.shift());
    if (this.signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }
}
