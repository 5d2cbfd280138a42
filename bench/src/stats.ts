/** Small statistics and randomness helpers. Every random choice in the benchmark is seeded. */

export interface Spread {
  min: number;
  median: number;
  max: number;
  n: number;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function spread(values: readonly number[]): Spread {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { min: Number.NaN, median: Number.NaN, max: Number.NaN, n: 0 };
  return { min: Math.min(...finite), median: median(finite), max: Math.max(...finite), n: finite.length };
}

/** mulberry32: a tiny, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A fixed pseudo-random sequence of `count` ids in 1..max (the same for every variant). */
export function idSequence(seed: number, count: number, max: number): number[] {
  const next = prng(seed);
  return Array.from({ length: count }, () => 1 + Math.floor(next() * max));
}

/** Fisher-Yates shuffle with a seeded generator; returns a new array. */
export function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
