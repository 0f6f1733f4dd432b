// What a response writes: every res.write() call, its bytes, what it returned and when it came.
import type { ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';

/** One `res.write()` call. */
export interface RecordedWrite {
  /** The bytes written (a string chunk encoded as the call said, UTF-8 by default). */
  readonly chunk: Buffer;
  /** What `write()` returned: false asks the writer to wait for `'drain'`. */
  readonly accepted: boolean;
  /** The response had already ended or been destroyed (the client gone) when the call came. */
  readonly afterEnd: boolean;
}

/**
 * Makes `res.write()` report each call to `onWrite` once it has returned; what is written, and
 * what the call returns, stay as they were.
 */
export function spyOnWrites(res: ServerResponse, onWrite: (write: RecordedWrite) => void): void {
  const write = res.write;
  res.write = function spiedWrite(this: ServerResponse, ...args: Parameters<typeof write>) {
    const afterEnd = res.destroyed || res.writableEnded;
    const accepted = write.apply(this, args);
    onWrite({ chunk: toBuffer(args[0], args[1]), accepted, afterEnd });
    return accepted;
  } as typeof write;
}

/** The writes of every response a middleware saw, in order. */
export interface WriteRecord {
  /** Place before the route (before `compression()` to see the compressed bytes). */
  readonly middleware: RequestHandler;
  readonly writes: readonly RecordedWrite[];
  /** Each chunk decoded as UTF-8. */
  texts(): string[];
}

/** A middleware that records every `res.write()` of the responses passing it. */
export function recordWrites(): WriteRecord {
  const writes: RecordedWrite[] = [];
  return {
    middleware: function recordWritesOf(_req, res, next) {
      spyOnWrites(res, (write) => writes.push(write));
      next();
    },
    writes,
    texts: () => writes.map(({ chunk }) => chunk.toString('utf8')),
  };
}

function toBuffer(chunk: unknown, encoding: unknown): Buffer {
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  if (chunk instanceof Uint8Array) return Buffer.from(chunk);
  return Buffer.alloc(0);
}
