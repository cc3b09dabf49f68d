// Portable reference micro-kernel, packing routines and direct path.
//
// This file is compiled for the baseline target (SSE2 on x86-64, NEON on
// arm64): it is the fallback on CPUs without AVX2 and the reference twin of
// the AVX2/AVX-512 kernels. The code is plain C++ written so that GCC/Clang
// vectorise the j-loops on their own.
//
// Loop structure (driver, gemm.cc) served by this kernel:
//   jc: n by NC  ->  pc: k by KC  ->  ic: m by MC [pack A]
//     -> jr: by NR [pack B micro-panel on first use]  ->  ir: by MR
//     -> micro-kernel (MR x NR, kc long)
//
// Packed layouts (shared with every ISA):
//   A: ceil(m/MR) micro-panels, each (kc, MR): element (i, p) at p*MR + i
//   B: ceil(n/NR) micro-panels, each (kc, NR): element (p, j) at p*NR + j
//   Rows/columns past m/n are zero.
//
// Blocksizes for this kernel: MR=4 NR=8 KC=256 MC=128 NC=4096
// (4x8 keeps the 8 accumulator vectors of a 4-wide SIMD unit in 16
// registers; see gemm.cc for the table of every ISA.)
#include <algorithm>

#include "ukernel.h"

namespace mlpkit {

void sgemm_ukernel_4x8_scalar(int mr, int nr, int k, float alpha,
                              const float* a,  // packed (k, 4)
                              const float* b,  // packed (k, 8)
                              float beta,
                              float* c,  // (mr, nr), ldc
                              int ldc) {
  constexpr int MR = 4, NR = 8;
  float acc[MR][NR] = {};
  for (int p = 0; p < k; ++p) {
    for (int i = 0; i < MR; ++i) {
      const float ai = a[i];
      for (int j = 0; j < NR; ++j) acc[i][j] += ai * b[j];
    }
    a += MR;
    b += NR;
  }
  // Same per-element order as the SIMD kernels: alpha*acc first, then beta*C.
  for (int i = 0; i < mr; ++i) {
    float* ci = c + static_cast<long>(i) * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < nr; ++j) ci[j] = alpha * acc[i][j];
    } else {
      for (int j = 0; j < nr; ++j) ci[j] = ci[j] * beta + alpha * acc[i][j];
    }
  }
}

template <int MR>
static void pack_a_generic(Trans ta, int m, int k,
                           const float* a,  // (m, k) if No, (k, m) if Yes; lda
                           int lda,
                           float* out) {  // ceil(m/MR) * (k, MR)
  for (int i0 = 0; i0 < m; i0 += MR) {
    const int mr = std::min(MR, m - i0);
    if (ta == Trans::No) {
      const float* src = a + static_cast<long>(i0) * lda;
      for (int p = 0; p < k; ++p) {
        for (int i = 0; i < mr; ++i) out[p * MR + i] = src[static_cast<long>(i) * lda + p];
        for (int i = mr; i < MR; ++i) out[p * MR + i] = 0.0f;
      }
    } else {
      for (int p = 0; p < k; ++p) {
        const float* src = a + static_cast<long>(p) * lda + i0;
        for (int i = 0; i < mr; ++i) out[p * MR + i] = src[i];
        for (int i = mr; i < MR; ++i) out[p * MR + i] = 0.0f;
      }
    }
    out += static_cast<long>(k) * MR;
  }
}

template <int NR>
static void pack_b_generic(Trans tb, int k, int n,
                           const float* b,  // (k, n) if No, (n, k) if Yes; ldb
                           int ldb,
                           float* out) {  // ceil(n/NR) * (k, NR)
  for (int j0 = 0; j0 < n; j0 += NR) {
    const int nr = std::min(NR, n - j0);
    if (tb == Trans::No) {
      for (int p = 0; p < k; ++p) {
        const float* src = b + static_cast<long>(p) * ldb + j0;
        for (int j = 0; j < nr; ++j) out[p * NR + j] = src[j];
        for (int j = nr; j < NR; ++j) out[p * NR + j] = 0.0f;
      }
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

void sgemm_pack_a_mr4(Trans ta, int m, int k, const float* a, int lda, float* out) {
  pack_a_generic<4>(ta, m, k, a, lda, out);
}
void sgemm_pack_a_mr6(Trans ta, int m, int k, const float* a, int lda, float* out) {
  pack_a_generic<6>(ta, m, k, a, lda, out);
}
void sgemm_pack_a_mr12(Trans ta, int m, int k, const float* a, int lda, float* out) {
  pack_a_generic<12>(ta, m, k, a, lda, out);
}
void sgemm_pack_b_nr8(Trans tb, int k, int n, const float* b, int ldb, float* out) {
  pack_b_generic<8>(tb, k, n, b, ldb, out);
}
void sgemm_pack_b_nr16(Trans tb, int k, int n, const float* b, int ldb, float* out) {
  pack_b_generic<16>(tb, k, n, b, ldb, out);
}
void sgemm_pack_b_nr32(Trans tb, int k, int n, const float* b, int ldb, float* out) {
  pack_b_generic<32>(tb, k, n, b, ldb, out);
}

// Direct path. Per element the arithmetic is fixed (it does not depend on
// where the element sits in a block), which keeps results independent of
// how the driver splits m and n across threads.
void sgemm_direct_scalar(Trans ta, Trans tb, int m, int n, int k, float alpha,
                         const float* a,  // (m, k) if ta == No else (k, m); lda
                         int lda,
                         const float* b,  // (k, n) if tb == No else (n, k); ldb
                         int ldb, float beta,
                         float* c,  // (m, n), ldc
                         int ldc) {
  auto a_at = [&](int i, int p) {
    return ta == Trans::No ? a[static_cast<long>(i) * lda + p]
                           : a[static_cast<long>(p) * lda + i];
  };
  if (tb == Trans::No) {
    // Row of C as a sum of scaled rows of B: the j-loop vectorises.
    constexpr int JB = 64;
    float acc[JB];
    for (int i = 0; i < m; ++i) {
      float* ci = c + static_cast<long>(i) * ldc;
      for (int j0 = 0; j0 < n; j0 += JB) {
        const int jn = std::min(JB, n - j0);
        for (int j = 0; j < jn; ++j) acc[j] = 0.0f;
        for (int p = 0; p < k; ++p) {
          const float aip = a_at(i, p);
          const float* bp = b + static_cast<long>(p) * ldb + j0;
          for (int j = 0; j < jn; ++j) acc[j] += aip * bp[j];
        }
        if (beta == 0.0f) {
          for (int j = 0; j < jn; ++j) ci[j0 + j] = alpha * acc[j];
        } else {
          for (int j = 0; j < jn; ++j) ci[j0 + j] = ci[j0 + j] * beta + alpha * acc[j];
        }
      }
    }
    return;
  }
  // B transposed: dot products along k with 8 interleaved partial sums
  // (vectorisable without reassociation, and a fixed summation tree).
  for (int i = 0; i < m; ++i) {
    float* ci = c + static_cast<long>(i) * ldc;
    for (int j = 0; j < n; ++j) {
      const float* bj = b + static_cast<long>(j) * ldb;
      float s[8] = {};
      int p = 0;
      for (; p + 8 <= k; p += 8)
        for (int l = 0; l < 8; ++l) s[l] += a_at(i, p + l) * bj[p + l];
      for (int l = 0; p + l < k; ++l) s[l] += a_at(i, p + l) * bj[p + l];
      const float dot = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
      ci[j] = beta == 0.0f ? alpha * dot : ci[j] * beta + alpha * dot;
    }
  }
}

void sgemm_transpose_tile(int rows, int cols, const float* t, int ld, const float* bias, float* c, int ldc) {
  for (int j = 0; j < cols; ++j) {
    float* cj = c + static_cast<long>(j) * ldc;
    for (int i = 0; i < rows; ++i) cj[i] = bias != nullptr ? t[static_cast<long>(i) * ld + j] + bias[i] : t[static_cast<long>(i) * ld + j];
  }
}

}  // namespace mlpkit
