// AVX2 + FMA micro-kernel (6x16), A/B packing and direct small-problem path.
//
// The micro-kernel body is the template in ukernel_x86.h, shared with the
// AVX-512 kernel; Avx2Traits below supplies its ymm instructions.
//
// Every function here carries __attribute__((target("avx2,fma"))) instead of
// the file being built with -mavx2: the rest of the binary stays baseline
// x86-64 and the dispatcher only calls in here after checking the CPU. No
// standard-library templates are instantiated in this file, so no AVX2 code
// can leak into a COMDAT symbol shared with baseline code.
//
// Loop structure (driver, gemm.cc):
//   jc: n by NC  ->  pc: k by KC  ->  ic: m by MC [pack A]
//     -> jr: by NR=16 [pack B micro-panel on first use]  ->  ir: by MR=6
//     -> sgemm_ukernel_6x16_avx2, or sgemm_ukernel_rows_6x16_avx2 on a
//        row-major A read in place
//
// Packed layouts:
//   A micro-panel (kc, 6):  element (i, p) at p*6 + i    (broadcast per row)
//   B micro-panel (kc, 16): element (p, j) at p*16 + j   (two ymm loads per p)
//
// Register blocking: 6 rows x 2 ymm = 12 accumulators, 2 for B, 1 for the
// A broadcast = 15 of 16 ymm. Per k step: 2 loads + 6 broadcasts feed
// 12 FMAs, so with two FMA pipes (Zen 2/3, Haswell..) the kernel is FMA-bound
// and 12 independent chains cover the 4-5 cycle FMA latency.
//
// Blocksizes (gemm.cc has the table for all ISAs): KC=256 keeps the B
// micro-panel (16 KB) in half of a 32 KB L1d; MC*KC*4 (A block, 144 KB) sits
// in L2; KC*NC*4 (B block) in L3. On Zen 3, KC in 192..384 and MC in 48..144
// measured within noise of each other; the kernel alone runs at ~98% of the
// FMA peak with A streaming from L2.
//
// Edges: rows m % 6 use the same template instantiated for fewer rows (no
// wasted FMAs); columns n % 16 use vmaskmovps loads/stores of C with the same
// arithmetic, so an element's value never depends on its tile position.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stdint.h>

#include "ukernel.h"

#define MLPKIT_AVX2 __attribute__((target("avx2,fma")))
#define MLPKIT_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline
#define MLPKIT_UKERNEL_X86_INLINE MLPKIT_AVX2_INLINE

#include "ukernel_x86.h"

namespace mlpkit {
namespace {

// Sliding window for lane masks: loading 8 ints at kMaskWindow + 16 - r
// enables exactly the first r lanes (0 <= r <= 16).
alignas(64) const int32_t kMaskWindow[32] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0};

MLPKIT_AVX2_INLINE __m256i first_lanes(int r) {  // r in [-8, 16]
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kMaskWindow + 16 - r));
}

// Instruction choice for the shared micro-kernel (ukernel_x86.h). AVX2 has
// no mask registers: C edges use vmaskmovps with lane vectors from
// kMaskWindow.
struct Avx2Traits {
  using Vec = __m256;
  using Mask = __m256i;
  static constexpr int kWidth = 8;
  static constexpr int kMr = 6;
  static constexpr int kDirectRows = 3;  // 9 accumulators + 3 + 3 rows of 16 ymm

  MLPKIT_AVX2_INLINE static Vec zero() { return _mm256_setzero_ps(); }
  MLPKIT_AVX2_INLINE static Vec set1(float x) { return _mm256_set1_ps(x); }
  MLPKIT_AVX2_INLINE static Vec broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  MLPKIT_AVX2_INLINE static Vec load(const float* p) { return _mm256_load_ps(p); }
  MLPKIT_AVX2_INLINE static Vec loadu(const float* p) { return _mm256_loadu_ps(p); }
  MLPKIT_AVX2_INLINE static void storeu(float* p, Vec v) { _mm256_storeu_ps(p, v); }
  MLPKIT_AVX2_INLINE static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  MLPKIT_AVX2_INLINE static Vec fmadd(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  MLPKIT_AVX2_INLINE static void tail_masks(int nr, Mask& m0, Mask& m1) {  // 0 < nr < 16
    m0 = first_lanes(nr);
    m1 = first_lanes(nr - 8);
  }
  MLPKIT_AVX2_INLINE static Vec maskz_loadu(const float* p, Mask m) {
    return _mm256_maskload_ps(p, m);
  }
  MLPKIT_AVX2_INLINE static void mask_storeu(float* p, Mask m, Vec v) {
    _mm256_maskstore_ps(p, m, v);
  }
  MLPKIT_AVX2_INLINE static float hsum(Vec v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
  }
  MLPKIT_AVX2_INLINE static float fmadd1(float a, float b, float c) {
    return _mm_cvtss_f32(_mm_fmadd_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c)));
  }
};

MLPKIT_AVX2_INLINE void transpose_8x8(__m256& r0, __m256& r1, __m256& r2, __m256& r3,
                                      __m256& r4, __m256& r5, __m256& r6, __m256& r7) {
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r0 = _mm256_permute2f128_ps(s0, s4, 0x20);
  r1 = _mm256_permute2f128_ps(s1, s5, 0x20);
  r2 = _mm256_permute2f128_ps(s2, s6, 0x20);
  r3 = _mm256_permute2f128_ps(s3, s7, 0x20);
  r4 = _mm256_permute2f128_ps(s0, s4, 0x31);
  r5 = _mm256_permute2f128_ps(s1, s5, 0x31);
  r6 = _mm256_permute2f128_ps(s2, s6, 0x31);
  r7 = _mm256_permute2f128_ps(s3, s7, 0x31);
}

// B packing. The NT form (forward pass: B = weights stored (n, k)) needs a
// transpose; doing it as 8x8 register transposes reads 8 contiguous floats
// per row instead of gathering one float from each of NR rows, which is what
// makes packing affordable when m (the batch) is only 64.
template <int NR>
MLPKIT_AVX2_INLINE void pack_b_avx2(Trans tb, int k, int n,
                                    const float* b,  // (k, n) if No, (n, k) if Yes; ldb
                                    int ldb,
                                    float* out) {  // ceil(n/NR) * (k, NR)
  static_assert(NR % 8 == 0, "NR must be a multiple of 8");
  for (int j0 = 0; j0 < n; j0 += NR) {
    const int nr = n - j0 < NR ? n - j0 : NR;
    if (tb == Trans::No) {
      for (int p = 0; p < k; ++p) {
        const float* src = b + static_cast<long>(p) * ldb + j0;
        float* dst = out + p * NR;
        if (nr == NR) {
          for (int v = 0; v < NR; v += 8) _mm256_store_ps(dst + v, _mm256_loadu_ps(src + v));
        } else {
          for (int v = 0; v < NR; v += 8)
            _mm256_store_ps(dst + v, _mm256_maskload_ps(
                                         src + v, first_lanes(nr - v < 0 ? 0 : nr - v > 8 ? 8 : nr - v)));
        }
      }
    } else if (nr == NR) {
      const float* src = b + static_cast<long>(j0) * ldb;
      int p = 0;
      for (; p + 8 <= k; p += 8) {
        for (int g = 0; g < NR; g += 8) {
          const float* s = src + static_cast<long>(g) * ldb + p;
          __m256 r0 = _mm256_loadu_ps(s + 0L * ldb), r1 = _mm256_loadu_ps(s + 1L * ldb);
          __m256 r2 = _mm256_loadu_ps(s + 2L * ldb), r3 = _mm256_loadu_ps(s + 3L * ldb);
          __m256 r4 = _mm256_loadu_ps(s + 4L * ldb), r5 = _mm256_loadu_ps(s + 5L * ldb);
          __m256 r6 = _mm256_loadu_ps(s + 6L * ldb), r7 = _mm256_loadu_ps(s + 7L * ldb);
          transpose_8x8(r0, r1, r2, r3, r4, r5, r6, r7);
          float* d = out + p * NR + g;
          _mm256_store_ps(d + 0 * NR, r0);
          _mm256_store_ps(d + 1 * NR, r1);
          _mm256_store_ps(d + 2 * NR, r2);
          _mm256_store_ps(d + 3 * NR, r3);
          _mm256_store_ps(d + 4 * NR, r4);
          _mm256_store_ps(d + 5 * NR, r5);
          _mm256_store_ps(d + 6 * NR, r6);
          _mm256_store_ps(d + 7 * NR, r7);
        }
      }
      for (; p < k; ++p)
        for (int j = 0; j < NR; ++j) out[p * NR + j] = src[static_cast<long>(j) * ldb + p];
    } else {
      const float* src = b + static_cast<long>(j0) * ldb;
      for (int p = 0; p < k; ++p) {
        for (int j = 0; j < nr; ++j) out[p * NR + j] = src[static_cast<long>(j) * ldb + p];
        for (int j = nr; j < NR; ++j) out[p * NR + j] = 0.0f;
      }
    }
    out += static_cast<long>(k) * NR;
  }
}

// A packing for MR <= 8. The N form (A stored (m, k): activations, deltas)
// is an 8x8 register transpose of MR rows; the T form (A stored (k, m))
// copies MR contiguous floats per k. Both write each (MR)-slot with a full
// 8-float store that spills into the next slot (rewritten right after) or
// into the workspace slack: cheaper than masked stores on AMD cores.
template <int MR>
MLPKIT_AVX2_INLINE void pack_a_avx2(Trans ta, int m, int k,
                                    const float* a,  // (m, k) if No, (k, m) if Yes; lda
                                    int lda,
                                    float* out) {  // ceil(m/MR) * (k, MR) + 8 floats slack
  static_assert(MR <= 8, "one ymm per k step");
  for (int i0 = 0; i0 < m; i0 += MR) {
    const int mr = m - i0 < MR ? m - i0 : MR;
    if (ta == Trans::No) {
      const float* src = a + static_cast<long>(i0) * lda;
      int p = 0;
      for (; p + 8 <= k; p += 8) {
        __m256 r[8];
        _Pragma("GCC unroll 8")
        for (int q = 0; q < 8; ++q)
          r[q] = q < mr ? _mm256_loadu_ps(src + static_cast<long>(q) * lda + p) : _mm256_setzero_ps();
        transpose_8x8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
        _Pragma("GCC unroll 8")
        for (int q = 0; q < 8; ++q) _mm256_storeu_ps(out + (p + q) * MR, r[q]);
      }
      for (; p < k; ++p)
        for (int i = 0; i < MR; ++i)
          out[p * MR + i] = i < mr ? src[static_cast<long>(i) * lda + p] : 0.0f;
    } else {
      const float* src = a + i0;
      const __m256i mask = first_lanes(mr);
      if (i0 + 8 <= m) {
        for (int p = 0; p < k; ++p)
          _mm256_storeu_ps(out + p * MR, _mm256_loadu_ps(src + static_cast<long>(p) * lda));
      } else {
        for (int p = 0; p < k; ++p)
          _mm256_storeu_ps(out + p * MR, _mm256_maskload_ps(src + static_cast<long>(p) * lda, mask));
      }
    }
    out += static_cast<long>(k) * MR;
  }
}

}  // namespace

MLPKIT_AVX2 void sgemm_ukernel_6x16_avx2(int mr, int nr, int k, float alpha,
                                         const float* a,  // packed (k, 6)
                                         const float* b,  // packed (k, 16)
                                         float beta,
                                         float* c,  // (mr, nr), ldc
                                         int ldc) {
  ukernel<Avx2Traits>(mr, nr, k, alpha, a, b, beta, c, ldc);
}

MLPKIT_AVX2 void sgemm_ukernel_rows_6x16_avx2(int mr, int nr, int k, float alpha,
                                              const float* a,  // (mr, k), lda
                                              int lda,
                                              const float* b,  // packed (k, 16)
                                              float beta,
                                              float* c,  // (mr, nr), ldc
                                              int ldc) {
  ukernel_a_in_place<Avx2Traits, ARead::kRows>(mr, nr, k, alpha, a, lda, b, beta, c, ldc);
}

MLPKIT_AVX2 void sgemm_ukernel_columns_6x16_avx2(int mr, int nr, int k, float alpha,
                                             const float* a,  // (k, mr), lda
                                             int lda,
                                             const float* b,  // packed (k, 16)
                                             float beta,
                                             float* c,  // (mr, nr), ldc
                                             int ldc) {
  ukernel_a_in_place<Avx2Traits, ARead::kColumns>(mr, nr, k, alpha, a, lda, b, beta, c, ldc);
}

MLPKIT_AVX2 void sgemm_pack_a_mr6_avx2(Trans ta, int m, int k, const float* a, int lda,
                                       float* out) {
  pack_a_avx2<6>(ta, m, k, a, lda, out);
}

MLPKIT_AVX2 void sgemm_pack_b_nr16_avx2(Trans tb, int k, int n, const float* b, int ldb,
                                        float* out) {
  pack_b_avx2<16>(tb, k, n, b, ldb, out);
}

MLPKIT_AVX2 void sgemm_pack_b_nr32_avx2(Trans tb, int k, int n, const float* b, int ldb,
                                        float* out) {
  pack_b_avx2<32>(tb, k, n, b, ldb, out);
}

namespace {

// The first `count` (1 to 8) floats of v to p, by plain stores of 8, 4, 2 and 1: a masked store
// (vmaskmovps) is microcoded on AMD cores, and the transposing store below writes rows of
// MR = 6 floats, every one of them partial.
MLPKIT_AVX2_INLINE void store_first(float* p, __m256 v, int count) {
  if (count == 8) {
    _mm256_storeu_ps(p, v);
    return;
  }
  __m128 part = _mm256_castps256_ps128(v);
  if (count >= 4) {
    _mm_storeu_ps(p, part);
    part = _mm256_extractf128_ps(v, 1);
    p += 4;
    count -= 4;
  }
  if (count >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(p), part);
    part = _mm_movehl_ps(part, part);
    p += 2;
    count -= 2;
  }
  if (count == 1) _mm_store_ss(p, part);
}

}  // namespace

// C(j, i) = T(i, j) (+ bias[i]) for a tile of up to 8 rows by 16 columns, ld apart
// (TransposeTileFn): 8x8 register transposes, rows past `rows` and columns past `cols` read as
// 0, `rows` floats written per row of C.
MLPKIT_AVX2 void sgemm_transpose_tile_avx2(int rows, int cols, const float* t, int ld, const float* bias, float* c, int ldc) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int j0 = 0; j0 < cols; j0 += 8) {
    const int width = cols - j0 < 8 ? cols - j0 : 8;
    const __m256i in_lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32(width), lane);
    __m256 r[8];
    for (int i = 0; i < 8; ++i) {
      r[i] = i < rows ? _mm256_maskload_ps(t + static_cast<long>(i) * ld + j0, in_lanes) : _mm256_setzero_ps();
      if (bias != nullptr && i < rows) r[i] = _mm256_add_ps(r[i], _mm256_set1_ps(bias[i]));
    }
    transpose_8x8(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
    for (int j = 0; j < width; ++j) store_first(c + static_cast<long>(j0 + j) * ldc, r[j], rows);
  }
}

MLPKIT_AVX2 void sgemm_direct_avx2(Trans ta, Trans tb, int m, int n, int k, float alpha,
                                   const float* a,  // (m, k) if ta == No else (k, m); lda
                                   int lda,
                                   const float* b,  // (k, n) if tb == No else (n, k); ldb
                                   int ldb, float beta,
                                   float* c,  // (m, n), ldc
                                   int ldc) {
  if (tb == Trans::No) {
    direct_nn<Avx2Traits>(ta, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (ta == Trans::Yes) {
    // TT has no MLP use; the portable loop is correct and good enough.
    sgemm_direct_scalar(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  direct_nt<Avx2Traits>(m, n, k, alpha, a, lda, b, ldb, nullptr, beta, c, ldc);
}

MLPKIT_AVX2 void sgemm_direct_dots_avx2(int m, int n, int k, float alpha, const float* a, int lda, const float* dots, float beta,
                                        float* c, int ldc) {
  direct_nt<Avx2Traits>(m, n, k, alpha, a, lda, nullptr, 0, dots, beta, c, ldc);
}

}  // namespace mlpkit

#endif  // x86
