// Seeded randomness for the reliability runs, so that a failing run is replayed from its seed.

/** A small seeded PRNG (mulberry32): numbers in [0, 1), the same sequence for the same seed. */
export function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** The seed from the environment variable `name` (to replay a run), else a new one. */
export function seedFrom(name: string): number {
  const given = process.env[name];
  return given === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(given);
}
