// Step: the unit the pump writes. What a chunk is, and how same-tick chunks become one write.
import { describeValue } from './arguments.js';

/** One piece of a streamed body: text (sent as UTF-8) or bytes. Empty chunks are skipped. */
export type Chunk = string | Buffer | Uint8Array;

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

/**
 * Chunks waiting to go out in one write. Chunk boundaries carry no meaning in HTTP, and one
 * `res.write` of many small chunks costs about what a single one does.
 */
export class ChunkBatch {
  /** The first chunk held; `rest` holds the others. Most batches hold one chunk, which costs no array. */
  private first: Chunk | undefined;
  private rest: Chunk[] | undefined;
  private textOnly = true;
  /** The length of the chunks held: characters for text, bytes otherwise; a cap, not a count. */
  size = 0;

  get isEmpty(): boolean {
    return this.first === undefined;
  }

  add(chunk: Chunk): void {
    if (this.first === undefined) this.first = chunk;
    else (this.rest ??= []).push(chunk);
    this.size += chunk.length;
    if (typeof chunk !== 'string') this.textOnly = false;
  }

  /** Everything held, as one chunk, and empties the batch. */
  take(): Chunk {
    const { first, rest } = this;
    let joined = first!;
    if (rest !== undefined) {
      const parts = [joined, ...rest];
      joined = this.textOnly
        ? (parts as string[]).join('')
        : Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
    }
    this.first = undefined;
    this.rest = undefined;
    this.textOnly = true;
    this.size = 0;
    return joined;
  }
}
