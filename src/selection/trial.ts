/**
 * One trial of a model selection, described by data alone so that it can run in this thread,
 * in a worker thread or on another machine and give the same score everywhere:
 *
 *   source   where the estimator comes from: an estimator kind with its options, or a
 *            module that exports a build function (or, in this thread only, the function)
 *   data     the whole data set, once: X as float32 rows, y as numbers, rows or labels
 *   task     a cross-validation fold of one parameter set, or one random restart
 *
 * `runTask` is the only code that trains a trial: the in-process loop, the worker-thread pool
 * and the queue workers all call it, which is why their result tables are identical.
 */
import { isNested } from '../data.js';
import { describe, typeError, checkOptions, checkKnownKeys, checkOneOf } from '../errors.js';
import { MLPClassifier, MLPRegressor, type EstimatorOptions } from '../estimators.js';
import { argmax } from '../metrics.js';
import { MLP } from '../mlp.js';
import type { Label } from '../model-file.js';
import { complement, holdOut, kFold, selectRows } from '../split.js';
import type { BackendName, MLPOptions } from '../spec.js';
import type { FitOptions } from '../training.js';

const MLP_FIT_KEYS = ['epochs', 'batchSize', 'shuffle', 'validationSplit', 'earlyStopping', 'reduceLROnPlateau'] as const;

/** Anything that can be trained and scored (higher is better), such as `MLPClassifier` and `MLPRegressor`. */
export interface Estimator {
  fit(X: never, y: never): unknown;
  score(X: never, y: never): number;
  dispose?(): void;
}

/** Builds an estimator from a parameter set; `randomState` is the trial's seed unless the parameters set one. */
export type Build<P> = (params: P & { randomState: number }, context: { seed: number; fold: number }) => Estimator;

/** The estimators a trial can name as data. */
export type EstimatorKind = 'MLPClassifier' | 'MLPRegressor' | 'MLP';
export const ESTIMATOR_KINDS: readonly EstimatorKind[] = ['MLPClassifier', 'MLPRegressor', 'MLP'];

/**
 * An estimator as data: its kind and options; each trial's parameters are laid over the
 * options. For `'MLP'` the options are the `MLPOptions` plus the `fit` options `epochs`,
 * `batchSize`, `shuffle`, `validationSplit`, `earlyStopping` and `reduceLROnPlateau`, and the
 * score is the negative loss on the held-out rows.
 */
export type EstimatorSpec =
  | { kind: 'MLPClassifier' | 'MLPRegressor'; options?: EstimatorOptions }
  | { kind: 'MLP'; options?: Partial<MLPOptions> & Pick<FitOptions, (typeof MLP_FIT_KEYS)[number]> };

/**
 * A build function that a worker can import: `export` (default `'default'`) of `module`. A
 * relative path is resolved against the current directory of the process that runs the trial.
 */
export interface ModuleBuild {
  module: string;
  export?: string;
}

/** Where a trial's estimator comes from. Only a function stays in this thread. */
export type TrialSource = { estimator: EstimatorSpec } | { build: ModuleBuild } | { build: Build<never> };

/** Targets as they travel: numbers, rows of numbers, or any labels. */
export type EncodedTargets =
  { kind: 'numbers'; values: Float64Array } | { kind: 'rows'; values: Float64Array; width: number } | { kind: 'labels'; values: Label[] };

/** The data set of a search, sent once to every place a trial runs. */
export interface TrialData {
  X: Float32Array;
  rows: number;
  features: number;
  y: EncodedTargets;
}

/** A trial: one fold of one parameter set, or one restart. */
export type TrialTask =
  | { type: 'fold'; params: Record<string, unknown>; fold: number; folds: number; seed: number; stratified?: boolean }
  | { type: 'restart'; restart: number; restartSeed: number; seed: number; validationSplit: number; keepModel: boolean };

/** What a trial gives back: its score (or its error), the samples it trained on and, for a restart, the model file. */
export type TrialOutcome =
  { score: number; samples: number; model?: Uint8Array; estimator?: Estimator } | { error: string; samples: number };

/** Checks a trial source given as `estimator` or `build`; returns it and whether it can leave this thread. */
export function checkSource(estimator: unknown, build: unknown): { source: TrialSource; portable: boolean } {
  if (estimator !== undefined && build !== undefined) {
    throw new TypeError('options must give either estimator or build, not both');
  }
  if (estimator !== undefined) {
    const spec = checkOptions<EstimatorSpec>('estimator', estimator);
    checkKnownKeys('estimator', spec, ['kind', 'options']);
    checkOneOf('estimator.kind', spec.kind, ESTIMATOR_KINDS);
    if (spec.options !== undefined) checkOptions('estimator.options', spec.options);
    return { source: { estimator: spec as EstimatorSpec }, portable: true };
  }
  if (typeof build === 'function') return { source: { build: build as Build<never> }, portable: false };
  if (build !== null && typeof build === 'object' && !Array.isArray(build)) {
    const spec = build as Partial<ModuleBuild>;
    checkKnownKeys('build', spec, ['module', 'export']);
    if (typeof spec.module !== 'string' || spec.module === '') throw typeError('build.module', 'a module specifier', spec.module);
    if (spec.export !== undefined && typeof spec.export !== 'string') throw typeError('build.export', 'an export name', spec.export);
    return { source: { build: { module: spec.module, ...(spec.export ? { export: spec.export } : {}) } }, portable: true };
  }
  throw typeError('build', 'a function (params) => estimator, or { module, export }; or give estimator: { kind, options }', build);
}

/**
 * Checks X and y and puts them in the form every trial reads: float32 rows (in a
 * SharedArrayBuffer when `shared`, so worker threads read one copy).
 */
export function encodeData(X: unknown, y: unknown, shared = false): TrialData {
  if (!(Array.isArray(y) || (ArrayBuffer.isView(y) && !(y instanceof DataView)))) {
    throw typeError('y', 'an array with one entry per row', y);
  }
  const targets = y as ArrayLike<unknown>;
  const rows = targets.length;
  if (rows === 0) throw typeError('y', 'an array with at least one row', y);
  const allocate = (length: number, bytes: number) => (shared ? new SharedArrayBuffer(length * bytes) : new ArrayBuffer(length * bytes));
  let features: number;
  let x: Float32Array;
  if (isNested(X)) {
    if (X.length !== rows) throw new RangeError(`X must have ${rows} rows to match y, got ${X.length}`);
    features = X[0]!.length;
    x = new Float32Array(allocate(rows * features, 4));
    X.forEach((row, r) => {
      if (row.length !== features) throw new RangeError(`X[${r}] must have ${features} values like X[0], got ${row.length}`);
      x.set(row, r * features);
    });
  } else if ((X instanceof Float32Array || X instanceof Float64Array || X instanceof Uint8Array) && X.length > 0 && X.length % rows === 0) {
    features = X.length / rows;
    x = new Float32Array(allocate(X.length, 4));
    x.set(X);
  } else {
    throw typeError('X', `an array of ${rows} rows or a flat Float32Array of ${rows} rows`, X);
  }
  return { X: x, rows, features, y: encodeTargets(targets, allocate) };
}

export function encodeTargets(
  y: ArrayLike<unknown>,
  allocate: (length: number, bytes: number) => ArrayBufferLike = (length, bytes) => new ArrayBuffer(length * bytes),
): EncodedTargets {
  const rows = y.length;
  if (Array.from({ length: rows }, (_, i) => y[i]).every((v) => typeof v === 'number')) {
    const values = new Float64Array(allocate(rows, 8));
    for (let i = 0; i < rows; i++) values[i] = y[i] as number;
    return { kind: 'numbers', values };
  }
  if (isNested(y)) {
    const width = y[0]!.length;
    const values = new Float64Array(allocate(rows * width, 8));
    y.forEach((row, r) => {
      if (row.length !== width) throw new RangeError(`y[${r}] must have ${width} values like y[0], got ${row.length}`);
      values.set(row, r * width);
    });
    return { kind: 'rows', values, width };
  }
  return { kind: 'labels', values: Array.from(y) as Label[] };
}

/** The rows `rows` of the data set, as the estimators take them. */
function take(data: TrialData, rows: Int32Array): { X: Float32Array; y: unknown[] } {
  const X = selectRows(data.X, data.features, rows);
  const { y } = data;
  if (y.kind === 'rows') return { X, y: Array.from(rows, (r) => Array.from(y.values.subarray(r * y.width, (r + 1) * y.width))) };
  return { X, y: Array.from(rows, (r) => y.values[r]) };
}

/** Class of each row, for stratification: rows with the same label (or the same largest column) share a stratum. */
export function strata(y: EncodedTargets): Int32Array {
  const ids = new Map<unknown, number>();
  const id = (key: unknown) => {
    if (!ids.has(key)) ids.set(key, ids.size);
    return ids.get(key)!;
  };
  if (y.kind !== 'rows') return Int32Array.from(y.values as ArrayLike<unknown> as number[], id);
  const rows = y.values.length / y.width;
  return Int32Array.from({ length: rows }, (_, r) => id(argmax(y.values, r * y.width, y.width)));
}

function isClassifier(estimator: Estimator): boolean {
  return 'classes' in estimator || 'predictProba' in estimator;
}

/** An `MLP` seen as an estimator: options split between the network and `fit`; score = −loss. */
class NetworkEstimator implements Estimator {
  readonly #net: MLP;
  readonly #fit: Record<string, unknown> = {};
  epochs = 0;

  constructor(options: Record<string, unknown>) {
    const { randomState, ...rest } = options;
    const network: Record<string, unknown> = { seed: randomState };
    for (const [key, value] of Object.entries(rest)) ((MLP_FIT_KEYS as readonly string[]).includes(key) ? this.#fit : network)[key] = value;
    this.#net = new MLP(network as never);
  }
  async fit(X: Float32Array, y: unknown[]): Promise<void> {
    this.epochs = (await this.#net.fit(X, toTargetInput(y), this.#fit)).loss.length;
  }
  score(X: Float32Array, y: unknown[]): number {
    return -this.#net.evaluate(X, toTargetInput(y)).loss;
  }
  save(): Uint8Array {
    return this.#net.save();
  }
  dispose(): void {
    this.#net.dispose();
  }
}

const toTargetInput = (y: unknown[]) => (Array.isArray(y[0]) ? (y as number[][]) : Float32Array.from(y as number[]));

/** Loads the model file of a restart's estimator. */
export function loadModel(kind: EstimatorKind, bytes: Uint8Array, backend?: BackendName): Estimator {
  const options = backend ? { backend } : {};
  if (kind === 'MLPClassifier') return MLPClassifier.load(bytes, options);
  if (kind === 'MLPRegressor') return MLPRegressor.load(bytes, options);
  return MLP.load(bytes, options) as unknown as Estimator;
}

/** A module specifier as `import()` takes it: relative paths against the current directory. */
function moduleUrl(specifier: string): string {
  if (!/^\.{1,2}[\\/]|^[\\/]/.test(specifier)) return specifier;
  const cwd = (globalThis as { process?: { cwd(): string } }).process?.cwd().replace(/\\/g, '/');
  if (cwd === undefined) return specifier;
  const base = new URL((cwd.startsWith('/') ? 'file://' : 'file:///') + cwd + '/');
  return new URL(specifier.replace(/\\/g, '/'), base).href;
}

const imported = new Map<string, Promise<Build<never>>>();

async function importBuild(spec: ModuleBuild): Promise<Build<never>> {
  const key = `${spec.module}#${spec.export ?? 'default'}`;
  let found = imported.get(key);
  if (!found) {
    // The user's module, named at run time: bundlers must leave this import to the runtime
    // (webpack would otherwise warn "Critical dependency" in every app that bundles mlpkit).
    found = import(/* webpackIgnore: true */ /* @vite-ignore */ moduleUrl(spec.module)).then((module: Record<string, unknown>) => {
      const build = module[spec.export ?? 'default'];
      if (typeof build !== 'function') {
        throw typeError(`export ${spec.export ?? 'default'} of ${spec.module}`, 'a build function (params) => estimator', build);
      }
      return build as Build<never>;
    });
    imported.set(key, found);
  }
  return found;
}

/** Makes the estimator of one trial. `threads` goes to kinds whose options do not set it. */
async function makeEstimator(
  source: TrialSource,
  params: Record<string, unknown>,
  context: { seed: number; fold: number },
  threads?: number,
): Promise<Estimator> {
  let estimator: unknown;
  if ('estimator' in source) {
    const { kind } = source.estimator;
    const options = (source.estimator.options ?? {}) as Record<string, unknown>;
    const merged = { ...(threads && options.backend !== 'js' ? { threads } : {}), ...options, ...params };
    estimator =
      kind === 'MLPClassifier'
        ? new MLPClassifier(merged)
        : kind === 'MLPRegressor'
          ? new MLPRegressor(merged)
          : new NetworkEstimator(merged);
  } else {
    const build = typeof source.build === 'function' ? source.build : await importBuild(source.build);
    estimator = build(params as never, context);
  }
  const e = estimator as Partial<Estimator> | null;
  if (!e || typeof e.fit !== 'function' || typeof e.score !== 'function') {
    throw typeError('build(params)', 'an estimator with fit and score', estimator);
  }
  return estimator as Estimator;
}

/** Samples seen in training: rows × epochs where the estimator tells its epochs. */
function samplesOf(estimator: Estimator, rows: number): number {
  const e = estimator as { nIter?: number; epochs?: number };
  const epochs = typeof e.nIter === 'number' ? e.nIter : typeof e.epochs === 'number' ? e.epochs : 0;
  return rows * epochs;
}

/**
 * Runs one trial. A failure of the trial itself (its estimator throws) is its outcome, so
 * that a search can record it and go on; only a broken data set or task throws.
 */
export async function runTask(
  source: TrialSource,
  data: TrialData,
  task: TrialTask,
  options: { threads?: number; keepEstimator?: boolean } = {},
): Promise<TrialOutcome> {
  const seed = task.type === 'fold' ? task.seed : task.restartSeed;
  const params = task.type === 'fold' ? { randomState: seed, ...task.params } : { randomState: seed };
  const context = task.type === 'fold' ? { seed, fold: task.fold } : { seed, fold: task.restart };
  let estimator: Estimator | undefined;
  let samples = 0;
  try {
    estimator = await makeEstimator(source, params, context, options.threads);
    const classes = isClassifier(estimator) ? strata(data.y) : undefined;
    let train: Int32Array;
    let test: Int32Array;
    if (task.type === 'fold') {
      test = kFold(data.rows, task.folds, task.seed, (task.stratified ?? !!classes) ? classes : undefined)[task.fold]!;
      train = complement(data.rows, test);
    } else {
      ({ train, test } = holdOut(data.rows, task.validationSplit, task.seed, classes));
    }
    const fitOn = take(data, train);
    const held = take(data, test);
    await estimator.fit(fitOn.X as never, fitOn.y as never);
    samples = samplesOf(estimator, train.length);
    const score = estimator.score(held.X as never, held.y as never);
    if (!Number.isFinite(score)) return { error: `the score is ${describe(score)}`, samples };
    if (options.keepEstimator) {
      const kept = estimator;
      estimator = undefined; // now the caller's to dispose
      return { score, samples, estimator: kept };
    }
    const save = (estimator as { save?: () => Uint8Array }).save;
    const model = task.type === 'restart' && task.keepModel && save ? save.call(estimator) : undefined;
    return model ? { score, samples, model } : { score, samples };
  } catch (error) {
    return { error: error instanceof Error ? `${error.name}: ${error.message}` : String(error), samples };
  } finally {
    estimator?.dispose?.();
  }
}
