/**
 * The WebAssembly backend against the reference, on both builds (SIMD and scalar): 20 training
 * updates of every optimizer; the two builds giving the same bits, in their GEMMs and in
 * training; loading from every kind of source; and aborts and traps inside the module turned
 * into Errors. Its kernels are in kernels.test.ts, the checks of its calls in
 * backend-model.test.ts. In CI the module must load: these tests fail without it.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendModel } from '../src/backend-model.js';
import { loadWasmBackend, useWasmModule, wasmSimdSupported } from '../src/backends/wasm/loader.js';
import { WASM_EXPORT_NAMES } from '../src/backends/wasm/instance.js';
import { wasmBackend } from '../src/backends/wasm/model.js';
import { compileWasmFileSync, wasmBuildFromEnvironment, wasmFilePath } from '../src/backends/wasm/node.js';
import { initWasm, listBackends, MLP } from '../src/node.js';
import { normalizeModelSpec } from '../src/spec.js';
import { FORMS, randomMatrix } from './helpers/gemm.js';
import { buildParityModel, expectTrainingParity, flatWeights, PARITY_CASES, PARITY_X, parityTargets } from './helpers/parity.js';

const builds = (wasmSimdSupported() ? ['simd', 'scalar'] : ['scalar']) as ('simd' | 'scalar')[];
const modules = Object.fromEntries(builds.map((b) => [b, compileWasmFileSync(b)])) as Record<'simd' | 'scalar', WebAssembly.Module>;
const kernels = Object.fromEntries(builds.map((b) => [b, wasmBackend(modules[b]).kernels]));
const defaultBuild = wasmBuildFromEnvironment();

describe.skipIf(builds.length < 2)('the SIMD and scalar builds', () => {
  it('give the same bits in every GEMM form and path', () => {
    for (const form of FORMS) {
      for (const path of ['packed', 'direct']) {
        for (const [m, n, k] of [
          [13, 37, 300],
          [1, 19, 65],
          [64, 40, 7],
        ] as const) {
          const [lda, ldb] = [form.transA ? m : k, form.transB ? k : n];
          const [a, b] = [randomMatrix(m * k, 1), randomMatrix(k * n, 2)];
          const [c0, c1] = [randomMatrix(m * n, 3), randomMatrix(m * n, 3)];
          kernels.simd!.sgemm(form.transA, form.transB, m, n, k, 1, a, lda, b, ldb, 0.25, c0, n, path);
          kernels.scalar!.sgemm(form.transA, form.transB, m, n, k, 1, a, lda, b, ldb, 0.25, c1, n, path);
          expect(Array.from(c1)).toEqual(Array.from(c0));
        }
      }
    }
  });
});

// -------------------------------------------------------------------------------------------
// Training

describe.each(builds)('wasm training parity with the reference, %s build', (build) => {
  beforeAll(() => {
    useWasmModule(modules[build]);
  });
  afterAll(() => {
    useWasmModule(modules[defaultBuild]);
  });

  it.each(PARITY_CASES)('%s: 20 updates stay within max(1e-4, 1e-3·|ref|) of the reference', (...parityCase) => {
    expectTrainingParity(parityCase, 'wasm', build);
    expect(listBackends().find((b) => b.name === 'wasm')?.isa).toBe(build === 'simd' ? 'simd128' : 'scalar');
  });
});

describe.skipIf(builds.length < 2)('the SIMD and scalar builds train alike', () => {
  afterAll(() => {
    useWasmModule(modules[defaultBuild]);
  });

  it.each(PARITY_CASES)('%s: the same weights, bit for bit', (...parityCase) => {
    const weights = builds.map((build) => {
      useWasmModule(modules[build]);
      const net = buildParityModel(parityCase, 'wasm');
      net.fitSync(PARITY_X, parityTargets(parityCase), { epochs: 6, batchSize: 5 });
      return flatWeights(net);
    });
    expect(weights[1]).toEqual(weights[0]);
  });
});

// -------------------------------------------------------------------------------------------
// Loading

describe('loading the module', () => {
  afterAll(() => {
    useWasmModule(modules[defaultBuild]);
  });
  const bytes = () => new Uint8Array(readFileSync(wasmFilePath(builds[0]!)));
  const isa = builds[0] === 'simd' ? 'simd128' : 'scalar';

  it('each build exports exactly the functions the adapter declares', () => {
    for (const build of builds) {
      expect(
        WebAssembly.Module.exports(modules[build])
          .map((e) => e.name)
          .sort(),
      ).toEqual([...WASM_EXPORT_NAMES].sort());
    }
  });

  it('the Node entry compiles the file by itself and listBackends reports the build', () => {
    expect(listBackends().find((b) => b.name === 'wasm')).toEqual({
      name: 'wasm',
      available: true,
      isa: defaultBuild === 'simd' ? 'simd128' : 'scalar',
      threads: 1,
    });
    expect(new MLP({ inputs: 2, layers: [{ units: 1 }], backend: 'wasm' }).backend).toBe('wasm');
  });

  it.each([
    ['a WebAssembly.Module', () => modules[builds[0]!]],
    ['bytes', () => bytes()],
    ['an ArrayBuffer', () => bytes().buffer],
    ['a file path', () => wasmFilePath(builds[0]!)],
    ['a file: URL', () => pathToFileURL(wasmFilePath(builds[0]!))],
    ['a Response', () => new Response(bytes(), { headers: { 'content-type': 'application/wasm' } })],
    ['a promise of a Response', () => Promise.resolve(new Response(bytes()))],
  ] as const)('initWasm takes %s', async (_name, source) => {
    expect(await initWasm(source() as never)).toEqual({ isa });
    const net = new MLP({ inputs: 2, layers: [{ units: 3, activation: 'relu' }, { units: 1 }], seed: 1, backend: 'wasm' });
    expect(net.predict([[1, 2]])).toEqual(
      new MLP({ inputs: 2, layers: [{ units: 3, activation: 'relu' }, { units: 1 }], seed: 1, backend: 'js' }).predict([[1, 2]]),
    );
  });

  it('initWasm refuses what is not the mlpkit module, naming what it got', async () => {
    const other = new WebAssembly.Module(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0));
    await expect(initWasm(other)).rejects.toThrow(
      /module must be the mlpkit WebAssembly module \(mlpkit-simd.wasm or mlpkit-scalar.wasm\), got a module without memory, simd/,
    );
    await expect(initWasm(42 as never)).rejects.toThrow(
      /source must be a WebAssembly.Module, the bytes of one, a URL or a Response, got 42/,
    );
    await expect(initWasm(Uint8Array.of(1, 2, 3))).rejects.toThrow(WebAssembly.CompileError);
    await expect(initWasm('/no/such/mlpkit.wasm')).rejects.toThrow(/ENOENT/);
  });

  it('MLPKIT_WASM_BUILD picks a build and a bad value is named', () => {
    const saved = process.env.MLPKIT_WASM_BUILD;
    try {
      process.env.MLPKIT_WASM_BUILD = 'scalar';
      expect(wasmBuildFromEnvironment()).toBe('scalar');
      process.env.MLPKIT_WASM_BUILD = 'avx';
      expect(() => wasmBuildFromEnvironment()).toThrow(
        /the MLPKIT_WASM_BUILD environment variable must be one of 'simd', 'scalar', got "avx"/,
      );
    } finally {
      if (saved === undefined) delete process.env.MLPKIT_WASM_BUILD;
      else process.env.MLPKIT_WASM_BUILD = saved;
    }
  });
});

// -------------------------------------------------------------------------------------------
// The boundary

/** A module with the exports of mlpkit's whose functions return fixed values, and one that traps. */
function fakeModule(trapping: string): WebAssembly.Module {
  const exports = WebAssembly.Module.exports(modules[builds[0]!])
    .filter((e) => e.kind === 'function')
    .map((e) => e.name);
  const f64Results = new Set(['model_train_step', 'model_loss_and_gradient', 'model_evaluate', 'model_penalty', 'model_scratch_bytes']);
  const uleb = (v: number): number[] => {
    const out: number[] = [];
    do {
      let b = v & 127;
      v >>>= 7;
      if (v) b |= 128;
      out.push(b);
    } while (v);
    return out;
  };
  const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)];
  const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
  const vector = (items: number[][]) => [...uleb(items.length), ...items.flat()];
  // Every function takes 12 i32 parameters at most and ignores them; one type per result kind.
  const arities = new Map<string, number>();
  const instance = new WebAssembly.Instance(modules[builds[0]!], {
    env: {
      abort: () => {
        throw new Error('abort');
      },
    },
  });
  for (const e of exports) arities.set(e, (instance.exports[e] as (...a: unknown[]) => unknown).length);
  const typeOf = (e: string) => `${arities.get(e)}:${f64Results.has(e) ? 'f64' : 'i32'}`;
  const types = [...new Set(exports.map(typeOf))];
  const typeBytes = types.map((t) => {
    const [arity, result] = t.split(':');
    return [
      0x60,
      ...uleb(Number(arity)),
      ...Array(Number(arity)).fill(0x7f),
      ...(result === 'void' ? [0] : [1, result === 'f64' ? 0x7c : 0x7f]),
    ];
  });
  const body = (e: string) => {
    const result = typeOf(e).split(':')[1];
    const value = 1024; // an address, or a count
    const code =
      e === trapping
        ? [0x00]
        : result === 'f64'
          ? [0x44, ...new Uint8Array(Float64Array.of(0.5).buffer)]
          : result === 'i32'
            ? [0x41, ...uleb(value)]
            : [];
    const fn = [0, ...code, 0x0b];
    return [...uleb(fn.length), ...fn];
  };
  const bytes = [
    0,
    97,
    115,
    109,
    1,
    0,
    0,
    0,
    ...section(1, vector(typeBytes)),
    ...section(3, vector(exports.map((e) => uleb(types.indexOf(typeOf(e)))))),
    ...section(5, vector([[0, 1]])),
    ...section(7, vector([[...name('memory'), 2, 0], ...exports.map((e, i) => [...name(e), 0, ...uleb(i)])])),
    ...section(10, vector(exports.map(body))),
  ];
  return new WebAssembly.Module(Uint8Array.from(bytes));
}

describe('wasm boundary: aborts and traps inside the module', () => {
  afterAll(() => {
    useWasmModule(modules[defaultBuild]);
  });

  it('an abort inside the module becomes an Error naming its message, file and line (here the cause of the RangeError for memory that cannot grow, which leaves the model usable)', () => {
    const wide = new BackendModel(
      loadWasmBackend(),
      normalizeModelSpec({ inputs: 3, layers: [{ units: 4096 }, { units: 2 }], seed: 1 }),
      4,
    );
    let failure: unknown;
    try {
      wide.reserve(2 ** 31 - 1);
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(RangeError);
    expect((failure as Error).message).toMatch(/^a batch of 2147483647 rows does not fit in the memory of the wasm backend/);
    expect(((failure as Error).cause as Error).message).toMatch(
      /^mlpkit wasm abort: out of memory: more than 4 GiB of WebAssembly memory asked for at assembly\/arena\.ts:\d+$/,
    );
    expect(wide.capacity).toBe(4);
    const out = new Float32Array(2);
    wide.predict(Float32Array.of(1, 2, 3), 1, out);
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it('a trap becomes an Error, and the model refuses every later call with it', () => {
    useWasmModule(fakeModule('model_train_step'));
    const net = new MLP({ inputs: 3, layers: [{ units: 2 }], seed: 1, backend: 'wasm' });
    expect(() => net.trainBatch([[1, 2, 3]], [[1, 0]])).toThrow(/^mlpkit wasm: trainStep trapped: unreachable/);
    expect(() => net.predict([[1, 2, 3]])).toThrow(
      /this wasm model can no longer be used \(predict\): an earlier call failed: mlpkit wasm: trainStep trapped/,
    );
    expect(() => net.getWeights()).toThrow(/can no longer be used/);
    useWasmModule(modules[defaultBuild]);
    expect(new MLP({ inputs: 3, layers: [{ units: 2 }], seed: 1, backend: 'wasm' }).predict([[1, 2, 3]])).toHaveLength(1);
  });
});
