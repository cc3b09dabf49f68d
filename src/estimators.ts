/**
 * scikit-learn style façades over `MLP`: the output layer and loss follow from the task,
 * labels may be of any type, and the options keep scikit-learn's names.
 */
import { isNested, toFlatMatrix, toMatrix, toTargets, type MatrixInput } from './data.js';
import {
  checkBoolean,
  checkInteger,
  checkKnownKeys,
  checkNumber,
  checkOneOf,
  checkOptions,
  describe,
  NotFittedError,
  rangeError,
  typeError,
} from './errors.js';
import { MLP, type LoadOptions, type OnnxOptions } from './mlp.js';
import { decodeModel, encodeModel, type Label } from './model-file.js';
import {
  ACTIVATION_TRAITS,
  ACTIVATIONS,
  checkSeed,
  randomSeed,
  type Activation,
  type BackendName,
  type LayerOptions,
  type MLPOptions,
  type OptimizerOptions,
} from './spec.js';
import type { FitOptions, History } from './training.js';
import { r2Score } from './metrics.js';

/** What a hidden layer can use: every activation applied per element, and scikit-learn's name of the sigmoid. */
const HIDDEN_ACTIVATIONS = ['logistic', ...ACTIVATIONS.filter((a) => !ACTIVATION_TRAITS[a].rowwise)] as readonly (
  Exclude<Activation, 'softmax'> | 'logistic'
)[];

/** Options shared by `MLPClassifier` and `MLPRegressor`, named as in scikit-learn. */
export interface EstimatorOptions {
  /** Units of each hidden layer. Default [100]. */
  hiddenLayerSizes?: number[];
  /** Hidden activation: 'relu' (default), 'tanh', 'logistic' (= 'sigmoid'), or any other activation but 'softmax'. */
  activation?: Exclude<Activation, 'softmax'> | 'logistic';
  /** 'adam' (default) or 'sgd' (with `momentum` and `nesterovsMomentum`). */
  solver?: 'adam' | 'sgd';
  /** L2 strength as in scikit-learn: the penalty is alpha / (2·batchSize) · ‖W‖². Default 1e-4. */
  alpha?: number;
  /** Rows per update, or 'auto' = min(200, n). */
  batchSize?: number | 'auto';
  /** 'constant' (default), or 'adaptive': divide the rate by 5 when the loss stalls for 2 epochs. */
  learningRate?: 'constant' | 'adaptive';
  /** Initial learning rate. Default 0.001. */
  learningRateInit?: number;
  /** Maximum number of epochs. Default 200. */
  maxIter?: number;
  /** Reshuffle every epoch. Default true. */
  shuffle?: boolean;
  /** Seed of everything random. Default: random (see `randomState` after construction). */
  randomState?: number;
  /** Improvement below which an epoch counts as no progress. Default 1e-4. */
  tol?: number;
  /** Momentum of 'sgd'. Default 0.9. */
  momentum?: number;
  /** Nesterov momentum for 'sgd'. Default true. */
  nesterovsMomentum?: boolean;
  /**
   * Hold out `validationFraction` of the data and stop when the validation loss has not
   * improved by `tol` for `nIterNoChange` epochs, keeping the best weights. Without it,
   * training stops when the training loss stalls the same way. Default false.
   */
  earlyStopping?: boolean;
  /** Default 0.1. */
  validationFraction?: number;
  /** Default 10. */
  nIterNoChange?: number;
  /** Adam's β1, β2, ε. Defaults 0.9, 0.999, 1e-8. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** mlpkit: standardize inputs with a StandardScaler stored in the model. Default true. */
  standardize?: boolean;
  /** mlpkit: inverted-dropout rate of the hidden layers. Default 0. */
  dropout?: number;
  /** mlpkit: backend to train on. Default 'auto'. */
  backend?: 'auto' | BackendName;
  /** mlpkit: native threads. */
  threads?: number;
  /** Print the loss of every epoch. Default false. */
  verbose?: boolean;
}

const OPTION_KEYS: readonly (keyof EstimatorOptions)[] = [
  'hiddenLayerSizes',
  'activation',
  'solver',
  'alpha',
  'batchSize',
  'learningRate',
  'learningRateInit',
  'maxIter',
  'shuffle',
  'randomState',
  'tol',
  'momentum',
  'nesterovsMomentum',
  'earlyStopping',
  'validationFraction',
  'nIterNoChange',
  'beta1',
  'beta2',
  'epsilon',
  'standardize',
  'dropout',
  'backend',
  'threads',
  'verbose',
];

type Resolved = Required<Omit<EstimatorOptions, 'threads' | 'batchSize'>> & { threads?: number; batchSize: number | 'auto' };

function resolveOptions(value: unknown, name: string): Resolved {
  const o = checkOptions<EstimatorOptions>(name, value);
  checkKnownKeys(name, o, OPTION_KEYS);
  if (o.learningRate !== undefined && (o.learningRate as string) === 'invscaling') {
    throw new RangeError("learningRate 'invscaling' is not supported; use 'constant' or 'adaptive' (or an MLP with a schedule)");
  }
  const hidden = o.hiddenLayerSizes ?? [100];
  if (!Array.isArray(hidden)) throw typeError('hiddenLayerSizes', 'an array of layer sizes', hidden);
  hidden.forEach((u, i) => checkInteger(`hiddenLayerSizes[${i}]`, u, 1));
  const resolved: Resolved = {
    hiddenLayerSizes: [...hidden],
    activation: checkOneOf('activation', o.activation ?? 'relu', HIDDEN_ACTIVATIONS),
    solver: checkOneOf('solver', o.solver ?? 'adam', ['adam', 'sgd'] as const),
    alpha: o.alpha === undefined ? 1e-4 : checkNumber('alpha', o.alpha, { min: 0 }),
    batchSize: o.batchSize === undefined || o.batchSize === 'auto' ? 'auto' : checkInteger('batchSize', o.batchSize, 1),
    learningRate: checkOneOf('learningRate', o.learningRate ?? 'constant', ['constant', 'adaptive'] as const),
    learningRateInit:
      o.learningRateInit === undefined ? 1e-3 : checkNumber('learningRateInit', o.learningRateInit, { min: 0, exclusiveMin: true }),
    maxIter: o.maxIter === undefined ? 200 : checkInteger('maxIter', o.maxIter, 1),
    shuffle: o.shuffle === undefined ? true : checkBoolean('shuffle', o.shuffle),
    randomState: o.randomState === undefined ? randomSeed() : checkSeed('randomState', o.randomState),
    tol: o.tol === undefined ? 1e-4 : checkNumber('tol', o.tol, { min: 0 }),
    momentum: o.momentum === undefined ? 0.9 : checkNumber('momentum', o.momentum, { min: 0, max: 1, exclusiveMax: true }),
    nesterovsMomentum: o.nesterovsMomentum === undefined ? true : checkBoolean('nesterovsMomentum', o.nesterovsMomentum),
    earlyStopping: o.earlyStopping === undefined ? false : checkBoolean('earlyStopping', o.earlyStopping),
    validationFraction:
      o.validationFraction === undefined
        ? 0.1
        : checkNumber('validationFraction', o.validationFraction, { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }),
    nIterNoChange: o.nIterNoChange === undefined ? 10 : checkInteger('nIterNoChange', o.nIterNoChange, 1),
    beta1: o.beta1 === undefined ? 0.9 : checkNumber('beta1', o.beta1, { min: 0, max: 1, exclusiveMax: true }),
    beta2: o.beta2 === undefined ? 0.999 : checkNumber('beta2', o.beta2, { min: 0, max: 1, exclusiveMax: true }),
    epsilon: o.epsilon === undefined ? 1e-8 : checkNumber('epsilon', o.epsilon, { min: 0, exclusiveMin: true }),
    standardize: o.standardize === undefined ? true : checkBoolean('standardize', o.standardize),
    dropout: o.dropout === undefined ? 0 : checkNumber('dropout', o.dropout, { min: 0, max: 1, exclusiveMax: true }),
    backend: checkOneOf('backend', o.backend ?? 'auto', ['auto', 'native', 'wasm', 'js'] as const),
    verbose: o.verbose === undefined ? false : checkBoolean('verbose', o.verbose),
  };
  if (o.threads !== undefined) resolved.threads = checkInteger('threads', o.threads, 1, 1024);
  return resolved;
}

/** Rows and width of X: nested rows, or a flat array holding `rows` rows (the number of targets). */
/** The shape of X for `rows` labels, with every value checked (so a bad X fails before any training). */
function shapeOf(X: MatrixInput, rows: number): { rows: number; features: number } {
  let features: number;
  if (isNested(X)) {
    if (X.length !== rows) throw new RangeError(`X must have ${rows} rows to match y, got ${X.length}`);
    if (rows === 0) throw rangeError('X', 'a matrix with at least one row', X);
    features = Array.isArray(X[0]) ? X[0].length : 0;
  } else if (X instanceof Float32Array || X instanceof Float64Array || X instanceof Uint8Array) {
    if (rows === 0 || X.length % rows !== 0 || X.length === 0) {
      throw rangeError('X', `a flat array of ${rows} rows (a length that is a multiple of ${rows})`, X);
    }
    features = X.length / rows;
  } else {
    throw typeError('X', 'an array of rows (number[][]) or a flat Float32Array, Float64Array or Uint8Array', X);
  }
  if (features < 1) throw rangeError('X[0]', 'a row of at least one feature', isNested(X) ? X[0] : X);
  toFlatMatrix('X', X, features);
  return { rows, features };
}

/** The common machinery of the two façades. */
abstract class MLPEstimator {
  protected readonly options: Resolved;
  protected readonly params: EstimatorOptions;
  protected net: MLP | undefined;
  #history: History | undefined;

  constructor(options: EstimatorOptions = {}, name: string) {
    this.options = resolveOptions(options, name);
    this.params = { ...options, randomState: this.options.randomState };
  }

  /** The seed used (given, or drawn at construction). */
  get randomState(): number {
    return this.options.randomState;
  }
  /** Training loss per epoch of the last fit. */
  get lossCurve(): number[] {
    return this.#fitted() && this.#history!.loss;
  }
  /** Validation loss per epoch of the last fit (with earlyStopping). */
  get validationLossCurve(): number[] {
    return this.#fitted() && this.#history!.valLoss;
  }
  /** Smallest training loss reached. */
  get bestLoss(): number {
    return Math.min(...this.lossCurve);
  }
  /** Epochs run by the last fit. */
  get nIter(): number {
    return this.lossCurve.length;
  }
  /** The underlying network (after fit). */
  get model(): MLP {
    this.#fitted();
    return this.net!;
  }
  /** The backend the network runs on (after fit). */
  get backend(): BackendName {
    return this.model.backend;
  }

  /** Builds a fresh network for n rows of `features` inputs and trains it. */
  protected async train(
    features: number,
    outputs: number,
    output: Activation,
    loss: MLPOptions['loss'],
    X: MatrixInput,
    targets: Float32Array | Int32Array,
    rows: number,
    extra: FitOptions = {},
  ): Promise<void> {
    const o = this.options;
    const batchSize = o.batchSize === 'auto' ? Math.min(200, rows) : Math.min(o.batchSize, rows);
    const hidden: Activation = o.activation === 'logistic' ? 'sigmoid' : o.activation;
    const optimizer: OptimizerOptions =
      o.solver === 'adam'
        ? { type: 'adam', learningRate: o.learningRateInit, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon }
        : // Momentum 0 is plain SGD, with or without Nesterov's look-ahead (as in scikit-learn).
          o.momentum === 0
          ? { type: 'sgd', learningRate: o.learningRateInit }
          : { type: o.nesterovsMomentum ? 'nesterov' : 'momentum', learningRate: o.learningRateInit, momentum: o.momentum };
    const layers: LayerOptions[] = [
      ...o.hiddenLayerSizes.map((units) => ({ units, activation: hidden })),
      { units: outputs, activation: output },
    ];
    const net = new MLP({
      inputs: features,
      layers,
      loss,
      optimizer,
      l2: o.alpha / (2 * batchSize),
      dropout: o.hiddenLayerSizes.length > 0 ? o.dropout : 0,
      seed: o.randomState,
      backend: o.backend,
      standardize: o.standardize,
      ...(o.threads ? { threads: o.threads } : {}),
    });
    const y = targets instanceof Int32Array && outputs === 1 ? Float32Array.from(targets) : targets;
    // The new network replaces the fitted one only once it has trained: a fit that fails (bad
    // X, divergence, a throwing callback) leaves the estimator as it was.
    let history: History;
    try {
      history = await net.fit(X, y, {
        epochs: o.maxIter,
        batchSize,
        shuffle: o.shuffle,
        ...(o.earlyStopping ? { validationSplit: o.validationFraction } : {}),
        earlyStopping: { patience: o.nIterNoChange, minDelta: o.tol, restoreBestWeights: o.earlyStopping },
        ...(o.learningRate === 'adaptive' ? { reduceLROnPlateau: { factor: 0.2, patience: 2, minDelta: o.tol } } : {}),
        ...(o.verbose
          ? {
              onEpochEnd: (epoch: number, logs: { loss: number; valLoss?: number }) => {
                console.log(
                  `Iteration ${epoch + 1}, loss = ${logs.loss.toFixed(8)}` +
                    (logs.valLoss === undefined ? '' : `, validation loss = ${logs.valLoss.toFixed(8)}`),
                );
              },
            }
          : {}),
        ...extra,
      });
    } catch (error) {
      net.dispose();
      throw error;
    }
    this.net?.dispose();
    this.net = net;
    this.#history = history;
  }

  /** The fitted network's raw outputs for X. */
  protected outputsOf(X: MatrixInput): { data: Float32Array; rows: number } {
    this.#fitted();
    const xs = toMatrix('X', X, this.net!.inputs);
    return { data: this.net!.predict(xs.data) as Float32Array, rows: xs.rows };
  }

  protected encode(type: 'MLPClassifier' | 'MLPRegressor', classes?: readonly Label[]): Uint8Array {
    this.#fitted();
    const { backend: _backend, threads: _threads, ...params } = this.params;
    return encodeModel({
      ...this.net!._record(),
      estimator: { type, params: params as Record<string, unknown>, ...(classes ? { classes } : {}) },
    });
  }

  protected restore(net: MLP): void {
    this.net = net;
    this.#history = { loss: [], valLoss: [], learningRate: [], bestEpoch: -1, stopReason: 'completed' };
  }

  /** Frees the network's backend memory. */
  dispose(): void {
    this.net?.dispose();
  }

  #fitted(): true {
    if (!this.net || !this.#history) throw new NotFittedError(`this ${this.constructor.name} is not fitted yet; call fit(X, y) first`);
    return true;
  }
}

function checkLabels(y: unknown, rows?: number): Label[] {
  if (!(Array.isArray(y) || (ArrayBuffer.isView(y) && !(y instanceof DataView)))) {
    throw typeError('y', 'an array of labels, one per row', y);
  }
  const labels = Array.from(y as ArrayLike<unknown>);
  if (rows !== undefined && labels.length !== rows) throw new RangeError(`y must have ${rows} labels to match X, got ${labels.length}`);
  labels.forEach((label, i) => {
    if (!(typeof label === 'string' || typeof label === 'boolean' || (typeof label === 'number' && Number.isFinite(label)))) {
      throw typeError(`y[${i}]`, 'a label (a string, a finite number or a boolean)', label);
    }
  });
  return labels as Label[];
}

/** Sorted distinct labels: booleans, then numbers, then strings. */
function sortedClasses(labels: readonly Label[]): Label[] {
  const rank = (v: Label) => (typeof v === 'boolean' ? 0 : typeof v === 'number' ? 1 : 2);
  return [...new Set(labels)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A neural-network classifier: softmax + cross-entropy for several classes, one sigmoid
 * output + binary cross-entropy for two. Labels may be strings, numbers or booleans.
 *
 * @example
 * ```ts
 * import { MLPClassifier } from 'mlpkit';
 * const clf = new MLPClassifier({ hiddenLayerSizes: [32], maxIter: 300, randomState: 0 });
 * await clf.fit(X, ['setosa', 'virginica', …]);
 * clf.predict(XTest);        // ['setosa', …]
 * clf.predictProba(XTest);   // [[0.98, 0.02], …], columns in clf.classes order
 * clf.score(XTest, yTest);   // accuracy
 * ```
 */
export class MLPClassifier extends MLPEstimator {
  #classes: Label[] | undefined;

  constructor(options: EstimatorOptions = {}) {
    super(options, 'MLPClassifier options');
  }

  /** The class labels, sorted; the columns of `predictProba`. */
  get classes(): readonly Label[] {
    if (!this.#classes) throw new NotFittedError('this MLPClassifier is not fitted yet; call fit(X, y) first');
    return this.#classes;
  }

  /**
   * Trains on X (rows) and one label per row; refits from scratch every call.
   * @param options extra `fit` options (callbacks, signal) passed to the network.
   */
  async fit(X: MatrixInput, y: ArrayLike<Label>, options?: FitOptions): Promise<this> {
    const labels = checkLabels(y);
    const { rows, features } = shapeOf(X, labels.length);
    const classes = sortedClasses(labels);
    if (classes.length < 2) throw rangeError('y', 'labels of at least two classes', `only ${describe(classes[0])}`);
    const index = new Map(classes.map((c, i) => [c, i]));
    const targets = Int32Array.from(labels, (l) => index.get(l)!);
    const binary = classes.length === 2;
    await this.train(
      features,
      binary ? 1 : classes.length,
      binary ? 'sigmoid' : 'softmax',
      binary ? 'binary-cross-entropy' : 'cross-entropy',
      X,
      targets,
      rows,
      options,
    );
    this.#classes = classes;
    return this;
  }

  /** Probability of each class (columns in `classes` order) for each row of X. */
  predictProba(X: MatrixInput): number[][] {
    const { data, rows } = this.outputsOf(X);
    const k = this.classes.length;
    if (k === 2) return Array.from(data, (p) => [1 - p, p]);
    return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * k, (r + 1) * k)));
  }

  /** The most probable class of each row of X. */
  predict(X: MatrixInput): Label[] {
    return this.predictProba(X).map((p) => this.classes[p.indexOf(Math.max(...p))]!);
  }

  /** Accuracy on (X, y). */
  score(X: MatrixInput, y: ArrayLike<Label>): number {
    const predicted = this.predict(X);
    const labels = checkLabels(y, predicted.length);
    return predicted.filter((p, i) => p === labels[i]).length / labels.length;
  }

  /**
   * The classifier as ONNX (see `MLP.toONNX`): input `"input"` float32 [batch, features] of raw
   * features (the scaler is part of the graph), outputs `"probabilities"` float32
   * [batch, classes] (columns in `classes` order, as `predictProba`) and `"label"` int64 [batch],
   * the index in `classes` of the predicted class. The labels themselves are in the model's
   * `metadata_props` under "mlpkit.classes", as a JSON array.
   * @example
   * ```ts
   * import * as ort from 'onnxruntime-node';
   * const session = await ort.InferenceSession.create(clf.toONNX());
   * const { label } = await session.run({ input: new ort.Tensor('float32', x, [rows, features]) });
   * const predicted = Array.from(label.data as BigInt64Array, (i) => clf.classes[Number(i)]);
   * ```
   */
  toONNX(options: OnnxOptions = {}): Uint8Array {
    return this.model._toOnnx(options, { estimator: 'MLPClassifier', classes: this.classes });
  }

  /** Serializes the classifier (network, scaler, classes, options). */
  save(): Uint8Array {
    return this.encode('MLPClassifier', this.classes);
  }

  /** Loads a classifier written by `save()`. */
  static load(bytes: Uint8Array | ArrayBuffer, options?: LoadOptions): MLPClassifier {
    const record = decodeModel(bytes);
    if (record.estimator?.type !== 'MLPClassifier' || !record.estimator.classes) {
      throw new RangeError(
        `this model file holds ${record.estimator ? `an ${record.estimator.type}` : 'a plain MLP'}, not an MLPClassifier`,
      );
    }
    const classes = record.estimator.classes.length;
    const outputs = record.spec.layers.at(-1)!.units;
    if (classes < 2 || outputs !== (classes === 2 ? 1 : classes)) {
      throw new RangeError(
        `model file is corrupt: its ${classes} class labels do not match an output layer of ${outputs} unit${outputs === 1 ? '' : 's'}`,
      );
    }
    const clf = new MLPClassifier({ ...(record.estimator.params as EstimatorOptions), ...options });
    clf.restore(MLP._fromRecord(record, options));
    clf.#classes = [...record.estimator.classes];
    return clf;
  }
}

/**
 * A neural-network regressor: identity output and squared error (½·(y − ŷ)²).
 *
 * @example
 * ```ts
 * import { MLPRegressor } from 'mlpkit';
 * const reg = new MLPRegressor({ hiddenLayerSizes: [64, 64], maxIter: 500, randomState: 1 });
 * await reg.fit(X, y);       // y: number[] or number[][]
 * reg.predict(XTest);        // number[] (or number[][] for several targets)
 * reg.score(XTest, yTest);   // R²
 * ```
 */
export class MLPRegressor extends MLPEstimator {
  #outputs = 0;

  constructor(options: EstimatorOptions = {}) {
    super(options, 'MLPRegressor options');
  }

  /** Trains on X (rows) and y (one number per row, or rows of targets); refits from scratch every call. */
  async fit(X: MatrixInput, y: readonly number[] | readonly (readonly number[])[] | Float32Array, options?: FitOptions): Promise<this> {
    const outputs = isNested(y) ? (y[0]?.length ?? 0) : 1;
    if (outputs < 1) throw rangeError('y', 'rows with at least one target', y);
    const { rows, features } = shapeOf(X, isNested(y) ? y.length : ((y as ArrayLike<number>).length ?? 0));
    const targets = toTargets('y', y, rows, outputs, 'half-mse').data;
    await this.train(features, outputs, 'identity', 'half-mse', X, targets, rows, options);
    this.#outputs = outputs;
    return this;
  }

  /** Predictions: a number per row, or rows of numbers when fitted on several targets. */
  predict(X: MatrixInput): number[] | number[][] {
    const { data, rows } = this.outputsOf(X);
    const k = this.#outputs;
    if (k === 1) return Array.from(data);
    return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * k, (r + 1) * k)));
  }

  /** Coefficient of determination R² on (X, y), averaged over the targets. */
  score(X: MatrixInput, y: readonly number[] | readonly (readonly number[])[] | Float32Array): number {
    const predicted = this.predict(X);
    const k = this.#outputs;
    const got = k === 1 ? Float64Array.from(predicted as number[]) : Float64Array.from((predicted as number[][]).flat());
    const want = toTargets('y', y, got.length / k, k, 'half-mse').data;
    return r2Score(want, got, k);
  }

  /**
   * The regressor as ONNX (see `MLP.toONNX`): input `"input"` float32 [batch, features] of raw
   * features (the scaler is part of the graph), output `"output"` float32 [batch, targets].
   * @example
   * ```ts
   * import { writeFileSync } from 'node:fs';
   * writeFileSync('regressor.onnx', reg.toONNX());
   * ```
   */
  toONNX(options: OnnxOptions = {}): Uint8Array {
    return this.model._toOnnx(options, { estimator: 'MLPRegressor' });
  }

  /** Serializes the regressor (network, scaler, options). */
  save(): Uint8Array {
    return this.encode('MLPRegressor');
  }

  /** Loads a regressor written by `save()`. */
  static load(bytes: Uint8Array | ArrayBuffer, options?: LoadOptions): MLPRegressor {
    const record = decodeModel(bytes);
    if (record.estimator?.type !== 'MLPRegressor') {
      throw new RangeError(
        `this model file holds ${record.estimator ? `an ${record.estimator.type}` : 'a plain MLP'}, not an MLPRegressor`,
      );
    }
    const reg = new MLPRegressor({ ...(record.estimator.params as EstimatorOptions), ...options });
    const net = MLP._fromRecord(record, options);
    reg.restore(net);
    reg.#outputs = net.outputs;
    return reg;
  }
}
