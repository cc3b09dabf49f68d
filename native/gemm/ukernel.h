// Internal: micro-kernels, packing routines and direct (small-problem) paths
// of every ISA. Signatures match UkernelFn / PackAFn / PackBFn / DirectFn in
// gemm.h. The ISA-specific ones may only be called after the dispatcher has
// checked the CPU.
#ifndef MLPKIT_NATIVE_GEMM_UKERNEL_H_
#define MLPKIT_NATIVE_GEMM_UKERNEL_H_

#include "gemm.h"

namespace mlpkit {

// ---- portable (baseline x86-64, arm64, anything) --------------------------
void sgemm_ukernel_4x8_scalar(int mr, int nr, int k, float alpha,
                              const float* a,  // packed (k, 4)
                              const float* b,  // packed (k, 8)
                              float beta,
                              float* c,  // (mr, nr), ldc
                              int ldc);
void sgemm_pack_a_mr4(Trans ta, int m, int k, const float* a, int lda, float* out);
void sgemm_pack_a_mr6(Trans ta, int m, int k, const float* a, int lda, float* out);
void sgemm_pack_a_mr12(Trans ta, int m, int k, const float* a, int lda, float* out);
void sgemm_pack_b_nr8(Trans tb, int k, int n, const float* b, int ldb, float* out);
void sgemm_pack_b_nr16(Trans tb, int k, int n, const float* b, int ldb, float* out);
void sgemm_pack_b_nr32(Trans tb, int k, int n, const float* b, int ldb, float* out);
// C(j, i) = T(i, j) (+ bias[i]) for a tile T of (rows, cols), ld apart: a tile of a transposed
// product into the caller's C (TransposeTileFn).
void sgemm_transpose_tile(int rows, int cols, const float* t, int ld, const float* bias, float* c, int ldc);
void sgemm_direct_scalar(Trans ta, Trans tb, int m, int n, int k, float alpha,
                         const float* a, int lda, const float* b, int ldb,
                         float beta, float* c, int ldc);

#if defined(__x86_64__) || defined(__i386__)
// ---- AVX2 + FMA ------------------------------------------------------------
void sgemm_ukernel_6x16_avx2(int mr, int nr, int k, float alpha,
                             const float* a,  // packed (k, 6)
                             const float* b,  // packed (k, 16)
                             float beta,
                             float* c,  // (mr, nr), ldc
                             int ldc);
// The 6x16 kernel with A read in place by rows (UkernelRowsFn).
void sgemm_ukernel_rows_6x16_avx2(int mr, int nr, int k, float alpha, const float* a, int lda, const float* b, float beta,
                                  float* c, int ldc);
// And with op(A) = Aᵀ read in place by columns.
void sgemm_ukernel_columns_6x16_avx2(int mr, int nr, int k, float alpha, const float* a, int lda, const float* b, float beta,
                                     float* c, int ldc);
// A packing (MR=6) with 8x8 in-register transposes; needs 8 floats of slack
// after the packed block.
void sgemm_pack_a_mr6_avx2(Trans ta, int m, int k, const float* a, int lda, float* out);
// B packing with 8x8 in-register transposes for the NT (weights) form.
void sgemm_pack_b_nr16_avx2(Trans tb, int k, int n, const float* b, int ldb, float* out);
void sgemm_pack_b_nr32_avx2(Trans tb, int k, int n, const float* b, int ldb, float* out);
// The same for up to 8 rows by 16 columns.
void sgemm_transpose_tile_avx2(int rows, int cols, const float* t, int ld, const float* bias, float* c, int ldc);
void sgemm_direct_avx2(Trans ta, Trans tb, int m, int n, int k, float alpha,
                       const float* a, int lda, const float* b, int ldb,
                       float beta, float* c, int ldc);
// The NT form on B laid out for dot products (DirectDotsFn), chunks of 8 floats.
void sgemm_direct_dots_avx2(int m, int n, int k, float alpha, const float* a, int lda, const float* dots, float beta, float* c,
                            int ldc);

// ---- AVX-512F --------------------------------------------------------------
void sgemm_ukernel_12x32_avx512(int mr, int nr, int k, float alpha,
                                const float* a,  // packed (k, 12)
                                const float* b,  // packed (k, 32)
                                float beta,
                                float* c,  // (mr, nr), ldc
                                int ldc);
// The 12x32 kernel with A read in place by rows (UkernelRowsFn).
void sgemm_ukernel_rows_12x32_avx512(int mr, int nr, int k, float alpha, const float* a, int lda, const float* b,
                                     float beta, float* c, int ldc);
// And with op(A) = Aᵀ read in place by columns.
void sgemm_ukernel_columns_12x32_avx512(int mr, int nr, int k, float alpha, const float* a, int lda, const float* b,
                                        float beta, float* c, int ldc);
// B packing (NR=32): whole panels of the NT (weights) form with 16x16 in-register transposes
// of zmm rows, the rest through the AVX2 packer; the same bytes as the portable packer.
void sgemm_pack_b_nr32_avx512(Trans tb, int k, int n, const float* b, int ldb, float* out);
// The transposing store for up to 16 rows by 32 columns.
void sgemm_transpose_tile_avx512(int rows, int cols, const float* t, int ld, const float* bias, float* c, int ldc);
// Direct path: the NT form (dot products along k, a prediction's rows against the weights) in
// zmm; the other forms through the AVX2 loops.
void sgemm_direct_avx512(Trans ta, Trans tb, int m, int n, int k, float alpha,
                         const float* a, int lda, const float* b, int ldb,
                         float beta, float* c, int ldc);
// The NT form on B laid out for dot products (DirectDotsFn), chunks of 16 floats.
void sgemm_direct_dots_avx512(int m, int n, int k, float alpha, const float* a, int lda, const float* dots, float beta, float* c,
                              int ldc);
#endif

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_GEMM_UKERNEL_H_
