import { describe, expect, it } from 'vitest';
import { MLP, type Init } from '../src/node.js';

const stats = (values: Float32Array) => {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  let maxAbs = 0;
  for (const v of values) maxAbs = Math.max(maxAbs, Math.abs(v));
  return { mean, std, maxAbs };
};

describe('weight initialization', () => {
  const fanIn = 200;
  const fanOut = 300;
  const weightsOf = (init: Init, initRange?: number) => {
    const net = new MLP({
      inputs: fanIn,
      layers: [{ units: fanOut, activation: 'tanh' }, { units: 2 }],
      init,
      seed: 3,
      ...(initRange ? { initRange } : {}),
    });
    const [first] = net.getWeights();
    expect(Array.from(first!.bias!)).toEqual(new Array(fanOut).fill(0));
    return first!.weights;
  };
  const cases: [Init, number, number][] = [
    // init, bound (0 for normal), expected std
    ['uniform', 0.3, 0.3 / Math.sqrt(3)],
    ['xavier-uniform', Math.sqrt(6 / (fanIn + fanOut)), Math.sqrt(2 / (fanIn + fanOut))],
    ['he-uniform', Math.sqrt(6 / fanIn), Math.sqrt(2 / fanIn)],
    ['xavier-normal', 0, Math.sqrt(2 / (fanIn + fanOut))],
    ['he-normal', 0, Math.sqrt(2 / fanIn)],
  ];
  it.each(cases)('%s has the right spread', (init, bound, std) => {
    const s = stats(weightsOf(init, init === 'uniform' ? 0.3 : undefined));
    expect(Math.abs(s.mean)).toBeLessThan(0.02 * std * 10);
    expect(s.std / std).toBeGreaterThan(0.98);
    expect(s.std / std).toBeLessThan(1.02);
    if (bound > 0) {
      expect(s.maxAbs).toBeLessThanOrEqual(bound);
      expect(s.maxAbs).toBeGreaterThan(0.99 * bound);
    } else {
      expect(s.maxAbs).toBeGreaterThan(3 * std); // tails: a normal, not a uniform
    }
  });

  it("'zeros' gives all-zero weights; 'auto' picks He for relu and Xavier otherwise", () => {
    expect(weightsOf('zeros').every((v) => v === 0)).toBe(true);
    const net = new MLP({
      inputs: fanIn,
      layers: [
        { units: fanOut, activation: 'relu' },
        { units: 10, activation: 'sigmoid' },
      ],
      seed: 3,
    });
    const [relu, sigmoid] = net.getWeights();
    expect(stats(relu!.weights).maxAbs).toBeGreaterThan(0.99 * Math.sqrt(6 / fanIn));
    expect(stats(sigmoid!.weights).maxAbs).toBeLessThanOrEqual(Math.sqrt(6 / (fanOut + 10)));
  });

  it('is seeded: the same seed gives the same weights, another seed others', () => {
    const a = new MLP({ inputs: 4, layers: [{ units: 3 }], seed: 10 }).getWeights();
    expect(new MLP({ inputs: 4, layers: [{ units: 3 }], seed: 10 }).getWeights()).toEqual(a);
    expect(new MLP({ inputs: 4, layers: [{ units: 3 }], seed: 11 }).getWeights()).not.toEqual(a);
    expect(Number.isInteger(new MLP({ inputs: 4, layers: [{ units: 3 }] }).seed)).toBe(true);
  });
});
