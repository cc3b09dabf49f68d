/**
 * Model selection from the lecture notes: hold-out splits, k-fold cross-validation (stratified
 * for classifiers), grid search, random search and random restarts. Every split and every
 * trial is seeded, so a search run twice gives the same table, wherever its trials ran: in
 * this thread, on worker threads or on queue workers (see selection/executor.ts).
 */
import { isNested, type MatrixInput } from './data.js';
import { checkInteger, checkKnownKeys, checkNumber, checkOneOf, checkOptions, typeError, rangeError } from './errors.js';
import { fillRandomU32, Stream, u32ToUnit } from './rng.js';
import {
  checkExecutor,
  runTrials,
  threadsAvailable,
  TrialFailedError,
  type ExecutorOptions,
  type TrialProgress,
} from './selection/executor.js';
import {
  checkSource,
  encodeData,
  encodeTargets,
  loadModel,
  strata,
  type Build,
  type Estimator,
  type EstimatorSpec,
  type ModuleBuild,
  type TrialOutcome,
  type TrialSource,
  type TrialTask,
} from './selection/trial.js';
import { holdOut, selectRows } from './split.js';
import { checkSeed } from './spec.js';

export type { Build, Estimator, EstimatorSpec, ModuleBuild, EstimatorKind } from './selection/trial.js';
export { TrialFailedError, type ExecutorOptions, type TrialProgress } from './selection/executor.js';

/** Rows of X and y: number[][] or a flat Float32Array for X; labels, numbers or rows for y. */
export type Targets = ArrayLike<unknown> | readonly (readonly number[])[];

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
  const split = holdOut(
    data.rows,
    testSize,
    seed,
    o.stratify ? strata(encodeTargets(data.y as ArrayLike<unknown>)) : undefined,
    'testSize',
  );
  const train = take(data, split.train);
  const test = take(data, split.test);
  return { xTrain: train.X, xTest: test.X, yTrain: train.y as Y, yTest: test.y as Y };
}

/** Where a search's estimators come from, and where its trials run. */
export interface TrialOptions<P> {
  /** The estimator as data: `{ kind: 'MLPClassifier' | 'MLPRegressor' | 'MLP', options }`. Runs anywhere. */
  estimator?: EstimatorSpec;
  /**
   * Builds the estimator of a trial: a function (runs in this thread only), or
   * `{ module, export }`, a module a worker can import that exports such a function.
   */
  build?: Build<P> | ModuleBuild;
  /**
   * Trials run at once on worker threads (Node). Default: one per core for an `estimator` or a
   * module `build`, with the native threads divided between them; 1 (this thread) for a
   * function `build`.
   */
  workers?: number;
  /** Where the trials run, instead of `workers`: see `ExecutorOptions` (e.g. a BullMQ queue on Redis). */
  executor?: ExecutorOptions;
  /** Called as each trial finishes. */
  onProgress?: (progress: TrialProgress) => void;
}

const TRIAL_KEYS = ['estimator', 'build', 'workers', 'executor', 'onProgress'];

/** The checked source and executor of a search. */
function checkTrials<P>(o: Partial<TrialOptions<P>>): { source: TrialSource; executor: ExecutorOptions } {
  const { source, portable } = checkSource(o.estimator, o.build);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw typeError('onProgress', 'a function', o.onProgress);
  if (o.executor !== undefined) {
    if (o.workers !== undefined) throw new TypeError('options must give either workers or executor, not both');
    const executor = checkExecutor(o.executor);
    if (executor.type !== 'inline' && !portable) {
      throw typeError(
        'build',
        `{ module, export } or estimator: { kind, options } for the ${executor.type} executor (a function cannot leave this thread)`,
        o.build,
      );
    }
    return { source, executor };
  }
  if (o.workers !== undefined) {
    const workers = checkInteger('workers', o.workers, 1, 1024);
    if (workers === 1) return { source, executor: { type: 'inline' } };
    if (!portable)
      throw typeError(
        'build',
        '{ module, export } or estimator: { kind, options } to run on worker threads (a function cannot be sent to them)',
        o.build,
      );
    return { source, executor: { type: 'threads', workers } };
  }
  return { source, executor: portable && threadsAvailable() ? { type: 'threads' } : { type: 'inline' } };
}

function foldsOf(value: unknown): number {
  return value === undefined ? 5 : checkInteger('folds', value, 2);
}

function seedOf(value: unknown): number {
  return value === undefined ? 0 : checkSeed('seed', value);
}

export interface CrossValidateOptions<P> extends TrialOptions<P> {
  X: MatrixInput;
  y: Targets;
  /** Number of folds k. Default 5. */
  folds?: number;
  /** Keep class proportions in every fold. Default: true for classifiers. */
  stratified?: boolean;
  /** Seed of the folds and of the estimators. Default 0. */
  seed?: number;
  /** Parameters given to `build` (or laid over the estimator's options). */
  params?: P;
}

/** Scores of each fold, their mean and standard deviation. */
export interface CrossValidation {
  scores: number[];
  mean: number;
  std: number;
}

/** The score table of one parameter set: its folds' scores, or the first error. */
function summarize(outcomes: TrialOutcome[]): CrossValidation & { error?: string } {
  const failed = outcomes.findIndex((o) => 'error' in o);
  const scores = outcomes.flatMap((o) => ('score' in o ? [o.score] : []));
  if (failed >= 0) return { scores, mean: NaN, std: NaN, error: `fold ${failed}: ${(outcomes[failed] as { error: string }).error}` };
  const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
  const std = Math.sqrt(scores.reduce((a, s) => a + (s - mean) ** 2, 0) / scores.length);
  return { scores, mean, std };
}

function foldTasks(params: Record<string, unknown>, folds: number, seed: number, stratified: boolean | undefined): TrialTask[] {
  return Array.from({ length: folds }, (_, fold) => ({
    type: 'fold' as const,
    params,
    fold,
    folds,
    seed,
    ...(stratified === undefined ? {} : { stratified }),
  }));
}

/**
 * k-fold cross-validation: trains k estimators, each on k−1 folds, and scores each on the
 * fold it did not see. The folds train at once on worker threads when the estimator is data.
 * @example
 * ```ts
 * const cv = await crossValidate({ estimator: { kind: 'MLPClassifier', options: { hiddenLayerSizes: [16] } }, X, y, folds: 5 });
 * console.log(cv.mean, cv.std);
 * ```
 */
export async function crossValidate<P extends object = object>(options: CrossValidateOptions<P>): Promise<CrossValidation> {
  const o = checkOptions<CrossValidateOptions<P>>('options', options);
  checkKnownKeys('options', o, [...TRIAL_KEYS, 'X', 'y', 'folds', 'stratified', 'seed', 'params']);
  const { source, executor } = checkTrials(o);
  const k = foldsOf(o.folds);
  const seed = seedOf(o.seed);
  const params = checkOptions<Record<string, unknown>>('params', o.params ?? {});
  const data = encodeData(o.X, o.y, executor.type === 'threads');
  const tasks = foldTasks(params, k, seed, o.stratified);
  const outcomes = await runTrials(executor, source, data, tasks, {
    stopOnError: true,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const { error: _none, ...result } = summarize(outcomes);
  return result;
}

/** One row of a search's results: the parameters and their cross-validation, or the error of a failed trial. */
export interface SearchResult<P> extends CrossValidation {
  params: P;
  /** Why this parameter set has no score (its mean and std are then NaN), e.g. `'fold 2: RangeError: …'`. */
  error?: string;
}

/** What `gridSearch` and `randomSearch` return: every trial, in the order tried, and the best. */
export interface SearchResults<P> {
  bestParams: P;
  bestScore: number;
  results: SearchResult<P>[];
}

export interface SearchOptions<P> extends TrialOptions<P> {
  X: MatrixInput;
  y: Targets;
  folds?: number;
  stratified?: boolean;
  seed?: number;
  /**
   * What a failed trial does: `'continue'` records its error in its row and goes on;
   * `'stop'` ends the search with a `TrialFailedError`. Default 'continue'.
   */
  onTrialError?: 'continue' | 'stop';
}

export interface GridSearchOptions<P> extends SearchOptions<P> {
  /** Values to try per parameter; every combination is tried. */
  grid: { [K in keyof P]: readonly P[K][] };
}

const SEARCH_KEYS = [...TRIAL_KEYS, 'X', 'y', 'folds', 'stratified', 'seed', 'onTrialError'];

async function search<P>(trials: P[], o: Partial<SearchOptions<P>>): Promise<SearchResults<P>> {
  const { source, executor } = checkTrials(o);
  const k = foldsOf(o.folds);
  const seed = seedOf(o.seed);
  const stop = o.onTrialError === undefined ? false : checkOneOf('onTrialError', o.onTrialError, ['continue', 'stop'] as const) === 'stop';
  const data = encodeData(o.X, o.y, executor.type === 'threads');
  const tasks = trials.flatMap((params) => foldTasks(params as Record<string, unknown>, k, seed, o.stratified));
  const outcomes = await runTrials(executor, source, data, tasks, {
    stopOnError: stop,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const results: SearchResult<P>[] = trials.map((params, t) => ({ params, ...summarize(outcomes.slice(t * k, (t + 1) * k)) }));
  const scored = results.filter((r) => r.error === undefined);
  if (scored.length === 0) throw new TrialFailedError(0, `every trial failed; the first: ${results[0]!.error}`);
  const best = scored.reduce((a, b) => (b.mean > a.mean ? b : a));
  return { bestParams: best.params, bestScore: best.mean, results };
}

/**
 * Exhaustive search over a grid of parameters, each combination scored by k-fold
 * cross-validation with the same folds and seed. Every (parameter set, fold) is a trial; with
 * an `estimator` (or a module `build`) they run at once on worker threads, or on queue
 * workers with `executor: { type: 'bullmq', connection }`, and the table is the same as in
 * this thread, row for row.
 * @example
 * ```ts
 * const { bestParams, bestScore, results } = await gridSearch({
 *   estimator: { kind: 'MLPClassifier', options: { maxIter: 50 } },
 *   grid: { alpha: [1e-4, 1e-3], hiddenLayerSizes: [[16], [32]] },
 *   X, y, folds: 5,
 * });
 * ```
 */
export async function gridSearch<P extends object>(options: GridSearchOptions<P>): Promise<SearchResults<P>> {
  const o = checkOptions<GridSearchOptions<P>>('options', options);
  checkKnownKeys('options', o, [...SEARCH_KEYS, 'grid']);
  const grid = checkOptions<Record<string, unknown[]>>('grid', o.grid);
  let trials: Record<string, unknown>[] = [{}];
  for (const [key, values] of Object.entries(grid)) {
    if (!Array.isArray(values) || values.length === 0) throw typeError(`grid.${key}`, 'a non-empty array of values', values);
    trials = trials.flatMap((t) => values.map((v) => ({ ...t, [key]: v })));
  }
  return search(trials as P[], o);
}

/** A parameter's distribution in a random search. */
export type Distribution = readonly unknown[] | { min: number; max: number; log?: boolean; integer?: boolean };

/** What a distribution draws: an element of a list, or a number from a range. */
export type Drawn<D> = D extends readonly (infer V)[] ? V : number;

/** The parameter sets a random search draws from `space`. */
export type DrawnParams<S> = { -readonly [K in keyof S]: Drawn<S[K]> };

export interface RandomSearchOptions<S extends Record<string, Distribution>> extends SearchOptions<DrawnParams<S>> {
  /** Per parameter: a list to pick from uniformly, or a range (uniform, or log-uniform with `log`). */
  space: S;
  /** Number of parameter sets to try. Default 10. */
  trials?: number;
}

/**
 * Random search: `trials` parameter sets drawn (seeded) from `space`, each scored by k-fold
 * cross-validation; trials run where `gridSearch`'s do.
 * @example
 * ```ts
 * const found = await randomSearch({
 *   estimator: { kind: 'MLPClassifier' },
 *   space: { alpha: { min: 1e-5, max: 1e-1, log: true }, hiddenLayerSizes: [[16], [32], [64]] },
 *   trials: 20, seed: 1, X, y,
 * });
 * ```
 */
export async function randomSearch<S extends Record<string, Distribution>>(
  options: RandomSearchOptions<S>,
): Promise<SearchResults<DrawnParams<S>>> {
  type P = DrawnParams<S>;
  const o = checkOptions<RandomSearchOptions<S>>('options', options);
  checkKnownKeys('options', o, [...SEARCH_KEYS, 'space', 'trials']);
  const space = checkOptions<Record<string, Distribution>>('space', o.space);
  const count = o.trials === undefined ? 10 : checkInteger('trials', o.trials, 1);
  const seed = seedOf(o.seed);
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
  return search(trials as P[], o);
}

export interface RandomRestartsOptions<E extends Estimator> extends Omit<TrialOptions<never>, 'build'> {
  /**
   * Builds the estimator for one restart; use `randomState` (or `seed`) as its seed. A
   * function runs in this thread; `{ module, export }` anywhere.
   */
  build?: ((params: { randomState: number }, context: { seed: number; restart: number }) => E) | ModuleBuild;
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
 * that scores best on held-out rows (a remedy for local minima in the notes). Restarts run
 * where a search's trials do; the best comes back as its model file (an `estimator` kind) or
 * is trained again here (a module `build`), to the same weights.
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
  checkKnownKeys('options', o, [...TRIAL_KEYS, 'X', 'y', 'restarts', 'validationSplit', 'seed']);
  const { source, executor } = checkTrials(o as Partial<TrialOptions<unknown>>);
  const restarts = o.restarts === undefined ? 5 : checkInteger('restarts', o.restarts, 1);
  const validationSplit =
    o.validationSplit === undefined
      ? 0.2
      : checkNumber('validationSplit', o.validationSplit, { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true });
  const seed = seedOf(o.seed);
  const data = encodeData(o.X, o.y, executor.type === 'threads');
  const seeds = new Uint32Array(restarts);
  fillRandomU32(seeds, seed, Stream.SEARCH, 1, 0);
  const inline = executor.type === 'inline';
  const keepModel = 'estimator' in source;
  const tasks: TrialTask[] = Array.from(seeds, (restartSeed, restart) => ({
    type: 'restart',
    restart,
    restartSeed,
    seed,
    validationSplit,
    keepModel,
  }));
  // Only the best so far is kept: in this thread its estimator, elsewhere its model file.
  let best: { index: number; score: number; estimator?: Estimator; model?: Uint8Array } | undefined;
  const outcomes = await runTrials(executor, source, data, tasks, {
    stopOnError: true,
    keepEstimators: inline,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    onOutcome: (index, outcome) => {
      if (!('score' in outcome)) return;
      if (!best || outcome.score > best.score || (outcome.score === best.score && index < best.index)) {
        best?.estimator?.dispose?.();
        best = {
          index,
          score: outcome.score,
          ...(outcome.estimator ? { estimator: outcome.estimator } : {}),
          ...(outcome.model ? { model: outcome.model } : {}),
        };
      } else {
        outcome.estimator?.dispose?.();
      }
    },
  }).catch((error: unknown) => {
    best?.estimator?.dispose?.();
    throw error;
  });
  const winner = best!;
  let estimator = winner.estimator;
  if (!estimator && winner.model && 'estimator' in source) {
    const backend = source.estimator.options?.backend;
    estimator = loadModel(
      source.estimator.kind,
      winner.model,
      backend === 'native' || backend === 'wasm' || backend === 'js' ? backend : undefined,
    );
  }
  if (!estimator) {
    const again = await runTrials({ type: 'inline' }, source, data, [tasks[winner.index]!], { keepEstimators: true });
    estimator = (again[0] as { estimator: Estimator }).estimator;
  }
  const scores = outcomes.map((outcome, i) => ({ seed: seeds[i]!, score: (outcome as { score: number }).score }));
  return { best: estimator as E, bestSeed: seeds[winner.index]!, scores };
}
