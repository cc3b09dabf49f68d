/**
 * Inverted dropout follows the rule every backend implements (rng.ts): unit i of layer l at
 * update t is kept when the top 24 bits of Philox draw [i/4, t, l, DROPOUT] are at or above
 * ⌊rate·2²⁴⌋, and kept units are scaled by 1/(1 − rate). Seen through the gradient of the
 * output weights of a linear network: ∂L/∂W2[j] = δ·h_j·keep_j, zero exactly where j was dropped.
 */
import { describe, expect, it } from 'vitest';
import * as reference from '../src/backends/reference.js';
import { paramLayout } from '../src/layout.js';
import { dropoutThreshold, philox4x32, seedKey, Stream } from '../src/rng.js';
import { normalizeModelSpec } from '../src/spec.js';
import { expectClose } from './helpers/close.js';

describe('inverted dropout', () => {
  it('drops the units the shared rule names and scales the others by 1/(1 − rate)', () => {
    const units = 64;
    const rate = 0.4;
    const spec = normalizeModelSpec({
      inputs: 1,
      layers: [
        { units, activation: 'identity', bias: false },
        { units: 1, bias: false },
      ],
      loss: 'half-mse',
      optimizer: { type: 'sgd', learningRate: 1e-30 },
      dropout: rate,
      seed: 1234,
    });
    const net = reference.createNetwork(spec, paramLayout(spec.inputs, spec.layers), Float64Array);
    const scratch = reference.createScratch(spec, 1, Float64Array);
    const params = new Float64Array(net.params.length);
    for (let j = 0; j < units; j++) {
      params[j] = 1 + j / units;
      params[units + j] = 0.01;
    } // h_j = 1 + j/64 for x = 1
    const [k0, k1] = seedKey(1234);
    const draws = new Uint32Array(4);
    for (let step = 0; step < 3; step++) {
      net.params.set(params);
      reference.trainStep(net, scratch, Float64Array.of(1), Float64Array.of(5), 1, 1e-30);
      const grads = net.grads;
      // The output and δ that the expected mask gives.
      const keep = Array.from({ length: units }, (_, j) => {
        philox4x32(k0, k1, j >>> 2, step, 0, Stream.DROPOUT, draws);
        return draws[j & 3]! >>> 8 >= dropoutThreshold(rate) ? 1 / (1 - rate) : 0;
      });
      const output = keep.reduce((acc, k, j) => acc + 0.01 * (1 + j / units) * k, 0);
      const delta = output - 5;
      expectClose(
        grads.subarray(units),
        keep.map((k, j) => delta * (1 + j / units) * k),
        { atol: 1e-12, label: `∂L/∂W2, step ${step}` },
      );
      const dropped = keep.filter((k) => k === 0).length;
      expect(dropped).toBeGreaterThan(10);
      expect(dropped).toBeLessThan(45);
    }
  });
});
