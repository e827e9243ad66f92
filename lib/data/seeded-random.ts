/**
 * A small deterministic PRNG (mulberry32). Shuffles and weight initialisation must give the same
 * numbers on every rank and in every run with the same seed; `Math.random` gives neither.
 */
export function createSeededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of `0..size-1` driven by `random`. */
export function seededPermutation(size: number, random: () => number): Uint32Array {
  const order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = order[i]!;
    order[i] = order[j]!;
    order[j] = tmp;
  }
  return order;
}

/**
 * Runs `build` with `Math.random` replaced by a seeded generator, so tfjs initialisers (which seed
 * their own generators from `Math.random()` when no seed is given) produce the same weights for the
 * same seed. Restores `Math.random` even when `build` throws.
 */
export function withSeededMathRandom<T>(seed: number, build: () => T): T {
  const original = Math.random;
  Math.random = createSeededRandom(seed);
  try {
    return build();
  } finally {
    Math.random = original;
  }
}
