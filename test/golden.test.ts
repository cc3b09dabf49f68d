/** The worked examples of the lecture notes (SPEC golden cases 1–6), through the public API. */
import { describe, expect, it } from 'vitest';
import { MLP, type LayerOptions } from '../src/node.js';
import { BACKENDS } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';

const XOR_X = [
  [0, 0],
  [0, 1],
  [1, 0],
  [1, 1],
];
const XOR_Y = [0, 1, 1, 0];

describe.each(BACKENDS)('golden cases on %s', (backend) => {
  it('1: one SGD step of backprop by hand (2-2-1 sigmoid, no biases, half-mse, η = 0.2)', () => {
    const net = new MLP({
      backend,
      inputs: 2,
      layers: [
        { units: 2, activation: 'sigmoid', bias: false },
        { units: 1, activation: 'sigmoid', bias: false },
      ],
      loss: 'half-mse',
      optimizer: { type: 'sgd', learningRate: 0.2 },
    });
    // Rows are units: unit 3 = [w13, w23], unit 4 = [w14, w24]; output unit 5 = [w35, w45].
    net.setWeights([
      {
        weights: [
          [0.1, -0.1],
          [-0.1, 0.1],
        ],
        bias: null,
      },
      { weights: [[-0.1, 0.1]], bias: null },
    ]);
    expectClose(net.predict([[0.1, 0.1]])[0] as number[], [0.5], { label: 'o5' });
    const loss = net.trainBatch([[0.1, 0.1]], [[0.1]]);
    expectClose(loss, 0.5 * 0.4 * 0.4, { label: 'loss' });
    const [hidden, output] = net.getWeights();
    expectClose(output!.weights, [-0.11, 0.09], { atol: 1e-7, label: '[w35, w45]' });
    expectClose(hidden!.weights, [0.10005, -0.09995, -0.10005, 0.09995], { atol: 1e-7, label: '[w13, w23, w14, w24]' });
  });

  const hidden = {
    weights: [
      [3, -9, 2],
      [11, -2, 7],
      [-6, 3, -4],
      [6, -1, 5],
    ],
    bias: [5, 2, -1, 1],
  };
  const x2 = [[-3, 1, 5]];

  it('2: one hidden sigmoid layer, sigmoid output', () => {
    const layer = new MLP({ backend, inputs: 3, layers: [{ units: 4, activation: 'identity' }] });
    layer.setWeights([hidden]);
    expectClose(layer.predict(x2)[0] as number[], [-3, 2, 0, 7], { label: 'a' });
    const hiddenOnly = new MLP({ backend, inputs: 3, layers: [{ units: 4, activation: 'sigmoid' }] });
    hiddenOnly.setWeights([hidden]);
    expectClose(hiddenOnly.predict(x2)[0] as number[], [0.047426, 0.880797, 0.5, 0.999089], { atol: 1e-6, label: 'o' });
    const output = { weights: [[3, -12, 8, 1]], bias: [6] };
    const fIn = new MLP({
      backend,
      inputs: 3,
      layers: [
        { units: 4, activation: 'sigmoid' },
        { units: 1, activation: 'identity' },
      ],
    });
    fIn.setWeights([hidden, output]);
    expectClose(fIn.predict(x2)[0] as number[], [0.571802], { atol: 2e-6, label: 'f_in' });
    const net = new MLP({
      backend,
      inputs: 3,
      layers: [
        { units: 4, activation: 'sigmoid' },
        { units: 1, activation: 'sigmoid' },
      ],
    });
    net.setWeights([hidden, output]);
    expectClose(net.predict(x2)[0] as number[], [0.639179], { atol: 1e-6, label: 'ŷ' });
  });

  it('3: the same hidden layer with a softmax output', () => {
    const output = {
      weights: [
        [3, -12, 8, 1],
        [2, -3, 9, 1],
        [-5, 1, -1, 7],
      ],
      bias: [6, 0, -8],
    };
    const logits = new MLP({
      backend,
      inputs: 3,
      layers: [
        { units: 4, activation: 'sigmoid' },
        { units: 3, activation: 'identity' },
      ],
    });
    logits.setWeights([hidden, output]);
    expectClose(logits.predict(x2)[0] as number[], [0.571802, 2.951549, -0.86271], { atol: 2e-6, label: 'f_in' });
    const net = new MLP({
      backend,
      inputs: 3,
      layers: [
        { units: 4, activation: 'sigmoid' },
        { units: 3, activation: 'softmax' },
      ],
    });
    net.setWeights([hidden, output]);
    expectClose(net.predict(x2)[0] as number[], [0.083054, 0.89716, 0.019786], { atol: 1e-6, label: 'softmax' });
  });

  it('4: a deep ReLU network with a softmax output', () => {
    const weights = [
      {
        weights: [
          [13, -9, 2],
          [-8, 0, 3],
          [4, -1, 5],
          [-3, 12, 7],
        ],
        bias: [5, -2, 2, 11],
      },
      {
        weights: [
          [1, 0, -4, 1],
          [0, 11, 2, -14],
          [-1, 5, -2, 16],
          [0, -9, -3, 4],
        ],
        bias: [-5, 3, 1, -8],
      },
      {
        weights: [
          [1, -2, -18, -7],
          [3, -4, 8, 0],
          [-2, 1, 21, 5],
          [2, -2, 11, -13],
        ],
        bias: [4, -6, 1, -17],
      },
      {
        weights: [
          [9, 3, -1, -4],
          [-8, -2, 14, 3],
          [13, 2, -9, -1],
        ],
        bias: [-1, -4, -30],
      },
    ];
    const x = [[7, 1, -4]];
    const prefix = (depth: number, last: LayerOptions['activation']) => {
      const layers: LayerOptions[] = weights
        .slice(0, depth)
        .map((w, i) => ({ units: w.bias.length, activation: i < depth - 1 ? 'relu' : last }));
      const net = new MLP({ backend, inputs: 3, layers });
      net.setWeights(weights.slice(0, depth));
      return net.predict(x)[0] as number[];
    };
    expectClose(prefix(1, 'identity'), [79, -70, 9, -26], { label: 'a1' });
    expectClose(prefix(1, 'relu'), [79, 0, 9, 0], { label: 'relu(a1)' });
    expectClose(prefix(2, 'relu'), [38, 21, 0, 0], { label: 'layer 2' });
    expectClose(prefix(3, 'relu'), [0, 24, 0, 17], { label: 'layer 3' });
    expectClose(prefix(4, 'identity'), [3, -1, 1], { atol: 1e-5, label: 'f_in' });
    expectClose(prefix(4, 'softmax'), [0.866813, 0.015876, 0.11731], { atol: 1e-6, label: 'softmax' });
  });

  const xorNet = (options: { init?: 'zeros'; hidden?: 'sigmoid' | 'identity'; seed?: number }) =>
    new MLP({
      backend,
      inputs: 2,
      layers: [
        { units: 2, activation: options.hidden ?? 'sigmoid' },
        { units: 1, activation: 'sigmoid' },
      ],
      loss: 'binary-cross-entropy',
      optimizer: { type: 'adam', learningRate: 0.05 },
      seed: options.seed ?? 7,
      ...(options.init ? { init: options.init } : {}),
    });
  const correct = (net: MLP) => (net.predictClasses(XOR_X) as number[]).filter((c, i) => c === XOR_Y[i]).length;

  it('5: a 2-2-1 sigmoid network learns XOR from a seeded start, but not from all-zero weights', () => {
    const net = xorNet({});
    net.fitSync(XOR_X, XOR_Y, { epochs: 3000, batchSize: 4 });
    const p = net.predict(XOR_X) as number[][];
    p.forEach(([v], i) => expect(v! >= 0.5 ? 1 : 0, `xor(${XOR_X[i]}) = ${v}`).toBe(XOR_Y[i]));

    const zero = xorNet({ init: 'zeros' });
    zero.fitSync(XOR_X, XOR_Y, { epochs: 3000, batchSize: 4 });
    const [hiddenLayer] = zero.getWeights();
    const [u, v] = [hiddenLayer!.weights.subarray(0, 2), hiddenLayer!.weights.subarray(2, 4)];
    expect(Array.from(u), 'both hidden units stay identical').toEqual(Array.from(v));
    expect(hiddenLayer!.bias![0]).toBe(hiddenLayer!.bias![1]);
    expect(correct(zero)).toBeLessThan(4);
  });

  it('6: without hidden activations the 2-2-1 network is linear and cannot fit XOR', () => {
    for (const seed of [1, 2, 3]) {
      const net = xorNet({ hidden: 'identity', seed });
      net.fitSync(XOR_X, XOR_Y, { epochs: 2000, batchSize: 4 });
      expect(correct(net), `seed ${seed}`).toBeLessThan(4);
    }
  });
});
