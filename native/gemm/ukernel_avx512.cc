// AVX-512F micro-kernel (12x32): the template of ukernel_x86.h, shared with
// the AVX2 6x16 kernel, instantiated with zmm registers (Avx512Traits below).
// Same packed layouts, same template over the row count for the m edge, same
// alpha/beta arithmetic; the n edge masks the loads/stores of C with k
// registers instead of maskload/maskstore.
//
// Loop structure (driver, gemm.cc):
//   jc: n by NC  ->  pc: k by KC  ->  ic: m by MC [pack A]
//     -> jr: by NR=32 [pack B micro-panel on first use]  ->  ir: by MR=12
//     -> sgemm_ukernel_12x32_avx512, or sgemm_ukernel_rows_12x32_avx512 on a
//        row-major A read in place (its 12 rows at 3 base pointers + 0..3·lda), or
//        sgemm_ukernel_columns_12x32_avx512 on op(A) = Aᵀ read in place (12 floats of
//        row p at a + p·lda: a packed panel with lda for MR)
//
// Packed layouts:
//   A micro-panel (kc, 12): element (i, p) at p*12 + i
//   B micro-panel (kc, 32): element (p, j) at p*32 + j   (two zmm loads per p)
//
// Register blocking: 12 rows x 2 zmm = 24 accumulators + 2 B + 1 broadcast
// = 27 of 32 zmm; 2 loads + 12 broadcasts per 24 FMAs.
// KC=192 keeps the B micro-panel (24 KB) inside a 32 KB or 48 KB L1d.
//
// Edges: rows m % 12 use the template instantiated for fewer rows; columns
// n % 32 keep the full-width arithmetic, so an element's value never depends
// on its tile position.
//
// Direct path (small m, see GemmConfig): the NT form, a prediction's few rows against the
// weights read in place, as dot products in zmm (dot_products of ukernel_x86.h, in tiles of
// up to 4 x 3); the NN and TN forms in tiles of up to 12 rows x 32 columns (direct_nn), the
// same bits as the AVX2 loops.
//
// Status: passes the GEMM tests (test_gemm.cc) on AVX-512F hardware (its
// blocksizes: gemm.cc). The dispatcher selects it only when the CPU reports
// AVX-512F.
#if defined(__x86_64__) || defined(__i386__)

#include <immintrin.h>
#include <stdint.h>

#include "ukernel.h"

#define MLPKIT_AVX512 __attribute__((target("avx512f")))
#define MLPKIT_AVX512_INLINE __attribute__((target("avx512f"), always_inline)) inline
#define MLPKIT_UKERNEL_X86_INLINE MLPKIT_AVX512_INLINE

#include "ukernel_x86.h"

namespace mlpkit {
namespace {

// Instruction choice for the shared micro-kernel (ukernel_x86.h). C edges
// are k-register masks computed from nr: no lane table, no vmaskmovps.
struct Avx512Traits {
  using Vec = __m512;
  using Mask = __mmask16;
  static constexpr int kWidth = 16;
  static constexpr int kMr = 12;
  static constexpr int kDirectRows = 4;

  MLPKIT_AVX512_INLINE static Vec zero() { return _mm512_setzero_ps(); }
  MLPKIT_AVX512_INLINE static Vec set1(float x) { return _mm512_set1_ps(x); }
  MLPKIT_AVX512_INLINE static Vec broadcast(const float* p) { return _mm512_set1_ps(*p); }
  MLPKIT_AVX512_INLINE static Vec load(const float* p) { return _mm512_load_ps(p); }
  MLPKIT_AVX512_INLINE static Vec loadu(const float* p) { return _mm512_loadu_ps(p); }
  MLPKIT_AVX512_INLINE static void storeu(float* p, Vec v) { _mm512_storeu_ps(p, v); }
  MLPKIT_AVX512_INLINE static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  MLPKIT_AVX512_INLINE static Vec fmadd(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  MLPKIT_AVX512_INLINE static void tail_masks(int nr, Mask& m0, Mask& m1) {  // 0 < nr < 32
    m0 = nr >= 16 ? static_cast<Mask>(0xFFFF) : static_cast<Mask>((1u << nr) - 1u);
    m1 = nr <= 16 ? static_cast<Mask>(0) : static_cast<Mask>((1u << (nr - 16)) - 1u);
  }
  MLPKIT_AVX512_INLINE static Vec maskz_loadu(const float* p, Mask m) {
    return _mm512_maskz_loadu_ps(m, p);
  }
  MLPKIT_AVX512_INLINE static void mask_storeu(float* p, Mask m, Vec v) {
    _mm512_mask_storeu_ps(p, m, v);
  }
  MLPKIT_AVX512_INLINE static float hsum(Vec v) { return _mm512_reduce_add_ps(v); }
  MLPKIT_AVX512_INLINE static float fmadd1(float a, float b, float c) {
    return _mm_cvtss_f32(_mm_fmadd_round_ss(_mm_set_ss(a), _mm_set_ss(b), _mm_set_ss(c), _MM_FROUND_CUR_DIRECTION));
  }
};

}  // namespace

MLPKIT_AVX512 void sgemm_ukernel_12x32_avx512(int mr, int nr, int k, float alpha,
                                              const float* a,  // packed (k, 12)
                                              const float* b,  // packed (k, 32)
                                              float beta,
                                              float* c,  // (mr, nr), ldc
                                              int ldc) {
  ukernel<Avx512Traits>(mr, nr, k, alpha, a, b, beta, c, ldc);
}

MLPKIT_AVX512 void sgemm_ukernel_rows_12x32_avx512(int mr, int nr, int k, float alpha,
                                                   const float* a,  // (mr, k), lda
                                                   int lda,
                                                   const float* b,  // packed (k, 32)
                                                   float beta,
                                                   float* c,  // (mr, nr), ldc
                                                   int ldc) {
  ukernel_a_in_place<Avx512Traits, ARead::kRows>(mr, nr, k, alpha, a, lda, b, beta, c, ldc);
}

MLPKIT_AVX512 void sgemm_ukernel_columns_12x32_avx512(int mr, int nr, int k, float alpha,
                                                const float* a,  // (k, mr), lda
                                                int lda,
                                                const float* b,  // packed (k, 32)
                                                float beta,
                                                float* c,  // (mr, nr), ldc
                                                int ldc) {
  ukernel_a_in_place<Avx512Traits, ARead::kColumns>(mr, nr, k, alpha, a, lda, b, beta, c, ldc);
}

// GCC 12 warns that the placeholder its unpack and reduce intrinsics start from may be
// uninitialized (GCC bug 105593); the intrinsics overwrite every lane of it.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace {

// r[i] holds row i of a 16x16 block (16 floats along k); on return r[c] holds column c (the
// 16 rows' values at k offset c). Four rounds of 16 shuffles: 32-bit and 64-bit interleaves
// inside each 128-bit lane, then two rounds of 128-bit lane selects.
MLPKIT_AVX512_INLINE void transpose_16x16(__m512 (&r)[16]) {
  __m512 t[16], u[16], v[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);      // lane L: r_i[4L] r_i+1[4L] r_i[4L+1] r_i+1[4L+1]
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);  //         … [4L+2] and [4L+3]
  }
  for (int i = 0; i < 16; i += 4) {  // u[i + c]: columns 4L + c of rows i..i+3
    u[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    u[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
    u[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    u[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
  }
  for (int h = 0; h < 16; h += 8) {  // v[h + c], c < 8: columns c and c+8 of rows h..h+7
    for (int c = 0; c < 4; ++c) {
      v[h + c] = _mm512_shuffle_f32x4(u[h + c], u[h + 4 + c], 0x88);
      v[h + 4 + c] = _mm512_shuffle_f32x4(u[h + c], u[h + 4 + c], 0xdd);
    }
  }
  for (int c = 0; c < 8; ++c) {  // v[c]: columns c and c+8 of rows 0..7; v[8 + c]: of rows 8..15
    r[c] = _mm512_shuffle_f32x4(v[c], v[8 + c], 0x88);
    r[c + 8] = _mm512_shuffle_f32x4(v[c], v[8 + c], 0xdd);
  }
}

}  // namespace

// Loop structure: for each full panel of 32 rows of B (32 output columns), for k by 16: two
// 16x16 blocks (rows 0–15 and 16–31 of the panel) loaded as zmm rows along k, transposed, and
// stored as the 16 k-rows of the packed panel (element (p, j) at p*32 + j), the last k block
// with masked loads and only its rows stored. Everything else (the NN form, a last panel of
// fewer than 32 columns) goes to the AVX2 packer.
MLPKIT_AVX512 void sgemm_pack_b_nr32_avx512(Trans tb, int k, int n, const float* b, int ldb, float* out) {
  if (tb == Trans::No) {
    sgemm_pack_b_nr32_avx2(tb, k, n, b, ldb, out);
    return;
  }
  int j0 = 0;
  for (; j0 + 32 <= n; j0 += 32, out += static_cast<long>(k) * 32) {
    for (int p = 0; p < k; p += 16) {
      const int depth = k - p < 16 ? k - p : 16;
      const __mmask16 lanes = static_cast<__mmask16>(depth == 16 ? 0xFFFF : (1u << depth) - 1u);
      for (int g = 0; g < 32; g += 16) {
        __m512 r[16];
        const float* src = b + static_cast<long>(j0 + g) * ldb + p;
        for (int i = 0; i < 16; ++i) r[i] = _mm512_maskz_loadu_ps(lanes, src + static_cast<long>(i) * ldb);
        transpose_16x16(r);
        float* dst = out + static_cast<long>(p) * 32 + g;
        for (int c = 0; c < depth; ++c) _mm512_store_ps(dst + c * 32, r[c]);
      }
    }
  }
  if (j0 < n) sgemm_pack_b_nr32_avx2(tb, k, n - j0, b + static_cast<long>(j0) * ldb, ldb, out);
}

// C(j, i) = T(i, j) (+ bias[i]) for a tile of up to 16 rows by 32 columns, ld apart
// (TransposeTileFn): two 16x16 register transposes, rows past `rows` and columns past `cols`
// read as 0, `rows` floats written per row of C.
MLPKIT_AVX512 void sgemm_transpose_tile_avx512(int rows, int cols, const float* t, int ld, const float* bias, float* c, int ldc) {
  const __mmask16 out_lanes = static_cast<__mmask16>(rows >= 16 ? 0xFFFF : (1u << rows) - 1u);
  for (int j0 = 0; j0 < cols; j0 += 16) {
    const int width = cols - j0 < 16 ? cols - j0 : 16;
    const __mmask16 in_lanes = static_cast<__mmask16>(width == 16 ? 0xFFFF : (1u << width) - 1u);
    __m512 r[16];
    for (int i = 0; i < 16; ++i) {
      r[i] = i < rows ? _mm512_maskz_loadu_ps(in_lanes, t + static_cast<long>(i) * ld + j0) : _mm512_setzero_ps();
      if (bias != nullptr && i < rows) r[i] = _mm512_add_ps(r[i], _mm512_set1_ps(bias[i]));
    }
    transpose_16x16(r);
    for (int j = 0; j < width; ++j) _mm512_mask_storeu_ps(c + static_cast<long>(j0 + j) * ldc, out_lanes, r[j]);
  }
}

MLPKIT_AVX512 void sgemm_direct_avx512(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda,
                                       const float* b, int ldb, float beta, float* c, int ldc) {
  if (tb == Trans::No) {
    direct_nn<Avx512Traits>(ta, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (ta == Trans::Yes) {  // TT: the AVX2 path's portable loop
    sgemm_direct_avx2(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  direct_nt<Avx512Traits>(m, n, k, alpha, a, lda, b, ldb, nullptr, beta, c, ldc);
}

MLPKIT_AVX512 void sgemm_direct_dots_avx512(int m, int n, int k, float alpha, const float* a, int lda, const float* dots, float beta,
                                            float* c, int ldc) {
  direct_nt<Avx512Traits>(m, n, k, alpha, a, lda, nullptr, 0, dots, beta, c, ldc);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

}  // namespace mlpkit

#endif  // x86
