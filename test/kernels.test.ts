/**
 * One kernel-parity suite over every backend and every way its kernels can run: the native
 * addon on each instruction set this CPU has (AVX-512, AVX2, scalar) and on 1 and 2 threads,
 * both WebAssembly builds (SIMD and scalar) on the packed and the direct path, and the
 * reference itself. Each GEMM is held to the reference at every tile and cache-block edge of
 * its own blocking, in the three forms an MLP uses; each Philox stream bit for bit.
 */
import { describe, expect, it } from 'vitest';
import type { Kernels } from '../src/backend.js';
import { jsBackend } from '../src/backends/js.js';
import { loadNativeBackend } from '../src/backends/native.js';
import { wasmBackend } from '../src/backends/wasm/model.js';
import { compileWasmFileSync } from '../src/backends/wasm/node.js';
import { wasmSimdSupported } from '../src/backends/wasm/loader.js';
import { philox4x32 } from '../src/rng.js';
import { checkGemm, FORMS, type Form } from './helpers/gemm.js';

const wasmBuilds = wasmSimdSupported() ? (['simd', 'scalar'] as const) : (['scalar'] as const);
const KERNELS: [string, Kernels][] = [
  ['native', loadNativeBackend().kernels],
  ...wasmBuilds.map((build): [string, Kernels] => [`wasm ${build}`, wasmBackend(compileWasmFileSync(build)).kernels]),
  ['js', jsBackend.kernels],
];
const VARIANTS = KERNELS.flatMap(([name, kernels]) =>
  kernels.variants.map((variant): [string, Kernels, string] => [name, kernels, variant]),
);

describe.each(VARIANTS)('%s GEMM, %s', (name, kernels, variant) => {
  const { mr, nr, kc, mc } = kernels.blocking(variant);
  const label = `${name} ${variant} (MR×NR = ${mr}×${nr}, KC = ${kc}, MC = ${mc})`;
  const check = (
    form: Form,
    m: number,
    n: number,
    k: number,
    options: { pad?: number; beta?: number; alpha?: number; threads?: number } = {},
  ) =>
    checkGemm(
      `${label}, ${options.threads ?? 1} thread(s)`,
      form,
      m,
      n,
      k,
      (a, lda, b, ldb, c, ldc, alpha, beta) =>
        kernels.sgemm(form.transA, form.transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, variant, options.threads ?? 1),
      options,
    );
  const unique = (values: number[]) => [...new Set(values)].filter((v) => v > 0);
  const ms = unique([1, 2, mr - 1, mr, mr + 1, 2 * mr + 1, 3 * mr + 2]);
  const ns = unique([1, nr - 1, nr, nr + 1, 2 * nr + 3]);
  const ks = unique([1, 3, 4, 7, kc - 1, kc, kc + 1, 2 * kc + 5]);

  for (const form of FORMS) {
    it(`${form.name}: every m and n tile edge`, () => {
      for (const m of ms) for (const n of ns) for (const k of [3, 129]) check(form, m, n, k);
    });
    it(`${form.name}: every k block edge`, () => {
      for (const k of ks) check(form, 2 * mr + 1, nr + 3, k);
    });
    it(`${form.name}: every m block edge`, () => {
      for (const m of unique([mc - 1, mc, mc + 1])) check(form, m, nr + 3, 17);
    });
    it(`${form.name}: strided, alpha and beta, beta = 0 never reads C`, () => {
      check(form, 37, 45, 61, { pad: 5, beta: 0.5, alpha: -1.5 });
      check(form, 37, 45, 61, { pad: 3, beta: 0 });
      check(form, 9, 17, 5, { beta: 1 });
    });
    it(`${form.name}: the shapes of an MLP`, () => {
      for (const [m, n, k] of [
        [64, 512, 78],
        [1, 100, 50],
        [3, 33, 257],
        [4, 4, 2],
      ] as const)
        check(form, m, n, k);
    });
    if (kernels.maxThreads >= 2)
      it(`${form.name}: 2 threads give the same bits as 1`, () => {
        for (const [m, n, k] of [
          [64, 512, 784],
          [13, 33, 257],
          [3, 200, 50],
          [1, 512, 784],
          [2, 300, 700],
          [1, 10, 512],
        ] as const) {
          expect(Array.from(check(form, m, n, k, { threads: 2 }))).toEqual(Array.from(check(form, m, n, k)));
        }
      });
  }

  it('handles empty products', () => {
    check(FORMS[0]!, 0, 5, 3);
    check(FORMS[1]!, 4, 5, 0, { beta: 0.5 });
    check(FORMS[2]!, 4, 5, 0);
  });
});

describe.each(KERNELS)('%s random stream', (_name, kernels) => {
  it('matches Philox4x32-10 of rng.ts bit for bit', () => {
    const block = new Uint32Array(4);
    for (const [k0, k1, c0, c1, c2, c3] of [
      [0, 0, 0, 0, 0, 0],
      [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff],
      [42, 7, 123456, 3, 2, 3],
      [0x9e3779b9, 1, 0x80000000, 17, 1, 3],
    ]) {
      philox4x32(k0!, k1!, c0!, c1!, c2!, c3!, block);
      expect(Array.from(kernels.philox(k0!, k1!, c0!, c1!, c2!, c3!))).toEqual(Array.from(block));
    }
  });
});

describe.each(KERNELS)('%s kernels: checked arguments', (_name, kernels) => {
  const one = () => new Float32Array(1);
  it.each([
    [
      'lda below k',
      () => kernels.sgemm(false, false, 2, 2, 3, 1, new Float32Array(6), 2, new Float32Array(6), 2, 0, new Float32Array(4), 2),
      /lda must be an integer between 3 and 2147483647, got 2/,
    ],
    [
      'A too short',
      () => kernels.sgemm(false, false, 3, 2, 3, 1, new Float32Array(6), 3, new Float32Array(6), 2, 0, new Float32Array(6), 2),
      /a must be a Float32Array of length at least 9, got a Float32Array of length 6/,
    ],
    [
      'NaN alpha',
      () => kernels.sgemm(false, false, 1, 1, 1, NaN, one(), 1, one(), 1, 0, one(), 1),
      /alpha must be a finite number, got NaN/,
    ],
    [
      'an unknown variant',
      () => kernels.sgemm(false, false, 1, 1, 1, 1, one(), 1, one(), 1, 0, one(), 1, 'fast'),
      /variant must be one of .*, got "fast"/,
    ],
    [
      'too many threads',
      () => kernels.sgemm(false, false, 1, 1, 1, 1, one(), 1, one(), 1, 0, one(), 1, undefined, 1000),
      /threads must be an integer between 1 and \d+, got 1000/,
    ],
    ['a negative Philox key', () => kernels.philox(-1, 0, 0, 0, 0, 0), /key0 must be an integer between 0 and 4294967295, got -1/],
  ] as const)('%s', (_case, call, message) => {
    expect(call).toThrow(message);
  });
});
