/**
 * The one random generator of mlpkit: Philox4x32-10, a counter-based generator (Salmon et al.,
 * "Parallel random numbers: as easy as 1, 2, 3", SC'11). A draw is a pure function of a
 * 64-bit key (the seed) and a 128-bit counter, so any backend can produce the same number
 * for the same purpose without sharing state. Weight init, shuffle orders, dropout masks and
 * validation splits each use their own stream; the backends implement `philox4x32` and the
 * dropout counter layout bit-for-bit.
 *
 * Counter layout: `[block, a, b, stream]`, where `block` indexes groups of four 32-bit
 * outputs and `a`, `b` depend on the stream:
 *
 * | stream   | a                  | b     |
 * |----------|--------------------|-------|
 * | INIT     | layer              | 0     |
 * | SHUFFLE  | epoch              | 0     |
 * | DROPOUT  | update step        | layer |
 * | SPLIT    | 0                  | 0     |
 * | SEARCH   | 0 (trials), 1 (restart seeds) | 0 |
 */

export const Stream = { INIT: 1, SHUFFLE: 2, DROPOUT: 3, SPLIT: 4, SEARCH: 5 } as const;

const PHILOX_M0 = 0xd2511f53;
const PHILOX_M1 = 0xcd9e8d57;
const PHILOX_W0 = 0x9e3779b9;
const PHILOX_W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 values, exact in float64 arithmetic. */
export function mulhi32(a: number, b: number): number {
  const low = (a & 0xffff) * b; // < 2^48
  const high = (a >>> 16) * b; // < 2^48; a*b = high*2^16 + low
  return Math.floor((high + Math.floor(low / 65536)) / 65536) >>> 0;
}

/** Philox4x32-10: writes four u32 outputs for key (k0, k1) and counter (c0..c3) to `out`. */
export function philox4x32(k0: number, k1: number, c0: number, c1: number, c2: number, c3: number, out: Uint32Array): void {
  k0 >>>= 0;
  k1 >>>= 0;
  c0 >>>= 0;
  c1 >>>= 0;
  c2 >>>= 0;
  c3 >>>= 0;
  for (let round = 0; round < 10; round++) {
    const hi0 = mulhi32(PHILOX_M0, c0);
    const lo0 = Math.imul(PHILOX_M0, c0) >>> 0;
    const hi1 = mulhi32(PHILOX_M1, c2);
    const lo1 = Math.imul(PHILOX_M1, c2) >>> 0;
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + PHILOX_W0) >>> 0;
    k1 = (k1 + PHILOX_W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

/** Splits a seed (an integer in [0, 2^53)) into the two 32-bit key words. */
export function seedKey(seed: number): [number, number] {
  return [seed >>> 0, Math.floor(seed / 4294967296) >>> 0];
}

/** Fills `out` with the u32 stream (seed, stream, a, b): element i is lane i%4 of block i/4. */
const block = new Uint32Array(4);

/** Fills `count` entries of `out` from `offset` (default: all of it) with the u32 stream (seed, stream, a, b): entry i is lane i%4 of block i/4. */
export function fillRandomU32(out: Uint32Array, seed: number, stream: number, a: number, b: number, count = out.length, offset = 0): void {
  const [k0, k1] = seedKey(seed);
  for (let i = 0; i < count; i += 4) {
    philox4x32(k0, k1, i >>> 2, a, b, stream, block);
    for (let lane = 0; lane < 4 && i + lane < count; lane++) out[offset + i + lane] = block[lane]!;
  }
}

/** Uniform float in [0, 1) with 24 random bits, as every backend derives it from a u32. */
export function u32ToUnit(u: number): number {
  return (u >>> 8) * (1 / 16777216);
}

/** A seeded permutation of 0..n-1 (Fisher–Yates; draw i picks from [0, i] by multiply-high). */
export function permutation(n: number, seed: number, stream: number, a: number): Int32Array {
  const order = new Int32Array(n);
  shuffleInto(order, 0, n, seed, stream, a, new Uint32Array(n));
  return order;
}

/** Writes `permutation(n, …)` into order[offset … offset+n), using `draws` (≥ n) as scratch; allocates nothing. */
export function shuffleInto(
  order: Int32Array,
  offset: number,
  n: number,
  seed: number,
  stream: number,
  a: number,
  draws: Uint32Array,
): void {
  for (let i = 0; i < n; i++) order[offset + i] = i;
  fillRandomU32(draws, seed, stream, a, 0, n);
  for (let i = n - 1; i > 0; i--) {
    const j = offset + mulhi32(draws[i]!, i + 1);
    const t = order[offset + i]!;
    order[offset + i] = order[j]!;
    order[j] = t;
  }
}

/**
 * The dropout rule every backend implements: unit i of the (batch × units) output of
 * `layer` at update `step` is kept when the top 24 bits of its draw are at or above
 * `dropoutThreshold(rate)`; kept units are scaled by `1 / (1 - rate)` (inverted dropout).
 */
export function dropoutThreshold(rate: number): number {
  return Math.floor(rate * 16777216);
}
