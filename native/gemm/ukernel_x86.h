// Internal: the x86 SIMD micro-kernel body shared by the AVX2 (6x16) and
// AVX-512 (12x32) kernels, and the NT form of their direct path. Include only
// from an ISA file (ukernel_avx2.cc, ukernel_avx512.cc), after defining
// MLPKIT_UKERNEL_X86_INLINE.
//
// Shape: an MR x NR tile with NR = 2 vectors, so every row of C is two
// vector accumulators and every k step is
//   2 aligned loads of B + MR broadcasts of A  ->  2*MR independent FMAs.
// MR (6 or 12) fills the register file: 2*MR accumulators + 2 for B + 1
// broadcast = 15 of 16 ymm (AVX2) or 27 of 32 zmm (AVX-512), and 2*MR chains
// are enough to cover the FMA latency on two pipes.
//
// Packed layouts (every ISA, see gemm.cc):
//   A micro-panel (kc, MR): element (i, p) at p*MR + i   (one broadcast per row)
//   B micro-panel (kc, NR): element (p, j) at p*NR + j   (two vector loads per p)
//
// Edges: rows mr < MR run the same template instantiated for M = mr rows (no
// wasted FMAs); columns nr < NR keep the full-width arithmetic and only mask
// the loads and stores of C, so an element's value never depends on its tile
// position. The masking is the one place the ISAs differ in kind (AVX2:
// integer lane vectors for vmaskmovps; AVX-512: k registers), so it lives in
// the traits with the rest of the instruction choice.
//
// Vector traits V (a struct of static always-inline functions):
//   Vec, Mask                  register and lane-mask types
//   kWidth, kMr                floats per vector; rows per tile (MR)
//   kDirectRows                rows of A per tile of the direct NT path
//   zero, set1, broadcast(p)   broadcast reads one float from memory
//   load(p)                    aligned (packed B only); loadu / storeu for C
//   mul, fmadd(a, b, c)        a*b + c with one rounding
//   tail_masks(nr, m0, m1)     masks for the first nr of the 2*kWidth columns
//   maskz_loadu(p, m)          masked-off lanes read as 0 and never touch memory
//   mask_storeu(p, m, v)       masked-off lanes are not written
//   hsum(v)                    the sum of v's lanes, by a fixed tree
//   fmadd1(a, b, c)            a*b + c on one float with one rounding
//
// Target: GCC and Clang inline an always_inline function only into a caller
// compiled for a superset of its ISA, so every function here carries the
// including file's target attribute through MLPKIT_UKERNEL_X86_INLINE.
// `#pragma GCC target` would do the same for GCC but Clang ignores it.
// Everything is in an unnamed namespace and the traits are defined in each
// ISA file's unnamed namespace: each file gets its own copy of the template,
// and no instantiation can become a COMDAT symbol shared between files built
// for different ISAs.
#ifndef MLPKIT_NATIVE_GEMM_UKERNEL_X86_H_
#define MLPKIT_NATIVE_GEMM_UKERNEL_X86_H_

#ifndef MLPKIT_UKERNEL_X86_INLINE
#error "define MLPKIT_UKERNEL_X86_INLINE (target + always_inline) before including ukernel_x86.h"
#endif

#include <xmmintrin.h>

namespace mlpkit {
namespace {

// Where the micro-kernel reads A: packed micro-panels (element (i, p) at p·MR + i), rows of a
// row-major op(A) = A in place (at i·lda + p), or columns of a row-major A whose op(A) = Aᵀ in
// place (at p·lda + i: a packed panel with lda for MR).
enum class ARead { kPacked, kRows, kColumns };

template <class V, int M>
MLPKIT_UKERNEL_X86_INLINE void ukernel_step(typename V::Vec (&acc0)[M],
                                            typename V::Vec (&acc1)[M],
                                            const float* a,    // packed A, one k step
                                            const float* b) {  // packed B, one k step
  const typename V::Vec b0 = V::load(b);
  const typename V::Vec b1 = V::load(b + V::kWidth);
  _Pragma("GCC unroll 16")
  for (int i = 0; i < M; ++i) {
    const typename V::Vec ai = V::broadcast(a + i);
    acc0[i] = V::fmadd(ai, b0, acc0[i]);
    acc1[i] = V::fmadd(ai, b1, acc1[i]);
  }
}

// The same step with A read in place, row i at r[i / 4] + (i % 4)·lda: three base pointers
// and three multiples of lda keep twelve rows within x86 addressing, in registers.
template <class V, int M>
MLPKIT_UKERNEL_X86_INLINE void ukernel_step_rows(typename V::Vec (&acc0)[M],
                                                 typename V::Vec (&acc1)[M],
                                                 const float* const (&r)[3],  // rows 0, 4, 8 at this k
                                                 long lda,
                                                 const float* b) {  // packed B, one k step
  const typename V::Vec b0 = V::load(b);
  const typename V::Vec b1 = V::load(b + V::kWidth);
  _Pragma("GCC unroll 16")
  for (int i = 0; i < M; ++i) {
    const typename V::Vec ai = V::broadcast(r[i / 4] + (i % 4) * lda);
    acc0[i] = V::fmadd(ai, b0, acc0[i]);
    acc1[i] = V::fmadd(ai, b1, acc1[i]);
  }
}

// C(i, ·) = alpha·acc(i) (+ beta·C(i, ·)) for M rows of nr columns (all 2·kWidth when kFull, else
// the first nr < 2·kWidth through lane masks); beta == 0 never reads C.
template <class V, int M, bool kFull>
MLPKIT_UKERNEL_X86_INLINE void store_tile(const typename V::Vec (&acc0)[M], const typename V::Vec (&acc1)[M], int nr, float alpha,
                                          float beta, float* c, int ldc) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  typename V::Mask m0{}, m1{};
  if (!kFull) V::tail_masks(nr, m0, m1);
  const Vec va = V::set1(alpha), vb = V::set1(beta);
  _Pragma("GCC unroll 16")
  for (int i = 0; i < M; ++i) {
    float* ci = c + static_cast<long>(i) * ldc;
    Vec r0 = V::mul(acc0[i], va);
    Vec r1 = V::mul(acc1[i], va);
    if (kFull) {
      if (beta != 0.0f) {
        r0 = V::fmadd(V::loadu(ci), vb, r0);
        r1 = V::fmadd(V::loadu(ci + W), vb, r1);
      }
      V::storeu(ci, r0);
      V::storeu(ci + W, r1);
    } else {
      if (beta != 0.0f) {
        r0 = V::fmadd(V::maskz_loadu(ci, m0), vb, r0);
        r1 = V::fmadd(V::maskz_loadu(ci + W, m1), vb, r1);
      }
      V::mask_storeu(ci, m0, r0);
      V::mask_storeu(ci + W, m1, r1);
    }
  }
}

// A tile of M rows; A packed (a is the (k, MR) micro-panel) or read in place (ARead), with the
// same products in the same order either way.
template <class V, int M, ARead kRead = ARead::kPacked>
MLPKIT_UKERNEL_X86_INLINE void ukernel_tile(int nr, int k, float alpha,
                                            const float* a,  // packed (k, MR), rows (M, k) or columns (k, M), lda
                                            const float* b,  // packed (k, NR)
                                            float beta,
                                            float* c,  // (M, nr), ldc
                                            int ldc, long lda = 0) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth, MR = V::kMr, NR = 2 * W;
  Vec acc0[M], acc1[M];
  _Pragma("GCC unroll 16")
  for (int i = 0; i < M; ++i) acc0[i] = acc1[i] = V::zero();
  // C is touched only after the k loop; start its lines on the way now so
  // the write-back does not stall on L2/L3 (matters when k is short).
  _Pragma("GCC unroll 16")
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + static_cast<long>(i) * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + static_cast<long>(i) * ldc + NR - 1),
                 _MM_HINT_T0);
  }
  // Unrolled by the compiler rather than by hand: a hand-unrolled body plus
  // remainder loop made GCC 12 keep the accumulators in memory.
  if constexpr (kRead == ARead::kRows) {
    const float* r[3] = {a, a + 4 * lda, a + 8 * lda};
    _Pragma("GCC unroll 4")
    for (int p = 0; p < k; ++p) {
      ukernel_step_rows<V, M>(acc0, acc1, r, lda, b);
      for (const float*& row : r) ++row;
      b += NR;
    }
  } else {
    const long a_step = kRead == ARead::kColumns ? lda : MR;
    _Pragma("GCC unroll 4")
    for (int p = 0; p < k; ++p) {
      ukernel_step<V, M>(acc0, acc1, a, b);
      a += a_step;
      b += NR;
    }
  }

  if (nr == NR) {
    store_tile<V, M, true>(acc0, acc1, nr, alpha, beta, c, ldc);
  } else {
    store_tile<V, M, false>(acc0, acc1, nr, alpha, beta, c, ldc);
  }
}

// Picks the instantiation for mr rows, full tiles first (one compare on the
// hot path); mr <= 1 runs the 1-row tile.
template <class V, int M, ARead kRead>
MLPKIT_UKERNEL_X86_INLINE void ukernel_rows(int mr, int nr, int k, float alpha, const float* a,
                                            const float* b, float beta, float* c, int ldc, long lda) {
  if constexpr (M > 1) {
    if (mr < M) {
      ukernel_rows<V, M - 1, kRead>(mr, nr, k, alpha, a, b, beta, c, ldc, lda);
      return;
    }
  }
  ukernel_tile<V, M, kRead>(nr, k, alpha, a, b, beta, c, ldc, lda);
}

// The whole micro-kernel (UkernelFn contract, gemm.h) for tile V::kMr x
// 2*V::kWidth.
template <class V>
MLPKIT_UKERNEL_X86_INLINE void ukernel(int mr, int nr, int k, float alpha,
                                       const float* a,  // packed (k, MR)
                                       const float* b,  // packed (k, NR)
                                       float beta,
                                       float* c,  // (mr, nr), ldc
                                       int ldc) {
  ukernel_rows<V, V::kMr, ARead::kPacked>(mr, nr, k, alpha, a, b, beta, c, ldc, 0);
}

// The same with A read in place (UkernelRowsFn, gemm.h): by rows, row i of the tile at a + i·lda
// (a is (mr, k)); or by columns, op(A) = Aᵀ with element (i, p) at a + p·lda + i (a is (k, mr)).
template <class V, ARead kRead>
MLPKIT_UKERNEL_X86_INLINE void ukernel_a_in_place(int mr, int nr, int k, float alpha,
                                                  const float* a,  // rows (mr, k) or columns (k, mr), lda
                                                  int lda,
                                                  const float* b,  // packed (k, NR)
                                                  float beta,
                                                  float* c,  // (mr, nr), ldc
                                                  int ldc) {
  ukernel_rows<V, V::kMr, kRead>(mr, nr, k, alpha, a, b, beta, c, ldc, lda);
}

// Direct path, B not transposed (NN, TN): a tile of M rows of C by up to 2·kWidth columns, A
// broadcast straight from its source (op(A)(i, p) at i·sa_i + p·sa_p), B's rows read in place.
// Each element is one chain of FMAs over p in order, then alpha (and beta): the same arithmetic
// at any vector width, so the AVX2 and AVX-512 paths give the same bits.
template <class V, int M, bool kFull>
MLPKIT_UKERNEL_X86_INLINE void direct_tile_n(Trans ta, int nr, int k, float alpha,
                                             const float* a,  // origin A(i0, 0) of op(A); lda
                                             int lda,
                                             const float* b,  // origin B(0, j0); (k, nr), ldb
                                             int ldb, float beta,
                                             float* c,  // (M, nr), ldc
                                             int ldc) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  Vec acc0[M], acc1[M];
  _Pragma("GCC unroll 16")
  for (int i = 0; i < M; ++i) acc0[i] = acc1[i] = V::zero();
  typename V::Mask m0{}, m1{};
  if (!kFull) V::tail_masks(nr, m0, m1);
  const long sa_i = ta == Trans::No ? lda : 1;
  const long sa_p = ta == Trans::No ? 1 : lda;
  for (int p = 0; p < k; ++p) {
    const float* bp = b + static_cast<long>(p) * ldb;
    const Vec b0 = kFull ? V::loadu(bp) : V::maskz_loadu(bp, m0);
    const Vec b1 = kFull ? V::loadu(bp + W) : V::maskz_loadu(bp + W, m1);
    const float* ap = a + p * sa_p;
    _Pragma("GCC unroll 16")
    for (int i = 0; i < M; ++i) {
      const Vec ai = V::broadcast(ap + i * sa_i);
      acc0[i] = V::fmadd(ai, b0, acc0[i]);
      acc1[i] = V::fmadd(ai, b1, acc1[i]);
    }
  }
  store_tile<V, M, kFull>(acc0, acc1, nr, alpha, beta, c, ldc);
}

// M rows of C in tiles of 2·kWidth columns, the last one masked.
template <class V, int M>
MLPKIT_UKERNEL_X86_INLINE void direct_rows_n(Trans ta, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
                                             float beta, float* c, int ldc) {
  constexpr int NR = 2 * V::kWidth;
  int j = 0;
  for (; j + NR <= n; j += NR) direct_tile_n<V, M, true>(ta, NR, k, alpha, a, lda, b + j, ldb, beta, c + j, ldc);
  if (j < n) direct_tile_n<V, M, false>(ta, n - j, k, alpha, a, lda, b + j, ldb, beta, c + j, ldc);
}

// The last mr < M rows: the instantiation for exactly mr rows.
template <class V, int M>
MLPKIT_UKERNEL_X86_INLINE void direct_last_rows_n(int mr, Trans ta, int n, int k, float alpha, const float* a, int lda, const float* b,
                                                  int ldb, float beta, float* c, int ldc) {
  if constexpr (M > 1) {
    if (mr < M) {
      direct_last_rows_n<V, M - 1>(mr, ta, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  }
  direct_rows_n<V, M>(ta, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// The direct path's NN and TN forms (DirectFn, gemm.h, with tb = No): groups of kMr rows, then
// the rest.
template <class V>
MLPKIT_UKERNEL_X86_INLINE void direct_nn(Trans ta, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
                                         float beta, float* c, int ldc) {
  constexpr int R = V::kMr;
  const long sa_i = ta == Trans::No ? lda : 1;
  int i = 0;
  for (; i + R <= m; i += R) direct_rows_n<V, R>(ta, n, k, alpha, a + i * sa_i, lda, b, ldb, beta, c + static_cast<long>(i) * ldc, ldc);
  if (i < m) direct_last_rows_n<V, R - 1>(m - i, ta, n, k, alpha, a + i * sa_i, lda, b, ldb, beta, c + static_cast<long>(i) * ldc, ldc);
}

// Direct path, NT: C(i, j) = alpha * dot(A row i, B row j) (+ beta * C) along contiguous k (a
// prediction's few rows against the weights, W stored (n, k)). B is read one of two ways:
//   kRows   its rows in place, ldb apart;
//   kTiles  the layout of pack_dot_panels (gemm.h): tiles of NJ = kDotColumns rows whose chunks
//           of kWidth floats follow each other, the chunk of row j at k step p at
//           b + (p / kWidth)·NJ·kWidth + j·kWidth, zeros past k.
// The arithmetic is the same either way, so the bits are: tiles of MI rows of A by NJ rows of
// B, MI*NJ accumulators, MI + NJ loads per step of one vector along k. With one row of A this
// streams B once from wherever it lives (usually L3), so the tile keeps enough independent FMA
// chains for the loop to run at the speed of the read. Lane l of an element's accumulator holds
// its products at k ≡ l (mod kWidth); the k tail reads A masked (and B masked, or its zeros),
// and every element is reduced by the same tree whatever tile it is in.
// Tiles are what one row needs from memory: NJ streams for rows in place, prefetched one tile
// ahead; one stream, prefetched 4 KB ahead (a Zen 3 core read W2's weights at 0.75 of its read
// bound the first way, 0.9 the second).
enum class BRead { kRows, kTiles };

template <class V, int MI, int NJ, BRead kRead>
MLPKIT_UKERNEL_X86_INLINE void dot_products(int k, float alpha,
                                            const float* a,  // (MI, k), lda
                                            int lda,
                                            const float* b,  // (NJ, k), ldb; or a tile
                                            int ldb, float beta,
                                            float* c,  // (MI, cols), ldc
                                            int ldc, int cols) {
  using Vec = typename V::Vec;
  constexpr int W = V::kWidth;
  constexpr int kAhead = 1024;  // floats, for kTiles
  Vec acc[MI][NJ];
  for (int i = 0; i < MI; ++i)
    for (int j = 0; j < NJ; ++j) acc[i][j] = V::zero();
  const float* chunk = b;  // kTiles: the first chunk of the k step
  int p = 0;
  for (; p + W <= k; p += W, chunk += NJ * W) {
    // Every row is loaded once per step into a register (the empty asm keeps the compiler from
    // folding the loads into the FMAs): folded, a row would be read by each of its FMAs, and
    // an unaligned one (W at any offset of the state) split across two lines every time.
    Vec av[MI];
    for (int i = 0; i < MI; ++i) {
      av[i] = V::loadu(a + static_cast<long>(i) * lda + p);
      if (NJ > 1) asm("" : "+v"(av[i]));
    }
    if (kRead == BRead::kRows) {
      // Each 64-byte line of the next tile's rows is asked for one tile ahead (5–10 % at batch
      // 1; a prefetch past the last row is harmless, it never faults).
      if ((p & 15) == 0)
        for (int j = 0; j < NJ; ++j) _mm_prefetch(reinterpret_cast<const char*>(b + static_cast<long>(j + NJ) * ldb + p), _MM_HINT_T0);
    } else {
      for (int line = 0; line < NJ * W; line += 16) _mm_prefetch(reinterpret_cast<const char*>(chunk + kAhead + line), _MM_HINT_T0);
    }
    for (int j = 0; j < NJ; ++j) {
      Vec bv = kRead == BRead::kRows ? V::loadu(b + static_cast<long>(j) * ldb + p) : V::load(chunk + j * W);
      if (MI > 1) asm("" : "+v"(bv));
      for (int i = 0; i < MI; ++i) acc[i][j] = V::fmadd(av[i], bv, acc[i][j]);
    }
  }
  if (p < k) {
    typename V::Mask lanes, unused;
    V::tail_masks(k - p, lanes, unused);
    Vec av[MI];
    for (int i = 0; i < MI; ++i) av[i] = V::maskz_loadu(a + static_cast<long>(i) * lda + p, lanes);
    for (int j = 0; j < NJ; ++j) {
      const Vec bv = kRead == BRead::kRows ? V::maskz_loadu(b + static_cast<long>(j) * ldb + p, lanes) : V::load(chunk + j * W);
      for (int i = 0; i < MI; ++i) acc[i][j] = V::fmadd(av[i], bv, acc[i][j]);
    }
  }
  for (int i = 0; i < MI; ++i) {
    float* ci = c + static_cast<long>(i) * ldc;
    for (int j = 0; j < cols; ++j) {
      const float sum = V::hsum(acc[i][j]) * alpha;
      ci[j] = beta != 0.0f ? V::fmadd1(ci[j], beta, sum) : sum;
    }
  }
}

// MI rows of C: against B in place, tiles of NJ columns and then the last columns one at a
// time; or against the dot layout, tiles of kDotColumns columns, the last one's stores cut to
// the columns there are.
template <class V, int MI, int NJ>
MLPKIT_UKERNEL_X86_INLINE void direct_rows_nt(int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
                                              const float* dots, float beta, float* c, int ldc) {
  if (dots != nullptr) {
    const long tile_floats = static_cast<long>(kDotColumns) * ((k + V::kWidth - 1) / V::kWidth * V::kWidth);
    for (int j = 0; j < n; j += kDotColumns, dots += tile_floats)
      dot_products<V, MI, kDotColumns, BRead::kTiles>(k, alpha, a, lda, dots, 0, beta, c + j, ldc,
                                                      n - j < kDotColumns ? n - j : kDotColumns);
    return;
  }
  int j = 0;
  for (; j + NJ <= n; j += NJ)
    dot_products<V, MI, NJ, BRead::kRows>(k, alpha, a, lda, b + static_cast<long>(j) * ldb, ldb, beta, c + j, ldc, NJ);
  for (; j < n; ++j) dot_products<V, MI, 1, BRead::kRows>(k, alpha, a, lda, b + static_cast<long>(j) * ldb, ldb, beta, c + j, ldc, 1);
}

// The direct path's NT form (DirectFn, gemm.h, with ta = No and tb = Yes; and DirectDotsFn, on
// `dots` when it is not null): groups of V::kDirectRows rows of C in tiles of 3 columns
// (4 x 3 = 12 accumulators in zmm, 3 x 3 = 9 in ymm), the last rows in tiles of 4 columns, so
// that even one row keeps four FMA chains. On the dot layout every tile is 4 columns wide
// (4 x 4 = 16 accumulators in zmm, 3 x 4 = 12 in ymm, with one row of B live at a time).
template <class V>
MLPKIT_UKERNEL_X86_INLINE void direct_nt(int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
                                         const float* dots, float beta, float* c, int ldc) {
  constexpr int R = V::kDirectRows;
  int i = 0;
  for (; i + R <= m; i += R)
    direct_rows_nt<V, R, 3>(n, k, alpha, a + static_cast<long>(i) * lda, lda, b, ldb, dots, beta, c + static_cast<long>(i) * ldc, ldc);
  const float* ai = a + static_cast<long>(i) * lda;
  float* ci = c + static_cast<long>(i) * ldc;
  if constexpr (R > 3) {
    if (m - i == 3) direct_rows_nt<V, 3, 3>(n, k, alpha, ai, lda, b, ldb, dots, beta, ci, ldc);
  }
  if (m - i == 2) direct_rows_nt<V, 2, 4>(n, k, alpha, ai, lda, b, ldb, dots, beta, ci, ldc);
  if (m - i == 1) direct_rows_nt<V, 1, 4>(n, k, alpha, ai, lda, b, ldb, dots, beta, ci, ldc);
}

}  // namespace
}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_GEMM_UKERNEL_X86_H_
