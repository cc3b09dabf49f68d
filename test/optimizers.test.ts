/**
 * Optimizer updates and learning-rate schedules against steps computed by hand, on the
 * smallest model: ŷ = w·x (one weight, no bias), half-mse, x = 2, y = 3, w₀ = 0.5, so the
 * gradient is g(w) = (2w − 3)·2 and the first one is −4.
 */
import { describe, expect, it } from 'vitest';
import { MLP, type OptimizerOptions } from '../src/node.js';
import { scheduledLearningRate } from '../src/schedules.js';
import { BACKENDS } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';

describe.each(BACKENDS)('optimizers on %s', (backend) => {
  const oneWeight = (optimizer: OptimizerOptions, l2 = 0) => {
    const net = new MLP({
      backend,
      inputs: 1,
      layers: [{ units: 1, activation: 'identity', bias: false }],
      loss: 'half-mse',
      optimizer,
      l2,
    });
    net.setWeights([{ weights: [0.5], bias: null }]);
    return net;
  };
  const steps = (net: MLP, count: number) =>
    Array.from({ length: count }, () => {
      net.trainBatch([[2]], [3]);
      return net.getWeights()[0]!.weights[0]!;
    });

  it('sgd: w ← w − η·g', () => {
    expectClose(steps(oneWeight({ type: 'sgd', learningRate: 0.1 }), 2), [0.9, 1.14], { label: 'w' });
  });

  it('sgd with L2: g + 2·α·w', () => {
    expectClose(steps(oneWeight({ type: 'sgd', learningRate: 0.1 }, 0.05), 1), [0.895], { label: 'w' });
  });

  it('momentum: Δw ← μ·Δw − η·g, w ← w + Δw', () => {
    expectClose(steps(oneWeight({ type: 'momentum', learningRate: 0.1, momentum: 0.9 }), 3), [0.9, 1.5, 2.04], { label: 'w' });
  });

  it('nesterov: v ← μ·v − η·g, w ← w + μ·v − η·g', () => {
    expectClose(steps(oneWeight({ type: 'nesterov', learningRate: 0.1, momentum: 0.9 }), 2), [1.26, 1.7664], { label: 'w' });
  });

  it('adam with bias-corrected moments', () => {
    expectClose(steps(oneWeight({ type: 'adam', learningRate: 0.1 }), 3), [0.59999999975, 0.69958777182, 0.79841372783], { label: 'w' });
  });

  it('a step schedule halves sgd’s rate every 2 updates', () => {
    const net = oneWeight({ type: 'sgd', learningRate: 0.1, schedule: { type: 'step', factor: 0.5, stepSize: 2 } });
    expectClose(steps(net, 3), [0.9, 1.14, 1.212], { label: 'w' });
  });

  it('an exponential schedule works with adam too', () => {
    const net = oneWeight({ type: 'adam', learningRate: 0.1, schedule: { type: 'exponential', decayRate: 0.5 } });
    expectClose(steps(net, 3), [0.59999999975, 0.64979388578, 0.6745957049], { label: 'w' });
  });

  it('reduce-on-plateau divides the rate after `patience` epochs without improvement, down to a floor', () => {
    const x = [[1], [2], [3]];
    const y = [2, 4, 6];
    const net = new MLP({
      backend,
      inputs: 1,
      layers: [{ units: 1, activation: 'identity', bias: false }],
      optimizer: { type: 'sgd', learningRate: 0.1 },
    });
    net.setWeights([{ weights: [2], bias: null }]); // already exact: the loss stays 0, a plateau
    const history = net.fitSync(x, y, { epochs: 6, batchSize: 3, reduceLROnPlateau: { factor: 0.2, patience: 2 } });
    expectClose(history.learningRate, [0.1, 0.1, 0.1, 0.02, 0.02, 0.004], { label: 'learning rate' });
    const floored = new MLP({
      backend,
      inputs: 1,
      layers: [{ units: 1, activation: 'identity', bias: false }],
      optimizer: { type: 'sgd', learningRate: 0.1 },
    });
    floored.setWeights([{ weights: [2], bias: null }]);
    const h2 = floored.fitSync(x, y, { epochs: 6, batchSize: 3, reduceLROnPlateau: { factor: 0.2, patience: 2, minLearningRate: 0.01 } });
    expectClose(h2.learningRate, [0.1, 0.1, 0.1, 0.02, 0.02, 0.01], { label: 'floored learning rate' });
    // A floor above the rate is refused before anything trains (it would raise the rate)…
    const before = floored.save({ training: true });
    expect(() => floored.fitSync(x, y, { epochs: 3, reduceLROnPlateau: { minLearningRate: 1e30 } })).toThrow(
      /reduceLROnPlateau\.minLearningRate must be at most the learning rate \(0\.1\), got 1e\+30/,
    );
    expect(floored.save({ training: true })).toEqual(before);
    // …and a plateau never raises the rate: once at the floor, it stays there.
    const h3 = floored.fitSync(x, y, { epochs: 4, batchSize: 3, reduceLROnPlateau: { factor: 0.5, patience: 1, minLearningRate: 0.05 } });
    expect(Math.max(...h3.learningRate)).toBeLessThanOrEqual(0.01 + 1e-12);
  });
});

describe('learning-rate schedules', () => {
  it('compute the rate of update t', () => {
    expect(scheduledLearningRate(0.1, { type: 'constant' }, 1000)).toBe(0.1);
    expectClose(scheduledLearningRate(0.1, { type: 'step', factor: 0.5, stepSize: 10 }, 25), 0.025);
    expectClose(scheduledLearningRate(0.1, { type: 'exponential', decayRate: 0.5, decaySteps: 10, staircase: false }, 5), 0.0707106781);
    expectClose(scheduledLearningRate(0.1, { type: 'exponential', decayRate: 0.5, decaySteps: 10, staircase: true }, 5), 0.1);
    expectClose(scheduledLearningRate(0.1, { type: 'inverse-time', decayRate: 0.5, decaySteps: 2, staircase: false }, 3), 0.0571428571);
    expectClose(scheduledLearningRate(0.1, { type: 'inverse-time', decayRate: 0.5, decaySteps: 2, staircase: true }, 3), 0.0666666667);
  });
});
