/**
 * The WebAssembly contenders: SGEMM GFLOP/s of both builds at the shapes of an MLP (operands
 * resident in the instance, so no copies are timed), and a switch that makes the next models
 * use one build or the other.
 */
import { sgemm as referenceSgemm } from '../dist/backends/js-kernels.js';
import { useWasmModule } from '../dist/backends/wasm/loader.js';
import { WasmKernels } from '../dist/backends/wasm/model.js';
import { compileWasmFileSync, type WasmBuild } from '../dist/backends/wasm/node.js';
import type { Case } from './common.js';
import { GEMM_SHAPES } from './gemm.js';

export type { WasmBuild };
export const WASM_BUILDS: WasmBuild[] = ['simd', 'scalar'];

const modules = new Map<WasmBuild, WebAssembly.Module>();
function moduleOf(build: WasmBuild): WebAssembly.Module {
  let module = modules.get(build);
  if (!module) modules.set(build, (module = compileWasmFileSync(build)));
  return module;
}

/** Models created from now on run on `build`. */
export function useWasmBuild(build: WasmBuild): void {
  useWasmModule(moduleOf(build));
}

function random(length: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296) * 2 - 1);
}

/** SGEMM cases of both builds; the 64×512×784 forward product carries the target. */
export function wasmGemmCases(shapes = GEMM_SHAPES.slice(0, 6), target = 25): Case[] {
  return WASM_BUILDS.flatMap((build) => {
    const kernels = new WasmKernels(moduleOf(build));
    return shapes.map(({ label, form, m, n, k }): Case => {
      const [ta, tb] = [form === 'TN', form === 'NT'];
      const a = random(m * k, 1);
      const b = random(k * n, 2);
      const product = kernels.resident(ta, tb, m, n, k, a, b);
      const isTarget = m === 64 && n === 512 && k === 784 && build === 'simd';
      return {
        name: `sgemm ${label}, wasm ${build}`,
        work: 2 * m * n * k,
        unit: 'GFLOP/s',
        run: product.run,
        validate: () => {
          // a corner of the product against the reference
          product.run();
          const c = new Float32Array(m * n);
          product.read(c);
          const rows = Math.min(m, 8);
          const want = new Float32Array(rows * n);
          referenceSgemm(ta, tb, rows, n, k, 1, ta ? a : a.subarray(0, rows * k), ta ? m : k, b, tb ? k : n, 0, want, n);
          for (let i = 0; i < want.length; i++) {
            if (Math.abs(want[i]! - c[i]!) > 1e-4 * Math.sqrt(k))
              throw new Error(`${label}: wasm ${build} ${c[i]} vs reference ${want[i]} at ${i}`);
          }
        },
        ...(isTarget ? { reference: { label: 'the target', rate: target } } : {}),
      };
    });
  });
}
