// A raw route that splits what it sends into one TCP chunk per byte, for the test kit's own tests.
import http from 'node:http';
import { deferred, type Deferred } from './deferred.js';
import { within } from './within.js';

/**
 * A route that writes exactly the bytes the test sends, one byte per write, and waits after each
 * until the client's response has emitted it as a `'data'` chunk of its own: a line or an event
 * split across as many TCP chunks as it has bytes, without a single sleep.
 */
export interface Trickle {
  /** The request listener to hand to `streamRequest()`; sends the headers at once. */
  readonly app: http.RequestListener;
  /** Writes `bytes` one byte at a time, each once the client has received the one before. */
  send(bytes: string | Uint8Array): Promise<void>;
  /** Ends the body cleanly. */
  end(): void;
  /** Cuts the connection, as a stream that fails after its first chunk does. */
  cut(): void;
}

/**
 * For a `describe` block: returns a factory of {@link Trickle}s. It watches the client side of the
 * requests each test sends (a spy on `http.request`, restored after the test), which is how a
 * trickle knows that a byte has arrived.
 */
export function useTrickle(contentType = 'text/plain; charset=utf-8'): () => Trickle {
  let onClientData: () => void = () => {};
  let spy: jest.SpyInstance | undefined;
  beforeEach(() => {
    const request = http.request;
    spy = jest.spyOn(http, 'request').mockImplementation((...args: Parameters<typeof http.request>) => {
      const clientRequest = request(...args);
      clientRequest.once('response', (response) => {
        // Not a 'data' listener: that would start the flow before the kit listens, losing chunks.
        const emit = response.emit;
        response.emit = function emitAndObserve(this: http.IncomingMessage, name: string | symbol, ...args: unknown[]) {
          if (name === 'data') onClientData();
          return emit.call(this, name, ...args);
        };
      });
      return clientRequest;
    });
  });
  afterEach(() => spy?.mockRestore());
  return () => {
    let server: http.ServerResponse | undefined;
    let arrived: Deferred<void> = deferred();
    onClientData = () => arrived.resolve();
    return {
      app: (_req, res) => {
        server = res;
        res.writeHead(200, { 'content-type': contentType });
        res.flushHeaders();
      },
      async send(bytes) {
        for (const byte of Buffer.from(bytes)) {
          arrived = deferred();
          server!.write(Buffer.of(byte));
          await within(arrived.promise, `byte 0x${byte.toString(16)} at the client`);
        }
      },
      end: () => server!.end(),
      cut: () => server!.destroy(),
    };
  };
}
