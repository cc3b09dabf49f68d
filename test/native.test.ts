/**
 * The native backend against the reference: its GEMM at every tile edge in the three forms
 * an MLP uses, on every instruction set this CPU runs and on 1 and 2 threads; its Philox
 * stream bit for bit; N training steps of every optimizer; and a boundary that turns every
 * bad call into an exception. In CI the addon must load: these tests fail without it.
 */
import { describe, expect, it } from 'vitest';
import { nativeBinding } from '../src/backends/native.js';
import { MLP, type MLPOptions } from '../src/node.js';
import { philox4x32 } from '../src/rng.js';
import { ACTIVATION_CODE } from '../src/spec.js';
import { expectClose } from './helpers/close.js';
import { checkGemm, FORMS, randomMatrix, type Form } from './helpers/gemm.js';
import { expectTrainingParity, PARITY_CASES, PARITY_X, parityTargets } from './helpers/parity.js';

const addon = nativeBinding();
const info = addon.info();

/** The native GEMM on one shape, against the reference (see helpers/gemm.ts). */
function checkNativeGemm(
  form: Form, m: number, n: number, k: number,
  { isa = 'auto', threads = 1, ...options }: { isa?: 'auto' | 'avx2+fma' | 'scalar'; threads?: number; pad?: number; beta?: number; alpha?: number } = {},
): Float32Array {
  return checkGemm(`native ${isa === 'auto' ? info.isa : isa}, tile ${info.mr}×${info.nr}, ${threads} thread${threads > 1 ? 's' : ''}`, form, m, n, k,
    (a, lda, b, ldb, c, ldc, alpha, beta) => addon.sgemm(form.transA, form.transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, isa), options);
}

describe(`native GEMM (${info.isa}, MR×NR = ${info.mr}×${info.nr}, KC = ${info.kc})`, () => {
  const { mr, nr, kc } = info;
  const ms = [...new Set([1, 2, mr - 1, mr, mr + 1, 2 * mr + 1, 3 * mr + 2])].filter((v) => v > 0);
  const ns = [...new Set([1, nr - 1, nr, nr + 1, 2 * nr + 3])].filter((v) => v > 0);
  const ks = [...new Set([1, 7, kc - 1, kc, kc + 1, 2 * kc + 5])].filter((v) => v > 0);
  const isas = ['auto', 'scalar'] as const;

  for (const form of FORMS) {
    it(`${form.name}: every m and n tile edge, small and packed paths`, () => {
      for (const isa of isas) for (const m of ms) for (const n of ns) for (const k of [3, 129]) checkNativeGemm(form, m, n, k, { isa });
    });
    it(`${form.name}: every k block edge`, () => {
      for (const isa of isas) for (const k of ks) checkNativeGemm(form, 2 * mr + 1, nr + 3, k, { isa });
    });
    it(`${form.name}: strided, alpha and beta, beta = 0 never reads C`, () => {
      for (const isa of isas) {
        checkNativeGemm(form, 37, 45, 61, { isa, pad: 5, beta: 0.5, alpha: -1.5 });
        checkNativeGemm(form, 37, 45, 61, { isa, pad: 3, beta: 0 });
      }
    });
    it(`${form.name}: 2 threads give the same bits as 1`, () => {
      for (const [m, n, k] of [[64, 512, 784], [13, 33, 257], [3, 200, 50]] as const) {
        const one = checkNativeGemm(form, m, n, k, { threads: 1 });
        const two = checkNativeGemm(form, m, n, k, { threads: 2 });
        expect(Array.from(two)).toEqual(Array.from(one));
      }
    });
  }

  it('handles empty products', () => {
    checkNativeGemm(FORMS[0]!, 0, 5, 3);
    checkNativeGemm(FORMS[1]!, 4, 5, 0, { beta: 0.5 });
  });
});

describe('native random stream', () => {
  it('matches Philox4x32-10 of rng.ts bit for bit', () => {
    const block = new Uint32Array(4);
    for (const [k0, k1, c0, c1, c2, c3] of [[0, 0, 0, 0, 0, 0], [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [42, 7, 123456, 3, 2, 3]]) {
      philox4x32(k0!, k1!, c0!, c1!, c2!, c3!, block);
      expect(Array.from(addon.philox(k0!, k1!, c0!, c1!, c2!, c3!))).toEqual(Array.from(block));
    }
  });
});

describe('native training parity with the reference', () => {
  it.each(PARITY_CASES)('%s: 20 updates stay within max(1e-4, 1e-3·|ref|) of the reference', (...parityCase) => {
    expectTrainingParity(parityCase, 'native');
  });

  it('results do not depend on the thread count', () => {
    const build = (threads: number) => new MLP({
      inputs: 3, layers: [{ units: 300, activation: 'relu' }, { units: 200, activation: 'tanh' }, { units: 3, activation: 'softmax' }],
      optimizer: { type: 'adam', learningRate: 0.01 }, dropout: 0.2, seed: 5, backend: 'native', threads,
    });
    const [one, two] = [build(1), build(2)];
    const y = parityTargets(PARITY_CASES[0]!);
    one.fitSync(PARITY_X, y, { epochs: 3, batchSize: 8 });
    two.fitSync(PARITY_X, y, { epochs: 3, batchSize: 8 });
    expect(two.getWeights()).toEqual(one.getWeights());
  });
});

describe('native boundary: every bad call throws and the process lives on', () => {
  const layers = Int32Array.of(4, ACTIVATION_CODE.relu, 1, 2, ACTIVATION_CODE.softmax, 1);
  const layerParams = Float64Array.of(0, 0, 0, 0);
  const hyper = Float64Array.of(0.9, 0.9, 0.999, 1e-8, 0);
  const model = () => new addon.Model(3, layers, layerParams, 4, 3, hyper, 1, 0);
  const bound = () => {
    const m = model();
    m.bind(new Float32Array(m.stateFloats()), Float64Array.of(0, 1, 1), new Float32Array(m.scratchFloats(8)), 8);
    return m;
  };
  const detached = () => {
    const array = new Float32Array(4);
    structuredClone(array.buffer, { transfer: [array.buffer] });
    return array;
  };

  const cases: [string, () => unknown, RegExp][] = [
    ['too few arguments', () => new (addon.Model as unknown as new (...a: unknown[]) => unknown)(3, layers), /Model takes 8 arguments, got 2/],
    ['layers as Float32Array', () => new addon.Model(3, new Float32Array(6) as never, layerParams, 4, 3, hyper, 1, 0), /layers must be a Int32Array, got a Float32Array of length 6/],
    ['layers not a multiple of 3', () => new addon.Model(3, Int32Array.of(4, 3), layerParams, 4, 3, hyper, 1, 0), /layers must be an Int32Array of \[units, activation, bias\] per layer/],
    ['an unknown activation code', () => new addon.Model(3, Int32Array.of(4, 9, 1), Float64Array.of(0, 0), 0, 0, hyper, 1, 0), /layers\[0\]\.activation must be a code between 0 and 6, got 9/],
    ['softmax on a hidden layer', () => new addon.Model(3, Int32Array.of(4, 6, 1, 2, 0, 1), layerParams, 0, 0, hyper, 1, 0), /softmax is only allowed on the output layer/],
    ['dropout on the output layer', () => new addon.Model(3, layers, Float64Array.of(0, 0, 0, 0.5), 4, 3, hyper, 1, 0), /dropout must be in \[0, 1\) on hidden layers and 0 on the output layer/],
    ['NaN momentum', () => new addon.Model(3, layers, layerParams, 4, 1, Float64Array.of(NaN, 0.9, 0.999, 1e-8, 0), 1, 0), /hyper\[0\] \(momentum\) is out of range/],
    ['a NaN loss code', () => new addon.Model(3, layers, layerParams, NaN, 3, hyper, 1, 0), /loss must be an integer between 0 and 4, got NaN/],
    ['parameters that overflow 32 bits', () => new addon.Model(1 << 24, Int32Array.of(1 << 24, 0, 1), Float64Array.of(0, 0), 0, 0, hyper, 1, 0), /more than 2\^31 - 1 parameters/],
    ['scratch for an absurd capacity', () => model().scratchFloats(2 ** 31 - 1), /capacity must be small enough for the scratch memory to be addressable/],
    ['a state array of the wrong length', () => model().bind(new Float32Array(3), Float64Array.of(0, 1, 1), new Float32Array(100), 1), /state must be a Float32Array of length \d+, got a Float32Array of length 3/],
    ['a detached state array', () => { const m = model(); m.bind(detached(), Float64Array.of(0, 1, 1), new Float32Array(m.scratchFloats(1)), 1); }, /state must be a Float32Array of length \d+, got a Float32Array with a detached buffer/],
    ['training before bind', () => model().train(Int32Array.of(0), 1, 1, Float64Array.of(0.1), new Float64Array(1)), /bind\(state, counters, scratch, capacity\) must come first/],
    ['training before setData', () => bound().train(Int32Array.of(0), 1, 1, Float64Array.of(0.1), new Float64Array(1)), /setData\(x, y, rows\) must come before training/],
    ['a row index out of range', () => { const m = bound(); m.setData(new Float32Array(6), new Float32Array(4), 2); m.train(Int32Array.of(0, 2), 2, 1, Float64Array.of(0.1, 0.1), new Float64Array(2)); }, /order\[1\] must be a row index between 0 and 1, got 2/],
    ['an epoch length that does not divide the order', () => { const m = bound(); m.setData(new Float32Array(9), new Float32Array(6), 3); m.train(Int32Array.of(0, 1, 2), 2, 1, Float64Array.of(0.1, 0.1, 0.1), new Float64Array(3)); }, /epochLength must divide order.length = 3, got 2/],
    ['a NaN learning rate', () => { const m = bound(); m.setData(new Float32Array(6), new Float32Array(4), 2); m.train(Int32Array.of(0, 1), 2, 1, Float64Array.of(0.1, NaN), new Float64Array(2)); }, /learningRates\[1\] must be a finite number >= 0/],
    ['too few loss slots', () => { const m = bound(); m.setData(new Float32Array(6), new Float32Array(4), 2); m.train(Int32Array.of(0, 1), 2, 1, Float64Array.of(0.1, 0.1), new Float64Array(1)); }, /losses must be a Float64Array of length at least 2, got a Float64Array of length 1/],
    ['a batch larger than the capacity', () => bound().trainStep(new Float32Array(27), new Float32Array(18), 9, 0.1), /n must be an integer between 1 and 8, got 9/],
    ['x shorter than n rows', () => bound().predict(new Float32Array(5), 2, new Float32Array(4)), /x must be a Float32Array of length at least 6, got a Float32Array of length 5/],
    ['predict into a Float64Array', () => bound().predict(new Float32Array(6), 2, new Float64Array(4) as never), /out must be a Float32Array, got a Float64Array of length 4/],
    ['sgemm with A too short for m, k, lda', () => addon.sgemm(false, false, 2 ** 31 - 1, 1, 2 ** 31 - 1, 1, new Float32Array(4), 2 ** 31 - 1, new Float32Array(4), 1, 0, new Float32Array(4), 1, 1, 'auto'), /(a|ldb|ldc) must be/],
    ['sgemm with lda below k', () => addon.sgemm(false, false, 2, 2, 3, 1, new Float32Array(6), 2, new Float32Array(6), 2, 0, new Float32Array(4), 2, 1, 'auto'), /lda must be an integer between 3 and 2147483647, got 2/],
    ['sgemm with NaN alpha', () => addon.sgemm(false, false, 1, 1, 1, NaN, new Float32Array(1), 1, new Float32Array(1), 1, 0, new Float32Array(1), 1, 1, 'auto'), /alpha must be a finite number/],
    ['sgemm with an unknown ISA', () => addon.sgemm(false, false, 1, 1, 1, 1, new Float32Array(1), 1, new Float32Array(1), 1, 0, new Float32Array(1), 1, 1, 'sse' as never), /isa must be one of 'auto', 'avx512', 'avx2\+fma', 'scalar', got "sse"/],
    ['philox with a negative key', () => addon.philox(-1, 0, 0, 0, 0, 0), /key0 must be an integer between 0 and 4294967295, got -1/],
  ];
  if (info.isa !== 'avx512') {
    cases.push(['sgemm on AVX-512 without it', () => addon.sgemm(false, false, 1, 1, 1, 1, new Float32Array(1), 1, new Float32Array(1), 1, 0, new Float32Array(1), 1, 1, 'avx512'), /isa must be an instruction set this CPU supports/]);
  }

  it.each(cases)('%s', (_name, call, message) => {
    expect(call).toThrow(message);
  });

  it('a disposed model refuses every call; dispose is idempotent', () => {
    const m = bound();
    m.dispose();
    m.dispose();
    expect(() => m.predict(new Float32Array(3), 1, new Float32Array(2))).toThrow(/this native model has been disposed/);
    expect(() => m.stateFloats()).toThrow(/disposed/);
  });

  it('a model training asynchronously refuses other calls and dispose until it is done', async () => {
    const m = model();
    m.bind(new Float32Array(m.stateFloats()), Float64Array.of(0, 1, 1), new Float32Array(m.scratchFloats(1)), 1);
    m.setData(randomMatrix(3 * 2000, 1), new Float32Array(2 * 2000).map((_, i) => (i % 2 ? 1 : 0)), 2000);
    const order = Int32Array.from({ length: 2000 }, (_, i) => i);
    const running = m.trainAsync(order, 2000, 1, new Float64Array(2000).fill(0.01), new Float64Array(2000));
    expect(() => m.predict(new Float32Array(3), 1, new Float32Array(2))).toThrow(/busy training/);
    expect(() => m.train(order, 2000, 1, new Float64Array(2000), new Float64Array(2000))).toThrow(/busy training/);
    expect(() => m.dispose()).toThrow(/busy training/);
    m.requestStop();
    const done = await running;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThanOrEqual(2000);
    m.predict(new Float32Array(3), 1, new Float32Array(2));
    m.dispose();
  });

  it('an MLP on native stops asynchronous training on abort and keeps finite weights', async () => {
    const net = new MLP({ inputs: 3, layers: [{ units: 64, activation: 'relu' }, { units: 1 }], seed: 2, backend: 'native' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 20);
    const big = Array.from({ length: 5000 }, (_, i) => [Math.sin(i), Math.cos(i), i / 5000]);
    const history = await net.fit(big, big.map(([a]) => a!), { epochs: 10_000, batchSize: 1, signal: controller.signal });
    expect(history.stopReason).toBe('aborted');
    expect(net.getWeights().every((l) => l.weights.every(Number.isFinite))).toBe(true);
  });
});
