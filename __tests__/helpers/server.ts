// Apps on an ephemeral loopback port, for tests that need the server's side (its sockets).
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

/**
 * For a `describe` block: `serve(app)` listens on an ephemeral loopback port and resolves with its
 * base URL; the server (and its open connections) is closed after each test.
 */
export function useTestServer(): {
  serve(app: RequestListener): Promise<string>;
  readonly server: TestServer | undefined;
} {
  let current: TestServer | undefined;
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  return {
    async serve(app) {
      current = await listen(app);
      return current.url;
    },
    get server() {
      return current;
    },
  };
}
