import type { Chunk } from './response.js';

/**
 * Chunks waiting to go out in one write. Chunk boundaries carry no meaning in HTTP, and one
 * `res.write` of many small chunks costs about what a single one does.
 */
export class ChunkBatch {
  private parts: Chunk[] = [];
  private textOnly = true;
  /** The length of the chunks held: characters for text, bytes otherwise; a cap, not a count. */
  size = 0;

  get isEmpty(): boolean {
    return this.parts.length === 0;
  }

  add(chunk: Chunk): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (typeof chunk !== 'string') this.textOnly = false;
  }

  /** Everything held, as one chunk, and empties the batch. */
  take(): Chunk {
    const parts = this.parts;
    const joined =
      parts.length === 1
        ? parts[0]!
        : this.textOnly
          ? (parts as string[]).join('')
          : Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : part)));
    this.parts = [];
    this.textOnly = true;
    this.size = 0;
    return joined;
  }
}
