import type { Backend } from './backend.js';
import { BackendModel, finiteSnapshot, type StateSnapshot } from './backend-model.js';
import {
  isNested,
  shapeLike,
  toFlatMatrix,
  toMatrix,
  toTargets,
  type FlatMatrix,
  type Matrix,
  type MatrixInput,
  type TargetInput,
} from './data.js';
import {
  checkBoolean,
  checkInteger,
  checkKnownKeys,
  checkOptions,
  ModelBusyError,
  ModelDisposedError,
  NotFittedError,
  rangeError,
  typeError,
} from './errors.js';
import { initialParams } from './init.js';
import { layersFromParams, paramLayout, paramsFromLayers, type LayerWeights, type LayerWeightsInput, type ParamLayout } from './layout.js';
import { accuracyOf, classesOf } from './metrics.js';
import { decodeModel, encodeModel, metadataProblem, OPTIMIZER_VECTORS, type ModelRecord, type TrainingRecord } from './model-file.js';
import { resolveBackend } from './registry.js';
import { StandardScaler } from './scaler.js';
import { scheduledLearningRate } from './schedules.js';
import type { BackendName, LayerSpec, Loss, MLPOptions, ModelSpec } from './spec.js';
import { normalizeModelSpec, specToOptions } from './spec.js';
import { foldScaler, type DenseLayer } from './interop/dense.js';
import { formatSupport, ONNX_OPSETS } from './interop/formats.js';
import type { TfjsModelJson } from './interop/tfjs.js';
import type { Label } from './model-file.js';
import { VERSION } from './version.js';
import {
  normalizeFitOptions,
  prepareFitData,
  runAsync,
  runSync,
  TrainingDivergedError,
  firstNonFinite,
  type FitOptions,
  type History,
  type TrainingJob,
  type TrainingState,
} from './training.js';

export type { LayerWeights, LayerWeightsInput } from './layout.js';

/** What `evaluate` returns. */
export interface Evaluation {
  /** Mean loss, with the L2 penalty. */
  loss: number;
  /** Fraction of correct predictions, for classification losses (cross-entropies). */
  accuracy?: number;
}

/** Options of `MLP.load`. */
export interface LoadOptions {
  backend?: 'auto' | BackendName;
  threads?: number;
}

/** Options of `toONNX`. */
export interface OnnxOptions {
  /** The ONNX operator set to declare, 13 to 21. Default 13 (every op written is the same from 13 on). */
  opset?: number;
}

/** Rows of scratch memory a new model starts with; predictions and evaluations are chunked to it. */
const INITIAL_CAPACITY = 256;
/** Floats of the largest typed array the engine keeps on its own heap (64 bytes in V8). */
const ON_HEAP_FLOATS = 16;

/** Rows a prediction or an evaluation reads: as the caller gave them, and their scaling (mean, then scale). */
type RowsToRead = { data: FlatMatrix; rows: number; scaling?: Float64Array };

function checkThreads(value: unknown): number | undefined {
  return value === undefined ? undefined : checkInteger('threads', value, 1, 1024);
}

/**
 * The key under which `MLP.#restore` hands saved parameters to the constructor, in place of a
 * fresh initialization. A symbol of this module: no caller can pass it, and it never shows
 * in the options' keys.
 */
const RESTORED_PARAMS = Symbol('restored parameters');
type RestoringOptions = MLPOptions & { [RESTORED_PARAMS]?: Float32Array };

/**
 * A multi-layer perceptron: fully connected layers, each an affine map `W·x + b` followed by
 * an activation, trained by backpropagation on one of mlpkit's backends.
 *
 * @example
 * ```ts
 * import { MLP } from 'mlpkit';
 *
 * const net = new MLP({
 *   inputs: 2,
 *   layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }],
 *   loss: 'binary-cross-entropy',
 *   optimizer: { type: 'adam', learningRate: 0.05 },
 *   seed: 42,
 * });
 * await net.fit([[0, 0], [0, 1], [1, 0], [1, 1]], [0, 1, 1, 0], { epochs: 500, batchSize: 4 });
 * net.predictClasses([[0, 1]]); // [1]
 * ```
 */
export class MLP {
  readonly #spec: ModelSpec;
  readonly #layout: ParamLayout;
  readonly #backend: Backend;
  readonly #model: BackendModel;
  readonly #standardize: boolean;
  readonly #state: TrainingState = { epochsTrained: 0, learningRateScale: 1 };
  #scaler: StandardScaler | undefined;
  #metadata: Record<string, unknown> | undefined;
  #history: History | undefined;
  // Two copies of the state for putting it back after a step or chunk that goes non-finite,
  // made once: a loop of trainBatch or fit calls then allocates none.
  #stateCopies: [StateSnapshot, StateSnapshot] | undefined;
  // Where predictions of a few values are computed (see #predictFlat), made once; twice the
  // on-heap limit, so that the engine keeps it off its heap.
  #smallOutputs: Float32Array | undefined;
  #training = false; // a fit is running: refuse another fit, trainBatch, setWeights and dispose
  #inFlight = false; // the backend is working asynchronously: refuse everything that touches it
  #disposed = false;

  /**
   * Builds a network and initializes its weights (seeded).
   * @param options inputs, layers, loss, optimizer and the rest; see {@link MLPOptions}.
   * @throws TypeError / RangeError for invalid options (the message names the option).
   * @throws BackendUnavailableError when the backend asked for cannot be loaded.
   */
  constructor(options: MLPOptions) {
    const spec = normalizeModelSpec(options);
    this.#spec = spec;
    this.#layout = paramLayout(spec.inputs, spec.layers);
    this.#standardize = options.standardize === undefined ? false : checkBoolean('standardize', options.standardize);
    const threads = checkThreads(options.threads);
    this.#backend = resolveBackend(options.backend ?? 'auto');
    this.#model = new BackendModel(this.#backend, spec, INITIAL_CAPACITY, threads);
    this.#model.setParams((options as RestoringOptions)[RESTORED_PARAMS] ?? initialParams(spec, this.#layout));
  }

  /** The backend in use: 'native', 'wasm' or 'js'. */
  get backend(): BackendName {
    return this.#backend.name;
  }
  /** Length of an input row. */
  get inputs(): number {
    return this.#spec.inputs;
  }
  /** Length of an output row. */
  get outputs(): number {
    return this.#spec.layers[this.#spec.layers.length - 1]!.units;
  }
  /** The layers, normalized (every default filled in). */
  get layers(): readonly LayerSpec[] {
    return this.#spec.layers;
  }
  /** The loss being minimized. */
  get loss(): Loss {
    return this.#spec.loss;
  }
  /** The seed of every random choice; pass it back as `seed` to reproduce this model. */
  get seed(): number {
    return this.#spec.seed;
  }
  /** Number of trainable parameters. */
  get parameterCount(): number {
    return this.#layout.size;
  }
  /** Updates applied so far. */
  /** Epochs trained so far, across fits (restored from a checkpoint: the `initialEpoch` to resume at). */
  get epochsTrained(): number {
    return this.#state.epochsTrained;
  }
  get step(): number {
    this.#check();
    return this.#model.step;
  }
  /** The history of the last `fit`, if any. */
  get history(): History | undefined {
    return this.#history;
  }
  /** The normalized model description (what a model file stores). */
  get spec(): ModelSpec {
    return this.#spec;
  }

  /**
   * Your own JSON data saved with the model (feature names, units, provenance…).
   * @example
   * ```ts
   * net.metadata = { features: ['age', 'income'], target: 'churn' };
   * MLP.load(net.save()).metadata; // { features: [...], target: 'churn' }
   * ```
   */
  get metadata(): Record<string, unknown> | undefined {
    return this.#metadata;
  }
  set metadata(value: Record<string, unknown> | undefined) {
    if (value !== undefined) {
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw typeError('metadata', 'a plain object or undefined', value);
      const problem = metadataProblem(value);
      if (problem) throw new TypeError(`metadata must be a plain object of JSON data: ${problem}`);
      let json: string;
      try {
        json = JSON.stringify(value);
      } catch (error) {
        throw new TypeError(`metadata must be JSON-serializable: ${(error as Error).message}`, { cause: error });
      }
      // What a file will hold: a Date, a boxed value or a toJSON that turns the object into
      // something else is refused here rather than written and then refused by load().
      const stored = JSON.parse(json) as unknown;
      const storedProblem = metadataProblem(stored);
      if (storedProblem) throw new TypeError(`metadata must be a plain object of JSON data: as JSON ${storedProblem}`);
      value = stored as Record<string, unknown>;
    }
    this.#metadata = value;
  }

  /** The scaler applied to every input, if any (set by `standardize` on the first fit, or assigned). */
  get scaler(): StandardScaler | undefined {
    return this.#scaler;
  }
  set scaler(scaler: StandardScaler | undefined) {
    if (scaler !== undefined) {
      if (!(scaler instanceof StandardScaler)) throw typeError('scaler', 'a StandardScaler or undefined', scaler);
      if (scaler.features !== this.inputs) {
        throw new RangeError(`scaler must be a StandardScaler fitted on ${this.inputs} features, got one fitted on ${scaler.features}`);
      }
    }
    this.#scaler = scaler;
  }

  /**
   * Trains the network without blocking the event loop: chunks of epochs run on a worker
   * thread, or on this thread between turns of the event loop (at least every 10 ms) when a
   * chunk takes under 2 ms, as a small network's epoch does.
   *
   * @param x training inputs: `number[][]` or a flat `Float32Array` (n × inputs).
   * @param y targets: rows of `outputs` values; a flat array when there is one output; or
   *   class indices with the 'cross-entropy' loss.
   * @param options epochs, batch size, validation, early stopping, callbacks, AbortSignal.
   * @returns the loss curves and why training ended. An abort resolves (stopReason 'aborted')
   *   with the weights trained so far.
   * @throws TypeError / RangeError for invalid data or options.
   * @throws TrainingDivergedError when the loss becomes non-finite (the last finite weights are kept).
   *
   * @example
   * ```ts
   * const history = await net.fit(x, y, {
   *   epochs: 100, batchSize: 32, validationSplit: 0.1,
   *   earlyStopping: { patience: 10, restoreBestWeights: true },
   *   onEpochEnd: (epoch, logs) => console.log(epoch, logs.loss, logs.valLoss),
   * });
   * ```
   */
  async fit(x: MatrixInput, y: TargetInput, options?: FitOptions): Promise<History> {
    const job = this.#startTraining(x, y, options, false);
    try {
      this.#history = await runAsync({
        ...job,
        onChunk: (running) => {
          this.#inFlight = running;
        },
      });
      return this.#history;
    } finally {
      this.#training = false;
    }
  }

  /**
   * Trains the network, blocking until done: the same as `fit` for scripts and tests. A flat
   * `Float32Array` (or byte) x may be read where it is rather than copied (`fit` copies it, since
   * the caller's code runs while it trains): a callback that writes into x changes the rows later
   * batches read, and one that transfers x's buffer away ends the fit with a TypeError.
   * @example
   * ```ts
   * const history = net.fitSync(x, y, { epochs: 20 });
   * console.log(history.loss.at(-1));
   * ```
   */
  fitSync(x: MatrixInput, y: TargetInput, options?: FitOptions): History {
    const job = this.#startTraining(x, y, options, true);
    try {
      this.#history = runSync(job);
      return this.#history;
    } finally {
      this.#training = false;
    }
  }

  #snapshots(): [StateSnapshot, StateSnapshot] {
    const vectors = OPTIMIZER_VECTORS[this.#spec.optimizer.type];
    this.#stateCopies ??= [this.#model.snapshot(vectors), this.#model.snapshot(vectors)];
    return this.#stateCopies;
  }

  /**
   * Checks and hands the data to the backend. A blocking fit may let the backend read x where it
   * is: the caller's code runs only in its callbacks, between two calls of the backend, and a
   * buffer transferred away by one is refused by name at the next call (BackendModel.train).
   */
  #startTraining(x: MatrixInput, y: TargetInput, options: FitOptions | undefined, blocking: boolean): TrainingJob {
    this.#checkIdle();
    const opts = normalizeFitOptions(options);
    const floor = opts.reduceLROnPlateau?.minLearningRate;
    if (floor !== undefined && floor > this.#spec.optimizer.learningRate) {
      throw rangeError('reduceLROnPlateau.minLearningRate', `at most the learning rate (${this.#spec.optimizer.learningRate})`, floor);
    }
    const fitScaler = this.#standardize
      ? (x: FlatMatrix, rows?: Int32Array) => new StandardScaler()._fitRows(x, this.inputs, rows, this.#backend.columnMoments)
      : undefined;
    const { train, validation, scaler, owned } = prepareFitData(
      this.#spec,
      x,
      y,
      opts,
      this.#scaler,
      fitScaler,
      this.#model.scalesOnGather,
    );
    const index = 'index' in train ? train.index : undefined;
    const rows = index ? index.length : train.rows;
    this.#model.reserve(Math.min(opts.batchSize, rows));
    this.#model.setData(train.x, train.y, train.rows, owned || blocking, 'scaling' in train ? train.scaling : undefined);
    this.#scaler = scaler; // only once the backend has taken the data: a refused fit changes nothing
    this.#training = true;
    return {
      model: this.#model,
      optimizer: this.#spec.optimizer,
      seed: this.#spec.seed,
      state: this.#state,
      rows,
      ...(index ? { index } : {}),
      ...(validation ? { validation } : {}),
      options: opts,
      snapshots: this.#snapshots(),
    };
  }

  /**
   * @internal The full-batch objective of (x, y) for a deterministic optimizer (the
   * estimators' L-BFGS): the data is checked, scaled (the scaler fitted first when the model
   * standardizes and has none, as `fit` does) and kept; `evaluate` then sets the parameters
   * and returns the mean loss + L2 penalty over all rows without dropout, its gradient in `grads`.
   */
  _objective(x: MatrixInput, y: TargetInput): { rows: number; evaluate(params: Float32Array, grads: Float32Array): number } {
    this.#checkIdle();
    const fitScaler = this.#standardize
      ? (x: FlatMatrix, rows?: Int32Array) => new StandardScaler()._fitRows(x, this.inputs, rows, this.#backend.columnMoments)
      : undefined;
    const { train, scaler } = prepareFitData(this.#spec, x, y, normalizeFitOptions({}), this.#scaler, fitScaler);
    this.#scaler = scaler;
    return {
      rows: train.rows,
      evaluate: (params, grads) => {
        this.#checkIdle();
        this.#model.setParams(params);
        const loss = this.#model.lossAndGradient(train.x, train.y, train.rows);
        this.#model.getGrads(grads);
        return loss;
      },
    };
  }

  /** @internal The parameters as one flat vector (the backend's layout). */
  _params(): Float32Array {
    this.#check();
    return this.#params();
  }

  /** @internal Replaces the flat parameter vector. */
  _setParams(params: Float32Array): void {
    this.#checkIdle();
    this.#model.setParams(params);
  }

  /**
   * @internal The factor on the optimizer's learning rate from the next chunk of training on:
   * the estimators set it between epochs for scikit-learn's 'invscaling' and 'adaptive' rates.
   */
  get _learningRateScale(): number {
    return this.#state.learningRateScale;
  }
  /** @internal */
  set _learningRateScale(scale: number) {
    this.#state.learningRateScale = scale;
  }

  /**
   * One forward + backward pass and optimizer update on a batch (online or custom loops).
   * @returns the batch's mean loss (with the L2 penalty) before the update.
   * @throws TrainingDivergedError when the loss or the updated weights are not finite (the weights are left as they were).
   * @example
   * ```ts
   * for (const [xb, yb] of batches) net.trainBatch(xb, yb);
   * ```
   */
  trainBatch(x: MatrixInput, y: TargetInput): number {
    this.#checkIdle();
    const xs = this.#inputs(x);
    const ys = toTargets('y', y, xs.rows, this.outputs, this.#spec.loss);
    const { optimizer } = this.#spec;
    const learningRate =
      scheduledLearningRate(optimizer.learningRate, optimizer.schedule, this.#model.step) * this.#state.learningRateScale;
    // The whole state before and after the step (weights, optimizer vectors, counters), to put
    // it back if the step goes non-finite.
    const vectors = OPTIMIZER_VECTORS[optimizer.type];
    const [before, after] = this.#snapshots();
    this.#model.snapshot(vectors, before);
    this.#model.reserve(xs.rows);
    const loss = this.#model.trainStep(xs.data, ys.data, xs.rows, learningRate);
    if (!Number.isFinite(loss)) {
      this.#model.restore(before); // no update was applied; the counters stay too
      throw new TrainingDivergedError(loss);
    }
    this.#model.snapshot(vectors, after);
    if (!finiteSnapshot(after)) {
      this.#model.restore(before);
      const bad = after.vectors.map((v) => v[firstNonFinite(v)]).find((v) => v !== undefined);
      throw new TrainingDivergedError(bad ?? NaN);
    }
    return loss;
  }

  /**
   * Outputs of the network for each row of x (probabilities after softmax or sigmoid).
   * @returns a flat `Float32Array` (n × outputs), or `number[][]` when x was `number[][]`.
   * @example
   * ```ts
   * net.predict([[0, 1], [1, 1]]); // [[0.97], [0.03]]
   * ```
   */
  predict(x: MatrixInput): Float32Array | number[][] {
    this.#check();
    return shapeLike(isNested(x), this.#predictFlat(this.#rowsToRead(x)), this.outputs);
  }

  #predictFlat(xs: RowsToRead): Float32Array {
    const length = xs.rows * this.outputs;
    if (length > ON_HEAP_FLOATS) {
      const out = new Float32Array(length);
      this.#model.predict(xs.data, xs.rows, out, xs.scaling);
      return out;
    }
    // An array this small lives on the engine's heap, and handing it to a native backend moves
    // it off the heap: an allocation and a later sweep on every call, which cost a prediction of
    // one row through a small network more than the network. It is computed into an array kept
    // off the heap and copied out.
    this.#smallOutputs ??= new Float32Array(2 * ON_HEAP_FLOATS);
    this.#model.predict(xs.data, xs.rows, this.#smallOutputs, xs.scaling);
    return this.#smallOutputs.slice(0, length);
  }

  /**
   * The predicted class of each row: the argmax of the outputs, or for a single sigmoid
   * output 1 when it is ≥ 0.5, else 0.
   * @returns an `Int32Array`, or `number[]` when x was `number[][]`.
   */
  predictClasses(x: MatrixInput): Int32Array | number[] {
    this.#check();
    const xs = this.#rowsToRead(x);
    const classes = classesOf(this.#predictFlat(xs), xs.rows, this.outputs);
    return isNested(x) ? Array.from(classes) : classes;
  }

  /**
   * Mean loss on (x, y) without training, and the accuracy for classification losses.
   * @example
   * ```ts
   * const { loss, accuracy } = net.evaluate(xTest, yTest);
   * ```
   */
  evaluate(x: MatrixInput, y: TargetInput): Evaluation {
    this.#check();
    const xs = this.#rowsToRead(x);
    const ys = toTargets('y', y, xs.rows, this.outputs, this.#spec.loss);
    const { loss: kind } = this.#spec;
    if (kind !== 'cross-entropy' && kind !== 'binary-cross-entropy') {
      return { loss: this.#model.evaluate(xs.data, ys.data, xs.rows, undefined, xs.scaling) };
    }
    const outputs = new Float32Array(xs.rows * this.outputs); // from the same forward pass as the loss
    const loss = this.#model.evaluate(xs.data, ys.data, xs.rows, outputs, xs.scaling);
    return { loss, accuracy: accuracyOf(outputs, ys.data, xs.rows, this.outputs, kind === 'binary-cross-entropy') };
  }

  /**
   * A copy of every layer's weights and bias.
   * @example
   * ```ts
   * const [{ weights, bias }] = net.getWeights(); // weights: units × inputs, row-major
   * ```
   */
  getWeights(): LayerWeights[] {
    this.#check();
    return layersFromParams(this.#layout, this.#params());
  }

  /**
   * Replaces every layer's weights and bias (validated: shapes and finite values).
   * `weights` may be a flat array (units × inputs) or rows (`number[][]`, one per unit).
   * @example
   * ```ts
   * net.setWeights([{ weights: [[0.1, -0.1], [-0.1, 0.1]], bias: null }, { weights: [[-0.1, 0.1]], bias: null }]);
   * ```
   */
  setWeights(layers: readonly LayerWeightsInput[]): void {
    this.#checkIdle();
    this.#model.setParams(paramsFromLayers(this.#layout, layers));
  }

  /**
   * Serializes the model (architecture, options, weights and scaler) into a versioned byte
   * format that loads on every backend.
   * @param options `training: true` also stores a checkpoint — the optimizer's state, the
   *   update counter (which drives Adam's bias correction, the schedule and the dropout masks)
   *   and the epochs trained (which drive the shuffles) — so that `MLP.load` and
   *   `fit(x, y, { initialEpoch })` continue training exactly where it stopped.
   * @example
   * ```ts
   * import { writeFileSync } from 'node:fs';
   * writeFileSync('model.mlpkit', net.save());
   * ```
   * @example
   * ```ts
   * await net.fit(x, y, { epochs: 5 });
   * const checkpoint = net.save({ training: true });
   * // later, or in another process, on any backend:
   * const resumed = MLP.load(checkpoint);
   * await resumed.fit(x, y, { epochs: 10, initialEpoch: 5 }); // the same weights as 10 epochs in one go
   * ```
   */
  save(options: { training?: boolean } = {}): Uint8Array {
    const opts = checkOptions<{ training: boolean }>('options', options);
    checkKnownKeys('options', opts, ['training']);
    const training = opts.training === undefined ? false : checkBoolean('options.training', opts.training);
    return encodeModel(this._record(training));
  }

  /** @internal What a model file stores about this network (with a training checkpoint when asked). */
  _record(training = false): ModelRecord {
    this.#check(); // also from a callback of fit, between two chunks of training
    const checkpoint = (): TrainingRecord => {
      const { vectors, counters } = this.#model.readOptimizerState(OPTIMIZER_VECTORS[this.#spec.optimizer.type]);
      return { vectors, counters: Array.from(counters), ...this.#state };
    };
    return {
      spec: this.#spec,
      params: this.#params(),
      standardize: this.#standardize,
      ...(this.#scaler ? { scaler: this.#scaler.toJSON() } : {}),
      ...(this.#metadata ? { metadata: this.#metadata } : {}),
      ...(training ? { training: checkpoint() } : {}),
    };
  }

  /**
   * The model as a TensorFlow.js layers model: the `model.json` object and the bytes of its
   * weights file (`weights.bin`, as the manifest names it), which `tf.loadLayersModel` reads
   * with the same predictions. A stored scaler is folded into the first layer. In browsers and
   * edge runtimes, `import 'mlpkit/tfjs'` once first (the Node entry includes it).
   * @example
   * ```ts
   * import * as tf from '@tensorflow/tfjs';
   * const { modelJson, weights } = net.toTfjs();
   * const model = await tf.loadLayersModel(tf.io.fromMemory({
   *   modelTopology: modelJson.modelTopology, weightSpecs: modelJson.weightsManifest[0].weights, weightData: weights.buffer,
   * }));
   * ```
   */
  toTfjs(): { modelJson: TfjsModelJson; weights: Uint8Array } {
    const dense = this.#dense();
    if (this.#scaler) dense[0] = foldScaler(dense[0]!, this.#scaler.mean!, this.#scaler.scale!);
    return formatSupport('tfjs').write(dense, `mlpkit ${VERSION}`);
  }

  /** Every layer with its weights, for the interchange formats; refuses a model whose scaler is not fitted. */
  #dense(): DenseLayer[] {
    this.#check();
    if (this.#standardize && !this.#scaler)
      throw new NotFittedError('this MLP standardizes its inputs but has no fitted scaler yet: call fit() first');
    return this.getWeights().map((w, l) => ({
      ...this.#layout.layers[l]!,
      ...w,
      activation: this.layers[l]!.activation,
      alpha: this.layers[l]!.alpha,
    }));
  }

  /**
   * The model as ONNX (an `onnx.ModelProto`, opset 13 by default) for onnxruntime and other
   * runtimes: input `"input"` float32 [batch, inputs] → output `"output"` float32
   * [batch, outputs]. Each layer is a `Gemm` and its activation's nodes; a stored scaler is
   * written as `Sub`/`Div` nodes in front, computing the same float32 inputs as mlpkit; the
   * weights are stored bit for bit. The model's metadata is kept in `metadata_props`
   * ("mlpkit.metadata", JSON). An `MLPClassifier` writes `"probabilities"` and `"label"` instead.
   * @param options `opset`: the operator set to declare (13–21).
   * @throws NotFittedError when the model standardizes its inputs but has no fitted scaler yet.
   * @example
   * ```ts
   * import { writeFileSync } from 'node:fs';
   * writeFileSync('model.onnx', net.toONNX());
   * // Python: onnxruntime.InferenceSession('model.onnx').run(['output'], {'input': x})
   * ```
   */
  toONNX(options: OnnxOptions = {}): Uint8Array {
    return this._toOnnx(options);
  }

  /** @internal `toONNX` with a classifier's or regressor's head and labels. */
  _toOnnx(options: OnnxOptions, head: { estimator?: 'MLPClassifier' | 'MLPRegressor'; classes?: readonly Label[] } = {}): Uint8Array {
    const opts = checkOptions<OnnxOptions>('options', options);
    checkKnownKeys('options', opts, ['opset']);
    const opset =
      opts.opset === undefined ? ONNX_OPSETS.default : checkInteger('options.opset', opts.opset, ONNX_OPSETS.min, ONNX_OPSETS.max);
    const { write } = formatSupport('onnx');
    return write({
      layers: this.#dense(),
      scaler: this.#scaler && { mean: this.#scaler.mean!, scale: this.#scaler.scale! },
      classes: head.classes,
      estimator: head.estimator,
      metadata: this.#metadata,
      producerVersion: VERSION,
      opset,
    });
  }

  /**
   * A network from an ONNX model of dense layers: `Gemm` (or `MatMul` + `Add`) nodes with
   * their activations (`Relu`, `Sigmoid`, `Tanh`, `LeakyRelu`, `Elu`, `Softmax` last, silu as
   * `Sigmoid` + `Mul`, gelu's tanh approximation), a leading `Flatten`, and input scaling by
   * `Sub`/`Div` (or `Mul`/`Add`) with constants, which becomes the model's scaler (folded into
   * the first layer instead when a factor is negative). Any other node on the way from the
   * input to the output is refused with its name, op type and what is supported. Files
   * written by `toONNX` load with their scaler and metadata.
   * @param bytes the `.onnx` file's bytes.
   * @param options `backend`, `threads` as in `MLP.load`.
   * @throws TypeError when bytes is not a Uint8Array or ArrayBuffer.
   * @throws RangeError for bytes that are no ONNX model, or a graph mlpkit cannot represent.
   * @example
   * ```ts
   * import { readFileSync } from 'node:fs';
   * const net = MLP.fromONNX(readFileSync('torch-model.onnx'), { backend: 'wasm' });
   * net.predict([[0.1, 0.2, 0.3]]);
   * ```
   */
  static fromONNX(bytes: Uint8Array | ArrayBuffer, options: LoadOptions = {}): MLP {
    const opts = checkOptions<LoadOptions>('options', options);
    checkKnownKeys('options', opts, ['backend', 'threads']);
    let data: Uint8Array;
    if (bytes instanceof Uint8Array) data = bytes;
    else if (bytes instanceof ArrayBuffer) data = new Uint8Array(bytes);
    else throw typeError('bytes', 'the bytes of an .onnx file (Uint8Array or ArrayBuffer)', bytes);
    const model = formatSupport('onnx').read(data);
    const net = new MLP({ inputs: model.inputs, layers: model.layers, seed: 0, ...opts });
    try {
      net.setWeights(model.weights);
      if (model.scaler) net.scaler = StandardScaler.fromJSON(model.scaler);
      if (model.metadata) net.metadata = model.metadata;
    } catch (error) {
      net.dispose();
      throw error;
    }
    return net;
  }

  /**
   * A network from a TensorFlow.js layers model: a `Sequential` model of `Dense` layers with
   * their activations (LeakyReLU and ELU layers after a linear Dense; Dropout is skipped at
   * inference). Any other layer is rejected with its name and class.
   * @param modelJson the parsed `model.json`.
   * @param weights the weights file's bytes (its parts concatenated, in manifest order).
   * @example
   * ```ts
   * const net = MLP.fromTfjs(JSON.parse(readFileSync('model.json', 'utf8')), readFileSync('weights.bin'));
   * ```
   */
  static fromTfjs(modelJson: unknown, weights: Uint8Array | ArrayBuffer, options: LoadOptions = {}): MLP {
    const opts = checkOptions<LoadOptions>('options', options);
    checkKnownKeys('options', opts, ['backend', 'threads']);
    const model = formatSupport('tfjs').read(modelJson, weights);
    const net = new MLP({ inputs: model.inputs, layers: model.layers, seed: 0, ...opts });
    net.setWeights(model.weights);
    return net;
  }

  /**
   * Loads a model written by `save()`, on any backend. Everything is validated.
   * @throws RangeError for a truncated or corrupt file, or one from a newer format version.
   * @example
   * ```ts
   * const net = MLP.load(readFileSync('model.mlpkit'), { backend: 'wasm' });
   * ```
   */
  static load(bytes: Uint8Array | ArrayBuffer, options: LoadOptions = {}): MLP {
    return MLP._fromRecord(decodeModel(bytes), options);
  }

  /** @internal Builds a network from a decoded model file. */
  static _fromRecord(record: ModelRecord, options: LoadOptions = {}): MLP {
    const opts = checkOptions<LoadOptions>('options', options);
    checkKnownKeys('options', opts, ['backend', 'threads']);
    const restoring: RestoringOptions = {
      ...specToOptions(record.spec),
      standardize: record.standardize,
      ...opts,
      [RESTORED_PARAMS]: record.params,
    };
    const net = new MLP(restoring);
    if (record.training) {
      const { vectors, counters, epochsTrained, learningRateScale } = record.training;
      net.#model.writeOptimizerState(vectors, counters);
      Object.assign(net.#state, { epochsTrained, learningRateScale });
    }
    if (record.scaler) net.#scaler = StandardScaler.fromJSON(record.scaler);
    if (record.metadata) net.#metadata = record.metadata;
    return net;
  }

  /** Frees the backend's memory. Idempotent; every other method throws afterwards. */
  dispose(): void {
    if (this.#disposed) return;
    if (this.#training || this.#inFlight)
      throw new ModelBusyError('this MLP is busy training; wait for fit() to finish (or abort it) before dispose()');
    this.#model.dispose();
    this.#disposed = true;
  }

  #params(): Float32Array {
    const params = new Float32Array(this.#layout.size);
    this.#model.getParams(params);
    return params;
  }

  /** Validated, scaled inputs, as one float32 matrix (a batch to train on). */
  #inputs(x: MatrixInput): Matrix {
    const xs = toMatrix('x', x, this.#spec.inputs);
    this.#checkScaler();
    return this.#scaler ? { ...xs, data: this.#scaler.transformFlat(xs.data) } : xs;
  }

  /**
   * Validated inputs as given, with the scaling the backend model applies as it reads them a
   * chunk at a time: predicting on 60,000 rows of pixel bytes makes no float32 copy of them.
   */
  #rowsToRead(x: MatrixInput): RowsToRead {
    const xs = toFlatMatrix('x', x, this.#spec.inputs);
    this.#checkScaler();
    return this.#scaler ? { ...xs, scaling: this.#scaler._parameters() } : xs;
  }

  #checkScaler(): void {
    if (this.#standardize && !this.#scaler) {
      throw new NotFittedError('this MLP standardizes its inputs but has no fitted scaler yet: call fit() first, or assign net.scaler');
    }
  }

  #check(): void {
    if (this.#disposed) throw new ModelDisposedError('this MLP has been disposed');
    if (this.#inFlight) throw new ModelBusyError('this MLP is busy: its backend is running a training step; wait for fit() to yield');
  }

  #checkIdle(): void {
    this.#check();
    if (this.#training) throw new ModelBusyError('this MLP is busy: fit() is running; await it (or abort it) first');
  }
}
