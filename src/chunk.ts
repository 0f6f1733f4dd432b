import { describeValue } from './describe.js';
import type { Chunk } from './response.js';

/** Whether `value` may be written as a chunk: a string, a `Buffer` or another `Uint8Array`. */
export function isChunk(value: unknown): value is Chunk {
  return typeof value === 'string' || value instanceof Uint8Array;
}

/** The error for a chunk that is not text or bytes, naming its type and its index in the body. */
export function chunkTypeError(value: unknown, index: number): TypeError {
  return new TypeError(
    `asyncStream(): chunk ${index} of the body is ${describeValue(value)}; a chunk must be a string, ` +
      'a Buffer or a Uint8Array. Serialise other values first (e.g. yield JSON.stringify(value) + "\\n").',
  );
}
