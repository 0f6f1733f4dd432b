import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** An HTTP server on a loopback port that can go down and come back on the same port. */
export class RestartableServer {
  private readonly server: http.Server;
  private port = 0;

  constructor(listener: http.RequestListener) {
    this.server = http.createServer(listener);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Listens on an ephemeral port the first time, and on that same port after a `stop()`. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => {
        this.server.removeListener('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Refuses new connections and cuts every open one, mid-stream if need be, as a crash would. */
  stop(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Calls `fn` with each request as it arrives, before the app sees it. */
  onRequest(fn: (req: http.IncomingMessage) => void): void {
    this.server.on('request', fn);
  }
}
