/**
 * Model selection from the lecture notes: hold-out splits, k-fold cross-validation (stratified
 * for classifiers), grid search, random search and random restarts. Every split and every
 * trial is seeded, so a search run twice gives the same table.
 */
import { isNested, type MatrixInput } from './data.js';
import { checkInteger, checkKnownKeys, checkNumber, checkOptions, typeError, rangeError } from './errors.js';
import { fillRandomU32, Stream, u32ToUnit } from './rng.js';
import { holdOut, kFold, selectRows, complement } from './split.js';
import { checkSeed } from './spec.js';

/** Anything that can be trained and scored (higher is better), such as `MLPClassifier` and `MLPRegressor`. */
export interface Estimator {
  fit(X: never, y: never): unknown;
  score(X: never, y: never): number;
  dispose?(): void;
}

/** Rows of X and y: number[][] or a flat Float32Array for X; labels, numbers or rows for y. */
export type Targets = ArrayLike<unknown> | readonly (readonly number[])[];

/** Builds an estimator from a parameter set; `randomState` is the trial's seed unless the parameters set one. */
export type Build<P> = (params: P & { randomState: number }, context: { seed: number; fold: number }) => Estimator;

interface Dataset {
  X: MatrixInput;
  y: Targets;
  rows: number;
  features: number;
}

function dataset(X: unknown, y: unknown): Dataset {
  if (!(Array.isArray(y) || (ArrayBuffer.isView(y) && !(y instanceof DataView))))
    throw typeError('y', 'an array with one entry per row', y);
  const rows = (y as ArrayLike<unknown>).length;
  if (rows === 0) throw rangeError('y', 'at least one row', y);
  if (isNested(X)) {
    if (X.length !== rows) throw new RangeError(`X must have ${rows} rows to match y, got ${X.length}`);
    return { X, y: y as Targets, rows, features: X[0]!.length };
  }
  if ((X instanceof Float32Array || X instanceof Float64Array) && X.length % rows === 0 && X.length > 0) {
    return { X, y: y as Targets, rows, features: X.length / rows };
  }
  throw typeError('X', `an array of ${rows} rows or a flat Float32Array of ${rows} rows`, X);
}

function take(data: Dataset, rows: Int32Array): { X: MatrixInput; y: Targets } {
  const X = isNested(data.X)
    ? Array.from(rows, (r) => (data.X as readonly (readonly number[])[])[r]!)
    : selectRows(data.X instanceof Float32Array ? data.X : Float32Array.from(data.X), data.features, rows);
  const y = Array.from(rows, (r) => (data.y as ArrayLike<unknown>)[r]);
  return { X, y: y as Targets };
}

/** Class of each row, for stratification: rows with the same label share a stratum. */
function strata(y: Targets): Int32Array {
  const ids = new Map<unknown, number>();
  return Int32Array.from(Array.from(y as ArrayLike<unknown>), (label) => {
    const key = Array.isArray(label) ? label.indexOf(Math.max(...label)) : label;
    if (!ids.has(key)) ids.set(key, ids.size);
    return ids.get(key)!;
  });
}

function isClassifier(estimator: Estimator): boolean {
  return 'classes' in estimator || 'predictProba' in estimator;
}

/**
 * Splits X and y into a training and a test part (seeded; stratified by label when asked).
 * @example
 * ```ts
 * const { xTrain, xTest, yTrain, yTest } = trainTestSplit(X, y, { testSize: 0.2, seed: 0, stratify: true });
 * ```
 */
export function trainTestSplit<Y extends Targets>(
  X: MatrixInput,
  y: Y,
  options: { testSize?: number; seed?: number; stratify?: boolean } = {},
): { xTrain: MatrixInput; xTest: MatrixInput; yTrain: Y; yTest: Y } {
  const o = checkOptions<{ testSize: number; seed: number; stratify: boolean }>('options', options);
  checkKnownKeys('options', o, ['testSize', 'seed', 'stratify']);
  const data = dataset(X, y);
  const testSize =
    o.testSize === undefined ? 0.25 : checkNumber('testSize', o.testSize, { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true });
  const seed = o.seed === undefined ? 0 : checkSeed('seed', o.seed);
  const split = holdOut(data.rows, testSize, seed, o.stratify ? strata(data.y) : undefined, 'testSize');
  const train = take(data, split.train);
  const test = take(data, split.test);
  return { xTrain: train.X, xTest: test.X, yTrain: train.y as Y, yTest: test.y as Y };
}

export interface CrossValidateOptions<P> {
  build: Build<P>;
  X: MatrixInput;
  y: Targets;
  /** Number of folds k. Default 5. */
  folds?: number;
  /** Keep class proportions in every fold. Default: true for classifiers. */
  stratified?: boolean;
  /** Seed of the folds and of the estimators. Default 0. */
  seed?: number;
  /** Parameters given to `build`. */
  params?: P;
}

/** Scores of each fold, their mean and standard deviation. */
export interface CrossValidation {
  scores: number[];
  mean: number;
  std: number;
}

/**
 * k-fold cross-validation: trains k estimators, each on k−1 folds, and scores each on the
 * fold it did not see.
 * @example
 * ```ts
 * const cv = await crossValidate({ build: (p) => new MLPClassifier({ ...p, hiddenLayerSizes: [16] }), X, y, folds: 5 });
 * console.log(cv.mean, cv.std);
 * ```
 */
export async function crossValidate<P extends object = object>(options: CrossValidateOptions<P>): Promise<CrossValidation> {
  const o = checkOptions<CrossValidateOptions<P>>('options', options);
  checkKnownKeys('options', o, ['build', 'X', 'y', 'folds', 'stratified', 'seed', 'params']);
  if (typeof o.build !== 'function') throw typeError('build', 'a function (params) => estimator', o.build);
  const data = dataset(o.X, o.y);
  const k = o.folds === undefined ? 5 : checkInteger('folds', o.folds, 2);
  const seed = o.seed === undefined ? 0 : checkSeed('seed', o.seed);
  return crossValidateData(o.build, data, (o.params ?? {}) as P, k, seed, o.stratified);
}

async function crossValidateData<P>(
  build: Build<P>,
  data: Dataset,
  params: P,
  k: number,
  seed: number,
  stratified: boolean | undefined,
): Promise<CrossValidation> {
  const trialParams = { randomState: seed, ...params } as P & { randomState: number };
  const scores: number[] = [];
  let folds: Int32Array[] | undefined;
  for (let fold = 0; fold < k; fold++) {
    const estimator = build(trialParams, { seed, fold });
    if (!estimator || typeof estimator.fit !== 'function' || typeof estimator.score !== 'function') {
      throw typeError('build(params)', 'an estimator with fit and score', estimator);
    }
    folds ??= kFold(data.rows, k, seed, (stratified ?? isClassifier(estimator)) ? strata(data.y) : undefined);
    const test = folds[fold]!;
    const train = take(data, complement(data.rows, test));
    const held = take(data, test);
    try {
      await estimator.fit(train.X as never, train.y as never);
      scores.push(estimator.score(held.X as never, held.y as never));
    } finally {
      estimator.dispose?.();
    }
  }
  const mean = scores.reduce((a, b) => a + b, 0) / k;
  const std = Math.sqrt(scores.reduce((a, s) => a + (s - mean) ** 2, 0) / k);
  return { scores, mean, std };
}

/** One row of a search's results. */
export interface SearchResult<P> extends CrossValidation {
  params: P;
}

/** What `gridSearch` and `randomSearch` return: every trial, and the best. */
export interface SearchResults<P> {
  bestParams: P;
  bestScore: number;
  results: SearchResult<P>[];
}

export interface GridSearchOptions<P> {
  build: Build<P>;
  /** Values to try per parameter; every combination is tried. */
  grid: { [K in keyof P]: readonly P[K][] };
  X: MatrixInput;
  y: Targets;
  folds?: number;
  stratified?: boolean;
  seed?: number;
}

async function search<P>(trials: P[], o: Omit<GridSearchOptions<P>, 'grid'>): Promise<SearchResults<P>> {
  if (typeof o.build !== 'function') throw typeError('build', 'a function (params) => estimator', o.build);
  const data = dataset(o.X, o.y);
  const k = o.folds === undefined ? 5 : checkInteger('folds', o.folds, 2);
  const seed = o.seed === undefined ? 0 : checkSeed('seed', o.seed);
  const results: SearchResult<P>[] = [];
  for (const params of trials) {
    results.push({ params, ...(await crossValidateData(o.build, data, params, k, seed, o.stratified)) });
  }
  const best = results.reduce((a, b) => (b.mean > a.mean ? b : a));
  return { bestParams: best.params, bestScore: best.mean, results };
}

/**
 * Exhaustive search over a grid of parameters, each combination scored by k-fold
 * cross-validation with the same folds and seed.
 * @example
 * ```ts
 * const { bestParams, bestScore, results } = await gridSearch({
 *   build: (p) => new MLPClassifier(p),
 *   grid: { alpha: [1e-4, 1e-3], hiddenLayerSizes: [[16], [32]] },
 *   X, y, folds: 5,
 * });
 * ```
 */
export async function gridSearch<P extends object>(options: GridSearchOptions<P>): Promise<SearchResults<P>> {
  const o = checkOptions<GridSearchOptions<P>>('options', options);
  checkKnownKeys('options', o, ['build', 'grid', 'X', 'y', 'folds', 'stratified', 'seed']);
  const grid = checkOptions<Record<string, unknown[]>>('grid', o.grid);
  let trials: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    if (!Array.isArray(values) || values.length === 0) throw typeError(`grid.${key}`, 'a non-empty array of values', values);
    trials = trials.flatMap((t) => values.map((v) => ({ ...t, [key]: v })));
  }
  return search(trials as P[], o as GridSearchOptions<P>);
}

/** A parameter's distribution in a random search. */
export type Distribution = readonly unknown[] | { min: number; max: number; log?: boolean; integer?: boolean };

export interface RandomSearchOptions<P> extends Omit<GridSearchOptions<P>, 'grid'> {
  /** Per parameter: a list to pick from uniformly, or a range (uniform, or log-uniform with `log`). */
  space: { [K in keyof P]: Distribution };
  /** Number of parameter sets to try. Default 10. */
  trials?: number;
}

/**
 * Random search: `trials` parameter sets drawn (seeded) from `space`, each scored by k-fold
 * cross-validation.
 * @example
 * ```ts
 * const found = await randomSearch({
 *   build: (p) => new MLPClassifier(p),
 *   space: { alpha: { min: 1e-5, max: 1e-1, log: true }, hiddenLayerSizes: [[16], [32], [64]] },
 *   trials: 20, seed: 1, X, y,
 * });
 * ```
 */
export async function randomSearch<P extends object>(options: RandomSearchOptions<P>): Promise<SearchResults<P>> {
  const o = checkOptions<RandomSearchOptions<P>>('options', options);
  checkKnownKeys('options', o, ['build', 'space', 'trials', 'X', 'y', 'folds', 'stratified', 'seed']);
  const space = checkOptions<Record<string, Distribution>>('space', o.space);
  const count = o.trials === undefined ? 10 : checkInteger('trials', o.trials, 1);
  const seed = o.seed === undefined ? 0 : checkSeed('seed', o.seed);
  const keys = Object.keys(space);
  const draws = new Uint32Array(count * keys.length);
  fillRandomU32(draws, seed, Stream.SEARCH, 0, 0);
  const trials = Array.from({ length: count }, (_, t) =>
    Object.fromEntries(
      keys.map((key, i) => {
        const u = u32ToUnit(draws[t * keys.length + i]!);
        const d = space[key];
        if (Array.isArray(d)) {
          if (d.length === 0) throw typeError(`space.${key}`, 'a non-empty array or a { min, max } range', d);
          return [key, d[Math.floor(u * d.length)]];
        }
        const range = checkOptions<{ min: number; max: number; log?: boolean; integer?: boolean }>(`space.${key}`, d);
        const min = checkNumber(`space.${key}.min`, range.min, range.log ? { min: 0, exclusiveMin: true } : {});
        const max = checkNumber(`space.${key}.max`, range.max, { min });
        let v = range.log ? Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))) : min + u * (max - min);
        if (range.integer) v = Math.min(Math.floor(v), Math.floor(max));
        return [key, v];
      }),
    ),
  );
  return search(trials as P[], o as Omit<GridSearchOptions<P>, 'grid'>);
}

export interface RandomRestartsOptions<E extends Estimator> {
  /** Builds the estimator for one restart; use `randomState` (or `seed`) as its seed. */
  build: (params: { randomState: number }, context: { seed: number; restart: number }) => E;
  X: MatrixInput;
  y: Targets;
  /** Number of differently seeded trainings. Default 5. */
  restarts?: number;
  /** Fraction of the rows held out to score each restart. Default 0.2. */
  validationSplit?: number;
  /** Seed of the split and of the restarts' seeds. Default 0. */
  seed?: number;
}

/**
 * Random restarts: trains the same model from `restarts` different seeds and keeps the one
 * that scores best on held-out rows (a remedy for local minima in the notes).
 * @returns the best estimator (the others are disposed) and every restart's seed and score.
 * @example
 * ```ts
 * const { best, scores } = await randomRestarts({ build: (p) => new MLPClassifier({ ...p, hiddenLayerSizes: [2] }), X, y, restarts: 10 });
 * ```
 */
export async function randomRestarts<E extends Estimator>(
  options: RandomRestartsOptions<E>,
): Promise<{ best: E; bestSeed: number; scores: { seed: number; score: number }[] }> {
  const o = checkOptions<RandomRestartsOptions<E>>('options', options);
  checkKnownKeys('options', o, ['build', 'X', 'y', 'restarts', 'validationSplit', 'seed']);
  if (typeof o.build !== 'function') throw typeError('build', 'a function (params) => estimator', o.build);
  const data = dataset(o.X, o.y);
  const restarts = o.restarts === undefined ? 5 : checkInteger('restarts', o.restarts, 1);
  const fraction =
    o.validationSplit === undefined
      ? 0.2
      : checkNumber('validationSplit', o.validationSplit, { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true });
  const seed = o.seed === undefined ? 0 : checkSeed('seed', o.seed);
  const seeds = new Uint32Array(restarts);
  fillRandomU32(seeds, seed, Stream.SEARCH, 1, 0);
  let split: { train: Int32Array; test: Int32Array } | undefined;
  let best: { estimator: E; seed: number; score: number } | undefined;
  const scores: { seed: number; score: number }[] = [];
  for (let restart = 0; restart < restarts; restart++) {
    const estimator = o.build({ randomState: seeds[restart]! }, { seed: seeds[restart]!, restart });
    split ??= holdOut(data.rows, fraction, seed, isClassifier(estimator) ? strata(data.y) : undefined);
    const train = take(data, split.train);
    const held = take(data, split.test);
    await estimator.fit(train.X as never, train.y as never);
    const score = estimator.score(held.X as never, held.y as never);
    scores.push({ seed: seeds[restart]!, score });
    if (!best || score > best.score) {
      best?.estimator.dispose?.();
      best = { estimator, seed: seeds[restart]!, score };
    } else {
      estimator.dispose?.();
    }
  }
  return { best: best!.estimator, bestSeed: best!.seed, scores };
}
