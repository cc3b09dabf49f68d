/**
 * silu and gelu (the tanh approximation) against PyTorch, from values its autograd computed
 * (fixtures/torch/activations.py, run with Debian's python3-torch; the JSON is committed):
 * the reference formulas and derivatives on a grid, and, on every backend, the outputs, loss
 * and gradient of a small silu-gelu network with PyTorch's weights.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BackendModel } from '../src/backend-model.js';
import { activationBackward, activationForward } from '../src/backends/reference-activations.js';
import { layersFromParams, paramLayout, paramsFromLayers } from '../src/layout.js';
import { resolveBackend } from '../src/registry.js';
import { normalizeModelSpec } from '../src/spec.js';
import { BACKENDS } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';

interface Fixture {
  grid: Record<'z' | 'silu' | 'siluDerivative' | 'gelu' | 'geluDerivative', number[]>;
  network: {
    x: number[][];
    y: number[][];
    outputs: number[][];
    loss: number;
    layers: { weights: number[][]; bias: number[] }[];
    gradients: { weights: number[][]; bias: number[] }[];
  };
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/torch/activations.json', import.meta.url), 'utf8')) as Fixture;

describe('silu and gelu match PyTorch', () => {
  it.each(['silu', 'gelu'] as const)('%s and its derivative on a grid of z in [-6, 6] (float64)', (kind) => {
    const { z } = fixture.grid;
    expectClose(
      z.map((v) => activationForward(kind, 0, v)),
      fixture.grid[kind],
      { atol: 1e-14, rtol: 1e-13, label: `${kind}(z)` },
    );
    expectClose(
      z.map((v) => activationBackward(kind, 0, v)),
      fixture.grid[`${kind}Derivative`],
      { atol: 1e-14, rtol: 1e-13, label: `${kind}'(z)` },
    );
  });

  const spec = normalizeModelSpec({
    inputs: 3,
    layers: [{ units: 5, activation: 'silu' }, { units: 4, activation: 'gelu' }, { units: 2 }],
    loss: 'mse',
    seed: 1,
  });
  const layout = paramLayout(spec.inputs, spec.layers);
  const { x, y, outputs, loss, layers, gradients } = fixture.network;

  it.each(BACKENDS)('the outputs, loss and gradient of a silu-gelu network on %s', (name) => {
    const model = new BackendModel(resolveBackend(name), spec, 4);
    model.setParams(paramsFromLayers(layout, layers));
    const [xs, ys] = [Float32Array.from(x.flat()), Float32Array.from(y.flat())];
    const predicted = new Float32Array(8);
    model.predict(xs, 4, predicted);
    expectClose(predicted, outputs.flat(), { atol: 1e-6, rtol: 1e-5, label: `${name}: outputs` });
    expectClose(model.lossAndGradient(xs, ys, 4), loss, { atol: 1e-6, rtol: 1e-5, label: `${name}: loss` });
    const grads = new Float32Array(model.size);
    model.getGrads(grads);
    layersFromParams(layout, grads).forEach((layer, l) => {
      expectClose(layer.weights, gradients[l]!.weights.flat(), { atol: 1e-6, rtol: 1e-4, label: `${name}: ∂loss/∂W${l}` });
      expectClose(layer.bias!, gradients[l]!.bias, { atol: 1e-6, rtol: 1e-4, label: `${name}: ∂loss/∂b${l}` });
    });
    expect(grads.some((g) => g !== 0)).toBe(true);
  });
});
