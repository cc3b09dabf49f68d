// AVX-512F micro-kernel (12x32): the template of ukernel_x86.h, shared with
// the AVX2 6x16 kernel, instantiated with zmm registers (Avx512Traits below).
// Same packed layouts, same template over the row count for the m edge, same
// alpha/beta arithmetic; the n edge masks the loads/stores of C with k
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
// Edges: rows m % 12 use the template instantiated for fewer rows; columns
// n % 32 keep the full-width arithmetic, so an element's value never depends
// on its tile position.
//
// Status: passes the GEMM tests (test_gemm.cc) on AVX-512F hardware; its
// blocksizes are not tuned. The dispatcher selects it only when the CPU
// reports AVX-512F.
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

}  // namespace mlpkit

#endif  // x86
