import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { RequestListener } from 'node:http';

export interface TestServer {
  readonly server: http.Server;
  readonly url: string;
  /** Server-side sockets accepted so far, in order. */
  readonly sockets: Socket[];
  close(): Promise<void>;
}

/** Listens on an ephemeral loopback port. `close()` also destroys open connections. */
export async function listen(app: RequestListener): Promise<TestServer> {
  const server = http.createServer(app);
  const sockets: Socket[] = [];
  server.on('connection', (socket: Socket) => sockets.push(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
