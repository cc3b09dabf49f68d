/**
 * The training parity cases and how one is run: plain code without the test runner, so that
 * it also runs in a bundle on another machine (the arm64 addon under emulation).
 */
import { MLP, type MLPOptions, type OptimizerType } from '../../src/node.js';

export const PARITY_X = Array.from({ length: 24 }, (_, i) => [Math.sin(i), Math.cos(i * 1.3), (i % 5) / 5 - 0.4]);
const classes = PARITY_X.map(([a, b]) => (a! + b! > 0.3 ? 0 : a! > b! ? 1 : 2));
const targets = PARITY_X.map(([a, b, c]) => [a! * b! + c!, a! - c!]);

export type ParityCase = [name: string, options: Partial<MLPOptions>, task: 'classes' | 'regression'];

/** Every optimizer, every activation, most losses, dropout, L2, a layer without bias, a schedule, and the packed GEMM path. */
export const PARITY_CASES: ParityCase[] = [
  [
    'sgd, tanh, softmax + cross-entropy',
    {
      layers: [
        { units: 16, activation: 'tanh' },
        { units: 3, activation: 'softmax' },
      ],
      optimizer: { type: 'sgd', learningRate: 0.1 },
    },
    'classes',
  ],
  [
    'momentum, relu, L2, mse',
    { layers: [{ units: 16, activation: 'relu' }, { units: 2 }], optimizer: { type: 'momentum', learningRate: 0.05 }, l2: 1e-3 },
    'regression',
  ],
  [
    'nesterov, elu + leaky-relu, dropout, half-mse',
    {
      layers: [{ units: 12, activation: 'elu' }, { units: 9, activation: 'leaky-relu', alpha: 0.1 }, { units: 2 }],
      optimizer: { type: 'nesterov', learningRate: 0.05 },
      dropout: 0.25,
    },
    'regression',
  ],
  [
    'adam, sigmoid, no bias, step schedule, mae',
    {
      layers: [
        { units: 10, activation: 'sigmoid', bias: false },
        { units: 2, activation: 'tanh' },
      ],
      loss: 'mae',
      optimizer: { type: 'adam', learningRate: 0.01, schedule: { type: 'step', factor: 0.5, stepSize: 5 } },
    },
    'regression',
  ],
  [
    'adam, relu, dropout + L2, softmax + cross-entropy',
    {
      layers: [
        { units: 32, activation: 'relu' },
        { units: 3, activation: 'softmax' },
      ],
      optimizer: { type: 'adam', learningRate: 0.01 },
      dropout: 0.3,
      l2: 1e-3,
    },
    'classes',
  ],
  [
    'momentum, silu + gelu, dropout on the silu layer, mse',
    {
      layers: [{ units: 20, activation: 'silu' }, { units: 12, activation: 'gelu' }, { units: 2 }],
      optimizer: { type: 'momentum', learningRate: 0.05 },
      dropout: [0.2, 0],
    },
    'regression',
  ],
  [
    'adam, gelu hidden, silu output, half-mse',
    {
      layers: [
        { units: 16, activation: 'gelu' },
        { units: 2, activation: 'silu' },
      ],
      loss: 'half-mse',
      optimizer: { type: 'adam', learningRate: 0.01 },
    },
    'regression',
  ],
  [
    // Wider than the 256 exponentials a native softmax row keeps on the stack: it computes them twice.
    'sgd, relu, a softmax of 300 classes + cross-entropy',
    {
      layers: [
        { units: 8, activation: 'relu' },
        { units: 300, activation: 'softmax' },
      ],
      optimizer: { type: 'sgd', learningRate: 0.5 },
    },
    'classes',
  ],
  [
    'sgd, wide relu layers on the packed path, sigmoid + binary cross-entropy',
    {
      layers: [
        { units: 70, activation: 'relu' },
        { units: 45, activation: 'relu' },
        { units: 1, activation: 'sigmoid' },
      ],
      optimizer: { type: 'sgd', learningRate: 0.05 },
      dropout: [0.1, 0],
    },
    'classes',
  ],
];

/** The targets of a case: class indices (0/1 for a single sigmoid output) or two regression targets per row. */
export function parityTargets([, options, task]: ParityCase): number[] | number[][] {
  if (task === 'regression') return targets;
  return options.layers!.at(-1)!.units === 1 ? classes.map((c) => (c === 0 ? 1 : 0)) : classes;
}

export const flatWeights = (net: MLP): number[] => net.getWeights().flatMap((l) => [...l.weights, ...(l.bias ?? [])]);

export function buildParityModel(parityCase: ParityCase, backend: 'js' | 'native' | 'wasm'): MLP {
  return new MLP({ inputs: 3, layers: [], seed: 21, backend, ...parityCase[1] } as MLPOptions);
}

/** What a parity run gives: its updates, epoch losses, parameters, predictions and evaluated loss. */
export interface ParityOutcome {
  step: number;
  loss: number[];
  weights: number[];
  predictions: number[];
  evaluation: number;
}

/** Trains the case for 20 updates (5 epochs of 4 batches) on `backend` and reads the outcome. */
export function runParityCase(parityCase: ParityCase, backend: 'js' | 'native' | 'wasm'): { net: MLP; outcome: ParityOutcome } {
  const net = buildParityModel(parityCase, backend);
  const y = parityTargets(parityCase);
  const history = net.fitSync(PARITY_X, y, { epochs: 5, batchSize: 6, validationSplit: 0 });
  const outcome = {
    step: net.step,
    loss: history.loss,
    weights: flatWeights(net),
    predictions: (net.predict(PARITY_X) as number[][]).flat(),
    evaluation: net.evaluate(PARITY_X, y).loss,
  };
  return { net, outcome };
}

/**
 * A network wide enough that every product of a step is cut into parts on several threads,
 * and its data (120 rows of 64 features, 10 classes): the thread-count tests train it on 1, 2
 * and 3 threads (on arm64 too) and expect the same bits.
 */
export function buildWideModel(optimizer: OptimizerType, threads: number): MLP {
  return new MLP({
    inputs: 64,
    layers: [
      { units: 300, activation: 'relu' },
      { units: 200, activation: 'gelu' },
      { units: 10, activation: 'softmax' },
    ],
    optimizer,
    l2: 1e-3,
    dropout: 0.2,
    seed: 5,
    backend: 'native',
    threads,
  });
}
export const WIDE_X = Float32Array.from({ length: 120 * 64 }, (_, i) => Math.sin(i * 0.37) * Math.cos(i * 0.011));
export const WIDE_Y = Int32Array.from({ length: 120 }, (_, i) => (i * 7) % 10);
