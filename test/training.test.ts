import { describe, expect, it } from 'vitest';
import {
  MLP,
  MLPClassifier,
  ModelBusyError,
  ModelDisposedError,
  NotFittedError,
  TrainingDivergedError,
  type MLPOptions,
} from '../src/node.js';
import { fillRandomU32, u32ToUnit } from '../src/rng.js';
import { BACKENDS } from './helpers/backends.js';

function noise(rows: number, cols: number, seed: number): number[][] {
  const words = new Uint32Array(rows * cols);
  fillRandomU32(words, seed, 77, 0, 0);
  return Array.from({ length: rows }, (_, r) => Array.from({ length: cols }, (_, c) => 2 * u32ToUnit(words[r * cols + c]!) - 1));
}

const flatWeights = (net: MLP) => net.getWeights().flatMap((l) => [...l.weights, ...(l.bias ?? [])]);

describe.each(BACKENDS)('training on %s', (backend) => {
  const regression = (extra: Partial<MLPOptions> = {}) =>
    new MLP({
      backend,
      inputs: 5,
      layers: [{ units: 64, activation: 'relu' }, { units: 1 }],
      optimizer: { type: 'adam', learningRate: 0.01 },
      seed: 3,
      ...extra,
    });
  const x = noise(40, 5, 1);
  const y = noise(40, 1, 2); // pure noise: the network can only overfit it
  const xVal = noise(40, 5, 3);
  const yVal = noise(40, 1, 4);

  it('predictions of a few values are arrays of their own, which later predictions leave alone', () => {
    // Results of up to 16 floats are computed into one kept array and copied out.
    const make = () =>
      new MLP({
        backend,
        inputs: 5,
        layers: [
          { units: 8, activation: 'tanh' },
          { units: 3, activation: 'softmax' },
        ],
        seed: 4,
      });
    const net = make();
    const rows = noise(6, 5, 9).map((row) => Float32Array.from(row));
    const alone = rows.map((row) => make().predict(row) as Float32Array);
    const kept = rows.map((row) => net.predict(row) as Float32Array);
    expect(kept.map((p) => p.length)).toEqual([3, 3, 3, 3, 3, 3]);
    expect(new Set(kept.map((p) => p.buffer)).size).toBe(6);
    expect(kept).toEqual(alone);
    const wide = net.predict(Float32Array.from(rows.flatMap((row) => [...row]))) as Float32Array; // 18 floats: not kept
    expect(wide).toEqual(Float32Array.from(alone.flatMap((p) => [...p])));
    expect(kept).toEqual(alone);
    expect(net.predictClasses(rows[0]!)).toEqual(Int32Array.of(alone[0]!.indexOf(Math.max(...alone[0]!))));
  });

  it('early stopping ends when the validation loss stops improving and restores the best weights', () => {
    const net = regression();
    const snapshots: number[][] = [];
    const history = net.fitSync(x, y, {
      epochs: 300,
      batchSize: 8,
      validationData: [xVal, yVal],
      earlyStopping: { patience: 5, restoreBestWeights: true },
      onEpochEnd: () => {
        snapshots.push(flatWeights(net));
      },
    });
    expect(history.stopReason).toBe('early-stopping');
    expect(history.loss.length).toBe(history.bestEpoch + 6);
    expect(history.valLoss[history.bestEpoch]).toBe(Math.min(...history.valLoss));
    expect(flatWeights(net)).toEqual(snapshots[history.bestEpoch]);
    expect(net.evaluate(xVal, yVal).loss).toBeCloseTo(history.valLoss[history.bestEpoch]!, 5);
    // Without restoring, the weights of the last epoch stay.
    const kept = regression();
    const last: number[][] = [];
    kept.fitSync(x, y, {
      epochs: 300,
      batchSize: 8,
      validationData: [xVal, yVal],
      earlyStopping: { patience: 5, restoreBestWeights: false },
      onEpochEnd: () => {
        last.push(flatWeights(kept));
      },
    });
    expect(flatWeights(kept)).toEqual(last.at(-1));
  });

  it('early stopping watches the training loss when there is no validation data', () => {
    const net = regression({ optimizer: { type: 'sgd', learningRate: 1e-9 } }); // too small a rate to improve
    const history = net.fitSync(x, y, { epochs: 100, batchSize: 40, earlyStopping: { patience: 3, minDelta: 1e-3 } });
    expect(history.stopReason).toBe('early-stopping');
    expect(history.loss).toHaveLength(4);
    expect(history.valLoss).toHaveLength(0);
  });

  it('an AbortSignal stops after the current batch and keeps the weights', async () => {
    const net = regression();
    const controller = new AbortController();
    const before = flatWeights(net);
    const history = await net.fit(x, y, {
      epochs: 10,
      batchSize: 4,
      signal: controller.signal,
      onBatchEnd: (batch) => {
        if (batch === 3 && net.step > 10) controller.abort();
      },
    });
    expect(history.stopReason).toBe('aborted');
    expect(net.step).toBe(14); // 10 batches in epoch 0, then batches 0–3 of epoch 1
    expect(history.loss).toHaveLength(2);
    expect(flatWeights(net)).not.toEqual(before);
    expect(flatWeights(net).every(Number.isFinite)).toBe(true);
  });

  it('an AbortSignal stops a running asynchronous fit', async () => {
    const net = regression();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const history = await net.fit(noise(2000, 5, 9), noise(2000, 1, 10), { epochs: 10_000, batchSize: 1, signal: controller.signal });
    expect(history.stopReason).toBe('aborted');
    expect(net.step).toBeGreaterThan(0);
    expect(net.step).toBeLessThan(10_000 * 2000);
    const aborted = new AbortController();
    aborted.abort();
    const none = await regression().fit(x, y, { signal: aborted.signal });
    expect(none.stopReason).toBe('aborted');
    expect(none.loss).toHaveLength(0);
  });

  it('a callback returning false stops training', () => {
    const net = regression();
    const history = net.fitSync(x, y, { epochs: 50, batchSize: 8, onEpochEnd: (epoch) => epoch < 2 });
    expect(history.stopReason).toBe('callback');
    expect(history.loss).toHaveLength(3);
    const byBatch = regression();
    byBatch.fitSync(x, y, { epochs: 50, batchSize: 8, onBatchEnd: (batch) => batch !== 1 });
    expect(byBatch.step).toBe(2);
  });

  it('same seed, data and options give bit-identical weights, synchronously or not', async () => {
    const options: Partial<MLPOptions> = { dropout: 0.3, l2: 1e-3, seed: 11 };
    const fitOptions = { epochs: 5, batchSize: 7, validationSplit: 0.25 };
    const a = regression(options);
    const b = regression(options);
    a.fitSync(x, y, fitOptions);
    await b.fit(x, y, fitOptions);
    expect(flatWeights(b)).toEqual(flatWeights(a));
    const c = regression({ ...options, seed: 12 });
    c.fitSync(x, y, fitOptions);
    expect(flatWeights(c)).not.toEqual(flatWeights(a));
  });

  it('handing the backend many epochs, one epoch or one batch at a time trains the same bits', () => {
    const fit = { epochs: 7, batchSize: 6 }; // 40 rows: epochs end with a batch of 4
    const whole = regression({ dropout: 0.2 });
    const byEpoch = regression({ dropout: 0.2 });
    const byBatch = regression({ dropout: 0.2 });
    const h1 = whole.fitSync(x, y, fit);
    const h2 = byEpoch.fitSync(x, y, { ...fit, onEpochEnd: () => {} });
    const h3 = byBatch.fitSync(x, y, { ...fit, onBatchEnd: () => {} });
    expect(whole.step).toBe(7 * 7);
    expect(flatWeights(byEpoch)).toEqual(flatWeights(whole));
    expect(flatWeights(byBatch)).toEqual(flatWeights(whole));
    expect(h2.loss).toEqual(h1.loss);
    expect(h3.loss).toEqual(h1.loss);
    expect(h1.loss).toHaveLength(7);
  });

  it('batch size 1 is stochastic, batch size ≥ n is full-batch', () => {
    const sgd = regression();
    sgd.fitSync(x, y, { epochs: 1, batchSize: 1 });
    expect(sgd.step).toBe(40);
    const full = regression();
    const history = full.fitSync(x, y, { epochs: 3, batchSize: 1000 });
    expect(full.step).toBe(3);
    expect(history.loss[2]).toBeLessThan(history.loss[0]!);
  });

  it('divergence stops with an error naming the epoch and keeps finite weights', () => {
    const net = new MLP({
      backend,
      inputs: 1,
      layers: [{ units: 8, activation: 'relu' }, { units: 1 }],
      optimizer: { type: 'sgd', learningRate: 100 },
      seed: 1,
    });
    const big = Array.from({ length: 32 }, (_, i) => [i * 100]);
    let error: unknown;
    try {
      net.fitSync(
        big,
        big.map(([v]) => v! * 3),
        { epochs: 50, batchSize: 4 },
      );
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect((error as Error).message).toMatch(/training diverged (in|at the end of) epoch \d+/);
    expect(flatWeights(net).every(Number.isFinite)).toBe(true);
    expect(() => net.trainBatch([[3e38]], [3e38])).toThrow(TrainingDivergedError);
    expect(flatWeights(net).every(Number.isFinite)).toBe(true);
  });

  it('a model busy training refuses a second fit, trainBatch and dispose, but allows reads from callbacks', async () => {
    const net = regression();
    let evaluated = 0;
    let firstEpoch: () => void;
    const epochEnded = new Promise<void>((resolve) => (firstEpoch = resolve));
    // Far more epochs than the test waits for: it stops the run itself, so a slow machine
    // cannot finish training before the checks.
    const controller = new AbortController();
    const running = net.fit(noise(4000, 5, 5), noise(4000, 1, 6), {
      epochs: 1000,
      batchSize: 2,
      signal: controller.signal,
      onEpochEnd: () => {
        evaluated = net.evaluate(xVal, yVal).loss;
        firstEpoch();
      },
    });
    expect(() => net.fitSync(x, y)).toThrow(/busy/);
    expect(() => net.trainBatch(x, y)).toThrow(/busy/);
    expect(() => net.dispose()).toThrow(/busy/);
    await epochEnded;
    // Out of the callback, epoch 2 starts once the loop has done its bookkeeping (on a busy
    // machine a timer can fire before that): poll until a chunk of it is in flight.
    let refused: unknown;
    for (let i = 0; i < 500 && refused === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      try {
        net.predict(x);
      } catch (error) {
        refused = error;
      }
    }
    expect(String(refused)).toMatch(/ModelBusyError: this MLP is busy/);
    controller.abort();
    expect((await running).stopReason).toBe('aborted');
    expect(evaluated).toBeGreaterThan(0);
    net.dispose();
    net.dispose();
    expect(() => net.predict(x)).toThrow(/disposed/);
  });
});

describe.each(BACKENDS)('pixel data as a Uint8Array on %s', (backend) => {
  it('trains and predicts exactly as the same values in a Float32Array, read in place', () => {
    const bytes = Uint8Array.from({ length: 60 * 16 }, (_, i) => (i * 37) % 256);
    const labels = Int32Array.from({ length: 60 }, (_, r) => r % 3);
    const build = () =>
      new MLP({
        inputs: 16,
        layers: [
          { units: 8, activation: 'tanh' },
          { units: 3, activation: 'softmax' },
        ],
        standardize: true,
        seed: 4,
        backend,
      });
    const [fromBytes, fromFloats] = [build(), build()];
    const options = { epochs: 3, batchSize: 8, validationSplit: 0.2 };
    const a = fromBytes.fitSync(bytes, labels, options);
    const b = fromFloats.fitSync(Float32Array.from(bytes), labels, options);
    expect(a.valLoss).toEqual(b.valLoss);
    expect(fromBytes.getWeights()).toEqual(fromFloats.getWeights());
    expect(fromBytes.predict(bytes)).toEqual(fromFloats.predict(Float32Array.from(bytes)));
    expect(bytes[17]).toBe((17 * 37) % 256); // the caller's array is not touched
  });

  it('standardizing rows as they are gathered trains to the bits of a copy scaled beforehand', () => {
    // A backend that scalesOnGather takes the caller's rows and the scaling; the same model given
    // rows scaled in JavaScript (and no scaler of its own) must see exactly the same batches.
    const bytes = Uint8Array.from({ length: 90 * 12 }, (_, i) => (i * 53 + (i >> 3)) % 256);
    const labels = Int32Array.from({ length: 90 }, (_, r) => (r * 7) % 3);
    const build = (standardize: boolean) =>
      new MLP({
        inputs: 12,
        layers: [
          { units: 9, activation: 'relu' },
          { units: 3, activation: 'softmax' },
        ],
        optimizer: { type: 'adam', learningRate: 0.01 },
        dropout: 0.1,
        standardize,
        seed: 11,
        backend,
      });
    const gathered = build(true);
    const options = { epochs: 4, batchSize: 7, validationSplit: 0.25 };
    const a = gathered.fitSync(bytes, labels, options);
    // The rows the split keeps for training, scaled by the scaler the fit made, in place of the bytes.
    const scaled = gathered.scaler!.transform(Float32Array.from(bytes)) as Float32Array;
    const prescaled = build(false);
    const b = prescaled.fitSync(scaled, labels, options);
    expect(a.loss).toEqual(b.loss);
    expect(a.valLoss).toEqual(b.valLoss);
    expect(gathered.getWeights()).toEqual(prescaled.getWeights());
    expect(a.loss[3]!).toBeLessThan(a.loss[0]!);
  });

  it('predicts and evaluates bytes a chunk at a time, scaled on the way, to the bits of a scaled copy', () => {
    const rows = 700; // more than the 256 rows of a new model's chunks
    const bytes = Uint8Array.from({ length: rows * 10 }, (_, i) => (i * 29 + (i >> 4)) % 256);
    const labels = Int32Array.from({ length: rows }, (_, r) => (r * 5) % 4);
    const build = (standardize: boolean) =>
      new MLP({
        inputs: 10,
        layers: [
          { units: 7, activation: 'relu' },
          { units: 4, activation: 'softmax' },
        ],
        standardize,
        seed: 2,
        backend,
      });
    const net = build(true);
    net.fitSync(bytes.subarray(0, 80 * 10), labels.subarray(0, 80), { epochs: 2, batchSize: 16 });
    const twin = build(false);
    twin.setWeights(net.getWeights());
    const scaled = net.scaler!.transform(Float32Array.from(bytes)) as Float32Array;
    expect(net.predict(bytes)).toEqual(twin.predict(scaled));
    expect(net.predictClasses(bytes)).toEqual(twin.predictClasses(scaled));
    expect(net.evaluate(bytes, labels)).toEqual(twin.evaluate(scaled, labels));
    expect(net.evaluate(Float64Array.from(bytes), labels)).toEqual(twin.evaluate(scaled, labels));
  });
});

describe.each(BACKENDS)('asynchronous training lets the event loop run on %s', (backend) => {
  const x = Array.from({ length: 8 }, (_, i) => [Math.sin(i), Math.cos(i)]);
  const y = x.map(([a]) => (a! > 0 ? 1 : 0));
  const tiny = () =>
    new MLP({
      inputs: 2,
      layers: [
        { units: 3, activation: 'tanh' },
        { units: 1, activation: 'sigmoid' },
      ],
      seed: 2,
      backend,
    });

  it.each([
    ['an epoch callback', { onEpochEnd: () => undefined }],
    ['a batch callback', { onBatchEnd: () => undefined }],
    ['validation data and early stopping', { validationData: [x, y], earlyStopping: { patience: 1e9 } }],
  ] as const)('an abort fired from a timer stops endless epochs with %s', async (_case, options) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const started = performance.now();
    const history = await tiny().fit(x, y, { epochs: 1e12, batchSize: 8, signal: controller.signal, ...(options as object) });
    expect(history.stopReason).toBe('aborted');
    expect(history.loss.length).toBeGreaterThan(0);
    expect(performance.now() - started).toBeLessThan(5000);
  });

  it('short chunks run between turns of the event loop, to the bits of fitSync', async () => {
    // Per-epoch chunks of a tiny network take microseconds: after the first, they run on this
    // thread. A callback that takes 0.1 ms makes the fit last well past the 10 ms between turns.
    const busy = () => {
      const until = performance.now() + 0.1;
      while (performance.now() < until);
    };
    const [net, twin] = [tiny(), tiny()];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    const history = await net.fit(x, y, { epochs: 400, batchSize: 4, onEpochEnd: busy });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
    const blocking = twin.fitSync(x, y, { epochs: 400, batchSize: 4, onEpochEnd: busy });
    expect(history.loss).toEqual(blocking.loss);
    expect(net.getWeights()).toEqual(twin.getWeights());
  });

  it('fitSync refuses a callback that returns a promise with a TypeError, and its rejection is handled', () => {
    const net = tiny();
    expect(() =>
      net.fitSync(x, y, {
        epochs: 3,
        onEpochEnd: async () => {
          throw new Error('from the callback');
        },
      }),
    ).toThrow(
      /onEpochEnd returned a promise, which fitSync cannot wait for: use fit\(\) for an asynchronous onEpochEnd, or return a boolean/,
    );
    expect(() => net.fitSync(x, y, { epochs: 3, onEpochEnd: async () => false })).toThrow(TypeError);
    expect(net.fitSync(x, y, { epochs: 2, onEpochEnd: () => undefined }).loss).toHaveLength(2); // the model is usable afterwards
  });
});

describe.each(BACKENDS)('a diverged step is undone as a whole on %s', (backend) => {
  // Inputs of this size keep the loss finite but send the gradient to the edge of float32:
  // momentum's velocity (and then the weights) overflow; Adam's second moment overflows while
  // its weights stay finite, which would silently freeze them.
  it.each([
    ['momentum', 3e19],
    ['adam', 1e19],
  ] as const)('%s: weights, moments and counters go back, so the next good step trains', (type, size) => {
    const net = new MLP({
      inputs: 2,
      layers: [{ units: 4, activation: 'relu' }, { units: 1 }],
      optimizer: { type, learningRate: 0.05 },
      seed: 6,
      backend,
    });
    const good = [
      [0.5, -0.2],
      [0.1, 0.9],
    ];
    const targets = [0.3, -0.4];
    for (let i = 0; i < 3; i++) net.trainBatch(good, targets);
    const saved = net.save({ training: true });
    const step = net.step;
    expect(() =>
      net.trainBatch(
        [
          [size, size],
          [size, size / 2],
        ],
        [0, 0],
      ),
    ).toThrow(TrainingDivergedError);
    expect(net.step).toBe(step);
    expect(net.save({ training: true })).toEqual(saved); // weights, moments, counters: all as before
    for (let i = 0; i < 3; i++) expect(Number.isFinite(net.trainBatch(good, targets))).toBe(true);
    expect(net.getWeights().every((l) => l.weights.every(Number.isFinite))).toBe(true);
  });
});

describe.each(BACKENDS)('named errors for the states of a model on %s', (backend) => {
  it('busy, disposed and not fitted are their own classes, with stable codes', async () => {
    const net = new MLP({ inputs: 2, layers: [{ units: 3 }, { units: 1 }], standardize: true, seed: 1, backend });
    const notFitted = (() => {
      try {
        net.predict([[1, 2]]);
      } catch (error) {
        return error;
      }
    })();
    expect(notFitted).toBeInstanceOf(NotFittedError);
    expect((notFitted as NotFittedError).code).toBe('MLPKIT_NOT_FITTED');
    const x = Array.from({ length: 400 }, (_, i) => [Math.sin(i), Math.cos(i)]);
    const running = net.fit(
      x,
      x.map(([a]) => a!),
      { epochs: 50, batchSize: 1 },
    );
    expect(() => net.trainBatch([[1, 2]], [1])).toThrow(ModelBusyError);
    expect(() => net.dispose()).toThrow(expect.objectContaining({ code: 'MLPKIT_BUSY' }));
    await running;
    net.dispose();
    expect(() => net.predict([[1, 2]])).toThrow(ModelDisposedError);
    expect(() => net.getWeights()).toThrow(expect.objectContaining({ code: 'MLPKIT_DISPOSED', name: 'ModelDisposedError' }));
    expect(() => new MLPClassifier({ backend }).predict([[1, 2]])).toThrow(NotFittedError);
  });
});
