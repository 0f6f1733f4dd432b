// Bound once: in jest's vm context every lookup of a global such as `Math` goes through the
// context's interceptors, which made this hash 20× slower on the hot path.
const { imul } = Math;

/**
 * The bytes of stream `id`: a hash of (id, position), so that a byte delivered to the wrong stream,
 * at the wrong place, twice or not at all shows up as a mismatch.
 */
export function byteAt(id: number, position: number): number {
  let h = imul(id + 1, 0x9e3779b1) ^ position;
  h = imul(h ^ (h >>> 16), 0x85ebca6b);
  h = imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & 0xff;
}

/** `length` bytes of stream `id` from `offset`. */
export function contentOf(id: number, offset: number, length: number): Buffer {
  const bytes = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) bytes[i] = byteAt(id, offset + i);
  return bytes;
}

/** Whether `data` is exactly stream `id`'s bytes at `offset`. */
export function matchesContent(id: number, offset: number, data: Uint8Array): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] !== byteAt(id, offset + i)) return false;
  return true;
}
