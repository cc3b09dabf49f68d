/** N-step training parity with the reference, shared by the native and WebAssembly tests. */
import { expect } from 'vitest';
import { MLP, type MLPOptions } from '../../src/node.js';
import { expectClose } from './close.js';

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

/**
 * Trains the case for 20 updates on `backend` and on the reference, and holds the epoch
 * losses, the parameters, the predictions and the evaluated loss within max(atol, rtol·|ref|).
 */
export function expectTrainingParity(parityCase: ParityCase, backend: 'native' | 'wasm', label: string = backend): MLP {
  const [ref, other] = [buildParityModel(parityCase, 'js'), buildParityModel(parityCase, backend)];
  const y = parityTargets(parityCase);
  const fit = { epochs: 5, batchSize: 6, validationSplit: 0 };
  const hRef = ref.fitSync(PARITY_X, y, fit);
  const hOther = other.fitSync(PARITY_X, y, fit);
  expect(other.step).toBe(20);
  expectClose(hOther.loss, hRef.loss, { atol: 1e-5, rtol: 1e-4, label: `${label}: epoch losses` });
  expectClose(flatWeights(other), flatWeights(ref), { atol: 1e-4, rtol: 1e-3, label: `${label}: parameters after 20 updates` });
  expectClose((other.predict(PARITY_X) as number[][]).flat(), (ref.predict(PARITY_X) as number[][]).flat(), {
    atol: 1e-4,
    rtol: 1e-3,
    label: `${label}: predictions`,
  });
  expectClose(other.evaluate(PARITY_X, y).loss, ref.evaluate(PARITY_X, y).loss, { atol: 1e-5, rtol: 1e-4, label: `${label}: evaluate` });
  return other;
}
