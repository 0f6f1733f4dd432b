import http from 'node:http';
import type { Socket } from 'node:net';

/** How the exchange ended: a clean end of the body, a body cut short, or no response at all. */
export type RawOutcome = 'complete' | 'aborted' | 'no response';

/**
 * A raw HTTP client for fault injection. Unlike the test kit's `streamRequest()`, it hands the
 * request over before the headers arrive (to disconnect before them), and it can stop reading or
 * disconnect from inside the `'data'` event that reaches a byte count, so "mid-chunk" is exact.
 */
export interface RawStream {
  readonly status: number | undefined;
  readonly received: number;
  /** The request's socket, once assigned. */
  readonly socket: Socket | undefined;
  /** Everything received so far. */
  body(): Buffer;
  /** Resolves once `bytes` bytes of body have arrived in total; rejects if the body is over first. */
  untilReceived(bytes: number): Promise<void>;
  readonly outcome: Promise<RawOutcome>;
  /** Stops reading as soon as `bytes` have arrived (at once if they have; `0`: before any body). */
  pauseAt(bytes: number): void;
  /** Reads again after `pauseAt()`. A paused socket is not read, so it does not notice being closed until then. */
  resume(): void;
  /** Closes the socket from the `'data'` event that reaches `bytes` (at once if they have). */
  disconnectAt(bytes: number): void;
  disconnect(): void;
}

export function startStream(url: string, agent: http.Agent | false): RawStream {
  const request = http.get(url, { agent });
  const parts: Buffer[] = [];
  const waiters: Array<{ bytes: number; resolve: () => void; reject: (error: Error) => void }> = [];
  let response: http.IncomingMessage | undefined;
  let received = 0;
  let over = false;
  let pauseAt = Infinity;
  let disconnectAt = Infinity;

  const wake = (): void => {
    for (const waiter of waiters.splice(0)) {
      if (received >= waiter.bytes) waiter.resolve();
      else if (over) waiter.reject(new Error(`the body ended after ${received} bytes, before ${waiter.bytes}`));
      else waiters.push(waiter);
    }
  };
  const applyLimits = (): void => {
    if (response === undefined) return;
    if (received >= disconnectAt) request.destroy();
    else if (received >= pauseAt) response.pause();
  };

  const outcome = new Promise<RawOutcome>((resolve) => {
    request.on('response', (incoming) => {
      response = incoming;
      incoming.on('data', (chunk: Buffer) => {
        received += chunk.length;
        parts.push(chunk);
        applyLimits();
        wake();
      });
      whenBodyEnds(incoming, (how) => {
        over = true;
        wake();
        resolve(how);
      });
      applyLimits();
    });
    request.on('error', () => {});
    request.on('close', () => {
      if (response !== undefined) return;
      over = true;
      wake();
      resolve('no response');
    });
  });

  return {
    get status() {
      return response?.statusCode;
    },
    get received() {
      return received;
    },
    get socket() {
      return request.socket ?? undefined;
    },
    body: () => Buffer.concat(parts),
    untilReceived(bytes) {
      return new Promise((resolve, reject) => {
        waiters.push({ bytes, resolve, reject });
        wake();
      });
    },
    outcome,
    pauseAt(bytes) {
      pauseAt = bytes;
      applyLimits();
    },
    resume() {
      pauseAt = Infinity;
      response?.resume();
    },
    disconnectAt(bytes) {
      disconnectAt = bytes;
      applyLimits();
    },
    disconnect: () => request.destroy(),
  };
}

/**
 * Calls `onEnd` once `response`'s body is over, with how it ended. A `'close'` without `complete`
 * is a body cut short (incomplete chunked body, socket reset); the `'error'` it comes with is
 * expected, so it is swallowed here.
 */
function whenBodyEnds(response: http.IncomingMessage, onEnd: (outcome: 'complete' | 'aborted') => void): void {
  response.on('error', () => {});
  response.on('close', () => onEnd(response.complete ? 'complete' : 'aborted'));
}
