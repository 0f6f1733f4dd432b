import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AsyncStreamError } from '../errors.js';
import { describeValue } from '../arguments.js';
import { listenApp } from './appServer.js';
import { ReceiveTimeoutError } from './errors.js';
import { DEFAULT_RECEIVE_TIMEOUT, resolveReceiveTimeout } from './options.js';
import { realClearTimeout, realSetTimeout } from './realTime.js';
import { StreamConnection } from './streamConnection.js';

/** An Express app (or any request listener), a listening `http.Server`, or a base URL. */
export type StreamTarget = http.RequestListener | http.Server | string;

/** The request {@link streamRequest} sends. */
export interface StreamRequestInit {
  /** @default 'GET' */
  readonly method?: string;
  /** Request headers, e.g. `{ 'Last-Event-ID': '41' }`. */
  readonly headers?: http.OutgoingHttpHeaders;
  /** A request body; a plain object is sent as JSON with `Content-Type: application/json`. */
  readonly body?: string | Uint8Array | Readonly<Record<string, unknown>>;
  /**
   * How long to wait for the headers, and then for each chunk unless a `receive()` call says
   * otherwise, in milliseconds. Real time, also under `jest.useFakeTimers()`, whose clock a test
   * advances past an idle timeout without the kit giving up.
   *
   * @default 5_000
   */
  readonly timeout?: number;
}

/**
 * Sends a request and resolves with a {@link StreamConnection} once the status and headers have
 * arrived (for `asyncStream`, that is with the first chunk). For an app, listens on an ephemeral
 * `127.0.0.1` port, closes that server when the connection ends, and sees the server's side of the
 * response, which `disconnect()` then waits for; given an `http.Server` or a URL it cannot.
 *
 * @throws ReceiveTimeoutError when the headers do not arrive within `init.timeout`.
 * @example
 * import { streamRequest } from 'express-async-stream/testing';
 * const connection = await streamRequest(app, '/time');
 * expect(connection.headers['content-type']).toMatch(/^text\//);
 * expect((await connection.receive())?.toString()).toMatch(/^\d{4}-/);
 * await connection.disconnect(); // resolves once the server-side generator's finally has run
 */
export async function streamRequest(
  target: StreamTarget,
  path: string,
  init: StreamRequestInit = {},
): Promise<StreamConnection> {
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new TypeError(`streamRequest(target, path): path must start with "/", but received ${describeValue(path)}.`);
  }
  const timeout = resolveReceiveTimeout(init.timeout, DEFAULT_RECEIVE_TIMEOUT, 'streamRequest()');
  const { baseUrl, release, served } = await resolveTarget(target);
  const method = (init.method ?? 'GET').toUpperCase();
  const url = `${baseUrl}${path}`;
  const { headers, body } = encodeBody(init);
  const request = http.request(url, { method, headers, agent: false });
  const responded = awaitResponse(request, method, url, timeout);
  request.end(body);
  try {
    const response = await responded;
    response.once('close', release);
    return StreamConnection.open(request, response, { method, url, timeout }, served(request.socket?.localPort));
  } catch (error) {
    request.destroy();
    release();
    throw error;
  }
}

function awaitResponse(
  request: http.ClientRequest,
  method: string,
  url: string,
  timeout: number,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const timer = realSetTimeout(
      () => reject(new ReceiveTimeoutError(method, url, 'the response headers', timeout)),
      timeout,
    );
    request.once('response', (response) => {
      realClearTimeout(timer);
      resolve(response);
    });
    request.once('error', (cause) => {
      realClearTimeout(timer);
      reject(
        new AsyncStreamError(
          `${method} ${url}: the request failed before the response headers arrived (${cause.message}).`,
          { cause },
        ),
      );
    });
  });
}

interface ResolvedTarget {
  readonly baseUrl: string;
  /** Called once the connection has closed. */
  readonly release: () => void;
  /** What the server did with the response, when the kit serves the app itself; see `AppServer`. */
  readonly served: (localPort: number | undefined) => Promise<void> | undefined;
}

const unseen = (): undefined => undefined;

async function resolveTarget(target: StreamTarget): Promise<ResolvedTarget> {
  // Someone else's server: its responses are out of the kit's sight.
  if (typeof target === 'string') return { baseUrl: target.replace(/\/+$/, ''), release: () => {}, served: unseen };
  if (target instanceof http.Server) return { baseUrl: baseUrlOf(target), release: () => {}, served: unseen };
  if (typeof target !== 'function') {
    throw new TypeError(
      `streamRequest(target, path): target must be an Express app, an http.Server or a base URL, but received ${describeValue(target)}.`,
    );
  }
  const app = await listenApp(target);
  return { baseUrl: baseUrlOf(app.server), release: app.close, served: app.served };
}

function baseUrlOf(server: http.Server): string {
  const address = server.address() as AddressInfo | null;
  if (address === null || typeof address === 'string') {
    throw new TypeError(
      'streamRequest(target, path): the http.Server is not listening on a TCP port. Call server.listen() first.',
    );
  }
  // A server bound to every interface is reached through loopback.
  if (address.family === 'IPv6')
    return `http://[${address.address === '::' ? '::1' : address.address}]:${address.port}`;
  return `http://${address.address === '0.0.0.0' ? '127.0.0.1' : address.address}:${address.port}`;
}

function encodeBody(init: StreamRequestInit): {
  headers: http.OutgoingHttpHeaders;
  body: string | Uint8Array | undefined;
} {
  const headers = { ...init.headers };
  const { body } = init;
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) return { headers, body };
  const hasType = Object.keys(headers).some((name) => name.toLowerCase() === 'content-type');
  if (!hasType) headers['content-type'] = 'application/json';
  return { headers, body: JSON.stringify(body) };
}
