// How each framework's server is started on 127.0.0.1:0. Every contender resolves
// { url, server, close }: `server` is the node:http server underneath, so that
// child.mjs can count the sockets it closes (the idle workload waits for them).
import { once } from 'node:events';

/** A node:http server (bare, or with an Express app as its handler). */
export async function listenNode(server) {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${server.address().port}`, server, close: () => server.close() };
}

/** A Hono app on @hono/node-server. */
export async function serveHono(app) {
  const { serve } = await import('@hono/node-server');
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) =>
      resolve({ url: `http://127.0.0.1:${info.port}`, server, close: () => server.close() }),
    );
  });
}

/** A Fastify app, once its plugins are loaded. */
export async function listenFastify(app) {
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, server: app.server, close: () => app.close() };
}
