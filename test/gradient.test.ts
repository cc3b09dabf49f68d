/**
 * Finite-difference check of the reference's backward pass: for every hidden
 * activation × output activation × loss, with L2 on and a layer without bias, the gradient
 * of one training step matches central differences of the objective (computed in float64).
 */
import { describe, expect, it } from 'vitest';
import * as reference from '../src/backends/reference.js';
import { paramLayout } from '../src/layout.js';
import { fillRandomU32, u32ToUnit } from '../src/rng.js';
import { ACTIVATIONS, normalizeModelSpec, type Activation, type Loss, type LayerOptions } from '../src/spec.js';

function randoms(count: number, seed: number, scale = 1, offset = 0): Float64Array {
  const words = new Uint32Array(count);
  fillRandomU32(words, seed, 99, 0, 0);
  return Float64Array.from(words, (w) => offset + scale * (2 * u32ToUnit(w) - 1));
}

function targets(loss: Loss, n: number, k: number, seed: number): Float64Array {
  const u = randoms(n * k, seed, 0.5, 0.5); // in [0, 1]
  if (loss !== 'cross-entropy') return loss === 'binary-cross-entropy' ? u : randoms(n * k, seed, 1.5);
  for (let r = 0; r < n; r++) {
    // soft labels: each row a distribution
    let sum = 0;
    for (let j = 0; j < k; j++) sum += u[r * k + j]!;
    for (let j = 0; j < k; j++) u[r * k + j]! /= sum;
  }
  return u;
}

const HIDDEN: { activation: Activation; alpha?: number }[] = [
  { activation: 'identity' },
  { activation: 'sigmoid' },
  { activation: 'tanh' },
  { activation: 'relu' },
  { activation: 'leaky-relu', alpha: 0.1 },
  { activation: 'elu', alpha: 0.7 },
  { activation: 'silu' },
  { activation: 'gelu' },
];
const PAIRS: [Activation, Loss][] = [
  ...ACTIVATIONS.flatMap((a) => (['mse', 'half-mse', 'mae'] as Loss[]).map((l): [Activation, Loss] => [a, l])),
  ['sigmoid', 'binary-cross-entropy'],
  ['softmax', 'cross-entropy'],
];

describe('finite-difference gradient check of the reference backend (float64)', () => {
  const cases = HIDDEN.flatMap((h) => PAIRS.map(([output, loss]) => ({ h, output, loss })));
  it.each(cases)('hidden $h.activation, output $output, loss $loss', ({ h, output, loss }) => {
    const n = 5;
    const k = 3;
    const layers: LayerOptions[] = [
      { units: 4, ...h },
      { units: 3, ...h, bias: false },
      { units: k, activation: output, ...(output === 'elu' ? { alpha: 0.5 } : output === 'leaky-relu' ? { alpha: 0.2 } : {}) },
    ];
    const spec = normalizeModelSpec({ inputs: 3, layers, loss, l2: 0.03, optimizer: { type: 'sgd', learningRate: 0.1 }, seed: 1 });
    const layout = paramLayout(spec.inputs, spec.layers);
    const net = reference.createNetwork(spec, layout, Float64Array);
    const scratch = reference.createScratch(spec, n, Float64Array);
    const params = randoms(layout.size, 11, 0.9);
    const x = randoms(n * 3, 12, 1.5);
    const y = targets(loss, n, k, 13);
    net.params.set(params);
    const value = reference.lossAndGradient(net, scratch, x, y, n);
    const grads = Float64Array.from(net.grads);
    expect(net.params).toEqual(params); // the gradient alone: no update

    const objective = (p: Float64Array) => {
      net.params.set(p);
      reference.forward(net, scratch, x, n, false);
      return reference.lossForward(net, scratch, y, n) + reference.penalty(net);
    };
    expect(objective(params)).toBe(value);
    const eps = 1e-6;
    for (let i = 0; i < layout.size; i++) {
      const plus = Float64Array.from(params);
      plus[i]! += eps;
      const minus = Float64Array.from(params);
      minus[i]! -= eps;
      const numeric = (objective(plus) - objective(minus)) / (2 * eps);
      const tolerance = 1e-6 + 1e-5 * Math.abs(numeric);
      if (Math.abs(grads[i]! - numeric) > tolerance) {
        expect.fail(`parameter ${i}: backprop ${grads[i]}, finite difference ${numeric}`);
      }
    }
    expect(grads.some((g) => g !== 0)).toBe(true);
  });
});
