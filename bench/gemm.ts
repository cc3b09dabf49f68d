/** SGEMM GFLOP/s of the native kernels at the shapes an MLP runs, next to the FMA peak. */
import { nativeBinding } from '../dist/backends/native.js';
import { sgemm as referenceSgemm } from '../dist/backends/js-kernels.js';
import type { Case } from './common.js';

type Form = 'NT' | 'NN' | 'TN';
const TRANS: Record<Form, [boolean, boolean]> = { NT: [false, true], NN: [false, false], TN: [true, false] };

/** The shapes: an MLP layer 784→512 at batch 64 in its three products, a wide layer at batch 256, squares. */
export const GEMM_SHAPES: { label: string; form: Form; m: number; n: number; k: number }[] = [
  { label: 'forward X·Wᵀ 64×512×784', form: 'NT', m: 64, n: 512, k: 784 },
  { label: 'backward δ·W 64×784×512', form: 'NN', m: 64, n: 784, k: 512 },
  { label: 'gradient δᵀ·X 512×784×64', form: 'TN', m: 512, n: 784, k: 64 },
  { label: 'forward X·Wᵀ 256×1024×1024', form: 'NT', m: 256, n: 1024, k: 1024 },
  { label: 'backward δ·W 256×1024×1024', form: 'NN', m: 256, n: 1024, k: 1024 },
  { label: 'gradient δᵀ·X 1024×1024×256', form: 'TN', m: 1024, n: 1024, k: 256 },
  { label: 'square 256', form: 'NN', m: 256, n: 256, k: 256 },
  { label: 'square 512', form: 'NN', m: 512, n: 512, k: 512 },
  { label: 'square 1024', form: 'NN', m: 1024, n: 1024, k: 1024 },
];

function random(length: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296) * 2 - 1);
}

export function gemmCases(threads: number[], peak: number, shapes = GEMM_SHAPES): Case[] {
  const addon = nativeBinding();
  return shapes.flatMap(({ label, form, m, n, k }) =>
    threads.map((t): Case => {
      const [ta, tb] = TRANS[form];
      const lda = ta ? m : k;
      const ldb = tb ? k : n;
      const a = random(m * k, 1);
      const b = random(k * n, 2);
      const c = new Float32Array(m * n);
      return {
        name: `sgemm ${label}, ${t} thread${t > 1 ? 's' : ''}`,
        work: 2 * m * n * k,
        unit: 'GFLOP/s',
        run: () => addon.sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n, t, 'auto'),
        validate: () => {
          // a corner of the product against the reference
          addon.sgemm(ta, tb, m, n, k, 1, a, lda, b, ldb, 0, c, n, t, 'auto');
          const rows = Math.min(m, 8);
          const want = new Float32Array(rows * n);
          const aRows = ta ? a : a.subarray(0, rows * k);
          referenceSgemm(ta, tb, rows, n, k, 1, aRows, lda, b, ldb, 0, want, n);
          for (let i = 0; i < want.length; i++) {
            if (Math.abs(want[i]! - c[i]!) > 1e-4 * Math.sqrt(k))
              throw new Error(`${label}: native ${c[i]} vs reference ${want[i]} at ${i}`);
          }
        },
        reference: { label: `the ${t}-core FMA peak`, rate: peak * t },
      };
    }),
  );
}
