// Philox4x32-10, bit for bit the generator of src/rng.ts and native/rng.h. The WebAssembly
// build draws only dropout masks with it (counter [i >> 2, step, layer, DROPOUT]); every other
// random choice is made in TypeScript and handed in.

const M0: u64 = 0xD2511F53;
const M1: u64 = 0xCD9E8D57;
const W0: u32 = 0x9E3779B9;
const W1: u32 = 0xBB67AE85;

/** Writes the four u32 outputs for key (k0, k1) and counter (c0..c3) to `out`. */
export function philox4x32(
  k0: u32, k1: u32, c0: u32, c1: u32, c2: u32, c3: u32,
  out: usize, // (4) u32
): void {
  for (let round = 0; round < 10; ++round) {
    // 32×32 → 64-bit products in u64, as in C; the TypeScript twin splits them by hand.
    const p0 = M0 * <u64>c0;
    const p1 = M1 * <u64>c2;
    c0 = <u32>(p1 >> 32) ^ c1 ^ k0;
    c1 = <u32>p1;
    c2 = <u32>(p0 >> 32) ^ c3 ^ k1;
    c3 = <u32>p0;
    k0 += W0;
    k1 += W1;
  }
  store<u32>(out, c0);
  store<u32>(out, c1, 4);
  store<u32>(out, c2, 8);
  store<u32>(out, c3, 12);
}

/** Inverted dropout keeps a unit when the top 24 bits of its draw are at or above this. */
export function dropout_threshold(rate: f64): u32 {
  return <u32>(rate * 16777216.0);
}
