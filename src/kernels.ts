/**
 * The kernels of every backend behind one checked signature: arguments are checked here once,
 * so the raw kernels of js, wasm and native receive only valid ones. Used by the kernel parity
 * tests and the benchmarks; training never goes through these entry points.
 */
import type { Kernels, RawKernels } from './backend.js';
import { checkInteger, checkNumber, checkOneOf, checkTypedArray } from './errors.js';

const MAX_I32 = 0x7fffffff;

/** Elements a row-major matrix of rows × cols with leading dimension ld spans. */
const span = (rows: number, cols: number, ld: number): number => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);

export function checkedKernels(raw: RawKernels): Kernels {
  return {
    variants: raw.variants,
    maxThreads: raw.maxThreads,
    blocking: (variant) => raw.blocking(checkOneOf('variant', variant, raw.variants)),
    sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, variant = raw.variants[0]!, threads = 1) {
      for (const [name, value] of [
        ['transA', transA],
        ['transB', transB],
      ] as const) {
        if (typeof value !== 'boolean') throw new TypeError(`${name} must be a boolean, got ${typeof value}`);
      }
      for (const [name, value] of [
        ['m', m],
        ['n', n],
        ['k', k],
      ] as const)
        checkInteger(name, value, 0, MAX_I32);
      const [aRows, aCols] = transA ? [k, m] : [m, k];
      const [bRows, bCols] = transB ? [n, k] : [k, n];
      checkInteger('lda', lda, Math.max(1, aCols), MAX_I32);
      checkInteger('ldb', ldb, Math.max(1, bCols), MAX_I32);
      checkInteger('ldc', ldc, Math.max(1, n), MAX_I32);
      checkNumber('alpha', alpha);
      checkNumber('beta', beta);
      checkTypedArray('a', a, Float32Array, span(aRows, aCols, lda));
      checkTypedArray('b', b, Float32Array, span(bRows, bCols, ldb));
      checkTypedArray('c', c, Float32Array, span(m, n, ldc));
      checkOneOf('variant', variant, raw.variants);
      checkInteger('threads', threads, 1, raw.maxThreads);
      raw.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, variant, threads);
    },
    philox(k0, k1, c0, c1, c2, c3) {
      const words = [k0, k1, c0, c1, c2, c3];
      ['key0', 'key1', 'counter0', 'counter1', 'counter2', 'counter3'].forEach((name, i) => checkInteger(name, words[i], 0, 0xffffffff));
      return raw.philox(k0, k1, c0, c1, c2, c3);
    },
  };
}
