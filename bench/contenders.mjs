// The contenders: each serves GET /<workload> from workloads[workload].gen() on
// 127.0.0.1:0 and resolves { url, close }.
import http from 'node:http';
import { once } from 'node:events';
import { Readable, pipeline } from 'node:stream';
import { workloads } from './workloads.mjs';

const names = Object.keys(workloads);
const listen = async (server) => {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => server.close() };
};

export const contenders = {
  // The baseline: for await + res.write, awaiting 'drain' when write returns false.
  async 'hand-written'() {
    const server = http.createServer(async (req, res) => {
      const w = workloads[req.url.slice(1)];
      if (!w) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      for await (const chunk of w.gen()) {
        if (!res.write(chunk)) await once(res, 'drain');
      }
      res.end();
    });
    return listen(server);
  },

  async 'express pipeline'() {
    const { default: express } = await import('express');
    const app = express();
    for (const name of names) {
      app.get(`/${name}`, (req, res) => {
        res.type('application/octet-stream');
        pipeline(Readable.from(workloads[name].gen()), res, () => {});
      });
    }
    return listen(http.createServer(app));
  },

  async 'express asyncStream'() {
    const { default: express } = await import('express');
    const { asyncStream } = await import('express-async-stream');
    const app = express();
    for (const name of names) app.get(`/${name}`, asyncStream(workloads[name].gen));
    return listen(http.createServer(app));
  },

  async 'hono stream()'() {
    const { Hono } = await import('hono');
    const { stream } = await import('hono/streaming');
    const { serve } = await import('@hono/node-server');
    const app = new Hono();
    for (const name of names) {
      app.get(`/${name}`, (c) => {
        c.header('content-type', 'application/octet-stream');
        return stream(c, async (s) => {
          for await (const chunk of workloads[name].gen()) await s.write(chunk);
        });
      });
    }
    return new Promise((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
        resolve({ url: `http://127.0.0.1:${info.port}`, close: () => server.close() }),
      );
    });
  },

  async 'fastify Readable'() {
    const { default: Fastify } = await import('fastify');
    const app = Fastify();
    for (const name of names) {
      app.get(`/${name}`, (req, reply) => {
        reply.type('application/octet-stream');
        return reply.send(Readable.from(workloads[name].gen()));
      });
    }
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { url, close: () => app.close() };
  },
};
