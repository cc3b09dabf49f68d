// Single-precision GEMM of the WebAssembly build:
//
//   C = alpha · op(A) · op(B) + beta · C        (row-major, leading dimensions in floats)
//
// The three products of a multi-layer perceptron all come here:
//   forward   C(n, out) = X · Wᵀ       B stored (out, in)   "NT"   tb
//   backward  C(n, in)  = δ · W        B stored (out, in)   "NN"
//   gradient  C(out, in) = δᵀ · X      A stored (n, out)    "TN"   ta
//
// Packed path, after BLIS and XNNPACK's f32-gemm-4x8-wasmsimd-splat:
//
//   for jc in n by NC:
//     for pc in k by KC:                        (KC blocks balanced: k = 784 → 4 × 196)
//       pack op(B)[pc:pc+kc, jc:jc+nc] → ceil(nc/NR) panels (kc, NR)
//       for ic in m by MC:
//         pack op(A)[ic:ic+mc, pc:pc+kc] → ceil(mc/MR) panels (kc, MR)     (L2)
//         for jr in nc by NR:                   one B panel, kept in L1
//           for ir in mc by MR:
//             sgemm_ukernel_4x8: C[ir:ir+4, jr:jr+8] (+)= A panel · B panel
//           last pc: bias, then the epilogue on the finished strip C[ic:ic+mc, jr:jr+8]
//
// Packed layouts (zero-padded, so the micro-kernel never sees a ragged panel):
//   B panel (kc, NR): element (p, j) at p·NR + j. Packing absorbs the transpose of NT: eight
//                     rows of W are read along k and written across, four k at a time through
//                     two 4×4 register transposes.
//   A panel (kc, MR): element (i, p) at p·MR + i; NN and NT transpose four rows of A the same
//                     way, TN copies four contiguous floats per k.
// Packing A too costs m·k per call against m·n·k multiply-adds, and lets the micro-kernel
// address everything as a register plus an immediate: a wasm address is a 32-bit sum, so
// `row + offset` costs V8 an extra instruction per load that the kernel cannot spare.
// The micro-kernel broadcasts one element of each A row (v128.load32_splat) against the two
// vectors of a B row: 8 accumulators, 2 B vectors and 1 broadcast fit the 15 XMM registers
// V8 allocates on x64; a 4×8 tile measured faster than 2×16, 5×8, 6×8, 3×12, 4×12 and 8×4
// under Node 20. Without FMA in wasm SIMD, every step is a mul then an add, which is exactly
// the scalar build's rounding: both builds give the same bits on the packed path.
//
// Direct path, for products too small or too thin to repay packing (a few rows, as in
// inference one sample at a time, or tiny networks): NT as dot products along k, four rows of
// B per pass sharing each load of the A row (four partial sums per dot, added in a fixed
// order that the scalar build repeats); NN and TN as row updates C[i, :] += alpha·A(i, p)·B[p, :];
// TT (unused by the MLP) as a plain loop.
//
// k blocking: C accumulates block after block; beta applies before the first one, so
// beta = 0 never reads C. The epilogue (bias, then `post`) runs once per element, after the
// last k block, on blocks that are still in L1.

import { arena_alloc } from './arena';

export const MR = 4;
export const NR = 8;
export const KC = 256;
export const MC = 128;
const NC = 4096;

/** How to run a product: chosen by shape, or forced by the kernel tests. */
export const PATH_AUTO = 0;
export const PATH_PACKED = 1;
export const PATH_DIRECT = 2;

/** Work on a finished block of C, whose origin C(row0, col0) is `c`: (user, c, ldc, row0, col0, rows, cols). */
export type Post = (user: usize, c: usize, ldc: i32, row0: i32, col0: i32, rows: i32, cols: i32) => void;

let workspace: usize = 0;
let workspace_size: usize = 0;

/** An edge tile: the micro-kernel's 4×8 result before it is clipped to C. */
const tile = memory.data(MR * NR * 4, 64);

// @ts-ignore: decorator
@inline function round_up(x: i32, to: i32): i32 {
  return (x + to - 1) / to * to;
}

/** Equal blocks of at most `max_block`, each rounded up to `align`. */
function balanced_block(total: i32, max_block: i32, align: i32): i32 {
  const blocks = (total + max_block - 1) / max_block;
  return round_up((total + blocks - 1) / blocks, align);
}

/** Bytes of packing workspace for products with n ≤ max_n (m and k are blocked, so they do not matter). */
export function gemm_workspace_bytes(max_n: i32): usize {
  const nc = min(round_up(max(max_n, 1), NR), NC);
  return (<usize>KC * <usize>nc + <usize>MC * <usize>KC) * 4 + 64;
}

/** Points the packed path at `bytes` of workspace owned by the caller. */
export function gemm_bind_workspace(
  ptr: usize, // (bytes)
  bytes: usize,
): void {
  workspace = ptr;
  workspace_size = bytes;
}

/** Grows the workspace from the arena when it is smaller than `bytes` (kernel entry points only). */
export function gemm_reserve(bytes: usize): void {
  if (bytes <= workspace_size) return;
  gemm_bind_workspace(arena_alloc(bytes), bytes);
}

/** The path `sgemm_epilogue` takes for a shape. */
export function gemm_path(ta: bool, tb: bool, m: i32, n: i32, k: i32): i32 {
  if (ta && tb) return PATH_DIRECT;
  if (<u64>m * <u64>n * <u64>k <= 4096) return PATH_DIRECT;
  // Measured at 784×512 under Node 20: dot products beat transposing W into panels up to 6 rows
  // of X; row updates beat packing up to 2 rows of δ.
  if (tb) return m <= 6 ? PATH_DIRECT : PATH_PACKED;
  return m <= 2 ? PATH_DIRECT : PATH_PACKED;
}

// ---------------------------------------------------------------------------------------------
// Micro-kernel

/** C[0:mr, 0:nr] = alpha · Σ_p A(i, p) · B(p, j)  (+ C when accumulating), for a 4×8 tile of packed panels. */
// @ts-ignore: decorator
@inline function sgemm_ukernel_4x8(
  mr: i32, nr: i32, kc: i32,
  a: usize, // packed (kc, MR) panel
  b: usize, // packed (kc, NR) panel
  alpha: f32, accumulate: bool,
  c: usize, // (mr, nr), row stride ldc bytes
  ldc: usize,
): void {
  const end = a + (<usize>kc << 4);
  if (ASC_FEATURE_SIMD) {
    let acc0x0123 = f32x4.splat(0), acc0x4567 = f32x4.splat(0);
    let acc1x0123 = f32x4.splat(0), acc1x4567 = f32x4.splat(0);
    let acc2x0123 = f32x4.splat(0), acc2x4567 = f32x4.splat(0);
    let acc3x0123 = f32x4.splat(0), acc3x4567 = f32x4.splat(0);
    // One k step per iteration, every address a register plus an immediate: unrolling made
    // V8 hoist the loads of the second step and spill accumulators.
    while (a < end) {
      const vb0123 = v128.load(b);
      const vb4567 = v128.load(b, 16);
      const va0 = v128.load32_splat(a);
      acc0x0123 = f32x4.add(acc0x0123, f32x4.mul(va0, vb0123));
      acc0x4567 = f32x4.add(acc0x4567, f32x4.mul(va0, vb4567));
      const va1 = v128.load32_splat(a, 4);
      acc1x0123 = f32x4.add(acc1x0123, f32x4.mul(va1, vb0123));
      acc1x4567 = f32x4.add(acc1x4567, f32x4.mul(va1, vb4567));
      const va2 = v128.load32_splat(a, 8);
      acc2x0123 = f32x4.add(acc2x0123, f32x4.mul(va2, vb0123));
      acc2x4567 = f32x4.add(acc2x4567, f32x4.mul(va2, vb4567));
      const va3 = v128.load32_splat(a, 12);
      acc3x0123 = f32x4.add(acc3x0123, f32x4.mul(va3, vb0123));
      acc3x4567 = f32x4.add(acc3x4567, f32x4.mul(va3, vb4567));
      a += MR * 4;
      b += NR * 4;
    }
    const valpha = f32x4.splat(alpha);
    acc0x0123 = f32x4.mul(acc0x0123, valpha); acc0x4567 = f32x4.mul(acc0x4567, valpha);
    acc1x0123 = f32x4.mul(acc1x0123, valpha); acc1x4567 = f32x4.mul(acc1x4567, valpha);
    acc2x0123 = f32x4.mul(acc2x0123, valpha); acc2x4567 = f32x4.mul(acc2x4567, valpha);
    acc3x0123 = f32x4.mul(acc3x0123, valpha); acc3x4567 = f32x4.mul(acc3x4567, valpha);
    if (mr == MR && nr == NR) {
      const c0 = c, c1 = c0 + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
      if (accumulate) {
        acc0x0123 = f32x4.add(acc0x0123, v128.load(c0)); acc0x4567 = f32x4.add(acc0x4567, v128.load(c0, 16));
        acc1x0123 = f32x4.add(acc1x0123, v128.load(c1)); acc1x4567 = f32x4.add(acc1x4567, v128.load(c1, 16));
        acc2x0123 = f32x4.add(acc2x0123, v128.load(c2)); acc2x4567 = f32x4.add(acc2x4567, v128.load(c2, 16));
        acc3x0123 = f32x4.add(acc3x0123, v128.load(c3)); acc3x4567 = f32x4.add(acc3x4567, v128.load(c3, 16));
      }
      v128.store(c0, acc0x0123); v128.store(c0, acc0x4567, 16);
      v128.store(c1, acc1x0123); v128.store(c1, acc1x4567, 16);
      v128.store(c2, acc2x0123); v128.store(c2, acc2x4567, 16);
      v128.store(c3, acc3x0123); v128.store(c3, acc3x4567, 16);
      return;
    }
    v128.store(tile, acc0x0123); v128.store(tile, acc0x4567, 16);
    v128.store(tile, acc1x0123, 32); v128.store(tile, acc1x4567, 48);
    v128.store(tile, acc2x0123, 64); v128.store(tile, acc2x4567, 80);
    v128.store(tile, acc3x0123, 96); v128.store(tile, acc3x4567, 112);
  } else {
    // Scalar: two 4×4 halves keep 16 accumulators in registers; same sums, same order.
    for (let half = 0; half < NR; half += 4) {
      let c00: f32 = 0, c01: f32 = 0, c02: f32 = 0, c03: f32 = 0;
      let c10: f32 = 0, c11: f32 = 0, c12: f32 = 0, c13: f32 = 0;
      let c20: f32 = 0, c21: f32 = 0, c22: f32 = 0, c23: f32 = 0;
      let c30: f32 = 0, c31: f32 = 0, c32: f32 = 0, c33: f32 = 0;
      let ap = a;
      let bp = b + (<usize>half << 2);
      while (ap < end) {
        const b0 = load<f32>(bp), b1 = load<f32>(bp, 4), b2 = load<f32>(bp, 8), b3 = load<f32>(bp, 12);
        const x0 = load<f32>(ap);
        c00 += x0 * b0; c01 += x0 * b1; c02 += x0 * b2; c03 += x0 * b3;
        const x1 = load<f32>(ap, 4);
        c10 += x1 * b0; c11 += x1 * b1; c12 += x1 * b2; c13 += x1 * b3;
        const x2 = load<f32>(ap, 8);
        c20 += x2 * b0; c21 += x2 * b1; c22 += x2 * b2; c23 += x2 * b3;
        const x3 = load<f32>(ap, 12);
        c30 += x3 * b0; c31 += x3 * b1; c32 += x3 * b2; c33 += x3 * b3;
        ap += MR * 4;
        bp += NR * 4;
      }
      const t = tile + (<usize>half << 2);
      store<f32>(t, c00 * alpha); store<f32>(t, c01 * alpha, 4); store<f32>(t, c02 * alpha, 8); store<f32>(t, c03 * alpha, 12);
      store<f32>(t, c10 * alpha, 32); store<f32>(t, c11 * alpha, 36); store<f32>(t, c12 * alpha, 40); store<f32>(t, c13 * alpha, 44);
      store<f32>(t, c20 * alpha, 64); store<f32>(t, c21 * alpha, 68); store<f32>(t, c22 * alpha, 72); store<f32>(t, c23 * alpha, 76);
      store<f32>(t, c30 * alpha, 96); store<f32>(t, c31 * alpha, 100); store<f32>(t, c32 * alpha, 104); store<f32>(t, c33 * alpha, 108);
    }
  }
  store_tile(mr, nr, accumulate, c, ldc);
}

/** Clips the edge tile to C[0:mr, 0:nr]. */
function store_tile(
  mr: i32, nr: i32, accumulate: bool,
  c: usize, // (mr, nr), row stride ldc bytes
  ldc: usize,
): void {
  for (let i = 0; i < mr; ++i) {
    const row = c + <usize>i * ldc;
    const t = tile + (<usize>(i * NR) << 2);
    for (let j = 0; j < nr; ++j) {
      const p = row + (<usize>j << 2);
      const v = load<f32>(t + (<usize>j << 2));
      store<f32>(p, accumulate ? v + load<f32>(p) : v);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Packing

/** Packs op(B)[0:kc, 0:nc] into ceil(nc/NR) panels (kc, NR), zero-padded past nc. */
function pack_b(
  tb: bool, kc: i32, nc: i32,
  b: usize, // op(B) origin: (kc, nc) if !tb, else (nc, kc); row stride ldb
  ldb: i32,
  out: usize, // ceil(nc/NR) panels of (kc, NR)
): void {
  const row = <usize>ldb << 2;
  const panel_bytes = <usize>kc * (NR * 4);
  for (let j0 = 0; j0 < nc; j0 += NR, out += panel_bytes) {
    const cols = min(NR, nc - j0);
    if (!tb) {
      let src = b + (<usize>j0 << 2);
      let dst = out;
      if (ASC_FEATURE_SIMD && cols == NR) {
        for (let p = 0; p < kc; ++p, src += row, dst += NR * 4) {
          v128.store(dst, v128.load(src));
          v128.store(dst, v128.load(src, 16), 16);
        }
      } else {
        for (let p = 0; p < kc; ++p, src += row, dst += NR * 4) {
          for (let j = 0; j < NR; ++j) store<f32>(dst + (<usize>j << 2), j < cols ? load<f32>(src + (<usize>j << 2)) : 0);
        }
      }
      continue;
    }
    // B stored (nc, kc): column j of the panel is row j0 + j of the source.
    const src = b + <usize>j0 * row;
    let p = 0;
    if (ASC_FEATURE_SIMD && cols == NR) {
      for (; p + 4 <= kc; p += 4) {
        const s = src + (<usize>p << 2);
        const d = out + <usize>p * (NR * 4);
        transpose_4x4(s, row, d, NR * 4);
        transpose_4x4(s + 4 * row, row, d + 16, NR * 4);
      }
    }
    for (; p < kc; ++p) {
      const d = out + <usize>p * (NR * 4);
      for (let j = 0; j < NR; ++j) store<f32>(d + (<usize>j << 2), j < cols ? load<f32>(src + <usize>j * row + (<usize>p << 2)) : 0);
    }
  }
}

/** Writes the transpose of the 4×4 block at `s` (row stride `row` bytes) as rows `to` bytes apart. */
// @ts-ignore: decorator
@inline function transpose_4x4(
  s: usize, // (4, 4), row stride `row` bytes
  row: usize,
  d: usize, // (4, 4), row stride `to` bytes
  to: usize,
): void {
  const r0 = v128.load(s), r1 = v128.load(s + row), r2 = v128.load(s + 2 * row), r3 = v128.load(s + 3 * row);
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t2 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(d, v128.shuffle<f32>(t0, t1, 0, 1, 4, 5));
  v128.store(d + to, v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
  v128.store(d + 2 * to, v128.shuffle<f32>(t2, t3, 0, 1, 4, 5));
  v128.store(d + 3 * to, v128.shuffle<f32>(t2, t3, 2, 3, 6, 7));
}

/** Packs op(A)[0:mc, 0:kc] into ceil(mc/MR) panels (kc, MR), zero-padded past mc. */
function pack_a(
  ta: bool, mc: i32, kc: i32,
  a: usize, // op(A) origin: (mc, kc) if !ta, else (kc, mc); row stride lda
  lda: i32,
  out: usize, // ceil(mc/MR) panels of (kc, MR)
): void {
  const row = <usize>lda << 2;
  for (let i0 = 0; i0 < mc; i0 += MR, out += <usize>kc * (MR * 4)) {
    const rows = min(MR, mc - i0);
    if (ta) {
      // A stored (kc, mc): the panel's row p is four contiguous floats of source row p.
      let src = a + (<usize>i0 << 2);
      let dst = out;
      if (ASC_FEATURE_SIMD && rows == MR) {
        for (let p = 0; p < kc; ++p, src += row, dst += MR * 4) v128.store(dst, v128.load(src));
      } else {
        for (let p = 0; p < kc; ++p, src += row, dst += MR * 4) {
          for (let i = 0; i < MR; ++i) store<f32>(dst + (<usize>i << 2), i < rows ? load<f32>(src + (<usize>i << 2)) : 0);
        }
      }
      continue;
    }
    // A stored (mc, kc): four rows read along k, written across through 4×4 transposes.
    const src = a + <usize>i0 * row;
    let p = 0;
    if (ASC_FEATURE_SIMD && rows == MR) {
      for (; p + 4 <= kc; p += 4) transpose_4x4(src + (<usize>p << 2), row, out + <usize>p * (MR * 4), MR * 4);
    }
    for (; p < kc; ++p) {
      const d = out + <usize>p * (MR * 4);
      for (let i = 0; i < MR; ++i) store<f32>(d + (<usize>i << 2), i < rows ? load<f32>(src + <usize>i * row + (<usize>p << 2)) : 0);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Direct path

/** Σ of four partial sums, in the order both builds use. */
// @ts-ignore: decorator
@inline function sum_lanes(s0: f32, s1: f32, s2: f32, s3: f32): f32 {
  return (s0 + s1) + (s2 + s3);
}

// @ts-ignore: decorator
@inline function sum_vector(v: v128): f32 {
  return sum_lanes(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1), f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3));
}

/**
 * dot(x, y) over k floats, summed the way both builds do: four partial sums (lane l takes
 * p ≡ l mod 4) up to k rounded down to 4, then sum_lanes, then the tail in order.
 */
function dot(
  x: usize, // (k)
  y: usize, // (k)
  k: i32,
): f32 {
  const k4 = k & ~3;
  let sum: f32;
  if (ASC_FEATURE_SIMD) {
    let acc = f32x4.splat(0);
    for (let p = 0; p < k4; p += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(x + (<usize>p << 2)), v128.load(y + (<usize>p << 2))));
    sum = sum_vector(acc);
  } else {
    let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
    for (let p = 0; p < k4; p += 4) {
      const px = x + (<usize>p << 2), py = y + (<usize>p << 2);
      s0 += load<f32>(px) * load<f32>(py);
      s1 += load<f32>(px, 4) * load<f32>(py, 4);
      s2 += load<f32>(px, 8) * load<f32>(py, 8);
      s3 += load<f32>(px, 12) * load<f32>(py, 12);
    }
    sum = sum_lanes(s0, s1, s2, s3);
  }
  for (let p = k4; p < k; ++p) sum += load<f32>(x + (<usize>p << 2)) * load<f32>(y + (<usize>p << 2));
  return sum;
}

/** NT as dot products: C(i, j) = alpha · A[i, :]·B[j, :] + beta · C(i, j). */
function sgemm_direct_nt(
  m: i32, n: i32, k: i32, alpha: f32,
  a: usize, // (m, k), lda
  lda: i32,
  b: usize, // (n, k), ldb
  ldb: i32,
  beta: f32,
  c: usize, // (m, n), ldc
  ldc: i32,
): void {
  const k4 = k & ~3;
  const row_b = <usize>ldb << 2;
  for (let i = 0; i < m; ++i) {
    const x = a + ((<usize>i * <usize>lda) << 2);
    const x_end = x + (<usize>k4 << 2);
    const row = c + ((<usize>i * <usize>ldc) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      // Four rows of B per pass share each load of x. A GEMV is bound by reading B, so every
      // address is a pointer register; more accumulators made V8 hoist loads and spill.
      for (; j + 4 <= n; j += 4) {
        let y0 = b + <usize>j * row_b;
        let y1 = y0 + row_b, y2 = y1 + row_b, y3 = y2 + row_b;
        let acc0 = f32x4.splat(0), acc1 = f32x4.splat(0), acc2 = f32x4.splat(0), acc3 = f32x4.splat(0);
        let px = x;
        // Two k steps per iteration (same sums, same order): the 14 registers V8 needs when
        // it hoists the loads still fit, and the pointer updates are halved.
        while (px + 32 <= x_end) {
          const vx0 = v128.load(px), vx1 = v128.load(px, 16);
          acc0 = f32x4.add(acc0, f32x4.mul(vx0, v128.load(y0)));
          acc1 = f32x4.add(acc1, f32x4.mul(vx0, v128.load(y1)));
          acc2 = f32x4.add(acc2, f32x4.mul(vx0, v128.load(y2)));
          acc3 = f32x4.add(acc3, f32x4.mul(vx0, v128.load(y3)));
          acc0 = f32x4.add(acc0, f32x4.mul(vx1, v128.load(y0, 16)));
          acc1 = f32x4.add(acc1, f32x4.mul(vx1, v128.load(y1, 16)));
          acc2 = f32x4.add(acc2, f32x4.mul(vx1, v128.load(y2, 16)));
          acc3 = f32x4.add(acc3, f32x4.mul(vx1, v128.load(y3, 16)));
          px += 32; y0 += 32; y1 += 32; y2 += 32; y3 += 32;
        }
        if (px < x_end) {
          const vx = v128.load(px);
          acc0 = f32x4.add(acc0, f32x4.mul(vx, v128.load(y0)));
          acc1 = f32x4.add(acc1, f32x4.mul(vx, v128.load(y1)));
          acc2 = f32x4.add(acc2, f32x4.mul(vx, v128.load(y2)));
          acc3 = f32x4.add(acc3, f32x4.mul(vx, v128.load(y3)));
          y0 += 16; y1 += 16; y2 += 16; y3 += 16;
        }
        let s0 = sum_vector(acc0), s1 = sum_vector(acc1), s2 = sum_vector(acc2), s3 = sum_vector(acc3);
        for (let p = k4; p < k; ++p) { // y_i point at column k4 now
          const off = <usize>(p - k4) << 2;
          const v = load<f32>(x + (<usize>p << 2));
          s0 += v * load<f32>(y0 + off);
          s1 += v * load<f32>(y1 + off);
          s2 += v * load<f32>(y2 + off);
          s3 += v * load<f32>(y3 + off);
        }
        const p = row + (<usize>j << 2);
        store<f32>(p, beta == 0 ? alpha * s0 : alpha * s0 + beta * load<f32>(p));
        store<f32>(p, beta == 0 ? alpha * s1 : alpha * s1 + beta * load<f32>(p, 4), 4);
        store<f32>(p, beta == 0 ? alpha * s2 : alpha * s2 + beta * load<f32>(p, 8), 8);
        store<f32>(p, beta == 0 ? alpha * s3 : alpha * s3 + beta * load<f32>(p, 12), 12);
      }
    }
    for (; j < n; ++j) {
      const s = dot(x, b + <usize>j * row_b, k);
      const p = row + (<usize>j << 2);
      store<f32>(p, beta == 0 ? alpha * s : alpha * s + beta * load<f32>(p));
    }
  }
}

/** NN and TN as row updates: C[i, :] = beta · C[i, :] + Σ_p (alpha · A(i, p)) · B[p, :]. */
function sgemm_direct_rows(
  ta: bool, m: i32, n: i32, k: i32, alpha: f32,
  a: usize, // (m, k) if !ta, else (k, m); lda
  lda: i32,
  b: usize, // (k, n), ldb
  ldb: i32,
  beta: f32,
  c: usize, // (m, n), ldc
  ldc: i32,
): void {
  const a_row: usize = ta ? 4 : <usize>lda << 2;  // bytes from A(i, p) to A(i + 1, p)
  const a_col: usize = ta ? <usize>lda << 2 : 4;  // bytes from A(i, p) to A(i, p + 1)
  for (let i = 0; i < m; ++i) {
    const row = c + ((<usize>i * <usize>ldc) << 2);
    for (let j = 0; j < n; ++j) {
      const p = row + (<usize>j << 2);
      store<f32>(p, beta == 0 ? 0 : beta * load<f32>(p));
    }
    let ap = a + <usize>i * a_row;
    let bp = b;
    for (let p = 0; p < k; ++p, ap += a_col, bp += <usize>ldb << 2) {
      const s = alpha * load<f32>(ap);
      let j = 0;
      if (ASC_FEATURE_SIMD) {
        const vs = f32x4.splat(s);
        for (; j + 4 <= n; j += 4) {
          const off = <usize>j << 2;
          v128.store(row + off, f32x4.add(v128.load(row + off), f32x4.mul(vs, v128.load(bp + off))));
        }
      }
      for (; j < n; ++j) {
        const off = <usize>j << 2;
        store<f32>(row + off, load<f32>(row + off) + s * load<f32>(bp + off));
      }
    }
  }
}

/** Any transposes, one element at a time (TT, which the MLP never asks for). */
function sgemm_naive(
  ta: bool, tb: bool, m: i32, n: i32, k: i32, alpha: f32,
  a: usize, // (m, k) if !ta, else (k, m); lda
  lda: i32,
  b: usize, // (k, n) if !tb, else (n, k); ldb
  ldb: i32,
  beta: f32,
  c: usize, // (m, n), ldc
  ldc: i32,
): void {
  for (let i = 0; i < m; ++i) {
    for (let j = 0; j < n; ++j) {
      let sum: f32 = 0;
      for (let p = 0; p < k; ++p) {
        const x = load<f32>(a + ((ta ? <usize>p * <usize>lda + <usize>i : <usize>i * <usize>lda + <usize>p) << 2));
        const y = load<f32>(b + ((tb ? <usize>j * <usize>ldb + <usize>p : <usize>p * <usize>ldb + <usize>j) << 2));
        sum += x * y;
      }
      const p = c + ((<usize>i * <usize>ldc + <usize>j) << 2);
      store<f32>(p, beta == 0 ? alpha * sum : alpha * sum + beta * load<f32>(p));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Driver

/** C[r, j] += bias[col0 + j] on a block. */
function add_bias(
  bias: usize, // (n)
  c: usize, // block origin C(row0, col0); (rows, cols), ldc
  ldc: i32, col0: i32, rows: i32, cols: i32,
): void {
  const bp = bias + (<usize>col0 << 2);
  for (let r = 0; r < rows; ++r) {
    const row = c + ((<usize>r * <usize>ldc) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= cols; j += 4) {
        const off = <usize>j << 2;
        v128.store(row + off, f32x4.add(v128.load(row + off), v128.load(bp + off)));
      }
    }
    for (; j < cols; ++j) {
      const off = <usize>j << 2;
      store<f32>(row + off, load<f32>(row + off) + load<f32>(bp + off));
    }
  }
}

// @ts-ignore: decorator
@inline function finish(
  bias: usize, post: Post | null, user: usize,
  c: usize, // block origin C(row0, col0)
  ldc: i32, row0: i32, col0: i32, rows: i32, cols: i32,
): void {
  if (bias) add_bias(bias, c, ldc, col0, rows, cols);
  if (post) post(user, c, ldc, row0, col0, rows, cols);
}

/** C = beta · C on (m, n), writing zeros without reading when beta = 0. */
function scale_c(m: i32, n: i32, beta: f32, c: usize, ldc: i32): void {
  if (beta == 1) return;
  for (let i = 0; i < m; ++i) {
    const row = c + ((<usize>i * <usize>ldc) << 2);
    if (beta == 0) memory.fill(row, 0, <usize>n << 2);
    else for (let j = 0; j < n; ++j) store<f32>(row + (<usize>j << 2), beta * load<f32>(row + (<usize>j << 2)));
  }
}

/**
 * C = alpha · op(A) · op(B) + beta · C, then C += bias (per column) and `post` on every
 * finished block. beta = 0 never reads C; alpha = 0 or k = 0 never reads A or B.
 */
export function sgemm_epilogue(
  ta: bool, tb: bool, m: i32, n: i32, k: i32, alpha: f32,
  a: usize, // (m, k) if !ta, else (k, m); row stride lda
  lda: i32,
  b: usize, // (k, n) if !tb, else (n, k); row stride ldb
  ldb: i32,
  beta: f32,
  c: usize, // (m, n), row stride ldc
  ldc: i32,
  bias: usize, // (n) or 0
  post: Post | null, user: usize,
  path: i32,
): void {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == 0) {
    scale_c(m, n, beta, c, ldc);
    finish(bias, post, user, c, ldc, 0, 0, m, n);
    return;
  }
  if (path == PATH_AUTO) path = gemm_path(ta, tb, m, n, k);
  if (path == PATH_DIRECT || (ta && tb)) {
    if (!tb) sgemm_direct_rows(ta, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else if (!ta) sgemm_direct_nt(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else sgemm_naive(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    finish(bias, post, user, c, ldc, 0, 0, m, n);
    return;
  }

  if (beta != 0 && beta != 1) scale_c(m, n, beta, c, ldc);
  const kc_block = balanced_block(k, KC, 4);
  const mc_block = balanced_block(m, MC, MR);
  const nc_block = balanced_block(n, NC, NR);
  const packed_b = workspace;
  const packed_a = workspace + (<usize>KC * <usize>min(round_up(n, NR), NC) << 2);
  if (<usize>(packed_a - workspace) + (<usize>KC * MC << 2) > workspace_size) {
    throw new Error("sgemm: the packing workspace is too small for this product");
  }
  const lda_bytes = <usize>lda << 2;
  const ldb_bytes = <usize>ldb << 2;
  const ldc_bytes = <usize>ldc << 2;
  for (let jc = 0; jc < n; jc += nc_block) {
    const nc = min(nc_block, n - jc);
    for (let pc = 0; pc < k; pc += kc_block) {
      const kc = min(kc_block, k - pc);
      const b_origin = tb ? b + <usize>jc * ldb_bytes + (<usize>pc << 2) : b + <usize>pc * ldb_bytes + (<usize>jc << 2);
      pack_b(tb, kc, nc, b_origin, ldb, packed_b);
      const accumulate = pc > 0 || beta != 0;
      const last = pc + kc >= k;
      for (let ic = 0; ic < m; ic += mc_block) {
        const mc = min(mc_block, m - ic);
        pack_a(ta, mc, kc, ta ? a + <usize>pc * lda_bytes + (<usize>ic << 2) : a + <usize>ic * lda_bytes + (<usize>pc << 2), lda, packed_a);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const panel = packed_b + <usize>(jr / NR) * <usize>kc * (NR * 4);
          const c_strip = c + <usize>ic * ldc_bytes + (<usize>(jc + jr) << 2);
          let ap = packed_a;
          for (let ir = 0; ir < mc; ir += MR, ap += <usize>kc * (MR * 4)) {
            sgemm_ukernel_4x8(min(MR, mc - ir), nr, kc, ap, panel, alpha, accumulate, c_strip + <usize>ir * ldc_bytes, ldc_bytes);
          }
          if (last) finish(bias, post, user, c_strip, ldc, ic, jc + jr, mc, nr);
        }
      }
    }
  }
}
