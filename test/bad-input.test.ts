/**
 * Bad input never crashes, hangs or corrupts a model: it throws a TypeError or RangeError
 * whose message names the argument, what was expected and what was received.
 */
import { describe, expect, it } from 'vitest';
import {
  BackendUnavailableError,
  classScores,
  confusionMatrix,
  crossValidate,
  MLP,
  MLPClassifier,
  MLPRegressor,
  r2Score,
  regressionErrors,
  StandardScaler,
  trainTestSplit,
  type MLPOptions,
} from '../src/node.js';
import { BACKENDS } from './helpers/backends.js';

const base: MLPOptions = {
  inputs: 2,
  layers: [
    { units: 3, activation: 'tanh' },
    { units: 3, activation: 'softmax' },
  ],
  seed: 1,
};
const make = (over: Record<string, unknown>) => () => new MLP({ ...base, ...over } as MLPOptions);
const layersWith = (layer: Record<string, unknown>) => make({ layers: [layer, { units: 3, activation: 'softmax' }] });

type Case = [string, () => unknown, typeof TypeError | typeof RangeError | typeof Error, RegExp];

const constructorCases: Case[] = [
  ['no options', () => new MLP(undefined as never), TypeError, /options must be an options object with inputs and layers, got undefined/],
  ['inputs 0', make({ inputs: 0 }), RangeError, /inputs must be an integer between 1 and \d+, got 0/],
  ['inputs 2.5', make({ inputs: 2.5 }), RangeError, /inputs must be an integer .*got 2\.5/],
  ['inputs "2"', make({ inputs: '2' }), TypeError, /inputs must be an integer, got "2"/],
  ['layers missing', make({ layers: undefined }), TypeError, /layers must be an array of layers .*got undefined/],
  ['layers empty', make({ layers: [] }), RangeError, /layers must be at least one layer .*got an array of length 0/],
  ['units 0', layersWith({ units: 0 }), RangeError, /layers\[0\]\.units must be an integer between 1 and \d+, got 0/],
  [
    'unknown activation',
    layersWith({ units: 2, activation: 'swish' }),
    RangeError,
    /layers\[0\]\.activation must be one of 'identity', .*'softmax', 'silu', 'gelu', got "swish"/,
  ],
  [
    'softmax on a hidden layer',
    layersWith({ units: 2, activation: 'softmax' }),
    RangeError,
    /'softmax' is only allowed on the output layer/,
  ],
  [
    'softmax with one unit',
    make({ layers: [{ units: 1, activation: 'softmax' }] }),
    RangeError,
    /layers\[0\]\.units must be at least 2 for a softmax output/,
  ],
  [
    'alpha on relu',
    layersWith({ units: 2, activation: 'relu', alpha: 0.1 }),
    RangeError,
    /alpha only applies to 'leaky-relu' and 'elu', got it with 'relu'/,
  ],
  [
    'negative alpha',
    layersWith({ units: 2, activation: 'elu', alpha: -1 }),
    RangeError,
    /layers\[0\]\.alpha must be a finite number >= 0, got -1/,
  ],
  ['unknown layer key', layersWith({ units: 2, neurons: 3 }), RangeError, /layers\[0\] has an unknown option 'neurons'/],
  [
    'unknown loss',
    make({ loss: 'hinge' }),
    RangeError,
    /loss must be one of 'mse', 'half-mse', 'mae', 'binary-cross-entropy', 'cross-entropy', got "hinge"/,
  ],
  [
    'cross-entropy on a sigmoid output',
    make({ layers: [{ units: 1, activation: 'sigmoid' }], loss: 'cross-entropy' }),
    RangeError,
    /'cross-entropy' needs a softmax output layer .*got output activation 'sigmoid'; use 'binary-cross-entropy'/,
  ],
  [
    'cross-entropy on an identity output',
    make({ layers: [{ units: 3 }], loss: 'cross-entropy' }),
    RangeError,
    /needs a softmax output layer .*got output activation 'identity'/,
  ],
  [
    'binary-cross-entropy on softmax',
    make({ loss: 'binary-cross-entropy' }),
    RangeError,
    /'binary-cross-entropy' needs a sigmoid output layer .*'softmax'; use 'cross-entropy'/,
  ],
  [
    'unknown optimizer',
    make({ optimizer: 'rmsprop' }),
    RangeError,
    /optimizer must be one of 'sgd', 'momentum', 'nesterov', 'adam', got "rmsprop"/,
  ],
  [
    'negative learning rate',
    make({ optimizer: { type: 'sgd', learningRate: -0.1 } }),
    RangeError,
    /optimizer\.learningRate must be a finite number > 0, got -0\.1/,
  ],
  [
    'NaN learning rate',
    make({ optimizer: { type: 'adam', learningRate: NaN } }),
    RangeError,
    /optimizer\.learningRate must be a finite number > 0, got NaN/,
  ],
  [
    'momentum 1.5',
    make({ optimizer: { type: 'momentum', momentum: 1.5 } }),
    RangeError,
    /optimizer\.momentum must be a finite number >= 0 and < 1, got 1\.5/,
  ],
  [
    'momentum on adam',
    make({ optimizer: { type: 'adam', momentum: 0.9 } }),
    RangeError,
    /momentum only applies to 'momentum' and 'nesterov', got it with 'adam'/,
  ],
  [
    'beta2 = 1',
    make({ optimizer: { type: 'adam', beta2: 1 } }),
    RangeError,
    /optimizer\.beta2 must be a finite number >= 0 and < 1, got 1/,
  ],
  [
    'unknown schedule',
    make({ optimizer: { type: 'sgd', schedule: { type: 'cosine' } } }),
    RangeError,
    /optimizer\.schedule\.type must be one of 'constant', 'step', 'exponential', 'inverse-time', got "cosine"/,
  ],
  [
    'step schedule without stepSize',
    make({ optimizer: { type: 'sgd', schedule: { type: 'step', factor: 0.5 } } }),
    TypeError,
    /optimizer\.schedule\.stepSize must be an integer, got undefined/,
  ],
  ['unknown init', make({ init: 'orthogonal' }), RangeError, /init must be one of 'auto', .*got "orthogonal"/],
  ['negative l2', make({ l2: -1 }), RangeError, /l2 must be a finite number >= 0, got -1/],
  ['dropout 1', make({ dropout: 1 }), RangeError, /dropout must be a finite number >= 0 and < 1, got 1/],
  [
    'dropout per layer, wrong count',
    make({ dropout: [0.1, 0.2] }),
    RangeError,
    /dropout must be a rate or an array of one rate per hidden layer \(1\), got an array of length 2/,
  ],
  ['seed -1', make({ seed: -1 }), RangeError, /seed must be an integer between 0 and \d+, got -1/],
  ['unknown option', make({ learning_rate: 0.1 }), RangeError, /options has an unknown option 'learning_rate'/],
  ['unknown backend', make({ backend: 'gpu' }), RangeError, /backend must be one of 'auto', 'native', 'wasm', 'js', got "gpu"/],
  ['threads 0', make({ threads: 0 }), RangeError, /threads must be an integer between 1 and 1024, got 0/],
  [
    'more parameters than fit in memory',
    make({ inputs: 100_000, layers: [{ units: 100_000 }] }),
    RangeError,
    /layers describe 10000100000 parameters, more than the 2147483647 a model can hold/,
  ],
];

describe('constructor arguments', () => {
  it.each(constructorCases)('%s', (_name, call, type, message) => {
    expect(call).toThrow(type);
    expect(call).toThrow(message);
  });

  it('a backend asked for by name that this build does not include throws and says why', () => {
    for (const name of ['native', 'wasm'] as const) {
      if (BACKENDS.includes(name)) continue;
      expect(make({ backend: name })).toThrow(BackendUnavailableError);
      expect(make({ backend: name })).toThrow(new RegExp(`the ${name} backend is not available: .+`));
    }
  });
});

describe.each(BACKENDS)('data and call arguments on %s', (backend) => {
  const net = () => new MLP({ ...base, backend });
  const x = [
    [0, 1],
    [1, 0],
    [1, 1],
    [0, 0],
  ];
  const y = [0, 1, 2, 1];
  const flat = (values: number[]) => Float32Array.from(values);

  const cases: [string, (m: MLP) => unknown, typeof TypeError | typeof RangeError | typeof Error, RegExp][] = [
    [
      'a row of the wrong length',
      (m) =>
        m.fitSync(
          [
            [0, 1],
            [1, 0, 1],
          ],
          [0, 1],
        ),
      RangeError,
      /x\[1\] must be an array of 2 numbers, got an array of length 3/,
    ],
    [
      'a flat x of the wrong length',
      (m) => m.predict(flat([1, 2, 3])),
      RangeError,
      /x must be a flat array whose length is a multiple of 2 .*got a Float32Array of length 3/,
    ],
    [
      'NaN in x',
      (m) =>
        m.fitSync(
          [
            [0, 1],
            [NaN, 0],
          ],
          [0, 1],
        ),
      RangeError,
      /x\[1\]\[0\] must be a finite number, got NaN/,
    ],
    ['Infinity in a flat x', (m) => m.predict(flat([0, 1, 2, Infinity])), RangeError, /x\[1\]\[1\] must be a finite number, got Infinity/],
    ['a string in x', (m) => m.predict([[0, '1' as never]]), TypeError, /x\[0\]\[1\] must be a number, got "1"/],
    [
      'x not a matrix',
      (m) => m.predict('data' as never),
      TypeError,
      /x must be an array of rows \(number\[\]\[\]\) or a flat Float32Array, Float64Array or Uint8Array with 2 values per row, got "data"/,
    ],
    ['empty x', (m) => m.fitSync([], []), RangeError, /x must be a matrix with at least one row, got an array of length 0/],
    [
      'y with too few rows',
      (m) =>
        m.fitSync(x, [
          [1, 0, 0],
          [0, 1, 0],
          [0, 0, 1],
        ]),
      RangeError,
      /y must have 4 rows to match x, got 3/,
    ],
    [
      'y of the wrong length',
      (m) => m.fitSync(x, [0, 1, 2]),
      RangeError,
      /y must hold 4 rows of 3 targets or 4 class indices \(12 values\), got an array of length 3/,
    ],
    [
      'NaN in y',
      (m) =>
        m.fitSync(x, [
          [1, 0, 0],
          [0, NaN, 1],
          [0, 0, 1],
          [1, 0, 0],
        ]),
      RangeError,
      /y\[1\]\[1\] must be a finite number, got NaN/,
    ],
    [
      'a class index out of range',
      (m) => m.fitSync(x, [0, 1, 3, 1]),
      RangeError,
      /y\[2\] must be a class index, an integer between 0 and 2, got 3/,
    ],
    [
      'a fractional class index',
      (m) => m.fitSync(x, [0, 1.5, 2, 1]),
      RangeError,
      /y\[1\] must be a class index, an integer between 0 and 2, got 1\.5/,
    ],
    [
      'a cross-entropy row that is not a distribution',
      (m) =>
        m.fitSync(x, [
          [1, 1, 0],
          [0, 1, 0],
          [0, 0, 1],
          [1, 0, 0],
        ]),
      RangeError,
      /y\[0\] must be a one-hot row or a distribution summing to 1 for cross-entropy, got a row summing to 2/,
    ],
    ['batch size 0', (m) => m.fitSync(x, y, { batchSize: 0 }), RangeError, /batchSize must be an integer >= 1, got 0/],
    ['epochs -1', (m) => m.fitSync(x, y, { epochs: -1 }), RangeError, /epochs must be an integer >= 1, got -1/],
    [
      'validationSplit 1',
      (m) => m.fitSync(x, y, { validationSplit: 1 }),
      RangeError,
      /validationSplit must be a finite number >= 0 and < 1, got 1/,
    ],
    [
      'a split that leaves no validation rows',
      (m) => m.fitSync(x, y, { validationSplit: 0.01 }),
      RangeError,
      /validationSplit must be a fraction that leaves rows on both sides of the split of 4 rows, got 0\.01/,
    ],
    [
      'validationSplit and validationData',
      (m) => m.fitSync(x, y, { validationSplit: 0.5, validationData: [x, y] }),
      RangeError,
      /either validationSplit or validationData/,
    ],
    [
      'malformed validationData',
      (m) => m.fitSync(x, y, { validationData: [x] as never }),
      TypeError,
      /validationData must be a pair \[x, y\], got an array of length 1/,
    ],
    ['unknown fit option', (m) => m.fitSync(x, y, { epoch: 3 } as never), RangeError, /fit options has an unknown option 'epoch'/],
    [
      'a callback that is not a function',
      (m) => m.fitSync(x, y, { onEpochEnd: 'log' as never }),
      TypeError,
      /onEpochEnd must be a function, got "log"/,
    ],
    [
      'a signal that is not an AbortSignal',
      (m) => m.fitSync(x, y, { signal: {} as never }),
      TypeError,
      /signal must be an AbortSignal, got an object/,
    ],
    [
      'a signal-like object without listeners',
      (m) => m.fitSync(x, y, { signal: { aborted: false } as never }),
      TypeError,
      /signal must be an AbortSignal, got an object/,
    ],
    [
      'a Proxy of a typed array',
      (m) => m.predict(new Proxy(new Float32Array(4), {}) as Float32Array),
      TypeError,
      /x must be a typed array itself \(a Proxy of one cannot be read\)/,
    ],
    [
      'weights for the wrong number of layers',
      (m) => m.setWeights([]),
      RangeError,
      /layers must be an array of 2 \{ weights, bias \} entries, got an array of length 0/,
    ],
    [
      'weights of the wrong size',
      (m) =>
        m.setWeights([
          { weights: [1, 2], bias: [0, 0, 0] },
          { weights: new Float32Array(9), bias: [0, 0, 0] },
        ]),
      RangeError,
      /layers\[0\]\.weights must be an array of 6 numbers, got an array of length 2/,
    ],
    [
      'a NaN weight',
      (m) =>
        m.setWeights([
          { weights: [1, 2, 3, 4, 5, NaN], bias: [0, 0, 0] },
          { weights: new Float32Array(9), bias: [0, 0, 0] },
        ]),
      RangeError,
      /layers\[0\]\.weights\[5\] must be a finite number, got NaN/,
    ],
    [
      'a weight beyond float32 range',
      (m) =>
        m.setWeights([
          { weights: [1, 2, 3, 4, 5, 6], bias: [0, 3.5e38, 0] },
          { weights: new Float32Array(9), bias: [0, 0, 0] },
        ]),
      RangeError,
      /layers\[0\]\.bias\[1\] must be a finite number within float32 range \(magnitude at most 3\.4028234663852886e\+38\), got 3\.5e\+38/,
    ],
    [
      'an input beyond float32 range',
      (m) => m.predict([[1e39, 0]]),
      RangeError,
      /x\[0\]\[0\] must be a finite number within float32 range/,
    ],
    [
      'a flat float64 input beyond float32 range',
      (m) => m.predict(Float64Array.of(0, 1, -Number.MAX_VALUE, 2)),
      RangeError,
      /x\[1\]\[0\] must be a finite number within float32 range/,
    ],
    [
      'a missing bias',
      (m) =>
        m.setWeights([
          { weights: new Float32Array(6), bias: null },
          { weights: new Float32Array(9), bias: [0, 0, 0] },
        ]),
      TypeError,
      /layers\[0\]\.bias must be an array of 3 numbers, got null/,
    ],
    [
      'a scaler of the wrong width',
      (m) => {
        m.scaler = new StandardScaler().fit([[1, 2, 3]]);
      },
      RangeError,
      /scaler must be a StandardScaler fitted on 2 features, got one fitted on 3/,
    ],
  ];

  it.each(cases)('%s', (_name, call, type, message) => {
    const model = net();
    const before = model.save();
    expect(() => call(model)).toThrow(type);
    expect(() => call(model)).toThrow(message);
    expect(model.save(), 'the model is unchanged').toEqual(before);
  });

  it('estimators and helpers check their arguments too', async () => {
    await expect(new MLPClassifier({ backend }).fit(x, [1, 1, 1, 1])).rejects.toThrow(
      /y must be labels of at least two classes, got "only 1"/,
    );
    await expect(new MLPClassifier({ backend }).fit(x, [{}, 1, 2, 3] as never)).rejects.toThrow(
      /y\[0\] must be a label \(a string, a finite number or a boolean\), got an object/,
    );
    await expect(new MLPClassifier({ backend }).fit(x, [0, 1])).rejects.toThrow(/X must have 2 rows to match y, got 4/);
    expect(() => new MLPClassifier({ solver: 'newton' as never })).toThrow(/solver must be one of 'adam', 'sgd', 'lbfgs', got "newton"/);
    expect(() => new MLPClassifier({ hiddenLayerSizes: [0] })).toThrow(/hiddenLayerSizes\[0\] must be an integer >= 1, got 0/);
    expect(() => new MLPRegressor({ learningRate: 'optimal' as never })).toThrow(
      /learningRate must be one of 'constant', 'invscaling', 'adaptive', got "optimal"/,
    );
    expect(() => new MLPRegressor({ maxiter: 5 } as never)).toThrow(/MLPRegressor options has an unknown option 'maxiter'/);
    expect(() => new MLPClassifier().predict(x)).toThrow(/not fitted yet/);
    expect(() => new StandardScaler().transform(x)).toThrow(/not fitted yet/);
    expect(() => trainTestSplit(x, y, { testSize: 2 })).toThrow(/testSize must be a finite number > 0 and < 1, got 2/);
    expect(() => r2Score([1, 2, 3], [1, 2])).toThrow(
      /got must be an array of 3 numbers \(as many as the other\), got an array of length 2/,
    );
    expect(() => r2Score([1, 2, 3], ['a', 2, 3] as never)).toThrow(/got\[0\] must be a number, got "a"/);
    expect(() => r2Score([1, 2, 3, 4], [1, 2, 3, 4], 3)).toThrow(/columns must be a divisor of the 4 values, got 3/);
    expect(() => regressionErrors([1, NaN], [1, 2])).toThrow(/want\[1\] must be a finite number, got NaN/);
    expect(() => confusionMatrix([0, 3], [0, 1], 3)).toThrow(/truth\[1\] must be an integer between 0 and 2, got 3/);
    expect(() => classScores([[1, 2], [3]])).toThrow(/matrix\[1\] must be an array of 2 numbers/);
    expect(() =>
      classScores([
        [1, -2],
        [3, 4],
      ]),
    ).toThrow(/matrix\[0\]\[1\] must be an integer .*got -2/);
    await expect(crossValidate({ build: () => new MLPClassifier({ backend }), X: x, y, folds: 9 })).rejects.toThrow(
      /folds must be an integer between 2 and the number of rows \(4\), got 9/,
    );
  });
});

describe.each(BACKENDS)('sizes beyond memory on %s', (backend) => {
  it('a model whose state cannot be allocated is refused by name, at once', () => {
    const huge = () => new MLP({ backend, inputs: 40000, layers: [{ units: 40000, activation: 'relu' }], seed: 1 });
    expect(huge).toThrow(RangeError);
    expect(huge).toThrow(
      `layers describe 1600040000 parameters, whose weights, gradients and optimizer state (23.8 GiB) do not fit in the memory of the ${backend} backend`,
    );
  });
});

describe('sizes beyond the WebAssembly memory', () => {
  it('a batch beyond the 4 GiB of WebAssembly memory is refused and the model still trains', async () => {
    const model = new MLP({ backend: 'wasm', inputs: 1, layers: [{ units: 100000, activation: 'relu' }, { units: 1 }], seed: 1 });
    const x = new Float32Array(20000).map((_, i) => i / 20000);
    const y = x.map((v) => 2 * v);
    const before = model.save();
    await expect(model.fit(x, y, { batchSize: 20000, epochs: 1 })).rejects.toThrow(
      /a batch of 20000 rows does not fit in the memory of the wasm backend; use a smaller batchSize/,
    );
    expect(Buffer.from(model.save()).equals(Buffer.from(before)), 'the model is unchanged').toBe(true);
    const history = await model.fit(x.subarray(0, 64), y.subarray(0, 64), { batchSize: 32, epochs: 1 });
    expect(Number.isFinite(history.loss[0])).toBe(true);
  });
});
