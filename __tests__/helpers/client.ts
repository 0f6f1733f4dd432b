import http from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';

export interface StreamClientOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  agent?: http.Agent | false;
}

/** How the response body ended: cleanly, or cut off (incomplete chunked body, socket reset). */
export type Outcome = 'complete' | 'aborted';

/**
 * A raw HTTP client that hands the body over chunk by chunk as it arrives, so a test can assert
 * that a response streams, and can stop reading or disconnect at a chosen point.
 */
export interface StreamClient {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly socket: Socket;
  /** The next chunk as it arrives; `null` once the body is over (cleanly or not; see `outcome`). */
  receive(timeoutMs?: number): Promise<Buffer | null>;
  /** Everything left in the body, once it is over. */
  rest(timeoutMs?: number): Promise<Buffer>;
  /** Resolves when the body is over, with how it ended. */
  readonly outcome: Promise<Outcome>;
  /** Stops reading, so that the server's socket buffers fill up. */
  pause(): void;
  resume(): void;
  /** Bytes received so far. */
  readonly received: number;
  /** Closes the socket, like a browser tab going away. */
  disconnect(): void;
}

/** Opens `path` on `baseUrl` and resolves once the status and headers have arrived. */
export function openStream(baseUrl: string, path: string, options: StreamClientOptions = {}): Promise<StreamClient> {
  return new Promise((resolve, reject) => {
    const request = http.request(`${baseUrl}${path}`, {
      method: options.method ?? 'GET',
      headers: options.headers,
      agent: options.agent ?? false,
    });
    request.on('error', reject);
    request.on('response', (response) => resolve(createClient(request, response)));
    request.end();
  });
}

/**
 * Calls `onEnd` once `response`'s body is over, with how it ended. A `'close'` without `complete`
 * is a body cut short (incomplete chunked body, socket reset); the `'error'` it comes with is
 * expected, so it is swallowed here.
 */
export function whenBodyEnds(response: http.IncomingMessage, onEnd: (outcome: Outcome) => void): void {
  response.on('error', () => {});
  response.on('close', () => onEnd(response.complete ? 'complete' : 'aborted'));
}

/** What a client saw of one response. */
export interface Received {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
  readonly outcome: Outcome;
}

/** GETs `path` over a fresh connection and reads the whole body, however it ends. */
export async function fetchAll(baseUrl: string, path: string): Promise<Received> {
  const client = await openStream(baseUrl, path);
  const body = await client.rest();
  return { status: client.status, headers: client.headers, body, outcome: await client.outcome };
}

function createClient(request: http.ClientRequest, response: http.IncomingMessage): StreamClient {
  const chunks: Buffer[] = [];
  const readers: Array<() => void> = [];
  let over = false;
  let received = 0;
  const notify = (): void => readers.splice(0).forEach((wake) => wake());
  const outcome = new Promise<Outcome>((resolve) => {
    response.on('data', (chunk: Buffer) => {
      received += chunk.length;
      chunks.push(chunk);
      notify();
    });
    whenBodyEnds(response, (how) => {
      over = true;
      notify();
      resolve(how);
    });
  });
  request.on('error', () => {});

  async function receive(timeoutMs = 5_000): Promise<Buffer | null> {
    if (chunks.length === 0 && !over) await waitForData(timeoutMs);
    return chunks.shift() ?? null;
  }

  function waitForData(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no chunk arrived within ${timeoutMs} ms`)), timeoutMs);
      readers.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  return {
    status: response.statusCode!,
    headers: response.headers,
    rawHeaders: response.rawHeaders,
    socket: request.socket!,
    receive,
    async rest(timeoutMs = 5_000) {
      const parts: Buffer[] = [];
      for (let chunk = await receive(timeoutMs); chunk !== null; chunk = await receive(timeoutMs)) parts.push(chunk);
      return Buffer.concat(parts);
    },
    outcome,
    pause: () => response.pause(),
    resume: () => response.resume(),
    get received() {
      return received;
    },
    disconnect: () => request.destroy(),
  };
}
