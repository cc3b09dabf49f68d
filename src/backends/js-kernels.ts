/**
 * Reference kernels in plain TypeScript, the oracle of the compiled backends' kernel tests
 * and the js row of the benchmarks. Training never calls them.
 */
import type { GemmOperands } from '../backend.js';

/**
 * C = alpha·op(A)·op(B) + beta·C for row-major matrices with leading dimensions, where
 * op(X) = Xᵀ when its flag is set. Sums accumulate in float64; beta = 0 never reads C.
 */
export function sgemm(...[transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc]: GemmOperands): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) {
        sum += a[transA ? p * lda + i : i * lda + p]! * b[transB ? j * ldb + p : p * ldb + j]!;
      }
      c[i * ldc + j] = alpha * sum + (beta === 0 ? 0 : beta * c[i * ldc + j]!);
    }
  }
}
