// One server process of the topic workloads: Express with sse() over createTopic, its store in
// this process's memory or on Redis (redisStore over a node-redis client). Forked by
// roleProcess.mjs as `topicServer.mjs <json config>`: { redisUrl?, clientName? }. Reports
// { url }, then answers the runner's commands; a publisher is one of these that nobody subscribes to.
import { once } from 'node:events';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import express from 'express';
import { createClient } from 'redis';
import { createTopic, sse } from './package.mjs';
import { redisStore } from './redisPackage.mjs';
import { now, serveRole } from './roleProcess.mjs';

const { redisUrl, clientName } = JSON.parse(process.argv[2]);
const store = redisUrl === undefined ? undefined : redisStore(await connectRedis(redisUrl, clientName));

// fanout-redis: every subscriber of this process on one topic, one object for all, as the docs show.
const feed = createTopic('feed', { store });
// many topics: a topic per user, created where it is used (one per request, one per publish).
const userTopic = (id) => createTopic(`user:${id}`, { store });

const app = express();
app.get(
  '/feed',
  sse(() => feed.subscribe()),
);
app.get(
  '/users/:id',
  sse((req) => userTopic(req.params.id).subscribe()),
);
const server = http.createServer(app);
server.listen(0, '127.0.0.1');
await once(server, 'listening');

let closedSockets = 0;
server.on('connection', (socket) => socket.once('close', () => closedSockets++));

/** A node-redis 5 client named `name` (CLIENT SETNAME; its duplicates, the store's reader among them, share it). */
async function connectRedis(url, name) {
  const client = createClient({ url, name });
  // Without a listener, node-redis crashes the process on a lost connection; here it is a failed run.
  client.on('error', (error) => console.error(`${name}: Redis: ${error.message}`));
  return client.connect();
}

/** Memory after full collections; two a turn apart, so weak callbacks and finalizers queued by the first have run. */
async function collectedMemory() {
  for (let i = 0; i < 2; i++) {
    globalThis.gc();
    await sleep(10);
  }
  globalThis.gc();
  const { heapUsed, rss } = process.memoryUsage();
  return { heapUsed, rss };
}

/**
 * Publishes `count` events at `rate` per second, on a schedule (late ones go at once), event i
 * with data `<first + i> <topic>`: to the feed, or to a user in [0, users) picked at random.
 * Resolves when each publish() was called and when it resolved (now()), the user of each, and this
 * process's CPU time.
 */
async function publish({ first, count, rate, users }) {
  const called = new Array(count);
  const resolved = new Array(count);
  const targets = new Array(count);
  const published = [];
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    const user = users === undefined ? undefined : Math.floor(Math.random() * users);
    const topic = user === undefined ? feed : userTopic(user);
    targets[i] = user;
    called[i] = now();
    published.push(topic.publish(`${first + i} ${topic.name}`).then(() => void (resolved[i] = now())));
  }
  await Promise.all(published);
  const { user, system } = process.cpuUsage(cpu);
  return { called, resolved, targets, ms: performance.now() - t0, cpuMs: (user + system) / 1000 };
}

serveRole(
  {
    probe: async ({ gc }) => ({
      memory: gc ? await collectedMemory() : undefined,
      closedSockets,
      cpu: process.cpuUsage(),
    }),
    /** Waits until the server has seen `closedSockets` sockets close in all (30 s at most). */
    async settle({ closedSockets: expected }) {
      const deadline = performance.now() + 30_000;
      while (closedSockets < expected && performance.now() < deadline) await sleep(10);
      if (closedSockets < expected) throw new Error(`settle: ${closedSockets} sockets closed, expected ${expected}`);
      return { closedSockets };
    },
    publish,
  },
  { url: `http://127.0.0.1:${server.address().port}` },
);
