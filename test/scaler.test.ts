import { describe, expect, it } from 'vitest';
import { MLP, StandardScaler } from '../src/node.js';
import { expectClose } from './helpers/close.js';

describe('StandardScaler', () => {
  const X = [
    [1, 10, 5],
    [2, 20, 5],
    [3, 30, 5],
    [6, 60, 5],
  ];

  it('learns the population mean and standard deviation, 1 for constant features', () => {
    const scaler = new StandardScaler().fit(X);
    expectClose(scaler.mean!, [3, 30, 5]);
    expectClose(scaler.scale!, [Math.sqrt(3.5), Math.sqrt(350), 1], { rtol: 1e-12 });
    const z = scaler.transform(X) as number[][];
    expectClose(
      z.map((r) => r[0]!),
      [-2, -1, 0, 3].map((v) => v / Math.sqrt(3.5)),
      { rtol: 1e-6 },
    );
    expect(z.map((r) => r[2])).toEqual([0, 0, 0, 0]);
    const flat = scaler.transform(Float32Array.from(X.flat())) as Float32Array;
    expect(Array.from(flat)).toEqual(z.flat());
    expect(new StandardScaler().fit(Float32Array.from(X.flat()), 3).mean).toEqual(scaler.mean);
  });

  it('inside a model, predictions take raw inputs and the scaler is fitted on the training split only', () => {
    const raw = Array.from({ length: 50 }, (_, i) => [1000 + 10 * i, 0.001 * i]);
    const y = raw.map(([a, b]) => [a! / 1000 + b! * 100]);
    const net = new MLP({ inputs: 2, layers: [{ units: 8, activation: 'tanh' }, { units: 1 }], standardize: true, seed: 1 });
    expect(() => net.predict(raw)).toThrow(/no fitted scaler yet/);
    net.fitSync(raw, y, { epochs: 2, validationSplit: 0.2 });
    const manual = new MLP({ inputs: 2, layers: [{ units: 8, activation: 'tanh' }, { units: 1 }], seed: 1 });
    manual.setWeights(net.getWeights());
    expect(net.predict(raw)).toEqual(manual.predict(net.scaler!.transform(raw)));
    expect(net.scaler!.mean![0]).not.toBe(1245); // the mean of all 50 rows: the split's 40 differ
  });
});
