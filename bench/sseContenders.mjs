// The contenders of the sse workload: each serves GET /sse and GET /sse-warmup as
// server-sent events, one event per item of sseWorkloads[route].gen(), each library
// with its default options (keep-alive comments on where it has them: sse() every
// 15 s, better-sse 10 s, @fastify/sse 30 s; Hono has none). Resolves { url, server, close }.
import http from 'node:http';
import { listenFastify, listenNode, serveHono } from './servers.mjs';
import { sseWorkloads } from './sseWorkload.mjs';
import { writeLoop } from './writeLoop.mjs';

const names = Object.keys(sseWorkloads);

export const sseContenders = {
  // The baseline of the sse row: one res.write per event, 'drain' honoured (writeLoop.mjs).
  async 'hand-written SSE'() {
    return listenNode(
      http.createServer((req, res) => {
        const w = sseWorkloads[req.url.slice(1)];
        if (!w) return res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        writeLoop(
          res,
          () => w.gen(),
          (data) => `data: ${data}\n\n`,
        );
      }),
    );
  },

  async 'express sse()'() {
    const { default: express } = await import('express');
    const { sse } = await import('./package.mjs');
    const app = express();
    for (const name of names)
      app.get(
        `/${name}`,
        sse(() => sseWorkloads[name].gen()),
      );
    return listenNode(http.createServer(app));
  },

  async 'hono streamSSE()'() {
    const { Hono } = await import('hono');
    const { streamSSE } = await import('hono/streaming');
    const app = new Hono();
    for (const name of names) {
      app.get(`/${name}`, (c) =>
        streamSSE(c, async (s) => {
          for await (const data of sseWorkloads[name].gen()) await s.writeSSE({ data });
        }),
      );
    }
    return serveHono(app);
  },

  // reply.sse.send(asyncIterable) writes each item as an event; a string is sent as
  // is. The route answers SSE only to `Accept: text/event-stream`, as EventSource sends.
  async 'fastify @fastify/sse'() {
    const { default: Fastify } = await import('fastify');
    const { default: fastifySse } = await import('@fastify/sse');
    const app = Fastify();
    await app.register(fastifySse);
    for (const name of names) {
      app.get(`/${name}`, { sse: true }, async (req, reply) => {
        await reply.sse.send(sseWorkloads[name].gen());
      });
    }
    return listenFastify(app);
  },

  // better-sse on Express, as its README shows: session.iterate() pushes each item as
  // an event (JSON-encoded data, a random id each); the response is ours to end.
  async 'express + better-sse'() {
    const { default: express } = await import('express');
    const { createSession } = await import('better-sse');
    const app = express();
    for (const name of names) {
      app.get(`/${name}`, async (req, res) => {
        const session = await createSession(req, res);
        await session.iterate(sseWorkloads[name].gen());
        res.end();
      });
    }
    return listenNode(http.createServer(app));
  },
};
