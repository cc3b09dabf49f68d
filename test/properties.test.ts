/**
 * Property-based tests over the public surface, on every backend: generated calls, most of
 * them wrong (wrong types and shapes, non-finite and out-of-range numbers, detached, shared and
 * proxied buffers, throwing getters, absurd options, corrupted model files), a few of them
 * right. Whatever the call:
 *   - it fails with a TypeError or RangeError (or one of mlpkit's named errors), never another
 *     exception and never a crash;
 *   - a failed call leaves the model exactly as it was: its checkpoint (weights, optimizer
 *     state, counters, scaler, metadata) is the same bytes;
 *   - the weights stay finite, and what `save()` writes loads again.
 * Seeded, and quick here (1,200 calls per backend); MLPKIT_PROPERTY_RUNS=n runs n per backend.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  confusionMatrix,
  MLP,
  MLPClassifier,
  MLPRegressor,
  ModelBusyError,
  ModelDisposedError,
  ModelFailedError,
  NotFittedError,
  r2Score,
  regressionErrors,
  StandardScaler,
  TrainingDivergedError,
  BackendUnavailableError,
  type BackendName,
} from '../src/node.js';
import { BACKENDS } from './helpers/backends.js';

const RUNS = Number(process.env.MLPKIT_PROPERTY_RUNS ?? 1200);
const NAMED = [TypeError, RangeError, ModelBusyError, ModelDisposedError, ModelFailedError, NotFittedError, TrainingDivergedError];

function expectNamed(error: unknown, call: string): void {
  if (!NAMED.some((kind) => error instanceof kind)) {
    throw new Error(`${call} threw ${(error as Error)?.name ?? typeof error}: ${(error as Error)?.message ?? String(error)}`);
  }
  expect((error as Error).message.length).toBeGreaterThan(10);
}

// ------------------------------------------------------------------ generated arguments

const detached = () => {
  const view = new Float32Array(3);
  structuredClone(view.buffer, { transfer: [view.buffer] });
  return view;
};
const throwingGetter = () =>
  Object.defineProperty({}, 'epochs', {
    enumerable: true,
    get() {
      throw new Error('getter that throws');
    },
  });

const number = fc.oneof(
  fc.double({ noDefaultInfinity: false, noNaN: false }),
  fc.integer({ min: -3, max: 6 }),
  fc.constantFrom(NaN, Infinity, -Infinity, 3.5e38, -1e39, Number.MAX_VALUE, 1e-45, -0),
);
const junk = fc.oneof(
  fc.anything(),
  fc.constantFrom(null, undefined, true, '3', Symbol('s') as unknown, 10n as unknown, () => 1),
  fc.constant(0).map(detached),
  fc.constant(0).map(throwingGetter),
);
/** Rows for a model of 3 inputs: right, ragged, non-finite, wrongly typed, flat, proxied. */
const matrix = fc.oneof(
  fc.array(fc.array(fc.double({ min: -3, max: 3, noNaN: true }), { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 5 }),
  fc.array(fc.array(number, { minLength: 0, maxLength: 4 }), { minLength: 0, maxLength: 4 }),
  fc.array(fc.array(junk, { minLength: 3, maxLength: 3 }), { minLength: 1, maxLength: 2 }),
  fc.float32Array({ minLength: 0, maxLength: 9 }),
  fc.integer({ min: 0, max: 3 }).map((rows) => new Float32Array(new SharedArrayBuffer(12 * rows)).fill(0.5)),
  fc.constant(0).map(() => new Proxy(new Float32Array(6), {})),
  junk,
);
/** Targets for 2 classes (softmax): indices, one-hot rows, or anything else. */
const targets = fc.oneof(
  fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 5 }),
  fc.array(fc.oneof(number, junk), { minLength: 0, maxLength: 5 }),
  fc.int32Array({ min: -2, max: 3, minLength: 0, maxLength: 5 }),
  junk,
);
const fitOptions = fc.oneof(
  fc.record(
    {
      epochs: fc.oneof(fc.integer({ min: -1, max: 2 }), number, junk),
      batchSize: fc.oneof(fc.integer({ min: -1, max: 4 }), number, junk),
      shuffle: fc.oneof(fc.boolean(), junk),
      validationSplit: fc.oneof(fc.double({ min: -0.5, max: 1.5 }), junk),
      earlyStopping: fc.oneof(fc.boolean(), fc.record({ patience: number, minDelta: number }), junk),
      reduceLROnPlateau: fc.oneof(fc.boolean(), fc.record({ factor: number, minLearningRate: number }), junk),
      onEpochEnd: fc.oneof(
        fc.constant(() => undefined),
        fc.constant(async () => false),
        junk,
      ),
      signal: fc.oneof(fc.constant(new AbortController().signal), junk),
      unknownOption: junk,
    },
    { requiredKeys: [] },
  ),
  junk,
);
const weightsFor = (net: MLP) =>
  fc.oneof(
    fc.constant(0).map(() => net.getWeights()),
    fc.constant(0).map(() => net.getWeights().map((l) => ({ weights: l.weights.map(() => 3.5e38), bias: l.bias }))),
    fc.array(
      fc.record({ weights: fc.oneof(fc.float32Array({ maxLength: 12 }), junk), bias: fc.oneof(fc.float32Array({ maxLength: 4 }), junk) }),
      {
        maxLength: 3,
      },
    ),
    junk,
  );
const modelOptions = fc.record(
  {
    inputs: fc.oneof(fc.integer({ min: -1, max: 4 }), number, junk),
    layers: fc.oneof(
      fc.array(
        fc.record(
          {
            units: fc.oneof(fc.integer({ min: -1, max: 4 }), number, junk),
            activation: fc.oneof(fc.constantFrom('relu', 'tanh', 'softmax', 'nope'), junk),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      junk,
    ),
    loss: fc.oneof(fc.constantFrom('mse', 'cross-entropy', 'hinge'), junk),
    optimizer: fc.oneof(
      fc.record({ type: fc.oneof(fc.constantFrom('sgd', 'adam', 'rmsprop'), junk), learningRate: number }, { requiredKeys: [] }),
      junk,
    ),
    seed: fc.oneof(number, junk),
    backend: fc.oneof(fc.constantFrom('js', 'wasm', 'native', 'gpu'), junk),
    threads: fc.oneof(fc.integer({ min: -1, max: 3 }), junk),
    l2: fc.oneof(number, junk),
    dropout: fc.oneof(number, junk),
  },
  { requiredKeys: [] },
);
/** A model file as saved, then truncated, bit-flipped or overwritten. */
const corrupted = (bytes: Uint8Array) =>
  fc.oneof(
    fc.integer({ min: 0, max: bytes.length - 1 }).map((n) => bytes.slice(0, n)),
    fc.tuple(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 7 })).map(([i, bit]) => {
      const copy = bytes.slice();
      copy[i]! ^= 1 << bit;
      return copy;
    }),
    fc.uint8Array({ maxLength: 64 }),
    junk,
  );

// ------------------------------------------------------------------ the calls

type Call = { name: string; run: (net: MLP) => unknown };

function calls(net: MLP, saved: Uint8Array, backend: BackendName): fc.Arbitrary<Call> {
  return fc.oneof(
    matrix.map((x) => ({ name: 'predict', run: (n: MLP) => n.predict(x as never) })),
    matrix.map((x) => ({ name: 'predictClasses', run: (n: MLP) => n.predictClasses(x as never) })),
    fc.tuple(matrix, targets).map(([x, y]) => ({ name: 'evaluate', run: (n: MLP) => n.evaluate(x as never, y as never) })),
    fc.tuple(matrix, targets).map(([x, y]) => ({ name: 'trainBatch', run: (n: MLP) => n.trainBatch(x as never, y as never) })),
    fc
      .tuple(matrix, targets, fitOptions)
      .map(([x, y, o]) => ({ name: 'fitSync', run: (n: MLP) => n.fitSync(x as never, y as never, o as never) })),
    weightsFor(net).map((w) => ({ name: 'setWeights', run: (n: MLP) => n.setWeights(w as never) })),
    fc.oneof(junk, fc.dictionary(fc.string(), junk, { maxKeys: 3 })).map((m) => ({
      name: 'metadata',
      run: (n: MLP) => {
        n.metadata = m as never;
      },
    })),
    fc
      .oneof(
        junk,
        fc.constant(0).map(() => new StandardScaler()),
      )
      .map((s) => ({
        name: 'scaler',
        run: (n: MLP) => {
          n.scaler = s as never;
        },
      })),
    fc.oneof(junk, fc.record({ training: junk }, { requiredKeys: [] })).map((o) => ({ name: 'save', run: (n: MLP) => n.save(o as never) })),
    corrupted(saved).map((bytes) => ({ name: 'MLP.load', run: () => MLP.load(bytes as never, { backend }).dispose() })),
    modelOptions.map((o) => ({ name: 'new MLP', run: () => new MLP(o as never).dispose() })),
    fc.tuple(matrix, targets).map(([x, y]) => ({
      name: 'MLPClassifier.fit',
      run: () => {
        const clf = new MLPClassifier({ hiddenLayerSizes: [3], maxIter: 2, backend });
        try {
          return clf.fit(x as never, y as never);
        } finally {
          clf.dispose();
        }
      },
    })),
    fc.tuple(fc.oneof(targets, matrix), fc.oneof(targets, matrix), fc.oneof(fc.integer({ min: -1, max: 3 }), junk)).map(([a, b, k]) => ({
      name: 'metrics',
      run: () => {
        r2Score(a as never, b as never);
        regressionErrors(a as never, b as never);
        confusionMatrix(a as never, b as never, k as never);
      },
    })),
  );
}

function checkpoint(net: MLP): Buffer {
  return Buffer.from(net.save({ training: true }));
}

describe.each(BACKENDS)('generated calls (%s)', (backend) => {
  it(`${RUNS} calls: named errors only, nothing changed by a failed call, finite weights, files that load`, async () => {
    const net = new MLP({
      inputs: 3,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 2, activation: 'softmax' },
      ],
      optimizer: { type: 'adam', learningRate: 0.01 },
      seed: 5,
      backend,
    });
    net.fitSync(
      [
        [0, 1, 2],
        [1, 0, -1],
        [2, 2, 0],
      ],
      [0, 1, 0],
      { epochs: 3, batchSize: 2 },
    );
    net.metadata = { name: 'property' };
    const saved = net.save();
    const counts = { ok: 0, failed: 0 };
    await fc.assert(
      fc.asyncProperty(calls(net, saved, backend), async (call) => {
        const before = checkpoint(net);
        try {
          await call.run(net);
          counts.ok++;
        } catch (error) {
          counts.failed++;
          expectNamed(error, call.name);
          expect(checkpoint(net).equals(before), `${call.name} failed but changed the model`).toBe(true);
        }
        for (const layer of net.getWeights()) {
          expect(layer.weights.every(Number.isFinite), `${call.name} left non-finite weights`).toBe(true);
        }
        MLP.load(net.save(), { backend }).dispose();
      }),
      { numRuns: RUNS, seed: 20261130 },
    );
    // The generators reach both sides: most calls are refused, some succeed.
    expect(counts.failed).toBeGreaterThan(RUNS / 2);
    expect(counts.ok).toBeGreaterThan(RUNS / 50);
    net.dispose();
    expect(() => net.predict([[0, 0, 0]])).toThrow(ModelDisposedError);
    expect(() => new MLP({ inputs: 1, layers: [{ units: 1 }], backend: 'gpu' as BackendName })).toThrow(/backend must be one of/);
    expect(BackendUnavailableError).toBeTypeOf('function');
    expect(new MLPRegressor().randomState).toBeTypeOf('number');
  }, 300_000);
});
