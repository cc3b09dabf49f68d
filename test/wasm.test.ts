/**
 * The WebAssembly backend against the reference, on both builds (SIMD and scalar): its GEMM at
 * every tile and block edge in the three forms an MLP uses, on the packed and the direct path;
 * its Philox stream bit for bit; 20 training updates of every optimizer; the two builds giving
 * the same bits; loading from every kind of source; and an adapter that turns every bad call,
 * abort and trap into an Error. In CI the module must load: these tests fail without it.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasmFileSync, wasmBuildFromEnvironment, wasmFilePath } from '../src/backends/wasm-node.js';
import type { BackendModel } from '../src/backend.js';
import { loadWasmBackend, useWasmModule, wasmSimdSupported, WasmKernels } from '../src/backends/wasm.js';
import { initWasm, listBackends, MLP, type MLPOptions } from '../src/node.js';
import { philox4x32 } from '../src/rng.js';
import { normalizeModelSpec } from '../src/spec.js';
import { expectClose } from './helpers/close.js';
import { checkGemm, FORMS, randomMatrix, type Form } from './helpers/gemm.js';
import { buildParityModel, expectTrainingParity, flatWeights, PARITY_CASES, PARITY_X, parityTargets } from './helpers/parity.js';

const builds = (wasmSimdSupported() ? ['simd', 'scalar'] : ['scalar']) as ('simd' | 'scalar')[];
const modules = Object.fromEntries(builds.map((b) => [b, compileWasmFileSync(b)])) as Record<'simd' | 'scalar', WebAssembly.Module>;
const kernels = Object.fromEntries(builds.map((b) => [b, new WasmKernels(modules[b])])) as Record<'simd' | 'scalar', WasmKernels>;
const defaultBuild = wasmBuildFromEnvironment();

// Tile and block sizes of assembly/gemm.ts.
const MR = 4, NR = 8, KC = 256, MC = 128;

type Path = 'packed' | 'direct' | 'auto';

/** The wasm GEMM of one build and path on one shape, against the reference (see helpers/gemm.ts). */
function checkWasmGemm(
  build: 'simd' | 'scalar', form: Form, m: number, n: number, k: number,
  { path = 'auto', ...options }: { path?: Path; pad?: number; beta?: number; alpha?: number } = {},
): Float32Array {
  return checkGemm(`wasm ${build} ${path}, tile ${MR}×${NR}`, form, m, n, k,
    (a, lda, b, ldb, c, ldc, alpha, beta) => kernels[build].sgemm(form.transA, form.transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, path), options);
}

describe.each(builds)(`wasm GEMM, %s build (MR×NR = ${MR}×${NR}, KC = ${KC}, MC = ${MC})`, (build) => {
  const ms = [1, 2, MR - 1, MR, MR + 1, 2 * MR + 1, 3 * MR + 2];
  const ns = [1, NR - 1, NR, NR + 1, 2 * NR + 3];
  const ks = [1, 3, 4, 7, KC - 1, KC, KC + 1, 2 * KC + 5];
  const paths: Path[] = ['packed', 'direct'];

  it('reports its instruction set', () => {
    expect(kernels[build].isa).toBe(build === 'simd' ? 'simd128' : 'scalar');
  });

  for (const form of FORMS) {
    it(`${form.name}: every m and n tile edge, packed and direct`, () => {
      for (const path of paths) for (const m of ms) for (const n of ns) for (const k of [3, 129]) checkWasmGemm(build, form, m, n, k, { path });
    });
    it(`${form.name}: every k block edge`, () => {
      for (const path of paths) for (const k of ks) checkWasmGemm(build, form, 2 * MR + 1, NR + 3, k, { path });
    });
    it(`${form.name}: every m block edge of the packed path`, () => {
      for (const m of [MC - 1, MC, MC + 1, 2 * MC + 3]) checkWasmGemm(build, form, m, NR + 3, 17, { path: 'packed' });
    });
    it(`${form.name}: strided, alpha and beta, beta = 0 never reads C`, () => {
      for (const path of [...paths, 'auto'] as Path[]) {
        checkWasmGemm(build, form, 37, 45, 61, { path, pad: 5, beta: 0.5, alpha: -1.5 });
        checkWasmGemm(build, form, 37, 45, 61, { path, pad: 3, beta: 0 });
        checkWasmGemm(build, form, 9, 17, 5, { path, beta: 1 });
      }
    });
    it(`${form.name}: the shapes of an MLP, as the shape chooses the path`, () => {
      for (const [m, n, k] of [[64, 512, 78], [1, 100, 50], [3, 33, 257], [4, 4, 2]] as const) checkWasmGemm(build, form, m, n, k);
    });
  }

  it('handles empty products', () => {
    for (const path of paths) {
      checkWasmGemm(build, FORMS[0]!, 0, 5, 3, { path });
      checkWasmGemm(build, FORMS[1]!, 4, 5, 0, { path, beta: 0.5 });
      checkWasmGemm(build, FORMS[2]!, 4, 5, 0, { path });
    }
  });

  it('matches Philox4x32-10 of rng.ts bit for bit', () => {
    const block = new Uint32Array(4);
    for (const [k0, k1, c0, c1, c2, c3] of [[0, 0, 0, 0, 0, 0], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [42, 7, 123456, 3, 2, 3], [0x9e3779b9, 1, 0x80000000, 17, 1, 3]]) {
      philox4x32(k0!, k1!, c0!, c1!, c2!, c3!, block);
      expect(Array.from(kernels[build].philox(k0!, k1!, c0!, c1!, c2!, c3!))).toEqual(Array.from(block));
    }
  });
});

describe.skipIf(builds.length < 2)('the SIMD and scalar builds', () => {
  it('give the same bits in every GEMM form and path', () => {
    for (const form of FORMS) {
      for (const path of ['packed', 'direct'] as Path[]) {
        for (const [m, n, k] of [[13, 37, 300], [1, 19, 65], [64, 40, 7]] as const) {
          expect(Array.from(checkWasmGemm('scalar', form, m, n, k, { path, beta: 0.25 }))).toEqual(Array.from(checkWasmGemm('simd', form, m, n, k, { path, beta: 0.25 })));
        }
      }
    }
  });
});

// -------------------------------------------------------------------------------------------
// Training

describe.each(builds)('wasm training parity with the reference, %s build', (build) => {
  beforeAll(() => { useWasmModule(modules[build]); });
  afterAll(() => { useWasmModule(modules[defaultBuild]); });

  it.each(PARITY_CASES)('%s: 20 updates stay within max(1e-4, 1e-3·|ref|) of the reference', (...parityCase) => {
    expectTrainingParity(parityCase, 'wasm', build);
    expect(listBackends().find((b) => b.name === 'wasm')?.isa).toBe(build === 'simd' ? 'simd128' : 'scalar');
  });
});

describe.skipIf(builds.length < 2)('the SIMD and scalar builds train alike', () => {
  afterAll(() => { useWasmModule(modules[defaultBuild]); });

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

describe('asynchronous training', () => {
  const spec = normalizeModelSpec({ inputs: 3, layers: [{ units: 64, activation: 'relu' }, { units: 2, activation: 'softmax' }], seed: 3 });
  const data = (rows: number) => ({ x: randomMatrix(3 * rows, 1), y: new Float32Array(2 * rows).map((_, i) => (i % 2 ? 1 : 0)) });

  it('gives the same losses and weights as the blocking call, yielding to the event loop between slices', async () => {
    const rows = 10_000;
    const { x: dx, y: dy } = data(rows);
    const order = Int32Array.from({ length: 2 * rows }, (_, i) => (i * 7) % rows);
    const rates = new Float64Array(2 * rows).fill(0.01);
    const make = (): BackendModel => {
      const model = loadWasmBackend().createModel(spec, 1);
      model.setParams(randomMatrix(model.size, 4).map((v) => v * 0.3));
      model.setData(dx, dy, rows);
      return model;
    };
    const [blocking, sliced] = [make(), make()];
    const lossesA = new Float64Array(2 * rows);
    const lossesB = new Float64Array(2 * rows);
    expect(blocking.train(order, rows, 1, rates, lossesA)).toBe(2 * rows);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const done = await sliced.trainAsync(order, rows, 1, rates, lossesB);
    clearInterval(timer);
    expect(done).toBe(2 * rows);
    expect(ticks).toBeGreaterThan(0);
    expect(Array.from(lossesB)).toEqual(Array.from(lossesA));
    const [pa, pb] = [new Float32Array(blocking.size), new Float32Array(blocking.size)];
    blocking.getParams(pa);
    sliced.getParams(pb);
    expect(Array.from(pb)).toEqual(Array.from(pa));
  });

  it('refuses other calls and dispose while running, and stops after requestStop', async () => {
    const model = loadWasmBackend().createModel(spec, 1);
    const rows = 100_000;
    const { x: dx, y: dy } = data(rows);
    model.setData(dx, dy, rows);
    const order = Int32Array.from({ length: rows }, (_, i) => i);
    const rates = new Float64Array(rows).fill(0.01);
    const running = model.trainAsync(order, rows, 1, rates, new Float64Array(rows));
    expect(() => model.predict(new Float32Array(3), 1, new Float32Array(2))).toThrow(/busy training/);
    expect(() => model.train(order, rows, 1, rates, new Float64Array(rows))).toThrow(/busy training/);
    expect(() => model.dispose()).toThrow(/busy training/);
    await new Promise((resolve) => setTimeout(resolve, 5));
    model.requestStop();
    const done = await running;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(rows);
    expect(model.step).toBe(done);
    model.predict(new Float32Array(3), 1, new Float32Array(2));
    model.dispose();
    model.dispose();
    expect(() => model.predict(new Float32Array(3), 1, new Float32Array(2))).toThrow(/this wasm model has been disposed/);
  });

  it('an MLP on wasm stops asynchronous training on abort and keeps finite weights', async () => {
    const net = new MLP({ inputs: 3, layers: [{ units: 64, activation: 'relu' }, { units: 1 }], seed: 2, backend: 'wasm' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const big = Array.from({ length: 5000 }, (_, i) => [Math.sin(i), Math.cos(i), i / 5000]);
    const history = await net.fit(big, big.map(([a]) => a!), { epochs: 10_000, batchSize: 1, signal: controller.signal });
    expect(history.stopReason).toBe('aborted');
    expect(net.getWeights().every((l) => l.weights.every(Number.isFinite))).toBe(true);
  });
});

// -------------------------------------------------------------------------------------------
// Loading

describe('loading the module', () => {
  afterAll(() => { useWasmModule(modules[defaultBuild]); });
  const bytes = () => new Uint8Array(readFileSync(wasmFilePath(builds[0]!)));
  const isa = builds[0] === 'simd' ? 'simd128' : 'scalar';

  it('the Node entry compiles the file by itself and listBackends reports the build', () => {
    expect(listBackends().find((b) => b.name === 'wasm')).toEqual({ name: 'wasm', available: true, isa: defaultBuild === 'simd' ? 'simd128' : 'scalar', threads: 1 });
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
    expect(net.predict([[1, 2]])).toEqual(new MLP({ inputs: 2, layers: [{ units: 3, activation: 'relu' }, { units: 1 }], seed: 1, backend: 'js' }).predict([[1, 2]]));
  });

  it('initWasm refuses what is not the mlpkit module, naming what it got', async () => {
    const other = new WebAssembly.Module(Uint8Array.of(0, 97, 115, 109, 1, 0, 0, 0));
    await expect(initWasm(other)).rejects.toThrow(/module must be the mlpkit WebAssembly module \(mlpkit-simd.wasm or mlpkit-scalar.wasm\), got a module without memory, simd/);
    await expect(initWasm(42 as never)).rejects.toThrow(/source must be a WebAssembly.Module, the bytes of one, a URL or a Response, got 42/);
    await expect(initWasm(Uint8Array.of(1, 2, 3))).rejects.toThrow(WebAssembly.CompileError);
    await expect(initWasm('/no/such/mlpkit.wasm')).rejects.toThrow(/ENOENT/);
  });

  it('MLPKIT_WASM_BUILD picks a build and a bad value is named', () => {
    const saved = process.env.MLPKIT_WASM_BUILD;
    try {
      process.env.MLPKIT_WASM_BUILD = 'scalar';
      expect(wasmBuildFromEnvironment()).toBe('scalar');
      process.env.MLPKIT_WASM_BUILD = 'avx';
      expect(() => wasmBuildFromEnvironment()).toThrow(/the MLPKIT_WASM_BUILD environment variable must be one of 'simd', 'scalar', got "avx"/);
    } finally {
      if (saved === undefined) delete process.env.MLPKIT_WASM_BUILD;
      else process.env.MLPKIT_WASM_BUILD = saved;
    }
  });
});

// -------------------------------------------------------------------------------------------
// The boundary

/** A module with the exports of mlpkit's whose functions return fixed values, and one that traps. */
function fakeModule(trapping: string, size: number): WebAssembly.Module {
  const exports = WebAssembly.Module.exports(modules[builds[0]!]).filter((e) => e.kind === 'function').map((e) => e.name);
  const f64Results = new Set(['model_train_step', 'model_evaluate_rows', 'model_penalty']);
  const uleb = (v: number): number[] => { const out: number[] = []; do { let b = v & 127; v >>>= 7; if (v) b |= 128; out.push(b); } while (v); return out; };
  const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)];
  const section = (id: number, body: number[]) => [id, ...uleb(body.length), ...body];
  const vector = (items: number[][]) => [...uleb(items.length), ...items.flat()];
  // Every function takes 12 i32 parameters at most and ignores them; one type per result kind.
  const arities = new Map<string, number>();
  const instance = new WebAssembly.Instance(modules[builds[0]!], { env: { abort: () => { throw new Error('abort'); } } });
  for (const e of exports) arities.set(e, (instance.exports[e] as (...a: unknown[]) => unknown).length);
  const typeOf = (e: string) => `${arities.get(e)}:${f64Results.has(e) ? 'f64' : e.startsWith('model_') || ['simd', 'scalars_ptr', 'alloc', 'mark'].includes(e) ? 'i32' : 'void'}`;
  const types = [...new Set(exports.map(typeOf))];
  const typeBytes = types.map((t) => {
    const [arity, result] = t.split(':');
    return [0x60, ...uleb(Number(arity)), ...Array(Number(arity)).fill(0x7f), ...(result === 'void' ? [0] : [1, result === 'f64' ? 0x7c : 0x7f])];
  });
  const body = (e: string) => {
    const result = typeOf(e).split(':')[1];
    const value = e === 'model_create' ? size : 1024; // the parameter count, else an address
    const code = e === trapping ? [0x00] : result === 'f64' ? [0x44, ...new Uint8Array(Float64Array.of(0.5).buffer)] : result === 'i32' ? [0x41, ...uleb(value)] : [];
    const fn = [0, ...code, 0x0b];
    return [...uleb(fn.length), ...fn];
  };
  const bytes = [
    0, 97, 115, 109, 1, 0, 0, 0,
    ...section(1, vector(typeBytes)),
    ...section(3, vector(exports.map((e) => uleb(types.indexOf(typeOf(e)))))),
    ...section(5, vector([[0, 1]])),
    ...section(7, vector([[...name('memory'), 2, 0], ...exports.map((e, i) => [...name(e), 0, ...uleb(i)])])),
    ...section(10, vector(exports.map(body))),
  ];
  return new WebAssembly.Module(Uint8Array.from(bytes));
}

describe('wasm boundary: every bad call throws and the model says what became of it', () => {
  afterAll(() => { useWasmModule(modules[defaultBuild]); });
  const spec = normalizeModelSpec({ inputs: 3, layers: [{ units: 4, activation: 'relu' }, { units: 2, activation: 'softmax' }], seed: 1 });
  const model = (capacity = 8) => loadWasmBackend().createModel(spec, capacity);
  const withData = () => {
    const m = model();
    m.setData(new Float32Array(6), Float32Array.of(1, 0, 0, 1), 2);
    return m;
  };
  const k = () => kernels[builds[0]!];

  const cases: [string, () => unknown, RegExp][] = [
    ['setData with x as an array', () => model().setData([1, 2, 3] as never, new Float32Array(2), 1), /x must be a Float32Array, got an array of length 3/],
    ['setData with y too short', () => model().setData(new Float32Array(6), new Float32Array(3), 2), /y must be a Float32Array of length at least 4, got a Float32Array of length 3/],
    ['setData with n = 0', () => model().setData(new Float32Array(6), new Float32Array(4), 0), /n must be an integer between 1 and 2147483647, got 0/],
    ['training before setData', () => model().train(Int32Array.of(0), 1, 1, Float64Array.of(0.1), new Float64Array(1)), /setData\(x, y, n\) must come before training/],
    ['order as an array', () => withData().train([0, 1] as never, 2, 1, Float64Array.of(0.1, 0.1), new Float64Array(2)), /order must be an Int32Array, got an array of length 2/],
    ['a row index out of range', () => withData().train(Int32Array.of(0, 2), 2, 1, Float64Array.of(0.1, 0.1), new Float64Array(2)), /order\[1\] must be a row index between 0 and 1, got 2/],
    ['an epoch length that does not divide the order', () => withData().train(Int32Array.of(0, 1, 0), 2, 1, Float64Array.of(0.1, 0.1, 0.1), new Float64Array(3)), /epochLength must be a divisor of order.length = 3, got 2/],
    ['a NaN learning rate', () => withData().train(Int32Array.of(0, 1), 2, 1, Float64Array.of(0.1, NaN), new Float64Array(2)), /learningRates\[1\] must be a finite number >= 0, got NaN/],
    ['too few loss slots', () => withData().train(Int32Array.of(0, 1), 2, 1, Float64Array.of(0.1, 0.1), new Float64Array(1)), /losses must be a Float64Array of length at least 2, got a Float64Array of length 1/],
    ['a batch larger than the capacity', () => { const m = model(1); m.setData(new Float32Array(6), new Float32Array(4), 2); m.train(Int32Array.of(0, 1), 2, 2, Float64Array.of(0.1), new Float64Array(1)); }, /batchSize must be at most the capacity \(1 rows\) or the epoch length, got 2/],
    ['trainStep beyond the capacity', () => model().trainStep(new Float32Array(27), new Float32Array(18), 9, 0.1), /n must be an integer between 1 and 8, got 9/],
    ['trainStep with an infinite learning rate', () => model().trainStep(new Float32Array(3), new Float32Array(2), 1, Infinity), /learningRate must be a finite number >= 0, got Infinity/],
    ['x shorter than n rows', () => model().predict(new Float32Array(5), 2, new Float32Array(4)), /x must be a Float32Array of length at least 6, got a Float32Array of length 5/],
    ['predict into a Float64Array', () => model().predict(new Float32Array(6), 2, new Float64Array(4) as never), /out must be a Float32Array, got a Float64Array of length 4/],
    ['setParams too short', () => model().setParams(new Float32Array(3)), /params must be a Float32Array of length at least 26, got a Float32Array of length 3/],
    ['reserve of a fraction', () => model().reserve(1.5), /rows must be an integer between 1 and 2147483647, got 1.5/],
    ['sgemm with lda below k', () => k().sgemm(false, false, 2, 2, 3, 1, new Float32Array(6), 2, new Float32Array(6), 2, 0, new Float32Array(4), 2), /lda must be an integer between 3 and 2147483647, got 2/],
    ['sgemm with A too short', () => k().sgemm(false, false, 3, 2, 3, 1, new Float32Array(6), 3, new Float32Array(6), 2, 0, new Float32Array(6), 2), /a must be a Float32Array of length at least 9, got a Float32Array of length 6/],
    ['sgemm with NaN alpha', () => k().sgemm(false, false, 1, 1, 1, NaN, new Float32Array(1), 1, new Float32Array(1), 1, 0, new Float32Array(1), 1), /alpha must be a finite number, got NaN/],
    ['sgemm on an unknown path', () => k().sgemm(false, false, 1, 1, 1, 1, new Float32Array(1), 1, new Float32Array(1), 1, 0, new Float32Array(1), 1, 'fast' as never), /path must be one of 'auto', 'packed', 'direct', got "fast"/],
    ['philox with a negative key', () => k().philox(-1, 0, 0, 0, 0, 0), /key0 must be an integer between 0 and 4294967295, got -1/],
  ];

  it.each(cases)('%s', (_name, call, message) => {
    expect(call).toThrow(message);
  });

  it('an abort inside the module becomes an Error naming its message, file and line; memory that cannot grow leaves the model usable', () => {
    const wide = loadWasmBackend().createModel(normalizeModelSpec({ inputs: 3, layers: [{ units: 4096 }, { units: 2 }], seed: 1 }), 4);
    expect(() => wide.reserve(2 ** 31 - 1)).toThrow(/^mlpkit wasm abort: out of memory: more than 4 GiB of WebAssembly memory asked for at assembly\/arena\.ts:\d+$/);
    expect(wide.capacity).toBe(4);
    const out = new Float32Array(2);
    wide.predict(Float32Array.of(1, 2, 3), 1, out);
    expect(out.every(Number.isFinite)).toBe(true);
  });

  it('a trap becomes an Error, and the model refuses every later call with it', () => {
    useWasmModule(fakeModule('model_train_step', 8));
    const net = new MLP({ inputs: 3, layers: [{ units: 2 }], seed: 1, backend: 'wasm' });
    expect(() => net.trainBatch([[1, 2, 3]], [[1, 0]])).toThrow(/^mlpkit wasm: trainStep trapped: unreachable/);
    expect(() => net.predict([[1, 2, 3]])).toThrow(/this wasm model can no longer be used \(predict\): an earlier call failed: mlpkit wasm: trainStep trapped/);
    expect(() => net.getWeights()).toThrow(/can no longer be used/);
    useWasmModule(modules[defaultBuild]);
    expect(new MLP({ inputs: 3, layers: [{ units: 2 }], seed: 1, backend: 'wasm' }).predict([[1, 2, 3]])).toHaveLength(1);
  });
});
