/**
 * scikit-learn style façades over `MLP`: the output layer and loss follow from the task,
 * labels may be of any type, and the options, attributes and training rules are those of
 * scikit-learn's `MLPClassifier` / `MLPRegressor` (1.2+), in camelCase. Where mlpkit differs
 * on purpose (float32, standardized inputs, early stopping on the validation loss), an option
 * gives scikit-learn's behaviour; the README lists every difference.
 */
import { isNested, toFlatMatrix, toTargets, type MatrixInput } from './data.js';
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
import { minimizeLbfgs } from './lbfgs.js';
import { MLP, type LoadOptions, type OnnxOptions } from './mlp.js';
import { decodeModel, encodeModel, type Label } from './model-file.js';
import { holdOut, selectRows } from './split.js';
import {
  ACTIVATION_TRAITS,
  ACTIVATIONS,
  checkSeed,
  normalizeModelSpec,
  randomSeed,
  type Activation,
  type BackendName,
  type LayerOptions,
  type Loss,
  type MLPOptions,
  type ModelSpec,
  type OptimizerOptions,
} from './spec.js';
import { TrainingDivergedError, type EpochLogs, type FitOptions } from './training.js';
import { argmax, r2Score } from './metrics.js';

/** What a hidden layer can use: every activation applied per element, and scikit-learn's name of the sigmoid. */
const HIDDEN_ACTIVATIONS = ['logistic', ...ACTIVATIONS.filter((a) => !ACTIVATION_TRAITS[a].rowwise)] as readonly (
  Exclude<Activation, 'softmax'> | 'logistic'
)[];

/** Options shared by `MLPClassifier` and `MLPRegressor`, named and defaulted as in scikit-learn. */
export interface EstimatorOptions {
  /** Units of each hidden layer. Default [100]. */
  hiddenLayerSizes?: number[];
  /** Hidden activation: 'relu' (default), 'tanh', 'logistic' (= 'sigmoid'), 'identity', or any other activation but 'softmax'. */
  activation?: Exclude<Activation, 'softmax'> | 'logistic';
  /** 'adam' (default), 'sgd' (with `momentum`, `nesterovsMomentum`, `learningRate`) or 'lbfgs' (full-batch quasi-Newton). */
  solver?: 'adam' | 'sgd' | 'lbfgs';
  /** L2 strength as in scikit-learn: the penalty of a batch of b rows is alpha / (2·b) · ‖W‖². Default 1e-4. */
  alpha?: number;
  /** Rows per update of 'sgd' and 'adam', or 'auto' = min(200, n). */
  batchSize?: number | 'auto';
  /**
   * Learning-rate schedule of 'sgd': 'constant' (default); 'invscaling', learningRateInit / (t + 1)^powerT
   * after t samples, updated after each epoch; 'adaptive', divided by 5 each time `nIterNoChange`
   * epochs pass without improvement instead of stopping, until it is below 1e-6.
   */
  learningRate?: 'constant' | 'invscaling' | 'adaptive';
  /** Initial learning rate of 'sgd' and 'adam'. Default 0.001. */
  learningRateInit?: number;
  /** Exponent of 'invscaling'. Default 0.5. */
  powerT?: number;
  /** Most epochs ('sgd', 'adam') or iterations ('lbfgs') of one `fit`. Default 200. */
  maxIter?: number;
  /** Most loss evaluations of 'lbfgs'. Default 15000. */
  maxFun?: number;
  /** Reshuffle every epoch. Default true. */
  shuffle?: boolean;
  /** Seed of everything random. Default: random (see `randomState` after construction). */
  randomState?: number;
  /**
   * Tolerance: an epoch improves when it beats the best loss so far by more than `tol` (or the
   * best validation score, see `earlyStopping`); 'lbfgs' stops when every gradient component is
   * at most `tol`. Default 1e-4.
   */
  tol?: number;
  /** Keep training from the current weights on the next `fit` instead of starting over. Default false. */
  warmStart?: boolean;
  /** Momentum of 'sgd'. Default 0.9. */
  momentum?: number;
  /** Nesterov momentum for 'sgd'. Default true. */
  nesterovsMomentum?: boolean;
  /**
   * Hold out `validationFraction` of the rows (stratified for a single-label classifier) and
   * stop when the validation metric (`earlyStoppingMetric`) has not improved by more than `tol`
   * for `nIterNoChange` epochs, keeping the best weights. Without it, training stops when the
   * training loss stalls the same way. Default false.
   */
  earlyStopping?: boolean;
  /** Default 0.1. */
  validationFraction?: number;
  /** Epochs without improvement before stopping (or dividing an 'adaptive' rate); may be Infinity. Default 10. */
  nIterNoChange?: number;
  /** Adam's β1, β2, ε. Defaults 0.9, 0.999, 1e-8. */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /**
   * mlpkit: what early stopping watches: 'loss', the validation loss (default), or 'score',
   * scikit-learn's validation accuracy (classifier) or R² (regressor).
   */
  earlyStoppingMetric?: 'loss' | 'score';
  /** mlpkit: standardize inputs with a StandardScaler stored in the model. Default true (scikit-learn: false). */
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
  'powerT',
  'maxIter',
  'maxFun',
  'shuffle',
  'randomState',
  'tol',
  'warmStart',
  'momentum',
  'nesterovsMomentum',
  'earlyStopping',
  'validationFraction',
  'nIterNoChange',
  'beta1',
  'beta2',
  'epsilon',
  'earlyStoppingMetric',
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
  const hidden = o.hiddenLayerSizes ?? [100];
  if (!Array.isArray(hidden)) throw typeError('hiddenLayerSizes', 'an array of layer sizes', hidden);
  hidden.forEach((u, i) => checkInteger(`hiddenLayerSizes[${i}]`, u, 1));
  const resolved: Resolved = {
    hiddenLayerSizes: [...hidden],
    activation: checkOneOf('activation', o.activation ?? 'relu', HIDDEN_ACTIVATIONS),
    solver: checkOneOf('solver', o.solver ?? 'adam', ['adam', 'sgd', 'lbfgs'] as const),
    alpha: o.alpha === undefined ? 1e-4 : checkNumber('alpha', o.alpha, { min: 0 }),
    batchSize: o.batchSize === undefined || o.batchSize === 'auto' ? 'auto' : checkInteger('batchSize', o.batchSize, 1),
    learningRate: checkOneOf('learningRate', o.learningRate ?? 'constant', ['constant', 'invscaling', 'adaptive'] as const),
    learningRateInit:
      o.learningRateInit === undefined ? 1e-3 : checkNumber('learningRateInit', o.learningRateInit, { min: 0, exclusiveMin: true }),
    powerT: o.powerT === undefined ? 0.5 : checkNumber('powerT', o.powerT, { min: 0 }),
    maxIter: o.maxIter === undefined ? 200 : checkInteger('maxIter', o.maxIter, 1),
    maxFun: o.maxFun === undefined ? 15000 : checkInteger('maxFun', o.maxFun, 1),
    shuffle: o.shuffle === undefined ? true : checkBoolean('shuffle', o.shuffle),
    randomState: o.randomState === undefined ? randomSeed() : checkSeed('randomState', o.randomState),
    tol: o.tol === undefined ? 1e-4 : checkNumber('tol', o.tol, { min: 0 }),
    warmStart: o.warmStart === undefined ? false : checkBoolean('warmStart', o.warmStart),
    momentum: o.momentum === undefined ? 0.9 : checkNumber('momentum', o.momentum, { min: 0, max: 1, exclusiveMax: true }),
    nesterovsMomentum: o.nesterovsMomentum === undefined ? true : checkBoolean('nesterovsMomentum', o.nesterovsMomentum),
    earlyStopping: o.earlyStopping === undefined ? false : checkBoolean('earlyStopping', o.earlyStopping),
    validationFraction:
      o.validationFraction === undefined
        ? 0.1
        : checkNumber('validationFraction', o.validationFraction, { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }),
    nIterNoChange:
      o.nIterNoChange === undefined ? 10 : o.nIterNoChange === Infinity ? Infinity : checkInteger('nIterNoChange', o.nIterNoChange, 1),
    beta1: o.beta1 === undefined ? 0.9 : checkNumber('beta1', o.beta1, { min: 0, max: 1, exclusiveMax: true }),
    beta2: o.beta2 === undefined ? 0.999 : checkNumber('beta2', o.beta2, { min: 0, max: 1, exclusiveMax: true }),
    epsilon: o.epsilon === undefined ? 1e-8 : checkNumber('epsilon', o.epsilon, { min: 0, exclusiveMin: true }),
    earlyStoppingMetric: checkOneOf('earlyStoppingMetric', o.earlyStoppingMetric ?? 'loss', ['loss', 'score'] as const),
    standardize: o.standardize === undefined ? true : checkBoolean('standardize', o.standardize),
    dropout: o.dropout === undefined ? 0 : checkNumber('dropout', o.dropout, { min: 0, max: 1, exclusiveMax: true }),
    backend: checkOneOf('backend', o.backend ?? 'auto', ['auto', 'native', 'wasm', 'js'] as const),
    verbose: o.verbose === undefined ? false : checkBoolean('verbose', o.verbose),
  };
  if (o.threads !== undefined) resolved.threads = checkInteger('threads', o.threads, 1, 1024);
  return resolved;
}

/** The options as a model file stores them: JSON, where Infinity is written as the string 'Infinity'. */
function storedParams(params: EstimatorOptions): Record<string, unknown> {
  const { backend: _backend, threads: _threads, ...rest } = params;
  return rest.nIterNoChange === Infinity ? { ...rest, nIterNoChange: 'Infinity' } : rest;
}
function paramsFromFile(params: Record<string, unknown>): EstimatorOptions {
  return (params.nIterNoChange === 'Infinity' ? { ...params, nIterNoChange: Infinity } : params) as EstimatorOptions;
}

/** The shape of X for `rows` targets, with every value checked (so a bad X fails before any training). */
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

/** What a fit trains: the output layer, the loss, and the targets as rows of `outputs` floats. */
interface Task {
  features: number;
  outputs: number;
  output: Activation;
  loss: Loss;
  targets: Float32Array;
  rows: number;
  /** Class of each row, to stratify the validation split (single-label classification). */
  strata?: Int32Array;
}

/** Everything a fit learns besides the weights, in scikit-learn's terms; replaced only by a fit that succeeds. */
interface FitState {
  nIter: number;
  /** Training samples seen (scikit-learn's t_). */
  t: number;
  loss: number;
  lossCurve: number[];
  validationLossCurve: number[];
  validationScores: number[] | undefined;
  bestValidationScore: number | undefined;
  /** Running best training loss, without early stopping. */
  bestLoss: number | undefined;
  /** Running best of what early stopping watches, as "higher is better". */
  best: number;
  /** The weights of `best`, with early stopping. */
  bestParams: Float32Array | undefined;
  noImprovement: number;
  /** The learning rate of 'sgd' now ('invscaling' and 'adaptive' change it between epochs). */
  learningRate: number;
}

function freshState(o: Resolved): FitState {
  const validating = o.earlyStopping && o.solver !== 'lbfgs';
  return {
    nIter: 0,
    t: 0,
    loss: NaN,
    lossCurve: [],
    validationLossCurve: [],
    validationScores: validating ? [] : undefined,
    bestValidationScore: validating ? -Infinity : undefined,
    bestLoss: validating || o.solver === 'lbfgs' ? undefined : Infinity,
    best: -Infinity,
    bestParams: undefined,
    noImprovement: 0,
    learningRate: o.learningRateInit,
  };
}

const copyState = (s: FitState): FitState => ({
  ...s,
  lossCurve: [...s.lossCurve],
  validationLossCurve: [...s.validationLossCurve],
  validationScores: s.validationScores && [...s.validationScores],
});

/** Whether two specs have the same layers (units and activations) and inputs. */
function sameShape(a: ModelSpec, b: ModelSpec): boolean {
  return (
    a.inputs === b.inputs &&
    a.layers.length === b.layers.length &&
    a.layers.every((l, i) => l.units === b.layers[i]!.units && l.activation === b.layers[i]!.activation)
  );
}

/** Shapes of a network's layers as scikit-learn writes them: "4 → 10 (relu) → 3 (softmax)". */
const shapeText = (spec: ModelSpec) => [String(spec.inputs), ...spec.layers.map((l) => `${l.units} (${l.activation})`)].join(' → ');

/** The common machinery of the two façades. */
abstract class MLPEstimator {
  protected options: Resolved;
  protected params: EstimatorOptions;
  protected net: MLP | undefined;
  #state: FitState | undefined;

  constructor(options: EstimatorOptions = {}, name: string) {
    this.options = resolveOptions(options, name);
    this.params = { ...options, randomState: this.options.randomState };
  }

  /** The seed used (given, or drawn at construction). */
  get randomState(): number {
    return this.options.randomState;
  }
  /** Training loss per epoch of 'sgd' and 'adam' (across warm starts and `partialFit` calls); per iteration of 'lbfgs'. */
  get lossCurve(): number[] {
    return [...this.#fitted().lossCurve];
  }
  /** mlpkit: validation loss per epoch (with earlyStopping). */
  get validationLossCurve(): number[] {
    return [...this.#fitted().validationLossCurve];
  }
  /** Validation accuracy (classifier) or R² (regressor) per epoch with earlyStopping, else undefined. */
  get validationScores(): number[] | undefined {
    const scores = this.#fitted().validationScores;
    return scores && [...scores];
  }
  /** The validation score of the weights kept (the best one when earlyStoppingMetric is 'score'); undefined without earlyStopping. */
  get bestValidationScore(): number | undefined {
    return this.#fitted().bestValidationScore;
  }
  /** Smallest training loss so far of 'sgd' and 'adam' without earlyStopping; undefined otherwise, as in scikit-learn. */
  get bestLoss(): number | undefined {
    return this.#fitted().bestLoss;
  }
  /** The loss of the last epoch (or of the 'lbfgs' solution), with the L2 penalty. */
  get loss(): number {
    return this.#fitted().loss;
  }
  /** Epochs run ('sgd', 'adam': across warm starts and `partialFit` calls) or iterations of the last 'lbfgs' fit. */
  get nIter(): number {
    return this.#fitted().nIter;
  }
  /** Training samples seen by the stochastic solvers (scikit-learn's t_). */
  get t(): number {
    return this.#fitted().t;
  }
  /** Features of an input row. */
  get nFeaturesIn(): number {
    return this.model.inputs;
  }
  /** Output units. */
  get nOutputs(): number {
    return this.model.outputs;
  }
  /** Layers including the input layer, as scikit-learn counts them. */
  get nLayers(): number {
    return this.model.layers.length + 1;
  }
  /** Activation of the output layer, in scikit-learn's words: 'softmax', 'logistic' or 'identity'. */
  get outActivation(): 'softmax' | 'logistic' | 'identity' {
    const a = this.model.layers.at(-1)!.activation;
    return a === 'sigmoid' ? 'logistic' : (a as 'softmax' | 'identity');
  }

  /**
   * Weight matrices in scikit-learn's layout: `coefs[l][i][j]` is the weight from unit i of
   * layer l to unit j of layer l + 1 (`[in][out]`, the transpose of `MLP.getWeights`). With
   * `standardize`, the first layer's inputs are the standardized features.
   * @example
   * ```ts
   * clf.coefs[0].length;    // features
   * clf.coefs[0][0].length; // units of the first hidden layer
   * ```
   */
  get coefs(): number[][][] {
    return this.model.getWeights().map(({ weights }, l) => {
      const { inputs, units } = this.#layerShape(l);
      return Array.from({ length: inputs }, (_, i) => Array.from({ length: units }, (_, j) => weights[j * inputs + i]!));
    });
  }
  /**
   * Replaces the weight matrices (`[in][out]` per layer, the shapes of `coefs`); the biases stay.
   * @example
   * ```ts
   * clf.coefs = clf.coefs.map((w) => w.map((row) => row.map((v) => v / 2)));
   * ```
   */
  set coefs(coefs: readonly (readonly (readonly number[])[])[]) {
    const layers = this.model.getWeights();
    if (!Array.isArray(coefs) || coefs.length !== layers.length) throw rangeError('coefs', `an array of ${layers.length} matrices`, coefs);
    const next = layers.map(({ bias }, l) => {
      const { inputs, units } = this.#layerShape(l);
      const w = coefs[l]!;
      if (!Array.isArray(w) || w.length !== inputs) throw rangeError(`coefs[${l}]`, `${inputs} rows of ${units} weights`, w);
      const weights = new Float32Array(inputs * units);
      w.forEach((row, i) => {
        if (!Array.isArray(row) || row.length !== units) throw rangeError(`coefs[${l}][${i}]`, `a row of ${units} weights`, row);
        row.forEach((v, j) => {
          if (typeof v !== 'number' || !Number.isFinite(v)) throw typeError(`coefs[${l}][${i}][${j}]`, 'a finite number', v);
          weights[j * inputs + i] = v;
        });
      });
      return { weights, bias };
    });
    this.model.setWeights(next);
  }
  /** Bias vectors, one per layer after the input layer. */
  get intercepts(): number[][] {
    return this.model.getWeights().map(({ bias }, l) => (bias ? Array.from(bias) : new Array<number>(this.#layerShape(l).units).fill(0)));
  }
  /**
   * Replaces the bias vectors (the shapes of `intercepts`); the weights stay.
   * @example
   * ```ts
   * reg.intercepts = reg.intercepts.map((b) => b.map(() => 0));
   * ```
   */
  set intercepts(intercepts: readonly (readonly number[])[]) {
    const layers = this.model.getWeights();
    if (!Array.isArray(intercepts) || intercepts.length !== layers.length) {
      throw rangeError('intercepts', `an array of ${layers.length} bias vectors`, intercepts);
    }
    const next = layers.map(({ weights }, l) => {
      const { units } = this.#layerShape(l);
      const b = intercepts[l]!;
      if (!Array.isArray(b) || b.length !== units) throw rangeError(`intercepts[${l}]`, `a vector of ${units} biases`, b);
      b.forEach((v, j) => {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw typeError(`intercepts[${l}][${j}]`, 'a finite number', v);
      });
      return { weights, bias: Float32Array.from(b) };
    });
    this.model.setWeights(next);
  }

  #layerShape(l: number): { inputs: number; units: number } {
    const layers = this.model.layers;
    return { inputs: l === 0 ? this.model.inputs : layers[l - 1]!.units, units: layers[l]!.units };
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

  /**
   * Every option, defaults filled in (the seed drawn at construction included): what a
   * `clone()` is built from.
   * @example
   * ```ts
   * new MLPClassifier({ alpha: 1e-3 }).getParams().hiddenLayerSizes; // [100]
   * ```
   */
  getParams(): EstimatorOptions {
    const { hiddenLayerSizes, threads, ...rest } = this.options;
    return { ...rest, hiddenLayerSizes: [...hiddenLayerSizes], ...(threads === undefined ? {} : { threads }) };
  }

  /**
   * Changes options; they apply from the next `fit` or `partialFit` (with `warmStart`, a fit
   * continues from the current weights under the new options). Every value is checked first:
   * a bad one throws and changes nothing.
   * @example
   * ```ts
   * clf.setParams({ maxIter: 20, warmStart: true });
   * await clf.fit(X, y); // 20 more epochs
   * ```
   */
  setParams(params: EstimatorOptions): this {
    const given = checkOptions<EstimatorOptions>('params', params);
    checkKnownKeys('params', given, OPTION_KEYS);
    const merged = { ...this.params, ...given };
    const options = resolveOptions(merged, 'params');
    this.options = options;
    this.params = { ...merged, randomState: options.randomState };
    return this;
  }

  /** A new, unfitted estimator of the same class with the same options (and seed). */
  abstract clone(): MLPEstimator;

  /** The options of a network for this task, batches of `batchSize` rows. */
  #networkOptions(task: Task, batchSize: number): MLPOptions {
    const o = this.options;
    const hidden: Activation = o.activation === 'logistic' ? 'sigmoid' : o.activation;
    const optimizer: OptimizerOptions =
      o.solver === 'adam'
        ? { type: 'adam', learningRate: o.learningRateInit, beta1: o.beta1, beta2: o.beta2, epsilon: o.epsilon }
        : o.solver === 'lbfgs' || o.momentum === 0
          ? // Momentum 0 is plain SGD, with or without Nesterov's look-ahead (as in scikit-learn);
            // 'lbfgs' never calls the network's optimizer.
            { type: 'sgd', learningRate: o.learningRateInit }
          : { type: o.nesterovsMomentum ? 'nesterov' : 'momentum', learningRate: o.learningRateInit, momentum: o.momentum };
    const layers: LayerOptions[] = [
      ...o.hiddenLayerSizes.map((units) => ({ units, activation: hidden })),
      { units: task.outputs, activation: task.output },
    ];
    return {
      inputs: task.features,
      layers,
      loss: task.loss,
      optimizer,
      l2: o.alpha / (2 * batchSize),
      dropout: o.hiddenLayerSizes.length > 0 && o.solver !== 'lbfgs' ? o.dropout : 0,
      seed: o.randomState,
      backend: o.backend,
      standardize: o.standardize,
      ...(o.threads ? { threads: o.threads } : {}),
    };
  }

  /**
   * The network a fit trains: a new one on the first pass, else a copy of the fitted one
   * (its weights and scaler, and with `keepOptimizer` its optimizer state and epoch count)
   * under the current options. The fitted network itself is never touched, so a fit that
   * fails leaves it as it was.
   */
  #networkFor(task: Task, batchSize: number, firstPass: boolean, keepOptimizer: boolean): MLP {
    const options = this.#networkOptions(task, batchSize);
    if (firstPass) return new MLP(options);
    const old = this.net!;
    const spec = normalizeModelSpec(options);
    if (!sameShape(old.spec, spec)) {
      throw new RangeError(
        `warmStart and partialFit continue the fitted network, ${shapeText(old.spec)}, which the options and data now ` +
          `describe as ${shapeText(spec)}; fit without warmStart to start over`,
      );
    }
    const record = old._record(keepOptimizer && old.spec.optimizer.type === spec.optimizer.type);
    const o = this.options;
    return MLP._fromRecord({ ...record, spec }, { backend: o.backend, ...(o.threads ? { threads: o.threads } : {}) });
  }

  /**
   * One fit (or, `incremental`, one `partialFit` epoch) with scikit-learn's rules: a first pass
   * starts over; `warmStart` and `partialFit` continue the weights, the counters and the curves.
   */
  protected async train(X: MatrixInput, task: Task, incremental: boolean, extra: FitOptions = {}, score?: Scorer): Promise<void> {
    const o = this.options;
    const firstPass = !this.net || !this.#state || (!o.warmStart && !incremental);
    if (o.solver === 'lbfgs') {
      if (Object.keys(checkOptions<FitOptions>('fit options', extra)).length > 0) {
        throw rangeError('fit options', "none with solver 'lbfgs' (callbacks and signal apply to 'sgd' and 'adam')", extra);
      }
      return this.#trainLbfgs(X, task, firstPass);
    }
    const batchSize = o.batchSize === 'auto' ? Math.min(200, task.rows) : Math.min(o.batchSize, task.rows);
    const state = firstPass ? freshState(o) : copyState(this.#state!);
    // A fit (not partialFit) makes a new optimizer in scikit-learn: the rate starts over.
    if (!incremental) state.learningRate = o.learningRateInit;
    if (o.earlyStopping && !incremental && !state.validationScores) {
      state.validationScores = [];
      state.bestValidationScore = -Infinity;
      state.bestLoss = undefined;
    }
    const validating = o.earlyStopping && !incremental;

    // The validation split of scikit-learn's early stopping, made here so that the score can
    // be computed on it: seeded, stratified by class for a single-label classifier.
    let trainX: MatrixInput = X;
    let trainY: Float32Array = task.targets;
    let validation: { x: Float32Array; y: Float32Array; rows: number } | undefined;
    if (validating) {
      if (task.strata) checkStratifiable(task.strata);
      const split = holdOut(task.rows, o.validationFraction, o.randomState, task.strata, 'validationFraction');
      const xs = toFlatMatrix('X', X, task.features).data;
      trainX = selectRows(xs, task.features, split.train);
      trainY = selectRows(task.targets, task.outputs, split.train);
      validation = {
        x: selectRows(xs, task.features, split.test),
        y: selectRows(task.targets, task.outputs, split.test),
        rows: split.test.length,
      };
    }
    const rows = validation ? task.rows - validation.rows : task.rows;
    const net = this.#networkFor(task, Math.min(batchSize, rows), firstPass, incremental);
    const sgd = o.solver === 'sgd';
    net._learningRateScale = sgd ? state.learningRate / o.learningRateInit : 1;

    const onEpochEnd = async (epoch: number, logs: EpochLogs): Promise<boolean> => {
      state.nIter++;
      state.t += rows;
      state.loss = logs.loss;
      state.lossCurve.push(logs.loss);
      let value: number;
      let epochScore: number | undefined;
      if (validation) {
        state.validationLossCurve.push(logs.valLoss!);
        epochScore = score!(net.predict(validation.x) as Float32Array, validation.y, validation.rows);
        state.validationScores!.push(epochScore);
        value = o.earlyStoppingMetric === 'score' ? epochScore : -logs.valLoss!;
      } else {
        value = -logs.loss;
      }
      // scikit-learn's rule: no improvement unless `tol` better than the running best, which
      // itself follows every improvement however small.
      if (value < state.best + o.tol) state.noImprovement++;
      else state.noImprovement = 0;
      if (value > state.best) {
        state.best = value;
        if (validation) {
          state.bestValidationScore = epochScore;
          state.bestParams = net._params();
        } else {
          state.bestLoss = logs.loss;
        }
      }
      if (sgd && o.learningRate === 'invscaling') state.learningRate = o.learningRateInit / (state.t + 1) ** o.powerT;
      let go = true;
      if (state.noImprovement > o.nIterNoChange) {
        if (sgd && o.learningRate === 'adaptive' && state.learningRate > 1e-6) {
          state.learningRate /= 5;
          state.noImprovement = 0;
          if (o.verbose) console.log(`Setting learning rate to ${state.learningRate}`);
        } else {
          go = false;
          if (o.verbose) {
            console.log(
              `${validation ? 'Validation score' : 'Training loss'} did not improve more than tol=${o.tol} for ${o.nIterNoChange} consecutive epochs. Stopping.`,
            );
          }
        }
      }
      if (sgd) net._learningRateScale = state.learningRate / o.learningRateInit;
      if (o.verbose) {
        console.log(
          `Iteration ${state.nIter}, loss = ${logs.loss.toFixed(8)}` +
            (epochScore === undefined ? '' : `, validation score = ${epochScore}`),
        );
      }
      const verdict = extra.onEpochEnd ? await extra.onEpochEnd(epoch, logs) : undefined;
      return go && verdict !== false;
    };

    // The new network and state replace the fitted ones only once training has succeeded: a
    // fit that fails (bad X, divergence, a throwing callback) leaves the estimator as it was.
    try {
      await net.fit(trainX, trainY, {
        ...extra,
        epochs: (incremental ? 1 : o.maxIter) + net.epochsTrained,
        initialEpoch: net.epochsTrained,
        batchSize: Math.min(batchSize, rows),
        shuffle: o.shuffle,
        ...(validation ? { validationData: [validation.x, validation.y] } : {}),
        onEpochEnd,
      });
      if (validation && state.bestParams) net._setParams(state.bestParams);
    } catch (error) {
      net.dispose();
      throw error;
    }
    this.#commit(net, state);
  }

  async #trainLbfgs(X: MatrixInput, task: Task, firstPass: boolean): Promise<void> {
    const o = this.options;
    const net = this.#networkFor(task, task.rows, firstPass, false);
    try {
      const objective = net._objective(X, task.targets);
      const size = net.parameterCount;
      const params = new Float32Array(size);
      const grads = new Float32Array(size);
      const result = minimizeLbfgs(
        (x, g) => {
          params.set(x);
          const loss = objective.evaluate(params, grads);
          g.set(grads);
          return loss;
        },
        Float64Array.from(net._params()),
        { maxIter: o.maxIter, maxFun: o.maxFun, gtol: o.tol },
      );
      const solution = Float32Array.from(result.x);
      const bad = solution.findIndex((v) => !Number.isFinite(v));
      if (bad >= 0 || !Number.isFinite(result.f)) throw new TrainingDivergedError(bad >= 0 ? solution[bad]! : result.f);
      net._setParams(solution);
      if (o.verbose)
        console.log(
          `L-BFGS: ${result.iterations} iterations, ${result.evaluations} evaluations, loss = ${result.f}, stopped by ${result.stop}`,
        );
      const state = freshState(o);
      state.nIter = result.iterations;
      state.loss = result.f;
      state.lossCurve = result.losses;
      this.#commit(net, state);
    } catch (error) {
      net.dispose();
      throw error;
    }
  }

  #commit(net: MLP, state: FitState): void {
    if (this.net !== net) this.net?.dispose();
    this.net = net;
    this.#state = state;
  }

  /** The fitted network's raw outputs for X. */
  protected outputsOf(X: MatrixInput): { data: Float32Array; rows: number } {
    this.#fitted();
    const xs = toFlatMatrix('X', X, this.net!.inputs); // bytes and doubles are read a chunk at a time
    return { data: this.net!.predict(xs.data) as Float32Array, rows: xs.rows };
  }

  /** Whether a fit would start over rather than continue. */
  protected get fitted(): boolean {
    return this.net !== undefined && this.#state !== undefined;
  }

  protected encode(type: 'MLPClassifier' | 'MLPRegressor', classes?: readonly Label[]): Uint8Array {
    this.#fitted();
    return encodeModel({
      ...this.net!._record(),
      estimator: { type, params: storedParams(this.params), ...(classes ? { classes } : {}) },
    });
  }

  protected restore(net: MLP): void {
    this.net = net;
    this.#state = freshState(this.options);
  }

  /** Frees the network's backend memory. */
  dispose(): void {
    this.net?.dispose();
  }

  #fitted(): FitState {
    if (!this.net || !this.#state) throw new NotFittedError(`this ${this.constructor.name} is not fitted yet; call fit(X, y) first`);
    return this.#state;
  }
}

/** A validation score of outputs against targets (rows × outputs): accuracy or R². */
type Scorer = (outputs: Float32Array, targets: Float32Array, rows: number) => number;

/**
 * scikit-learn's check before a stratified split: every class needs two members, one for
 * each side.
 */
function checkStratifiable(strata: Int32Array): void {
  const counts = new Map<number, number>();
  for (const c of strata) counts.set(c, (counts.get(c) ?? 0) + 1);
  const least = Math.min(...counts.values());
  if (least < 2) {
    throw new RangeError(
      `y: the least populated class in y has only ${least} member, which is too few for the stratified validation split of ` +
        'earlyStopping: every class needs at least 2 members (or fit without earlyStopping)',
    );
  }
}

function checkLabels(y: unknown, rows?: number, name = 'y'): Label[] {
  if (!(Array.isArray(y) || (ArrayBuffer.isView(y) && !(y instanceof DataView)))) {
    throw typeError(name, 'an array of labels, one per row', y);
  }
  const labels = Array.from(y as ArrayLike<unknown>);
  if (rows !== undefined && labels.length !== rows)
    throw new RangeError(`${name} must have ${rows} labels to match X, got ${labels.length}`);
  labels.forEach((label, i) => {
    if (!(typeof label === 'string' || typeof label === 'boolean' || (typeof label === 'number' && Number.isFinite(label)))) {
      throw typeError(`${name}[${i}]`, 'a label (a string, a finite number or a boolean)', label);
    }
  });
  return labels as Label[];
}

/** Sorted distinct labels: booleans, then numbers, then strings. */
function sortedClasses(labels: readonly Label[]): Label[] {
  const rank = (v: Label) => (typeof v === 'boolean' ? 0 : typeof v === 'number' ? 1 : 2);
  return [...new Set(labels)].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

/** Labels as text for messages: [0, 1, 2]. */
const labelsText = (labels: readonly Label[]) => `[${labels.map((l) => describe(l)).join(', ')}]`;

/** A RangeError in the words of `rangeError`, for a received value already written as text. */
const mismatch = (name: string, expected: string, received: string) => new RangeError(`${name} must be ${expected}, got ${received}`);

/** A multilabel indicator matrix: rows of 0/1 (or booleans), all of the same length ≥ 2. */
function indicatorMatrix(y: readonly unknown[]): { targets: Float32Array; labels: number } {
  const labels = Array.isArray(y[0]) ? (y[0] as unknown[]).length : 0;
  if (labels < 2) throw rangeError('y[0]', 'a row of an indicator matrix with at least 2 labels (0 or 1 each)', y[0]);
  const targets = new Float32Array(y.length * labels);
  y.forEach((row, r) => {
    if (!Array.isArray(row) || row.length !== labels) throw rangeError(`y[${r}]`, `a row of ${labels} labels (0 or 1 each)`, row);
    row.forEach((v: unknown, j) => {
      if (!(v === 0 || v === 1 || v === true || v === false)) throw rangeError(`y[${r}][${j}]`, '0 or 1 (or a boolean)', v);
      targets[r * labels + j] = v === 1 || v === true ? 1 : 0;
    });
  });
  return { targets, labels };
}

/** Rows of an indicator matrix from per-label probabilities: 1 where p > 0.5. */
const indicatorsOf = (proba: number[][]) => proba.map((row) => row.map((p) => (p > 0.5 ? 1 : 0)));

/** Options of `MLPClassifier.partialFit`. */
export interface PartialFitOptions {
  /** Every class that any call will see: required on the first call, and if given later, the same. */
  classes?: ArrayLike<Label>;
}

/**
 * A neural-network classifier: softmax + cross-entropy for several classes, one sigmoid
 * output + binary cross-entropy for two, and for multilabel targets (an indicator matrix y)
 * one sigmoid output and binary cross-entropy per label. Labels may be strings, numbers or
 * booleans.
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
  #multilabel = false;

  constructor(options: EstimatorOptions = {}) {
    super(options, 'MLPClassifier options');
  }

  /** The class labels, sorted: the columns of `predictProba`. For multilabel targets, the label indices 0 … k − 1. */
  get classes(): readonly Label[] {
    if (!this.#classes) throw new NotFittedError('this MLPClassifier is not fitted yet; call fit(X, y) first');
    return this.#classes;
  }

  /** Whether the classifier was fitted on multilabel targets (an indicator matrix). */
  get multilabel(): boolean {
    if (!this.#classes) throw new NotFittedError('this MLPClassifier is not fitted yet; call fit(X, y) first');
    return this.#multilabel;
  }

  /** The task of labels y over `classes` (all of y's labels must be among them). */
  #task(X: MatrixInput, y: unknown, classes?: readonly Label[]): { task: Task; classes: Label[]; multilabel: boolean } {
    if (isNested(y) && y.length > 0) {
      const { targets, labels } = indicatorMatrix(y as readonly unknown[]);
      const { features } = shapeOf(X, y.length);
      if (classes && classes.length !== labels) {
        throw mismatch('classes', `the ${labels} label indices of y's indicator matrix`, labelsText(classes));
      }
      const indices = Array.from({ length: labels }, (_, i) => i);
      return {
        task: { features, outputs: labels, output: 'sigmoid', loss: 'binary-cross-entropy', targets, rows: y.length },
        classes: indices,
        multilabel: true,
      };
    }
    const labels = checkLabels(y);
    const { rows, features } = shapeOf(X, labels.length);
    const known = classes ? [...classes] : sortedClasses(labels);
    if (known.length < 2) {
      if (classes) throw mismatch('classes', 'labels of at least two classes', labelsText(known));
      throw rangeError('y', 'labels of at least two classes', `only ${describe(known[0])}`);
    }
    const index = new Map(known.map((c, i) => [c, i]));
    const strata = Int32Array.from(labels, (l, i) => {
      const k = index.get(l);
      if (k === undefined) throw rangeError(`y[${i}]`, `one of the classes ${labelsText(known)}`, l);
      return k;
    });
    const binary = known.length === 2;
    const outputs = binary ? 1 : known.length;
    const targets = new Float32Array(rows * outputs);
    strata.forEach((k, r) => {
      if (binary) targets[r] = k;
      else targets[r * outputs + k] = 1;
    });
    return {
      task: {
        features,
        outputs,
        output: binary ? 'sigmoid' : 'softmax',
        loss: binary ? 'binary-cross-entropy' : 'cross-entropy',
        targets,
        rows,
        strata,
      },
      classes: known,
      multilabel: false,
    };
  }

  /** Accuracy (subset accuracy for multilabel) of network outputs against targets. */
  #scorer(multilabel: boolean): Scorer {
    return (outputs, targets, rows) => {
      const k = outputs.length / rows;
      let right = 0;
      for (let r = 0; r < rows; r++) {
        if (k === 1) right += (outputs[r]! > 0.5 ? 1 : 0) === targets[r] ? 1 : 0;
        else if (!multilabel) right += targets[r * k + argmax(outputs, r * k, k)] === 1 ? 1 : 0;
        else {
          let all = true;
          for (let j = 0; j < k; j++) all &&= (outputs[r * k + j]! > 0.5 ? 1 : 0) === targets[r * k + j];
          right += all ? 1 : 0;
        }
      }
      return right / rows;
    };
  }

  /**
   * Trains on X (rows) and one label per row, or an indicator matrix (rows of 0/1, one column
   * per label) for multilabel classification. Starts over unless `warmStart` is set, which
   * continues from the fitted weights (y must then have the same classes).
   * @param options extra `fit` options (callbacks, signal) passed to the network ('sgd' and 'adam').
   * @example
   * ```ts
   * await new MLPClassifier({ solver: 'lbfgs', hiddenLayerSizes: [50] }).fit(X, labels);
   * await new MLPClassifier().fit(X, [[1, 0, 1], [0, 1, 0], …]); // multilabel
   * ```
   */
  async fit(X: MatrixInput, y: ArrayLike<Label> | readonly (readonly (number | boolean)[])[], options?: FitOptions): Promise<this> {
    const { task, classes, multilabel } = this.#task(X, y);
    const continuing = this.options.warmStart && this.fitted;
    if (continuing && (multilabel !== this.#multilabel || labelsText(classes) !== labelsText(this.#classes!))) {
      throw mismatch(
        'y',
        `the same classes as in the previous call to fit (warmStart): previously got ${this.#multilabel ? `${this.#classes!.length} labels (multilabel)` : labelsText(this.#classes!)}`,
        multilabel ? `${classes.length} labels (multilabel)` : labelsText(classes),
      );
    }
    await this.train(X, task, false, options, this.#scorer(multilabel));
    this.#classes = classes;
    this.#multilabel = multilabel;
    return this;
  }

  /**
   * One epoch of 'sgd' or 'adam' on (X, y), continuing from the fitted weights and optimizer
   * state: for data that arrives in parts or does not fit in memory. The first call must give
   * every class in `options.classes` (the data of one call need not show all of them); later
   * calls refuse a label outside them. Early stopping does not apply.
   * @example
   * ```ts
   * const clf = new MLPClassifier({ solver: 'sgd' });
   * for await (const { X, y } of batches) await clf.partialFit(X, y, { classes: ['cat', 'dog', 'fish'] });
   * ```
   */
  async partialFit(
    X: MatrixInput,
    y: ArrayLike<Label> | readonly (readonly (number | boolean)[])[],
    options: PartialFitOptions & FitOptions = {},
  ): Promise<this> {
    if (this.options.solver === 'lbfgs') throw rangeError('solver', "a stochastic solver ('sgd' or 'adam') for partialFit", 'lbfgs');
    const { classes: given, ...fitOptions } = checkOptions<PartialFitOptions & FitOptions>('options', options);
    let classes: Label[] | undefined;
    if (given !== undefined) {
      const labels = checkLabels(given, undefined, 'classes');
      classes = sortedClasses(labels);
      if (classes.length !== labels.length) throw mismatch('classes', 'distinct labels', labelsText(labels));
    }
    const first = !this.fitted || !this.#classes;
    if (first && !classes) throw rangeError('options.classes', 'every class, on the first call to partialFit', given);
    if (!first && classes && labelsText(classes) !== labelsText(this.#classes!)) {
      throw mismatch('options.classes', `the classes of the first call to partialFit, ${labelsText(this.#classes!)}`, labelsText(classes));
    }
    const known = classes ?? this.#classes!;
    const { task, multilabel } = this.#task(X, y, known);
    if (!first && multilabel !== this.#multilabel) {
      throw rangeError('y', this.#multilabel ? 'an indicator matrix, as in the first call' : 'labels, as in the first call', y);
    }
    await this.train(X, task, true, fitOptions, this.#scorer(multilabel));
    this.#classes = multilabel ? Array.from({ length: task.outputs }, (_, i) => i) : [...known];
    this.#multilabel = multilabel;
    return this;
  }

  /** Probability of each class (columns in `classes` order) for each row of X; per label for multilabel. */
  predictProba(X: MatrixInput): number[][] {
    const { data, rows } = this.outputsOf(X);
    const k = this.#multilabel ? data.length / rows : this.classes.length;
    if (k === 2 && !this.#multilabel) return Array.from(data, (p) => [1 - p, p]);
    return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * k, (r + 1) * k)));
  }

  /**
   * The natural logarithm of `predictProba` (−Infinity where a float32 probability is 0).
   * @example
   * ```ts
   * clf.predictLogProba(X)[0]; // [-0.02, -3.9, …]
   * ```
   */
  predictLogProba(X: MatrixInput): number[][] {
    return this.predictProba(X).map((row) => row.map(Math.log));
  }

  /** The most probable class of each row of X; for multilabel, rows of 0/1 (1 where the label's probability is > 0.5). */
  predict(X: MatrixInput): Label[] | number[][] {
    const proba = this.predictProba(X);
    if (this.#multilabel) return indicatorsOf(proba);
    return proba.map((p) => this.classes[p.indexOf(Math.max(...p))]!);
  }

  /**
   * Accuracy on (X, y): the fraction of rows predicted right (for multilabel, rows whose every label is right).
   * @example
   * ```ts
   * clf.score(XTest, yTest); // 0.96
   * ```
   */
  score(X: MatrixInput, y: ArrayLike<Label> | readonly (readonly (number | boolean)[])[]): number {
    const predicted = this.predict(X);
    if (this.#multilabel) {
      if (!isNested(y)) throw typeError('y', 'an indicator matrix (rows of 0/1), as in fit', y);
      const { targets, labels } = indicatorMatrix(y as readonly unknown[]);
      if (y.length !== predicted.length || labels !== this.classes.length) {
        throw mismatch('y', `${predicted.length} rows of ${this.classes.length} labels`, `${y.length} rows of ${labels}`);
      }
      return (predicted as number[][]).filter((row, r) => row.every((v, j) => v === targets[r * labels + j])).length / y.length;
    }
    const labels = checkLabels(y, predicted.length);
    return (predicted as Label[]).filter((p, i) => p === labels[i]).length / labels.length;
  }

  /** A new, unfitted classifier with the same options (and seed). */
  clone(): MLPClassifier {
    return new MLPClassifier(this.getParams());
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
    if (this.multilabel)
      throw new RangeError('toONNX does not export a multilabel classifier; export clf.model (per-label probabilities) instead');
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
    const last = record.spec.layers.at(-1)!;
    const outputs = last.units;
    // Several sigmoid outputs, one per label, are a multilabel classifier.
    const multilabel = last.activation === 'sigmoid' && outputs > 1;
    if (classes < 2 || outputs !== (classes === 2 && !multilabel ? 1 : classes)) {
      throw new RangeError(
        `model file is corrupt: its ${classes} class labels do not match an output layer of ${outputs} unit${outputs === 1 ? '' : 's'}`,
      );
    }
    const clf = new MLPClassifier({ ...paramsFromFile(record.estimator.params), ...options });
    clf.restore(MLP._fromRecord(record, options));
    clf.#classes = [...record.estimator.classes];
    clf.#multilabel = multilabel;
    return clf;
  }
}

/** Regression targets: a number per row, or rows of numbers. */
export type RegressionTargets = readonly number[] | readonly (readonly number[])[] | Float32Array | Float64Array;

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

  #task(X: MatrixInput, y: RegressionTargets): Task {
    const outputs = isNested(y) ? (y[0]?.length ?? 0) : 1;
    if (outputs < 1) throw rangeError('y', 'rows with at least one target', y);
    const { rows, features } = shapeOf(X, isNested(y) ? y.length : ((y as ArrayLike<number>).length ?? 0));
    const targets = toTargets('y', y, rows, outputs, 'half-mse').data;
    return { features, outputs, output: 'identity', loss: 'half-mse', targets, rows };
  }

  static #scorer: Scorer = (outputs, targets, rows) => r2Score(targets, outputs, outputs.length / rows);

  /**
   * Trains on X (rows) and y (one number per row, or rows of targets). Starts over unless
   * `warmStart` is set, which continues from the fitted weights.
   * @param options extra `fit` options (callbacks, signal) passed to the network ('sgd' and 'adam').
   * @example
   * ```ts
   * await new MLPRegressor({ solver: 'lbfgs', hiddenLayerSizes: [50] }).fit(X, y);
   * ```
   */
  async fit(X: MatrixInput, y: RegressionTargets, options?: FitOptions): Promise<this> {
    const task = this.#task(X, y);
    await this.train(X, task, false, options, MLPRegressor.#scorer);
    this.#outputs = task.outputs;
    return this;
  }

  /**
   * One epoch of 'sgd' or 'adam' on (X, y), continuing from the fitted weights and optimizer
   * state. Early stopping does not apply.
   * @example
   * ```ts
   * for (const { X, y } of parts) await reg.partialFit(X, y);
   * ```
   */
  async partialFit(X: MatrixInput, y: RegressionTargets, options: FitOptions = {}): Promise<this> {
    if (this.options.solver === 'lbfgs') throw rangeError('solver', "a stochastic solver ('sgd' or 'adam') for partialFit", 'lbfgs');
    const task = this.#task(X, y);
    await this.train(X, task, true, options, MLPRegressor.#scorer);
    this.#outputs = task.outputs;
    return this;
  }

  /** Predictions: a number per row, or rows of numbers when fitted on several targets (whatever the form of X). */
  predict(X: MatrixInput): number[] | number[][] {
    const { data, rows } = this.outputsOf(X);
    const k = this.#outputs;
    if (k === 1) return Array.from(data);
    return Array.from({ length: rows }, (_, r) => Array.from(data.subarray(r * k, (r + 1) * k)));
  }

  /**
   * Coefficient of determination R² on (X, y), averaged over the targets.
   * @example
   * ```ts
   * reg.score(XTest, yTest); // 0.93
   * ```
   */
  score(X: MatrixInput, y: RegressionTargets): number {
    const predicted = this.predict(X);
    const k = this.#outputs;
    const got = k === 1 ? Float64Array.from(predicted as number[]) : Float64Array.from((predicted as number[][]).flat());
    const want = toTargets('y', y, got.length / k, k, 'half-mse').data;
    return r2Score(want, got, k);
  }

  /** A new, unfitted regressor with the same options (and seed). */
  clone(): MLPRegressor {
    return new MLPRegressor(this.getParams());
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
    const reg = new MLPRegressor({ ...paramsFromFile(record.estimator.params), ...options });
    const net = MLP._fromRecord(record, options);
    reg.restore(net);
    reg.#outputs = net.outputs;
    return reg;
  }
}
