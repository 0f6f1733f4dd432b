// Following a response body as it arrives, for readers that wait on it with a deadline.
import type { IncomingMessage } from 'node:http';
import { BodyBuffer } from './bodyBuffer.js';
import { ReceiveTimeoutError, ResponseAbortedError } from './errors.js';
import { realClearTimeout, realNow, realSetTimeout } from './realTime.js';
import type { ConnectionOrigin } from './streamConnection.js';

type BodyState = 'open' | 'ended' | 'aborted';

/**
 * Takes what a reader wants from the buffer, or `undefined` to wait for more bytes. `ended` is true
 * once the body has ended cleanly, when what is left will never grow (a final unterminated line).
 */
export type Take<T> = (buffer: BodyBuffer, ended: boolean) => T | undefined;

/**
 * The body of one response: the bytes received and not yet read, and whether more can come. The end
 * of the body, a cut connection and a silent server are told apart.
 */
export class ResponseBody {
  readonly buffer = new BodyBuffer();
  /** Resolves once the response has closed, ended or cut. */
  readonly closed: Promise<void>;
  private state: BodyState = 'open';
  private receivedBytes = 0;
  private notify: Array<() => void> = [];

  constructor(
    response: IncomingMessage,
    private readonly origin: ConnectionOrigin,
  ) {
    response.on('data', (chunk: Buffer) => {
      this.buffer.push(chunk);
      this.receivedBytes += chunk.length;
      this.changed();
    });
    // A cut body also emits 'error' (ECONNRESET "aborted"); 'close' with `complete` unset tells us.
    response.on('error', () => {});
    this.closed = new Promise((resolve) => {
      response.once('close', () => {
        this.state = response.complete ? 'ended' : 'aborted';
        this.changed();
        resolve();
      });
    });
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** How many bytes of the body have arrived, read or not. */
  get received(): number {
    return this.receivedBytes;
  }

  /**
   * Resolves with what `take` finds, waiting while it finds nothing and the body is open; then
   * with `null` at a clean end.
   *
   * @throws ResponseAbortedError when the connection was cut before `take` found anything.
   * @throws ReceiveTimeoutError naming `awaited` when `take` finds nothing within `timeout` ms.
   */
  async read<T>(take: Take<T>, awaited: string, timeout: number): Promise<T | null> {
    const deadline = realNow() + timeout;
    for (;;) {
      const found = take(this.buffer, this.state === 'ended');
      if (found !== undefined) return found;
      if (this.state === 'ended') return null;
      if (this.state === 'aborted') {
        throw new ResponseAbortedError(this.origin.method, this.origin.url, this.receivedBytes);
      }
      await this.nextChange(
        deadline - realNow(),
        () => new ReceiveTimeoutError(this.origin.method, this.origin.url, awaited, timeout),
      );
    }
  }

  private changed(): void {
    const waiting = this.notify;
    this.notify = [];
    waiting.forEach((wake) => wake());
  }

  private nextChange(remaining: number, timedOut: () => Error): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = realSetTimeout(
        () => {
          this.notify = this.notify.filter((wake) => wake !== onChange);
          reject(timedOut());
        },
        Math.max(0, remaining),
      );
      const onChange = (): void => {
        realClearTimeout(timer);
        resolve();
      };
      this.notify.push(onChange);
    });
  }
}
