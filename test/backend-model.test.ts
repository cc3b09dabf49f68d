/**
 * The one wrapper over every backend (backend-model.ts): the same checks with the same
 * messages on every backend, batches cut once, asynchronous training that gives the bits of
 * the blocking call while the event loop runs, busy and disposed models refusing calls, and
 * the raw calls every backend adds for the API (loss and gradient, one forward pass for loss
 * and outputs). In CI every backend must be present.
 */
import { describe, expect, it } from 'vitest';
import { BackendModel, batchBounds } from '../src/backend-model.js';
import * as reference from '../src/backends/reference.js';
import { paramLayout } from '../src/layout.js';
import { resolveBackend } from '../src/registry.js';
import { normalizeModelSpec } from '../src/spec.js';
import { BACKENDS } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';
import { randomMatrix } from './helpers/gemm.js';

describe('batchBounds', () => {
  it('cuts epochs into batches that restart at each epoch, the last one short', () => {
    expect(Array.from(batchBounds(2, 5, 2))).toEqual([0, 2, 4, 5, 7, 9, 10]);
    expect(Array.from(batchBounds(1, 4, 4))).toEqual([0, 4]);
    expect(Array.from(batchBounds(3, 1, 8))).toEqual([0, 1, 2, 3]);
  });
});

const spec = normalizeModelSpec({
  inputs: 3,
  layers: [
    { units: 64, activation: 'relu' },
    { units: 2, activation: 'softmax' },
  ],
  seed: 3,
  l2: 1e-3,
});
const data = (rows: number) => ({ x: randomMatrix(3 * rows, 1), y: new Float32Array(2 * rows).map((_, i) => (i % 2 ? 1 : 0)) });

describe.each(BACKENDS)('the %s backend through the wrapper', (name) => {
  const backend = () => resolveBackend(name);
  const model = (capacity = 8) => {
    const m = new BackendModel(backend(), spec, capacity);
    m.setParams(randomMatrix(m.size, 4).map((v) => v * 0.3));
    return m;
  };
  const withData = () => {
    const m = model();
    m.setData(new Float32Array(6), Float32Array.of(1, 0, 0, 1), 2);
    return m;
  };

  const cases: [string, () => unknown, RegExp][] = [
    [
      'setData with x as an array',
      () => model().setData([1, 2, 3] as never, new Float32Array(2), 1),
      /x must be a Float32Array, got an array of length 3/,
    ],
    [
      'setData with y too short',
      () => model().setData(new Float32Array(6), new Float32Array(3), 2),
      /y must be a Float32Array of length at least 4, got a Float32Array of length 3/,
    ],
    [
      'setData with n = 0',
      () => model().setData(new Float32Array(6), new Float32Array(4), 0),
      /n must be an integer between 1 and 2147483647, got 0/,
    ],
    [
      'training before setData',
      () => model().train(Int32Array.of(0), 1, 1, Float64Array.of(0.1), new Float64Array(1)),
      /setData\(x, y, n\) must come before training/,
    ],
    [
      'order as an array',
      () => withData().train([0, 1] as never, 2, 1, Float64Array.of(0.1, 0.1), new Float64Array(2)),
      /order must be a Int32Array, got an array of length 2/,
    ],
    [
      'a row index out of range',
      () => withData().train(Int32Array.of(0, 2), 2, 1, Float64Array.of(0.1, 0.1), new Float64Array(2)),
      /order\[1\] must be a row index between 0 and 1, got 2/,
    ],
    [
      'an epoch length that does not divide the order',
      () => withData().train(Int32Array.of(0, 1, 0), 2, 1, Float64Array.of(0.1, 0.1, 0.1), new Float64Array(3)),
      /epochLength must be a divisor of order.length = 3, got 2/,
    ],
    [
      'a NaN learning rate',
      () => withData().train(Int32Array.of(0, 1), 2, 1, Float64Array.of(0.1, NaN), new Float64Array(2)),
      /learningRates\[1\] must be a finite number >= 0, got NaN/,
    ],
    [
      'too few loss slots',
      () => withData().train(Int32Array.of(0, 1), 2, 1, Float64Array.of(0.1, 0.1), new Float64Array(1)),
      /losses must be a Float64Array of length at least 2, got a Float64Array of length 1/,
    ],
    [
      'a batch larger than the capacity',
      () => {
        const m = model(1);
        m.setData(new Float32Array(6), new Float32Array(4), 2);
        m.train(Int32Array.of(0, 1), 2, 2, Float64Array.of(0.1), new Float64Array(1));
      },
      /batchSize must be at most the capacity \(1 rows\) or the epoch length, got 2/,
    ],
    [
      'trainStep beyond the capacity',
      () => model().trainStep(new Float32Array(27), new Float32Array(18), 9, 0.1),
      /n must be an integer between 1 and 8, got 9/,
    ],
    [
      'trainStep with an infinite learning rate',
      () => model().trainStep(new Float32Array(3), new Float32Array(2), 1, Infinity),
      /learningRate must be a finite number >= 0, got Infinity/,
    ],
    [
      'x shorter than n rows',
      () => model().predict(new Float32Array(5), 2, new Float32Array(4)),
      /x must be a Float32Array of length at least 6, got a Float32Array of length 5/,
    ],
    [
      'predict on x of another kind',
      () => model().predict(new Int32Array(6) as never, 2, new Float32Array(4)),
      /x must be a Float32Array, Float64Array or Uint8Array, got a Int32Array of length 6/,
    ],
    [
      'bytes shorter than n rows',
      () => model().evaluate(new Uint8Array(5), new Float32Array(4), 2),
      /x must be a Uint8Array of length at least 6, got a Uint8Array of length 5/,
    ],
    [
      'a scaling of the wrong length',
      () => model().predict(new Uint8Array(6), 2, new Float32Array(4), new Float64Array(5)),
      /scaling must be a Float64Array of length at least 6, got a Float64Array of length 5/,
    ],
    [
      'predict into a Float64Array',
      () => model().predict(new Float32Array(6), 2, new Float64Array(4) as never),
      /out must be a Float32Array, got a Float64Array of length 4/,
    ],
    [
      'setParams too short',
      () => model().setParams(new Float32Array(3)),
      /params must be a Float32Array of length at least 386, got a Float32Array of length 3/,
    ],
    ['reserve of a fraction', () => model().reserve(1.5), /rows must be an integer between 1 and 2147483647, got 1.5/],
  ];

  it.each(cases)('%s', (_case, call, message) => {
    expect(call).toThrow(message);
  });

  it('trains asynchronously to the same bits as the blocking call, letting the event loop run', async () => {
    const rows = 4000;
    const { x, y } = data(rows);
    const order = Int32Array.from({ length: 2 * rows }, (_, i) => (i * 7) % rows);
    const rates = new Float64Array(2 * rows).fill(0.01);
    const make = () => {
      const m = model(1);
      m.setData(x, y, rows);
      return m;
    };
    const [blocking, sliced] = [make(), make()];
    const [lossesA, lossesB] = [new Float64Array(2 * rows), new Float64Array(2 * rows)];
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
    expect(sliced.step).toBe(2 * rows);
  });

  it('refuses other calls and dispose while training asynchronously, and stops after requestStop', async () => {
    const m = model(1);
    const rows = 50_000;
    const { x, y } = data(rows);
    m.setData(x, y, rows);
    const order = Int32Array.from({ length: rows }, (_, i) => i);
    const rates = new Float64Array(rows).fill(0.01);
    const running = m.trainAsync(order, rows, 1, rates, new Float64Array(rows));
    expect(() => m.predict(new Float32Array(3), 1, new Float32Array(2))).toThrow(new RegExp(`this ${name} model is busy training`));
    expect(() => m.train(order, rows, 1, rates, new Float64Array(rows))).toThrow(/busy training/);
    expect(() => m.dispose()).toThrow(/busy training/);
    await new Promise((resolve) => setTimeout(resolve, 5));
    m.requestStop();
    const done = await running;
    expect(done).toBeGreaterThan(0);
    expect(done).toBeLessThan(rows);
    expect(m.step).toBe(done);
    m.predict(new Float32Array(3), 1, new Float32Array(2));
    m.dispose();
    m.dispose();
    expect(() => m.predict(new Float32Array(3), 1, new Float32Array(2))).toThrow(new RegExp(`this ${name} model has been disposed`));
  });

  it('lossAndGradient gives the reference loss and gradient without updating, growing the capacity to the batch', () => {
    const rows = 20;
    const { x, y } = data(rows);
    const m = model(4);
    const params = new Float32Array(m.size);
    m.getParams(params);
    const loss = m.lossAndGradient(x, y, rows);
    expect(m.capacity).toBe(rows);
    const grads = new Float32Array(m.size);
    m.getGrads(grads);
    const after = new Float32Array(m.size);
    m.getParams(after);
    expect(after).toEqual(params);
    expect(m.step).toBe(0);
    const net = reference.createNetwork(spec, paramLayout(spec.inputs, spec.layers));
    net.params.set(params);
    const want = reference.lossAndGradient(net, reference.createScratch(spec, rows), x, y, rows);
    expectClose(loss, want, { atol: 1e-6, rtol: 1e-5, label: `${name}: loss` });
    expectClose(grads, net.grads, { atol: 1e-6, rtol: 1e-4, label: `${name}: gradient` });
  });

  it('evaluate gives the outputs of predict from the same pass, in chunks of the capacity', () => {
    const rows = 21;
    const { x, y } = data(rows);
    const m = model(8);
    const outputs = new Float32Array(2 * rows);
    const loss = m.evaluate(x, y, rows, outputs);
    const predicted = new Float32Array(2 * rows);
    m.predict(x, rows, predicted);
    expect(outputs).toEqual(predicted);
    expect(m.evaluate(x, y, rows)).toBe(loss);
    // Every target is class 1: the loss is the mean of −log p₁ plus l2·‖W‖².
    let crossEntropy = 0;
    for (let r = 0; r < rows; r++) crossEntropy -= Math.log(outputs[2 * r + 1]!) / rows;
    const params = new Float32Array(m.size);
    m.getParams(params);
    let penalty = 0;
    for (const { inputs, units, weightOffset } of paramLayout(spec.inputs, spec.layers).layers) {
      for (let i = weightOffset; i < weightOffset + inputs * units; i++) penalty += spec.l2 * params[i]! ** 2;
    }
    expectClose(loss, crossEntropy + penalty, { atol: 1e-6, rtol: 1e-5, label: `${name}: evaluate` });
  });

  it('reads bytes and doubles a chunk at a time, standardized on the way, to the bits of a scaled float32 copy', () => {
    const rows = 21; // three chunks of the capacity, the last one short
    const { y } = data(rows);
    const bytes = Uint8Array.from({ length: 3 * rows }, (_, i) => (i * 37) % 256);
    // Large values with small differences: rounded to float32 before the mean is taken off,
    // they would all but vanish.
    const doubles = Float64Array.from(randomMatrix(3 * rows, 5), (v) => 1e9 + v);
    const byteScaling = Float64Array.of(120, 130, 110, 70, 80, 75); // mean per column, then scale
    const doubleScaling = Float64Array.of(1e9, 1e9, 1e9, 0.5, 0.6, 0.7);
    // Standardized in double from the values as given, rounded once.
    const scaled = (source: ArrayLike<number>, s: Float64Array) =>
      Float32Array.from({ length: source.length }, (_, i) => (source[i]! - s[i % 3]!) / s[3 + (i % 3)]!);
    const m = model(8);
    for (const [x, scaling] of [
      [bytes, byteScaling],
      [doubles, doubleScaling],
    ] as const) {
      const expected = new Float32Array(2 * rows);
      const expectedLoss = m.evaluate(scaled(x, scaling), y, rows, expected);
      const outputs = new Float32Array(2 * rows);
      expect(m.evaluate(x, y, rows, outputs, scaling)).toBe(expectedLoss);
      expect(outputs).toEqual(expected);
      const predicted = new Float32Array(2 * rows);
      m.predict(x, rows, predicted, scaling);
      expect(predicted).toEqual(expected);
      m.predict(x, rows, predicted); // unscaled: the values as float32
      const plain = new Float32Array(2 * rows);
      m.predict(Float32Array.from(x), rows, plain);
      expect(predicted).toEqual(plain);
    }
    // The doubles' differences survive standardizing: far more distinct values than float32 keeps.
    expect(new Set(scaled(doubles, doubleScaling)).size).toBeGreaterThan(new Set(Float32Array.from(doubles)).size * 4);
  });
});
