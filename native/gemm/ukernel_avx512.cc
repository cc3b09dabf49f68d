// AVX-512F micro-kernel (12x32). Structurally the AVX2 6x16 kernel with
// zmm registers: same packed layouts, same template over the row count for
// the m edge, same alpha/beta arithmetic; the n edge uses AVX-512 mask
// registers instead of maskload/maskstore.
//
// Loop structure (driver, gemm.cc):
//   jc: n by NC  ->  pc: k by KC  ->  ic: m by MC [pack A]
//     -> jr: by NR=32 [pack B micro-panel on first use]  ->  ir: by MR=12
//     -> sgemm_ukernel_12x32_avx512
//
// Packed layouts:
//   A micro-panel (kc, 12): element (i, p) at p*12 + i
//   B micro-panel (kc, 32): element (p, j) at p*32 + j   (two zmm loads per p)
//
// Register blocking: 12 rows x 2 zmm = 24 accumulators + 2 B + 1 broadcast
// = 27 of 32 zmm; 2 loads + 12 broadcasts per 24 FMAs.
// KC=192 keeps the B micro-panel (24 KB) inside a 32 KB or 48 KB L1d.
//
// Status: compiled and linked on every x86-64 build, but not yet executed on
// AVX-512 hardware, and its blocksizes are not tuned. The dispatcher selects
// it only when the CPU reports AVX-512F.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stdint.h>

#include "ukernel.h"

#define MLPKIT_AVX512 __attribute__((target("avx512f")))
#define MLPKIT_AVX512_INLINE __attribute__((target("avx512f"), always_inline)) inline

namespace mlpkit {
namespace {

template <int M>
MLPKIT_AVX512_INLINE void step_12x32(__m512 (&acc0)[M], __m512 (&acc1)[M],
                                     const float* a,  // packed A, one k step
                                     const float* b) {  // packed B, one k step
  const __m512 b0 = _mm512_load_ps(b);
  const __m512 b1 = _mm512_load_ps(b + 16);
  _Pragma("GCC unroll 16")
  for (int i = 0; i < M; ++i) {
    const __m512 ai = _mm512_set1_ps(a[i]);
    acc0[i] = _mm512_fmadd_ps(ai, b0, acc0[i]);
    acc1[i] = _mm512_fmadd_ps(ai, b1, acc1[i]);
  }
}

template <int M>
MLPKIT_AVX512_INLINE void tile_12x32(int nr, int k, float alpha,
                                     const float* a,  // packed (k, 12)
                                     const float* b,  // packed (k, 32)
                                     float beta,
                                     float* c,  // (M, nr), ldc
                                     int ldc) {
  __m512 acc0[M], acc1[M];
  _Pragma("GCC unroll 16")
  for (int i = 0; i < M; ++i) acc0[i] = acc1[i] = _mm512_setzero_ps();
  _Pragma("GCC unroll 16")
  for (int i = 0; i < M; ++i) {
    _mm_prefetch(reinterpret_cast<const char*>(c + static_cast<long>(i) * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + static_cast<long>(i) * ldc + 31), _MM_HINT_T0);
  }
  // Unrolled by the compiler rather than by hand (see the AVX2 kernel).
  _Pragma("GCC unroll 4")
  for (int p = 0; p < k; ++p) {
    step_12x32<M>(acc0, acc1, a, b);
    a += 12;
    b += 32;
  }

  const __m512 va = _mm512_set1_ps(alpha);
  const __m512 vb = _mm512_set1_ps(beta);
  if (nr == 32) {
    _Pragma("GCC unroll 16")
    for (int i = 0; i < M; ++i) {
      float* ci = c + static_cast<long>(i) * ldc;
      __m512 r0 = _mm512_mul_ps(acc0[i], va);
      __m512 r1 = _mm512_mul_ps(acc1[i], va);
      if (beta != 0.0f) {
        r0 = _mm512_fmadd_ps(_mm512_loadu_ps(ci), vb, r0);
        r1 = _mm512_fmadd_ps(_mm512_loadu_ps(ci + 16), vb, r1);
      }
      _mm512_storeu_ps(ci, r0);
      _mm512_storeu_ps(ci + 16, r1);
    }
  } else {
    const __mmask16 m0 = nr >= 16 ? static_cast<__mmask16>(0xFFFF)
                                  : static_cast<__mmask16>((1u << nr) - 1u);
    const __mmask16 m1 = nr <= 16 ? static_cast<__mmask16>(0)
                                  : static_cast<__mmask16>((1u << (nr - 16)) - 1u);
    _Pragma("GCC unroll 16")
    for (int i = 0; i < M; ++i) {
      float* ci = c + static_cast<long>(i) * ldc;
      __m512 r0 = _mm512_mul_ps(acc0[i], va);
      __m512 r1 = _mm512_mul_ps(acc1[i], va);
      if (beta != 0.0f) {
        r0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, ci), vb, r0);
        r1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, ci + 16), vb, r1);
      }
      _mm512_mask_storeu_ps(ci, m0, r0);
      _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
  }
}

}  // namespace

MLPKIT_AVX512 void sgemm_ukernel_12x32_avx512(int mr, int nr, int k, float alpha,
                                              const float* a,  // packed (k, 12)
                                              const float* b,  // packed (k, 32)
                                              float beta,
                                              float* c,  // (mr, nr), ldc
                                              int ldc) {
  switch (mr) {
    case 12: tile_12x32<12>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 11: tile_12x32<11>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 10: tile_12x32<10>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 9: tile_12x32<9>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 8: tile_12x32<8>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 7: tile_12x32<7>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 6: tile_12x32<6>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 5: tile_12x32<5>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 4: tile_12x32<4>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 3: tile_12x32<3>(nr, k, alpha, a, b, beta, c, ldc); break;
    case 2: tile_12x32<2>(nr, k, alpha, a, b, beta, c, ldc); break;
    default: tile_12x32<1>(nr, k, alpha, a, b, beta, c, ldc); break;
  }
}

}  // namespace mlpkit

#endif  // x86
