// The bytes of a response body received and not yet read, kept as they arrived.
export const LF = 0x0a;
export const CR = 0x0d;

/**
 * A queue of received chunks that every reader of a `StreamConnection` takes from, whole chunks or
 * lines: what one reader takes, the next one does not see. Chunks keep their boundaries, so that
 * `receive()` still hands out what the socket delivered. Lines are cut at bytes, before decoding:
 * CR and LF never occur inside a UTF-8 sequence, so a character split across chunks stays whole.
 */
export class BodyBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private consumed = 0;
  /** The last line taken ended in a CR with nothing after it yet: an LF that comes next ends the same line. */
  private lfPending = false;

  push(chunk: Buffer): void {
    if (this.lfPending) {
      this.lfPending = false;
      if (chunk[0] === LF) chunk = chunk.subarray(1);
    }
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  get isEmpty(): boolean {
    return this.size === 0;
  }

  /** How many bytes of the body were taken so far. */
  get position(): number {
    return this.consumed;
  }

  /** The unread part of the oldest chunk. */
  shift(): Buffer | undefined {
    const chunk = this.chunks.shift();
    if (chunk !== undefined) this.dropped(chunk.length);
    return chunk;
  }

  /** The next line, without its LF; `undefined` when no LF is buffered. */
  takeLine(): Buffer | undefined {
    const at = this.indexOf([LF]);
    if (at < 0) return undefined;
    const line = this.peek(0, at);
    this.skip(at + 1);
    return line;
  }

  /** Everything buffered. */
  takeAll(): Buffer {
    const all = this.peek(0, this.size);
    this.skip(this.size);
    return all;
  }

  /** The offset of the first unread byte at or after `from` that is one of `bytes`, or -1. */
  indexOf(bytes: readonly number[], from = 0): number {
    let base = 0;
    for (const chunk of this.chunks) {
      if (from < base + chunk.length) {
        let found = -1;
        for (const byte of bytes) {
          const at = chunk.indexOf(byte, Math.max(0, from - base));
          if (at >= 0 && (found < 0 || at < found)) found = at;
        }
        if (found >= 0) return base + found;
      }
      base += chunk.length;
    }
    return -1;
  }

  /** The unread byte at `offset`, or `undefined` when it has not arrived. */
  byteAt(offset: number): number | undefined {
    let base = 0;
    for (const chunk of this.chunks) {
      if (offset < base + chunk.length) return chunk[offset - base];
      base += chunk.length;
    }
    return undefined;
  }

  /** A copy of the unread bytes from `start` to `end`, left in place. */
  peek(start: number, end: number): Buffer {
    const parts: Buffer[] = [];
    let base = 0;
    for (const chunk of this.chunks) {
      if (base >= end) break;
      const from = Math.max(0, start - base);
      const to = Math.min(chunk.length, end - base);
      if (from < to) parts.push(chunk.subarray(from, to));
      base += chunk.length;
    }
    return Buffer.concat(parts);
  }

  /**
   * Drops the first `count` unread bytes. With `lfMayFollow`, they end in a CR that, followed by an
   * LF, makes one line break with it (the `text/event-stream` rule): that LF is dropped too, now or
   * when it arrives.
   */
  skip(count: number, lfMayFollow = false): void {
    let left = count;
    while (left > 0) {
      const first = this.chunks[0]!;
      if (first.length > left) {
        this.chunks[0] = first.subarray(left);
        this.dropped(left);
        break;
      }
      this.chunks.shift();
      this.dropped(first.length);
      left -= first.length;
    }
    if (!lfMayFollow) return;
    if (this.isEmpty) this.lfPending = true;
    else if (this.byteAt(0) === LF) this.skip(1);
  }

  private dropped(count: number): void {
    this.size -= count;
    this.consumed += count;
  }
}
