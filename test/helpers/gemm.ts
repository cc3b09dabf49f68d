/** The GEMM parity check shared by the native and WebAssembly kernel tests. */
import { expect } from 'vitest';
import { sgemm as referenceSgemm } from '../../src/backends/js-kernels.js';
import { fillRandomU32, u32ToUnit } from '../../src/rng.js';

export type Form = { name: 'NT forward X·Wᵀ' | 'NN backward δ·W' | 'TN gradient δᵀ·X'; transA: boolean; transB: boolean };
export const FORMS: Form[] = [
  { name: 'NT forward X·Wᵀ', transA: false, transB: true },
  { name: 'NN backward δ·W', transA: false, transB: false },
  { name: 'TN gradient δᵀ·X', transA: true, transB: false },
];

export function randomMatrix(length: number, seed: number): Float32Array {
  const words = new Uint32Array(length);
  fillRandomU32(words, seed, 50, 0, 0);
  return Float32Array.from(words, (w) => 2 * u32ToUnit(w) - 1);
}

/** A GEMM under test: C = alpha·op(A)·op(B) + beta·C in the form's transposes. */
export type Product = (
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  c: Float32Array,
  ldc: number,
  alpha: number,
  beta: number,
) => void;

/**
 * Runs `product` and the reference on one shape (rows padded by `pad`; beta = 0 starts from a
 * NaN-filled C, which must never be read) and compares every element within
 * max(2e-6·√(k+1)·|alpha| + 1e-6, 1e-6·|ref|); the padding between rows must stay untouched.
 * Returns the product's C. `label` names the implementation in failure messages.
 */
export function checkGemm(
  label: string,
  form: Form,
  m: number,
  n: number,
  k: number,
  product: Product,
  { pad = 0, beta = 0, alpha = 1 }: { pad?: number; beta?: number; alpha?: number } = {},
): Float32Array {
  const [aRows, aCols] = form.transA ? [k, m] : [m, k];
  const [bRows, bCols] = form.transB ? [n, k] : [k, n];
  const lda = Math.max(1, aCols) + pad;
  const ldb = Math.max(1, bCols) + pad;
  const ldc = Math.max(1, n) + pad;
  const a = randomMatrix(Math.max(1, aRows * lda), m * 7 + k);
  const b = randomMatrix(Math.max(1, bRows * ldb), n * 13 + k);
  const start = beta === 0 ? new Float32Array(Math.max(1, m * ldc)).fill(NaN) : randomMatrix(Math.max(1, m * ldc), 99);
  const want = start.slice();
  const got = start.slice();
  referenceSgemm(form.transA, form.transB, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc);
  product(a, lda, b, ldb, got, ldc, alpha, beta);
  const tolerance = 2e-6 * Math.sqrt(k + 1) * Math.abs(alpha) + 1e-6;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const r = want[i * ldc + j]!;
      const g = got[i * ldc + j]!;
      if (!(Math.abs(g - r) <= Math.max(tolerance, 1e-6 * Math.abs(r)))) {
        expect.fail(
          `sgemm[${form.name}] ${label} vs reference at (i=${i}, j=${j}): ref=${r}, got=${g}, |Δ|=${Math.abs(g - r).toExponential(2)} > tol ${tolerance.toExponential(2)}; M×N×K=${m}×${n}×${k}, pad ${pad}`,
        );
      }
    }
  }
  for (let i = 0; i < m; i++) {
    for (let j = n; j < ldc && i * ldc + j < got.length; j++) {
      if (!Object.is(got[i * ldc + j], start[i * ldc + j]))
        expect.fail(`sgemm[${form.name}] ${label} wrote the padding at (i=${i}, j=${j}); M×N×K=${m}×${n}×${k}`);
    }
  }
  return got;
}
