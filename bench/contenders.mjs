// The contenders of every workload but sse: each serves GET /<route> from
// routes[route].gen(signal) on 127.0.0.1:0 and resolves { url, server, close }.
// `signal` is the abort signal the contender hands to user code, where it has one
// (only the idle generator uses it).
import http from 'node:http';
import { Readable, pipeline } from 'node:stream';
import { resourceWorkloads } from './resourceWorkloads.mjs';
import { listenFastify, listenNode, serveHono } from './servers.mjs';
import { workloads } from './workloads.mjs';
import { writeLoop } from './writeLoop.mjs';

const routes = { ...workloads, ...resourceWorkloads };
const names = Object.keys(routes);

export const contenders = {
  // The baseline: for await + res.write, awaiting 'drain' when write returns false,
  // with abort wiring (writeLoop.mjs).
  async 'hand-written'() {
    return listenNode(
      http.createServer((req, res) => {
        const w = routes[req.url.slice(1)];
        if (!w) return res.writeHead(404).end();
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        writeLoop(
          res,
          (signal) => w.gen(signal),
          (chunk) => chunk,
        );
      }),
    );
  },

  // The same loop inside an Express route: what Express itself costs per request (its
  // req/res decoration, router), to tell it apart from what asyncStream adds.
  async 'express hand-written'() {
    const { default: express } = await import('express');
    const app = express();
    for (const name of names) {
      app.get(`/${name}`, (req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        writeLoop(
          res,
          (signal) => routes[name].gen(signal),
          (chunk) => chunk,
        );
      });
    }
    return listenNode(http.createServer(app));
  },

  // No signal: a user would have to build one from res 'close' by hand.
  async 'express pipeline'() {
    const { default: express } = await import('express');
    const app = express();
    for (const name of names) {
      app.get(`/${name}`, (req, res) => {
        res.type('application/octet-stream');
        pipeline(Readable.from(routes[name].gen()), res, () => {});
      });
    }
    return listenNode(http.createServer(app));
  },

  // currentSignal(): the package hands its own signal to user code.
  async 'express asyncStream'() {
    const { default: express } = await import('express');
    const { asyncStream, currentSignal } = await import('./package.mjs');
    const app = express();
    for (const name of names)
      app.get(
        `/${name}`,
        asyncStream(() => routes[name].gen(currentSignal())),
      );
    return listenNode(http.createServer(app));
  },

  // No signal: stream() offers an onAbort callback, not a signal.
  async 'hono stream()'() {
    const { Hono } = await import('hono');
    const { stream } = await import('hono/streaming');
    const app = new Hono();
    for (const name of names) {
      app.get(`/${name}`, (c) => {
        c.header('content-type', 'application/octet-stream');
        return stream(c, async (s) => {
          for await (const chunk of routes[name].gen()) await s.write(chunk);
        });
      });
    }
    return serveHono(app);
  },

  // No signal: the stream is all Fastify is given.
  async 'fastify Readable'() {
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    for (const name of names) {
      app.get(`/${name}`, (req, reply) => {
        reply.type('application/octet-stream');
        return reply.send(Readable.from(routes[name].gen()));
      });
    }
    return listenFastify(app);
  },
};
