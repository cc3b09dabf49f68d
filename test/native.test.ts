/**
 * The native backend against the reference: N training steps of every optimizer, results
 * independent of the thread count, and an addon boundary that turns every bad call into an
 * exception, even made directly (the addon can be loaded without the wrapper). Its kernels
 * are in kernels.test.ts. In CI the addon must load: these tests fail without it.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { loadNativeBackend, nativeBinding } from '../src/backends/native.js';
import { StandardScaler } from '../src/scaler.js';
import { MLP, type OptimizerType } from '../src/node.js';
import { paramLayout } from '../src/layout.js';
import { normalizeModelSpec } from '../src/spec.js';
import { initialCounters, LAYER_FIELDS, modelTables } from '../src/tables.js';
import { expectClose } from './helpers/close.js';
import { randomMatrix } from './helpers/gemm.js';
import { buildWideModel, expectTrainingParity, PARITY_CASES, WIDE_X, WIDE_Y } from './helpers/parity.js';

const addon = nativeBinding();
const info = addon.info();

/**
 * Trains the network `build` makes on 1, 2 and 3 threads (three even on fewer CPUs: the cap on
 * the team is lifted to test a three-way split) and expects the same losses and weights.
 */
function expectTheSameBitsOnOneTwoThreeThreads(build: (threads: number) => MLP, train: (net: MLP) => number[]): void {
  process.env.MLPKIT_FORCE_THREADS = '1';
  let runs: { loss: number[]; weights: ReturnType<MLP['getWeights']> }[];
  try {
    runs = [1, 2, 3].map((threads) => {
      const net = build(threads);
      return { loss: train(net), weights: net.getWeights() };
    });
  } finally {
    delete process.env.MLPKIT_FORCE_THREADS;
  }
  expect(runs[0]!.loss.every(Number.isFinite)).toBe(true);
  for (const run of runs.slice(1)) {
    expect(run.loss).toEqual(runs[0]!.loss);
    expect(run.weights).toEqual(runs[0]!.weights);
  }
}

describe('native training parity with the reference', () => {
  it.each(PARITY_CASES)('%s: 20 updates stay within max(1e-4, 1e-3·|ref|) of the reference', (...parityCase) => {
    expectTrainingParity(parityCase, 'native');
  });

  it.each(['sgd', 'momentum', 'nesterov', 'adam'] as const)(
    '%s: 1, 2 and 3 threads give the same bits (fused steps, losses, predictions)',
    (optimizer) => {
      // Three threads even on fewer CPUs: the cap on the team is lifted to test a three-way split.
      process.env.MLPKIT_FORCE_THREADS = '1';
      const runs = [1, 2, 3].map((threads) => {
        const net = buildWideModel(optimizer, threads);
        const history = net.fitSync(WIDE_X, WIDE_Y, { epochs: 2, batchSize: 40 });
        return { history: history.loss, weights: net.getWeights(), one: net.predict(WIDE_X.subarray(0, 64)), many: net.predict(WIDE_X) };
      });
      delete process.env.MLPKIT_FORCE_THREADS;
      expect(runs[0]!.history.every(Number.isFinite)).toBe(true);
      for (const run of runs.slice(1)) {
        expect(run.history).toEqual(runs[0]!.history);
        expect(run.weights).toEqual(runs[0]!.weights);
        expect(run.one).toEqual(runs[0]!.one);
        expect(run.many).toEqual(runs[0]!.many);
      }
    },
  );

  it('a network of one layer (no barrier inside its backward pass) also gives the same bits on 1, 2 and 3 threads', () => {
    // Every thread reads Adam's counters for its own copy of the update; thread 0 moves them at
    // the end of its step, which with one layer may come before another thread's start of it.
    expectTheSameBitsOnOneTwoThreeThreads(
      (threads) =>
        new MLP({ inputs: 64, layers: [{ units: 10, activation: 'softmax' }], optimizer: 'adam', seed: 3, backend: 'native', threads }),
      (net) => net.fitSync(WIDE_X, WIDE_Y, { epochs: 6, batchSize: 8 }).loss,
    );
  });

  it('an output layer wider than the batch, its columns split between threads, gives the same bits on 1, 2 and 3 threads', () => {
    // One thread computes each row's softmax and loss in the output layer's epilogue; with its
    // columns split, no part holds a whole row and the loss runs as a pass of its own.
    const classes = Int32Array.from({ length: WIDE_X.length / 64 }, (_, i) => (i * 7) % 96);
    expectTheSameBitsOnOneTwoThreeThreads(
      (threads) =>
        new MLP({
          inputs: 64,
          layers: [
            { units: 48, activation: 'relu' },
            { units: 96, activation: 'softmax' },
          ],
          optimizer: 'adam',
          seed: 5,
          backend: 'native',
          threads,
        }),
      (net) => net.fitSync(WIDE_X, classes, { epochs: 3, batchSize: 12 }).loss, // 12 rows: past the direct path
    );
  });

  // 40 rows read W as packed panels; 1 and 3 rows, from the second call after a change, as
  // tiles for dot products (where the CPU has AVX2). Each copy is made once per change of the
  // weights, so every prediction below runs twice: the second reads the copy.
  it.each([40, 1, 3])('predictions, %i rows at a time, follow every change of the weights (the copy they read is refreshed)', (rows) => {
    const net = buildWideModel('adam', 2);
    const x = WIDE_X.subarray(0, rows * 64);
    const y = WIDE_Y.subarray(0, rows);
    const predictTwice = (model: MLP) => {
      const first = model.predict(x);
      expect(model.predict(x)).toEqual(first);
      return first;
    };
    const alike = (weights: ReturnType<MLP['getWeights']>) => {
      const other = buildWideModel('adam', 1);
      other.setWeights(weights);
      return predictTwice(other);
    };
    const before = predictTwice(net);
    net.fitSync(WIDE_X, WIDE_Y, { epochs: 1, batchSize: 20 });
    const trained = predictTwice(net);
    expect(trained).not.toEqual(before);
    expect(trained).toEqual(alike(net.getWeights()));
    net.trainBatch(WIDE_X.subarray(0, 20 * 64), WIDE_Y.subarray(0, 20));
    expect(predictTwice(net)).toEqual(alike(net.getWeights()));
    const scaled = net.getWeights().map(({ weights, bias }) => ({ weights: weights.map((w) => w * 0.5), bias }));
    net.setWeights(scaled);
    expect(predictTwice(net)).toEqual(alike(scaled));
    const other = buildWideModel('adam', 3);
    other.setWeights(scaled);
    expect(net.evaluate(x, y).loss).toBe(other.evaluate(x, y).loss);
    expect(net.evaluate(x, y).loss).toBe(other.evaluate(x, y).loss);
  });

  it('every batch of a chunk reports the L2 penalty of the weights it starts from', () => {
    // Two epochs of one full batch each run as one native call; each epoch's loss must be the
    // loss with the penalty (evaluate's) of the weights before that batch, as a twin trained
    // epoch by epoch shows. The penalty is most of it, and it shrinks from one epoch to the next.
    const make = () =>
      new MLP({
        inputs: 64,
        layers: [
          { units: 30, activation: 'tanh' },
          { units: 10, activation: 'softmax' },
        ],
        optimizer: { type: 'sgd', learningRate: 0.1 },
        l2: 0.05,
        seed: 3,
        backend: 'native',
        threads: 2,
      });
    const x = WIDE_X.subarray(0, 40 * 64);
    const y = WIDE_Y.subarray(0, 40);
    const history = make().fitSync(x, y, { epochs: 2, batchSize: 40, shuffle: false });
    const twin = make();
    const penalties: number[] = [];
    const expected = [0, 1].map(() => {
      penalties.push(0.05 * twin.getWeights().reduce((sum, layer) => sum + layer.weights.reduce((s, w) => s + w * w, 0), 0));
      const loss = twin.evaluate(x, y).loss;
      twin.fitSync(x, y, { epochs: 1, batchSize: 40, shuffle: false });
      return loss;
    });
    expectClose(history.loss, expected, { atol: 0, rtol: 1e-6, label: 'loss with the penalty' });
    expect(penalties[0]! / expected[0]!).toBeGreaterThan(0.3);
    expect(penalties[0]! - penalties[1]!).toBeGreaterThan(1e-3);
  });

  it('two models training at the same time each get the results they get alone', async () => {
    const solo = ['adam', 'momentum'].map((optimizer) => {
      const net = buildWideModel(optimizer as OptimizerType, 1);
      net.fitSync(WIDE_X, WIDE_Y, { epochs: 3, batchSize: 20 });
      return net.getWeights();
    });
    // Teams of three, every call on the whole team: six threads on the CPUs there are, whose
    // parts wait for and take work from each other (a waiting part yields its CPU).
    process.env.MLPKIT_FORCE_THREADS = '1';
    const together = (['adam', 'momentum'] as const).map((optimizer) => buildWideModel(optimizer, 3));
    delete process.env.MLPKIT_FORCE_THREADS;
    await Promise.all(together.map((net) => net.fit(WIDE_X, WIDE_Y, { epochs: 3, batchSize: 20 })));
    expect(together[0]!.getWeights()).toEqual(solo[0]);
    expect(together[1]!.getWeights()).toEqual(solo[1]);
  });
});

describe('threads per call', () => {
  // A raw model of the addon with a team of two, its data bound: one batch of `rows` to train.
  const raw = (inputs: number, hidden: number[], rows: number) => {
    const spec = normalizeModelSpec({
      inputs,
      layers: [...hidden.map((units) => ({ units, activation: 'relu' as const })), { units: 10, activation: 'softmax' as const }],
      seed: 1,
    });
    const t = modelTables(spec, paramLayout(spec.inputs, spec.layers));
    const m = new addon.Model(t.parameters, t.layers, t.layerValues, t.hyper, t.loss, t.optimizer, 1, 0);
    m.setThreads(2);
    m.bind(new Float32Array(m.stateFloats()), initialCounters(), new Float32Array(m.scratchFloats(rows)), rows);
    const x = randomMatrix(rows * inputs, 3);
    const y = new Float32Array(rows * 10).map((_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0));
    m.setData(x, y, rows, undefined);
    const order = Int32Array.from({ length: rows }, (_, i) => i);
    return {
      train: () => {
        m.train(order, Int32Array.of(0, rows), 0, 1, Float64Array.of(0.01), new Float64Array(1));
        return m.lastThreads();
      },
      predict: (n: number) => {
        m.predict(x.subarray(0, n * inputs), n, new Float32Array(n * 10));
        return m.lastThreads();
      },
    };
  };
  const two = Math.min(2, info.threads);

  it('a call runs on as many of the team as its work keeps busy', () => {
    const small = raw(128, [128], 64); // 4.7 MFLOP a batch: a second thread made it slower
    expect(small.train()).toBe(1);
    expect(small.predict(1)).toBe(1);
    expect(small.predict(64)).toBe(two); // predictions split rows and pay from 0.25 MFLOP a part
    const wide = raw(784, [512, 512], 64); // W2: 205 MFLOP a batch
    expect(wide.train()).toBe(two);
    expect(wide.predict(64)).toBe(two);
  });

  it('MLPKIT_FORCE_THREADS=1 runs every call on the whole team, for tests of the splits', () => {
    process.env.MLPKIT_FORCE_THREADS = '1';
    try {
      const small = raw(128, [128], 64);
      expect(small.train()).toBe(2);
      expect(small.predict(1)).toBe(2);
    } finally {
      delete process.env.MLPKIT_FORCE_THREADS;
    }
  });
});

describe('native boundary: every bad call throws and the process lives on', () => {
  const spec = normalizeModelSpec({
    inputs: 3,
    layers: [
      { units: 4, activation: 'relu' },
      { units: 2, activation: 'softmax' },
    ],
    seed: 1,
  });
  const tables = modelTables(spec, paramLayout(spec.inputs, spec.layers));
  const { parameters, layers, layerValues, hyper, loss, optimizer } = tables;
  const F = LAYER_FIELDS.length;
  const edited = (field: (typeof LAYER_FIELDS)[number], layer: number, value: number) => {
    const copy = layers.slice();
    copy[layer * F + LAYER_FIELDS.indexOf(field)] = value;
    return copy;
  };
  const model = () => new addon.Model(parameters, layers, layerValues, hyper, loss, optimizer, 1, 0);
  const bound = () => {
    const m = model();
    m.bind(new Float32Array(m.stateFloats()), initialCounters(), new Float32Array(m.scratchFloats(8)), 8);
    return m;
  };
  const detached = () => {
    const array = new Float32Array(4);
    structuredClone(array.buffer, { transfer: [array.buffer] });
    return array;
  };
  const bounds = (...b: number[]) => Int32Array.from(b);
  const withData = () => {
    const m = bound();
    m.setData(new Float32Array(6), new Float32Array(4), 2, undefined);
    return m;
  };

  const cases: [string, () => unknown, RegExp][] = [
    [
      'column sums of a matrix that is not whole rows',
      () => addon.columnMoments(new Float32Array(7), 3, undefined, new Float64Array(3), new Float64Array(3)),
      /x must be a non-empty matrix of whole rows of 3/,
    ],
    [
      'column sums over a row past the end',
      () => addon.columnMoments(new Uint8Array(6), 3, Int32Array.of(0, 2), new Float64Array(3), new Float64Array(3)),
      /rows\[1\] must be a row index between 0 and 1, got 2/,
    ],
    [
      'column sums into too short an output',
      () => addon.columnMoments(new Float32Array(6), 3, undefined, new Float64Array(2), new Float64Array(3)),
      /mean must be a Float64Array of length 3/,
    ],
    [
      'bytes of the wrong length',
      () => bound().setData(new Uint8Array(5), new Float32Array(4), 2, undefined),
      /x must be a Uint8Array of length 6, got/,
    ],
    [
      'a scaling of the wrong length',
      () => bound().setData(new Uint8Array(6), new Float32Array(4), 2, new Float64Array(5)),
      /scaling must be a Float64Array of length 6, got a Float64Array of length 5/,
    ],
    [
      'a scaling as float32',
      () => bound().setData(new Float32Array(6), new Float32Array(4), 2, new Float32Array(6) as never),
      /scaling must be a Float64Array/,
    ],
    [
      'too few arguments',
      () => new (addon.Model as unknown as new (...a: unknown[]) => unknown)(parameters, layers),
      /Model takes 8 arguments, got 2/,
    ],
    [
      'layers as Float32Array',
      () => new addon.Model(parameters, new Float32Array(12) as never, layerValues, hyper, loss, optimizer, 1, 0),
      /layers must be a Int32Array, got a Float32Array of length 12/,
    ],
    [
      'layers not a whole number of rows',
      () => new addon.Model(parameters, layers.subarray(0, 5), layerValues, hyper, loss, optimizer, 1, 0),
      /layers must be an Int32Array of 6 fields per layer/,
    ],
    [
      'an unknown activation code',
      () => new addon.Model(parameters, edited('activation', 0, 99), layerValues, hyper, loss, optimizer, 1, 0),
      /layers\[0\]\.activation must be a code between 0 and \d+, got 99/,
    ],
    [
      'softmax on a hidden layer',
      () => new addon.Model(parameters, edited('activation', 0, 6), layerValues, hyper, loss, optimizer, 1, 0),
      /softmax is only allowed on the output layer/,
    ],
    [
      'a fan-in that is not the units below',
      () => new addon.Model(parameters, edited('inputs', 1, 5), layerValues, hyper, loss, optimizer, 1, 0),
      /layers\[1\]\.inputs must be the units of the layer below/,
    ],
    [
      'weights outside the parameters',
      () => new addon.Model(parameters, edited('weightOffset', 1, parameters - 3), layerValues, hyper, loss, optimizer, 1, 0),
      /layers\[1\]: W or b lies outside the 26 parameters/,
    ],
    [
      'dropout on the output layer',
      () => new addon.Model(parameters, layers, Float64Array.of(0, 0, 0, 0.5), hyper, loss, optimizer, 1, 0),
      /dropout must be in \[0, 1\) on hidden layers and 0 on the output layer/,
    ],
    [
      'NaN momentum',
      () => new addon.Model(parameters, layers, layerValues, Float64Array.of(NaN, 0.9, 0.999, 1e-8, 0), loss, optimizer, 1, 0),
      /hyper\[0\] is out of range/,
    ],
    [
      'a NaN loss code',
      () => new addon.Model(parameters, layers, layerValues, hyper, NaN, optimizer, 1, 0),
      /loss must be an integer between 0 and 4, got NaN/,
    ],
    [
      'scratch for an absurd capacity',
      () =>
        new addon.Model(2 ** 30, Int32Array.of(1 << 15, 1 << 15, 0, 0, 0, -1), Float64Array.of(0, 0), hyper, 0, 0, 1, 0).scratchFloats(
          2 ** 31 - 1,
        ),
      /capacity must be small enough for the scratch memory to be addressable/,
    ],
    [
      'a state array of the wrong length',
      () => model().bind(new Float32Array(3), initialCounters(), new Float32Array(100), 1),
      /state must be a Float32Array of length \d+, got a Float32Array of length 3/,
    ],
    [
      'a detached state array',
      () => {
        const m = model();
        m.bind(detached(), initialCounters(), new Float32Array(m.scratchFloats(1)), 1);
      },
      /state must be a Float32Array of length \d+, got a Float32Array with a detached buffer/,
    ],
    [
      'training before bind',
      () => model().train(Int32Array.of(0), bounds(0, 1), 0, 1, Float64Array.of(0.1), new Float64Array(1)),
      /bind\(state, counters, scratch, capacity\) must come first/,
    ],
    [
      'training before setData',
      () => bound().train(Int32Array.of(0), bounds(0, 1), 0, 1, Float64Array.of(0.1), new Float64Array(1)),
      /setData\(x, y, rows\) must come before training/,
    ],
    [
      'a row index out of range',
      () => withData().train(Int32Array.of(0, 2), bounds(0, 1, 2), 0, 2, Float64Array.of(0.1, 0.1), new Float64Array(2)),
      /order\[1\] must be a row index between 0 and 1, got 2/,
    ],
    [
      'an empty batch',
      () => withData().train(Int32Array.of(0, 1), bounds(0, 0, 2), 0, 2, Float64Array.of(0.1, 0.1), new Float64Array(2)),
      /bounds\[0…1\] must delimit 1 to 8 rows of order \(length 2\), got 0…0/,
    ],
    [
      'a batch beyond the order',
      () => withData().train(Int32Array.of(0, 1), bounds(0, 3), 0, 1, Float64Array.of(0.1), new Float64Array(1)),
      /bounds\[0…1\] must delimit 1 to 8 rows of order \(length 2\), got 0…3/,
    ],
    [
      'more batches than bounds',
      () => withData().train(Int32Array.of(0, 1), bounds(0, 1), 0, 2, Float64Array.of(0.1, 0.1), new Float64Array(2)),
      /count must be an integer between 1 and 1, got 2/,
    ],
    [
      'a NaN learning rate',
      () => withData().train(Int32Array.of(0, 1), bounds(0, 1, 2), 0, 2, Float64Array.of(0.1, NaN), new Float64Array(2)),
      /learningRates\[1\] must be a finite number >= 0/,
    ],
    [
      'too few loss slots',
      () => withData().train(Int32Array.of(0, 1), bounds(0, 1, 2), 0, 2, Float64Array.of(0.1, 0.1), new Float64Array(1)),
      /losses must be a Float64Array of length at least 2, got a Float64Array of length 1/,
    ],
    [
      'a batch larger than the capacity',
      () => bound().trainStep(new Float32Array(27), new Float32Array(18), 9, 0.1),
      /n must be an integer between 1 and 8, got 9/,
    ],
    [
      'x shorter than n rows',
      () => bound().predict(new Float32Array(5), 2, new Float32Array(4)),
      /x must be a Float32Array of length at least 6, got a Float32Array of length 5/,
    ],
    [
      'predict into a Float64Array',
      () => bound().predict(new Float32Array(6), 2, new Float64Array(4) as never),
      /out must be a Float32Array, got a Float64Array of length 4/,
    ],
    [
      'evaluate beyond the capacity',
      () => bound().evaluate(new Float32Array(27), new Float32Array(18), 9, null),
      /n must be an integer between 1 and 8, got 9/,
    ],
    [
      'sgemm with A too short for m, k, lda',
      () =>
        addon.sgemm(
          false,
          false,
          2 ** 31 - 1,
          1,
          2 ** 31 - 1,
          1,
          new Float32Array(4),
          2 ** 31 - 1,
          new Float32Array(4),
          1,
          0,
          new Float32Array(4),
          1,
          1,
          'auto',
        ),
      /(a|ldb|ldc) must be/,
    ],
    [
      'sgemm with lda below k',
      () => addon.sgemm(false, false, 2, 2, 3, 1, new Float32Array(6), 2, new Float32Array(6), 2, 0, new Float32Array(4), 2, 1, 'auto'),
      /lda must be an integer between 3 and 2147483647, got 2/,
    ],
    [
      'sgemm with an unknown ISA',
      () => addon.sgemm(false, false, 1, 1, 1, 1, new Float32Array(1), 1, new Float32Array(1), 1, 0, new Float32Array(1), 1, 1, 'sse'),
      /isa must be one of 'auto', 'avx512', 'avx2\+fma', 'scalar', got "sse"/,
    ],
    ['philox with a negative key', () => addon.philox(-1, 0, 0, 0, 0, 0), /key0 must be an integer between 0 and 4294967295, got -1/],
  ];
  if (info.isa !== 'avx512') {
    cases.push([
      'sgemm on AVX-512 without it',
      () => addon.sgemm(false, false, 1, 1, 1, 1, new Float32Array(1), 1, new Float32Array(1), 1, 0, new Float32Array(1), 1, 1, 'avx512'),
      /isa must be an instruction set this CPU supports/,
    ]);
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
    m.bind(new Float32Array(m.stateFloats()), initialCounters(), new Float32Array(m.scratchFloats(1)), 1);
    m.setData(
      randomMatrix(3 * 2000, 1),
      new Float32Array(2 * 2000).map((_, i) => (i % 2 ? 1 : 0)),
      2000,
      undefined,
    );
    const order = Int32Array.from({ length: 2000 }, (_, i) => i);
    const everyRow = Int32Array.from({ length: 2001 }, (_, i) => i);
    const running = m.trainAsync(order, everyRow, 0, 2000, new Float64Array(2000).fill(0.01), new Float64Array(2000));
    expect(() => m.predict(new Float32Array(3), 1, new Float32Array(2))).toThrow(/busy training/);
    expect(() => m.train(order, everyRow, 0, 2000, new Float64Array(2000), new Float64Array(2000))).toThrow(/busy training/);
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
    const history = await net.fit(
      big,
      big.map(([a]) => a!),
      { epochs: 10_000, batchSize: 1, signal: controller.signal },
    );
    expect(history.stopReason).toBe('aborted');
    expect(net.getWeights().every((l) => l.weights.every(Number.isFinite))).toBe(true);
  });
});

describe('MLPKIT_ISA', () => {
  const load = (isa: string) =>
    spawnSync(process.execPath, ['-e', "const b = require('node-gyp-build')('.'); console.log(JSON.stringify(b.info()))"], {
      cwd: new URL('..', import.meta.url),
      env: { ...process.env, MLPKIT_ISA: isa },
      encoding: 'utf8',
    });

  it('caps the instruction set of the kernels, and an unknown value stops the addon from loading', () => {
    const scalar = JSON.parse(load('scalar').stdout) as { isa: string; configs: { isa: string }[] };
    expect(scalar.isa).toBe('scalar');
    expect(scalar.configs.map((c) => c.isa)).toEqual(['scalar']);
    if (info.configs.some((c) => c.isa === 'avx2+fma')) {
      const avx2 = JSON.parse(load('avx2').stdout) as { isa: string; configs: { isa: string }[] };
      expect(avx2.isa).toBe('avx2+fma');
      expect(avx2.configs.map((c) => c.isa)).toEqual(['avx2+fma', 'scalar']);
    }
    const bad = load('sse');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/the MLPKIT_ISA environment variable must be one of 'avx512', 'avx2', 'scalar', got "sse"/);
  });

  it('the FMA peak is measured for the kernels asked for (none for scalar)', () => {
    expect(() => addon.fmaPeak(0.01, 'sse' as never)).toThrow(/isa must be one of 'auto', 'avx512', 'avx2', 'scalar', got "sse"/);
    expect(addon.fmaPeak(0.01, 'scalar')).toBe(0);
    for (const { isa } of info.configs)
      if (isa !== 'scalar') expect(addon.fmaPeak(0.01, isa === 'avx2+fma' ? 'avx2' : 'avx512')).toBeGreaterThan(0);
  });

  it('the read bandwidth is measured for a block of the size asked for, which must be a whole number of bytes', () => {
    expect(() => addon.readBandwidth(0, 0.01)).toThrow(/bytes must be an integer between 1 and 4294967296, got 0/);
    expect(() => addon.readBandwidth(1.5, 0.01)).toThrow(/bytes must be an integer/);
    expect(() => addon.readBandwidth(1024, 0)).toThrow(/seconds must be a finite number between 0.01 and 10, got 0/);
    for (const bytes of [100, 2 ** 16]) {
      const gbs = addon.readBandwidth(bytes, 0.01);
      expect(Number.isFinite(gbs) && gbs > 0).toBe(true);
    }
  });

  it('the hand-off of a cache line between two threads is timed when the process has two CPUs', () => {
    expect(() => addon.handoffRoundTrip(0)).toThrow(/seconds must be a finite number between 0.01 and 10, got 0/);
    expect(() => addon.handoffRoundTrip(Number.NaN)).toThrow(/seconds must be a finite number/);
    const ns = addon.handoffRoundTrip(0.01);
    if (info.threads >= 2) expect(Number.isFinite(ns) && ns > 0).toBe(true);
    else expect(ns).toBe(0);
  });
});

describe('the scaler fitted natively', () => {
  it("makes StandardScaler's sums to its bits, on float32 and byte matrices, on all rows or some", () => {
    let s = 5;
    const next = () => (s = (s * 1103515245 + 12345) >>> 0) / 4294967296;
    const floats = Float32Array.from({ length: 97 * 13 }, (_, i) => (next() - 0.3) * 10 ** ((i % 7) - 3));
    const bytes = Uint8Array.from({ length: 97 * 13 }, () => Math.floor(next() * 256));
    const rows = Int32Array.from({ length: 60 }, (_, i) => (i * 37) % 97);
    const moments = loadNativeBackend().columnMoments!;
    for (const x of [floats, bytes]) {
      for (const subset of [undefined, rows]) {
        const js = new StandardScaler()._fitRows(x, 13, subset);
        const native = new StandardScaler()._fitRows(x, 13, subset, moments);
        expect(native.mean).toEqual(js.mean);
        expect(native.scale).toEqual(js.scale);
      }
    }
  });
});

describe('the finiteness scan lent by the addon', () => {
  const addon = nativeBinding();
  // The loop the scan replaces, value by value.
  const everyFinite = (data: Float32Array) => data.every((v) => Number.isFinite(v));

  it('finds NaN and ±Infinity wherever they sit, in the vector body and in the tail', () => {
    for (const length of [0, 1, 3, 15, 16, 17, 31, 33, 64, 100]) {
      const data = Float32Array.from({ length }, (_, i) => (i % 5) - 2.5);
      expect(addon.allFinite(data)).toBe(true);
      for (let at = 0; at < length; at++) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          data[at] = bad;
          expect(addon.allFinite(data)).toBe(false);
          data[at] = 1;
        }
      }
    }
  });

  it('takes every finite float as finite: the largest, the subnormals, −0', () => {
    const data = new Float32Array([3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -1e-45, 1.1754942e-38, -0, 0, 1]);
    for (let shift = 0; shift < 24; shift++) {
      const shifted = new Float32Array(40).fill(0.5);
      shifted.set(data, shift);
      expect(addon.allFinite(shifted)).toBe(everyFinite(shifted));
      expect(addon.allFinite(shifted)).toBe(true);
    }
  });

  it('reads a view at its own offset, not from the start of its buffer', () => {
    const buffer = new Float32Array(64).fill(1);
    buffer[3] = NaN;
    expect(addon.allFinite(buffer.subarray(4))).toBe(true);
    expect(addon.allFinite(buffer.subarray(3))).toBe(false);
    expect(addon.allFinite(buffer.subarray(0, 3))).toBe(true);
  });

  it('refuses anything but a Float32Array', () => {
    expect(() => addon.allFinite(new Float64Array(8) as unknown as Float32Array)).toThrow(/data must be a Float32Array, got/);
    expect(() => (addon.allFinite as (...args: unknown[]) => boolean)()).toThrow(/allFinite/);
  });

  it('checks large inputs through the scan, and the error still names the value', () => {
    const rows = 100;
    const x = new Float32Array(rows * 784).fill(0.25);
    const y = Int32Array.from({ length: rows }, (_, i) => i % 10);
    x[57 * 784 + 300] = -Infinity;
    const net = new MLP({ inputs: 784, layers: [{ units: 10, activation: 'softmax' }], loss: 'cross-entropy', backend: 'native' });
    const before = net.getWeights();
    expect(() => net.fitSync(x, y, { epochs: 1 })).toThrow(/x\[57\]\[300\] must be a finite number, got -Infinity/);
    expect(net.getWeights()).toEqual(before);
    expect(() => net.predict(x)).toThrow(/x\[57\]\[300\]/);
  });
});

describe('native training sets', () => {
  it('a model fitted on several sets in turn (its copies reused) trains as the reference does', () => {
    const sets = [120, 40, 200].map((rows, s) => ({
      x: randomMatrix(rows * 5, 30 + s),
      y: Int32Array.from({ length: rows }, (_, r) => (r * (s + 3)) % 3),
    }));
    const build = (backend: 'native' | 'js') =>
      new MLP({
        inputs: 5,
        layers: [
          { units: 8, activation: 'tanh' },
          { units: 3, activation: 'softmax' },
        ],
        optimizer: 'sgd',
        seed: 9,
        backend,
      });
    const [native, reference] = [build('native'), build('js')];
    for (const { x, y } of sets) {
      for (const net of [native, reference]) net.fitSync(x, y, { epochs: 2, batchSize: 16 });
      expectClose(
        native.getWeights().flatMap((l) => [...l.weights, ...l.bias!]),
        reference.getWeights().flatMap((l) => [...l.weights, ...l.bias!]),
        { atol: 1e-4, rtol: 1e-3, label: 'weights after each set' },
      );
    }
  });

  // 60 rows of 5 features in 3 classes, and the model the next two tests fit on them.
  const fiveFeatures = () => ({ x: randomMatrix(60 * 5, 7), y: Int32Array.from({ length: 60 }, (_, r) => r % 3) });
  const small = () =>
    new MLP({
      inputs: 5,
      layers: [
        { units: 6, activation: 'relu' },
        { units: 3, activation: 'softmax' },
      ],
      seed: 2,
      backend: 'native',
    });

  it('a blocking fit whose callback transfers x away stops with a TypeError naming x, and the model lives on', () => {
    const net = small();
    const { x, y } = fiveFeatures();
    let epochs = 0;
    const transfer = () => {
      epochs++;
      structuredClone(x.buffer, { transfer: [x.buffer] });
    };
    expect(() => net.fitSync(x, y, { epochs: 3, batchSize: 8, onEpochEnd: transfer })).toThrow(
      /^x must be the training set of this fit, left in place until it returns \(1200 bytes\), got a Float32Array of length 0$/,
    );
    expect(epochs).toBe(1);
    expect(net.getWeights().every((l) => l.weights.every(Number.isFinite))).toBe(true);
    expect(net.fitSync(fiveFeatures().x, y, { epochs: 1, batchSize: 8 }).loss).toHaveLength(1);
  });

  it('a blocking fit reads x where it is, or from a copy when x is in shared memory, to the same weights', () => {
    const { x, y } = fiveFeatures();
    const shared = new Float32Array(new SharedArrayBuffer(x.byteLength));
    shared.set(x);
    const weights = [x, shared].map((data) => {
      const net = small();
      net.fitSync(data, y, { epochs: 3, batchSize: 8 });
      return net.getWeights();
    });
    expect(weights[1]).toEqual(weights[0]);
    expect(x).toEqual(shared); // neither was written
  });
});
