// Internal: the x86 SIMD micro-kernel body shared by the AVX2 (6x16) and
// AVX-512 (12x32) kernels. Include only from an ISA file (ukernel_avx2.cc,
// ukernel_avx512.cc), after defining MLPKIT_UKERNEL_X86_INLINE.
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
//   zero, set1, broadcast(p)   broadcast reads one float from memory
//   load(p)                    aligned (packed B only); loadu / storeu for C
//   mul, fmadd(a, b, c)        a*b + c with one rounding
//   tail_masks(nr, m0, m1)     masks for the first nr of the 2*kWidth columns
//   maskz_loadu(p, m)          masked-off lanes read as 0 and never touch memory
//   mask_storeu(p, m, v)       masked-off lanes are not written
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

template <class V, int M>
MLPKIT_UKERNEL_X86_INLINE void ukernel_tile(int nr, int k, float alpha,
                                            const float* a,  // packed (k, MR)
                                            const float* b,  // packed (k, NR)
                                            float beta,
                                            float* c,  // (M, nr), ldc
                                            int ldc) {
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
  _Pragma("GCC unroll 4")
  for (int p = 0; p < k; ++p) {
    ukernel_step<V, M>(acc0, acc1, a, b);
    a += MR;
    b += NR;
  }

  const Vec va = V::set1(alpha);
  const Vec vb = V::set1(beta);
  if (nr == NR) {
    _Pragma("GCC unroll 16")
    for (int i = 0; i < M; ++i) {
      float* ci = c + static_cast<long>(i) * ldc;
      Vec r0 = V::mul(acc0[i], va);
      Vec r1 = V::mul(acc1[i], va);
      if (beta != 0.0f) {
        r0 = V::fmadd(V::loadu(ci), vb, r0);
        r1 = V::fmadd(V::loadu(ci + W), vb, r1);
      }
      V::storeu(ci, r0);
      V::storeu(ci + W, r1);
    }
  } else {
    typename V::Mask m0, m1;
    V::tail_masks(nr, m0, m1);
    _Pragma("GCC unroll 16")
    for (int i = 0; i < M; ++i) {
      float* ci = c + static_cast<long>(i) * ldc;
      Vec r0 = V::mul(acc0[i], va);
      Vec r1 = V::mul(acc1[i], va);
      if (beta != 0.0f) {
        r0 = V::fmadd(V::maskz_loadu(ci, m0), vb, r0);
        r1 = V::fmadd(V::maskz_loadu(ci + W, m1), vb, r1);
      }
      V::mask_storeu(ci, m0, r0);
      V::mask_storeu(ci + W, m1, r1);
    }
  }
}

// Picks the instantiation for mr rows, full tiles first (one compare on the
// hot path); mr <= 1 runs the 1-row tile.
template <class V, int M>
MLPKIT_UKERNEL_X86_INLINE void ukernel_rows(int mr, int nr, int k, float alpha, const float* a,
                                            const float* b, float beta, float* c, int ldc) {
  if constexpr (M > 1) {
    if (mr < M) {
      ukernel_rows<V, M - 1>(mr, nr, k, alpha, a, b, beta, c, ldc);
      return;
    }
  }
  ukernel_tile<V, M>(nr, k, alpha, a, b, beta, c, ldc);
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
  ukernel_rows<V, V::kMr>(mr, nr, k, alpha, a, b, beta, c, ldc);
}

}  // namespace
}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_GEMM_UKERNEL_X86_H_
