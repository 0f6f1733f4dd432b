// Serving an app for streamRequest(): a server of the kit's own, which sees each server-side response.
import http from 'node:http';

/**
 * Set by the core on a `ServerResponse` that `asyncStream`, `sse` or `ndjson` handled: a promise that
 * resolves once every session on it has released what it opened and its body's teardown has settled
 * (a generator's `finally` has run, a `Readable` is destroyed). Never rejects.
 */
const TEARDOWN = Symbol.for('express-async-stream.teardown');

/** An app listening on an ephemeral loopback port, for the requests of one `streamRequest()` call. */
export interface AppServer {
  readonly server: http.Server;
  /**
   * Resolves once the server is done with the response to the request sent from local port `port`:
   * the response has emitted `'close'` and its teardown, if any, has settled. `undefined` when no
   * request came from that port.
   */
  readonly served: (port: number | undefined) => Promise<void> | undefined;
  /** Closes the server and every connection to it. Idempotent. */
  readonly close: () => void;
}

/** Listens with `listener` on `127.0.0.1` and an ephemeral port. */
export async function listenApp(listener: http.RequestListener): Promise<AppServer> {
  // Keyed by the client's port: the kit sends each request on a socket of its own (agent: false).
  const responses = new Map<number, Promise<void>>();
  const server = http.createServer(function followResponse(req, res) {
    if (req.socket.remotePort !== undefined) responses.set(req.socket.remotePort, servedResponse(res));
    listener(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    served: (port) => (port === undefined ? undefined : responses.get(port)),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

const ignore = (): void => {};

function servedResponse(res: http.ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => res.once('close', resolve)).then(() => {
    // Read at 'close', not at the request: the core sets it when a handler of the package runs.
    const teardown = (res as unknown as Partial<Record<symbol, unknown>>)[TEARDOWN];
    return Promise.resolve(teardown).then(ignore, ignore);
  });
}
