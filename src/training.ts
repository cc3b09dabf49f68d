/**
 * The epoch loop behind `fit` and `fitSync`: shuffling, mini-batch chunks, learning-rate
 * schedules, validation, early stopping, reduce-on-plateau, callbacks, abort and the
 * divergence guard. It is written once, as a generator that yields the work it needs done
 * (train a chunk of batches, call a user callback); `runSync` and `runAsync` perform it.
 */
import { finiteSnapshot, yieldToEventLoop, type BackendModel, type StateSnapshot } from './backend-model.js';
import { OPTIMIZER_VECTORS } from './model-file.js';
import { toFlatMatrix, toMatrix, toTargets, type FlatMatrix, type Matrix, type MatrixInput, type TargetInput } from './data.js';
import { checkBoolean, checkInteger, checkKnownKeys, checkNumber, checkOptions, rangeError, typeError } from './errors.js';
import { argmax } from './metrics.js';
import { scheduledLearningRate } from './schedules.js';
import { shuffleInto, Stream } from './rng.js';
import type { StandardScaler } from './scaler.js';
import { holdOut, selectRows } from './split.js';
import type { Loss, ModelSpec, OptimizerSpec } from './spec.js';

export interface EarlyStoppingOptions {
  /** Epochs without improvement before stopping. Default 10. */
  patience?: number;
  /** Smallest decrease that counts as an improvement. Default 0. */
  minDelta?: number;
  /** Put back the weights of the best epoch when training ends. Default true. */
  restoreBestWeights?: boolean;
}

export interface ReduceLROnPlateauOptions {
  /** Multiplies the learning rate on a plateau. Default 0.1. */
  factor?: number;
  /** Epochs without improvement before reducing. Default 10. */
  patience?: number;
  /** Smallest decrease that counts as an improvement. Default 1e-4. */
  minDelta?: number;
  /** Lower bound of the learning rate. Default 0. */
  minLearningRate?: number;
  /** Epochs to wait after a reduction before counting again. Default 0. */
  cooldown?: number;
}

export interface EpochLogs {
  /** Mean training loss of the epoch (with the L2 penalty). */
  loss: number;
  /** Loss on the validation data, when there is any. */
  valLoss?: number;
  /** Learning rate of the epoch's last update. */
  learningRate: number;
  samplesPerSecond: number;
}

export interface BatchLogs {
  /** Mean loss of the batch. */
  loss: number;
  /** Rows in the batch. */
  size: number;
}

export interface FitOptions {
  /** The epoch to end before: training runs epochs `initialEpoch` … `epochs − 1`. Default 10. */
  epochs?: number;
  /**
   * The epoch to start at, as in Keras: resuming a run saved with `save({ training: true })`
   * at `initialEpoch` continues it exactly (epoch numbers in callbacks and `bestEpoch` count
   * from 0 at the start of the original run). Default 0.
   */
  initialEpoch?: number;
  /** Rows per update: 1 is stochastic gradient descent, ≥ n is full-batch. Default 32. */
  batchSize?: number;
  /** Reshuffle (seeded) before every epoch. Default true. */
  shuffle?: boolean;
  /** Fraction of the rows held out (seeded, stratified for classification) to compute valLoss. */
  validationSplit?: number;
  /** Data to compute valLoss on, instead of a split. */
  validationData?: [MatrixInput, TargetInput];
  /**
   * Stop when the monitored loss stops improving: the validation loss when there is
   * validation data, else the training loss. `true` takes the defaults.
   */
  earlyStopping?: boolean | EarlyStoppingOptions;
  /** Reduce the learning rate when the monitored loss stops improving. `true` takes the defaults. */
  reduceLROnPlateau?: boolean | ReduceLROnPlateauOptions;
  /** Called after every epoch (epochs count from 0). Return `false` to stop training. */
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | boolean | Promise<void | boolean>;
  /** Called after every mini-batch (batches count from 0 within the epoch). Return `false` to stop. */
  onBatchEnd?: (batch: number, logs: BatchLogs) => void | boolean;
  /** Stops training after the current batch; the weights trained so far are kept. */
  signal?: AbortSignal;
}

export type StopReason = 'completed' | 'early-stopping' | 'aborted' | 'callback';

/** What `fit` returns: the loss curves and how training ended. */
export interface History {
  /** Training loss per epoch. */
  loss: number[];
  /** Validation loss per epoch (empty without validation data). */
  valLoss: number[];
  /** Learning rate of the last update of each epoch. */
  learningRate: number[];
  /** Epoch (from 0) with the best monitored loss. */
  bestEpoch: number;
  /** Why training ended. */
  stopReason: StopReason;
}

export interface NormalizedFitOptions {
  epochs: number;
  initialEpoch: number;
  batchSize: number;
  shuffle: boolean;
  validationSplit: number;
  validationData?: [MatrixInput, TargetInput];
  earlyStopping?: Required<EarlyStoppingOptions>;
  reduceLROnPlateau?: Required<ReduceLROnPlateauOptions>;
  onEpochEnd?: FitOptions['onEpochEnd'];
  onBatchEnd?: FitOptions['onBatchEnd'];
  signal?: AbortSignal;
}

function checkFunction<T>(name: string, value: unknown): T | undefined {
  if (value !== undefined && typeof value !== 'function') throw typeError(name, 'a function', value);
  return value as T | undefined;
}

export function normalizeFitOptions(value: unknown): NormalizedFitOptions {
  const options = checkOptions<FitOptions>('fit options', value);
  checkKnownKeys('fit options', options, [
    'epochs',
    'initialEpoch',
    'batchSize',
    'shuffle',
    'validationSplit',
    'validationData',
    'earlyStopping',
    'reduceLROnPlateau',
    'onEpochEnd',
    'onBatchEnd',
    'signal',
  ]);
  const result: NormalizedFitOptions = {
    epochs: options.epochs === undefined ? 10 : checkInteger('epochs', options.epochs, 1),
    initialEpoch: options.initialEpoch === undefined ? 0 : checkInteger('initialEpoch', options.initialEpoch, 0),
    batchSize: options.batchSize === undefined ? 32 : checkInteger('batchSize', options.batchSize, 1),
    shuffle: options.shuffle === undefined ? true : checkBoolean('shuffle', options.shuffle),
    validationSplit:
      options.validationSplit === undefined
        ? 0
        : checkNumber('validationSplit', options.validationSplit, { min: 0, max: 1, exclusiveMax: true }),
    onEpochEnd: checkFunction('onEpochEnd', options.onEpochEnd),
    onBatchEnd: checkFunction('onBatchEnd', options.onBatchEnd),
  };
  if (result.initialEpoch >= result.epochs) {
    throw rangeError(
      'initialEpoch',
      `an epoch before epochs = ${result.epochs} (training runs epochs initialEpoch … epochs − 1)`,
      result.initialEpoch,
    );
  }
  if (options.validationData !== undefined) {
    if (!Array.isArray(options.validationData) || options.validationData.length !== 2) {
      throw typeError('validationData', 'a pair [x, y]', options.validationData);
    }
    if (result.validationSplit > 0) throw new RangeError('give either validationSplit or validationData, not both');
    result.validationData = options.validationData;
  }
  if (options.earlyStopping !== undefined && options.earlyStopping !== false) {
    const es = checkOptions<EarlyStoppingOptions>('earlyStopping', options.earlyStopping === true ? {} : options.earlyStopping);
    checkKnownKeys('earlyStopping', es, ['patience', 'minDelta', 'restoreBestWeights']);
    result.earlyStopping = {
      patience: es.patience === undefined ? 10 : checkInteger('earlyStopping.patience', es.patience, 1),
      minDelta: es.minDelta === undefined ? 0 : checkNumber('earlyStopping.minDelta', es.minDelta, { min: 0 }),
      restoreBestWeights:
        es.restoreBestWeights === undefined ? true : checkBoolean('earlyStopping.restoreBestWeights', es.restoreBestWeights),
    };
  }
  if (options.reduceLROnPlateau !== undefined && options.reduceLROnPlateau !== false) {
    const rp = checkOptions<ReduceLROnPlateauOptions>(
      'reduceLROnPlateau',
      options.reduceLROnPlateau === true ? {} : options.reduceLROnPlateau,
    );
    checkKnownKeys('reduceLROnPlateau', rp, ['factor', 'patience', 'minDelta', 'minLearningRate', 'cooldown']);
    result.reduceLROnPlateau = {
      factor:
        rp.factor === undefined
          ? 0.1
          : checkNumber('reduceLROnPlateau.factor', rp.factor, { min: 0, max: 1, exclusiveMin: true, exclusiveMax: true }),
      patience: rp.patience === undefined ? 10 : checkInteger('reduceLROnPlateau.patience', rp.patience, 1),
      minDelta: rp.minDelta === undefined ? 1e-4 : checkNumber('reduceLROnPlateau.minDelta', rp.minDelta, { min: 0 }),
      minLearningRate:
        rp.minLearningRate === undefined ? 0 : checkNumber('reduceLROnPlateau.minLearningRate', rp.minLearningRate, { min: 0 }),
      cooldown: rp.cooldown === undefined ? 0 : checkInteger('reduceLROnPlateau.cooldown', rp.cooldown, 0),
    };
  }
  if (options.signal !== undefined) {
    const signal = options.signal as unknown;
    const like = signal as Partial<AbortSignal> | null;
    if (
      typeof signal !== 'object' ||
      like === null ||
      typeof like.aborted !== 'boolean' ||
      typeof like.addEventListener !== 'function' ||
      typeof like.removeEventListener !== 'function'
    ) {
      throw typeError('signal', 'an AbortSignal', signal);
    }
    result.signal = options.signal;
  }
  return result;
}

/** Rows of inputs and targets, flat. */
export interface Rows {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly rows: number;
}

/**
 * Class labels hidden in targets, for stratified splits: the argmax of each row for
 * cross-entropy, 0/1 for a single binary-cross-entropy output, none otherwise.
 */
function strataOf(targets: Matrix, loss: Loss): Int32Array | undefined {
  const { data, rows, cols } = targets;
  if (loss === 'cross-entropy') return Int32Array.from({ length: rows }, (_, r) => argmax(data, r * cols, cols));
  if (loss === 'binary-cross-entropy' && cols === 1) return Int32Array.from(data, (v) => (v >= 0.5 ? 1 : 0));
  return undefined;
}

/**
 * The training set as a backend that standardizes rows as it gathers them takes it: the
 * caller's rows as they are (float32, or bytes read in place), all of them, with the scaling
 * and the indices of the training rows (`index`, when a validation split holds some out). No
 * scaled copy of a large set is made in JavaScript: on a machine where fresh memory costs a
 * page fault per 4 KB, that copy is most of the time before the first epoch.
 */
export interface GatheredRows {
  readonly x: Float32Array | Uint8Array;
  readonly y: Float32Array;
  /** Rows of x and y. */
  readonly rows: number;
  /** The training rows among them (ascending), when not all. */
  readonly index?: Int32Array;
  readonly scaling?: Float64Array;
}

/** The inputs of `prepareFitData`: a fit's data and options, and the model's scaler or how to fit one. */
type FitData = [
  spec: ModelSpec,
  x: MatrixInput,
  y: TargetInput,
  options: NormalizedFitOptions,
  scaler: StandardScaler | undefined,
  fitScaler: ((x: FlatMatrix, rows?: Int32Array) => StandardScaler) | undefined,
];

/**
 * The data of one fit, checked and ready for the backend: the training rows and the
 * validation rows (given, or split off seeded and stratified), both scaled by `scaler` —
 * which `fitScaler` makes from the training rows when the model standardizes and has none.
 * Rows are selected and scaled in one pass, so the training set is copied at most once on its
 * way to the backend; `owned` says that `train.x` is such a fresh copy (the backend may keep
 * it rather than copy it again), not the caller's array. For a backend that `scalesOnGather`
 * (`gathered`), the training set is neither copied nor scaled here (see GatheredRows).
 */
export function prepareFitData(...args: FitData): { train: Rows; validation?: Rows; scaler: StandardScaler | undefined; owned: boolean };
export function prepareFitData(...args: [...FitData, gathered: boolean]): {
  train: GatheredRows | Rows;
  validation?: Rows;
  scaler: StandardScaler | undefined;
  owned: boolean;
};
export function prepareFitData(...args: FitData | [...FitData, gathered: boolean]): {
  train: GatheredRows | Rows;
  validation?: Rows;
  scaler: StandardScaler | undefined;
  owned: boolean;
} {
  const [spec, x, y, options, , fitScaler, gathered = false] = args;
  let scaler = args[4];
  const { inputs, loss } = spec;
  const outputs = spec.layers[spec.layers.length - 1]!.units;
  const xs = toFlatMatrix('x', x, inputs); // not copied: the one copy (if any) is made below
  const ys = toTargets('y', y, xs.rows, outputs, loss);
  let trainRows: Int32Array | undefined;
  let validation: Rows | undefined;
  let validationRows: Int32Array | undefined;
  if (options.validationData) {
    const vx = toMatrix('validationData[0]', options.validationData[0], inputs);
    const vy = toTargets('validationData[1]', options.validationData[1], vx.rows, outputs, loss);
    validation = { x: vx.data, y: vy.data, rows: vx.rows };
  } else if (options.validationSplit > 0) {
    const split = holdOut(xs.rows, options.validationSplit, spec.seed, strataOf(ys, loss));
    trainRows = split.train;
    validationRows = split.test;
  }
  if (!scaler && fitScaler) scaler = fitScaler(xs.data, trainRows);
  // The rows of a matrix as float32, scaled when there is a scaler: the source itself when it
  // is float32 and neither a selection nor scaling applies.
  const rowsOf = (data: FlatMatrix, rows: Int32Array | undefined): Float32Array => {
    if (scaler) return scaler._transformRows(data, rows);
    if (!rows) return data instanceof Float32Array ? data : Float32Array.from(data);
    return selectRows(data, inputs, rows);
  };
  if (validationRows) {
    validation = { x: rowsOf(xs.data, validationRows), y: selectRows(ys.data, outputs, validationRows), rows: validationRows.length };
  } else if (validation && scaler) {
    validation = { ...validation, x: scaler._transformRows(validation.x) };
  }
  if (gathered && !(xs.data instanceof Float64Array)) {
    const train: GatheredRows = {
      x: xs.data,
      y: ys.data,
      rows: xs.rows,
      ...(trainRows ? { index: trainRows } : {}),
      ...(scaler ? { scaling: scaler._parameters() } : {}),
    };
    return { train, ...(validation ? { validation } : {}), scaler, owned: false };
  }
  const train: Rows = {
    x: rowsOf(xs.data, trainRows),
    y: trainRows ? selectRows(ys.data, outputs, trainRows) : ys.data,
    rows: trainRows ? trainRows.length : xs.rows,
  };
  return { train, ...(validation ? { validation } : {}), scaler, owned: train.x !== x };
}

/** Thrown when training produces a non-finite loss or weights; the model keeps its last finite weights. */
export class TrainingDivergedError extends Error {
  /**
   * @param value the non-finite loss (or weight) that stopped training.
   * @param epoch epoch (from 0) it happened in, or -1 for `trainBatch`.
   * @param batch batch within the epoch, or -1 when found after the epoch (validation loss, weights).
   */
  constructor(
    readonly value: number,
    readonly epoch = -1,
    readonly batch = -1,
  ) {
    const where = epoch < 0 ? 'in trainBatch' : batch < 0 ? `at the end of epoch ${epoch}` : `in epoch ${epoch}, batch ${batch}`;
    super(
      `training diverged ${where}: a value became ${value}; the weights were left at their last finite values. ` +
        'Lower the learning rate, scale the inputs or add L2.',
    );
    this.name = 'TrainingDivergedError';
  }
}

/** State of a model that outlives one fit: how many epochs it has had and the plateau-reduced rate. */
export interface TrainingState {
  epochsTrained: number;
  learningRateScale: number;
}

export interface TrainingJob {
  readonly model: BackendModel;
  readonly optimizer: OptimizerSpec;
  readonly seed: number;
  readonly state: TrainingState;
  /** Training rows per epoch. */
  readonly rows: number;
  /** Where the training rows are in the backend's data set, when it holds more (see GatheredRows). */
  readonly index?: Int32Array;
  readonly validation?: Rows;
  readonly options: NormalizedFitOptions;
  /**
   * Two snapshots of the model's state to train with (made when absent): a caller that fits
   * again and again keeps them, so that each fit does not allocate two copies of the state.
   */
  readonly snapshots?: readonly [StateSnapshot, StateSnapshot];
  /** Told when an asynchronous chunk starts (true) and ends (false). */
  readonly onChunk?: (running: boolean) => void;
}

export type TrainingRequest =
  | { kind: 'train'; order: Int32Array; epochLength: number; batchSize: number; learningRates: Float64Array; losses: Float64Array }
  | { kind: 'call'; callback: 'onEpochEnd' | 'onBatchEnd'; run: () => unknown };

const now = (): number => performance.now();

/** Rows handed to the backend in one call when nothing needs to see single epochs. */
const ROWS_PER_CALL = 1 << 16;

/**
 * The epoch loop. Work goes to the backend in chunks: one batch at a time when a per-batch
 * callback must see each batch, one epoch at a time when something looks at every epoch
 * (validation, early stopping, reduce-on-plateau, an epoch callback), and otherwise as many
 * epochs as make about 64k rows, so that small networks do not pay a crossing per epoch.
 */
export function* trainingLoop(job: TrainingJob): Generator<TrainingRequest, History, unknown> {
  const { model, optimizer, state, rows, validation, options } = job;
  const { batchSize, earlyStopping: es, reduceLROnPlateau: plateau } = options;
  const history: History = { loss: [], valLoss: [], learningRate: [], bestEpoch: -1, stopReason: 'completed' };
  const batchesPerEpoch = Math.ceil(rows / batchSize);
  const perBatch = options.onBatchEnd !== undefined;
  const perEpoch = perBatch || validation !== undefined || es !== undefined || plateau !== undefined || options.onEpochEnd !== undefined;
  const epochsPerCall = perEpoch ? 1 : Math.max(1, Math.min(options.epochs - options.initialEpoch, Math.floor(ROWS_PER_CALL / rows)));
  const order = new Int32Array(epochsPerCall * rows);
  const draws = new Uint32Array(rows);
  const learningRates = new Float64Array(epochsPerCall * batchesPerEpoch);
  const losses = new Float64Array(learningRates.length);
  // The whole state (weights, the optimizer's vectors, the counters) at the end of the last
  // good chunk: a chunk that goes non-finite is undone as a whole, so no poisoned moment or
  // counter survives it to spoil the steps after.
  const vectors = OPTIMIZER_VECTORS[optimizer.type];
  let [lastFinite, current] = job.snapshots ?? [model.snapshot(vectors), model.snapshot(vectors)];
  if (job.snapshots) model.snapshot(vectors, lastFinite);
  const best = es?.restoreBestWeights ? new Float32Array(model.size) : undefined;
  let bestValue = Infinity;
  let epochsWithoutImprovement = 0;
  let plateauBest = Infinity;
  let plateauWait = 0;
  let cooldown = 0;
  let learningRate: number;

  for (let epoch = options.initialEpoch; epoch < options.epochs;) {
    if (options.signal?.aborted) {
      history.stopReason = 'aborted';
      break;
    }
    const started = now();
    const epochs = Math.min(epochsPerCall, options.epochs - epoch);
    for (let e = 0; e < epochs; e++) {
      if (options.shuffle) shuffleInto(order, e * rows, rows, job.seed, Stream.SHUFFLE, state.epochsTrained + e, draws);
      else for (let i = 0; i < rows; i++) order[e * rows + i] = i;
    }
    // The same rows in the same order as a compacted training set would give.
    if (job.index) for (let i = 0; i < epochs * rows; i++) order[i] = job.index[order[i]!]!;

    // Train the chunk: losses[b] is the loss of its b-th batch (batches restart at each epoch).
    let done = 0;
    let stop: StopReason | undefined;
    const calls = perBatch ? batchesPerEpoch : 1;
    for (let call = 0; call < calls && !stop; call++) {
      const batches = perBatch ? 1 : epochs * batchesPerEpoch;
      const first = perBatch ? call : 0;
      const chunk = perBatch ? order.subarray(call * batchSize, Math.min(rows, (call + 1) * batchSize)) : order.subarray(0, epochs * rows);
      if (optimizer.schedule.type === 'constant') {
        learningRate = optimizer.learningRate * state.learningRateScale;
        learningRates.fill(learningRate, first, first + batches);
      } else {
        for (let b = 0; b < batches; b++) {
          learningRate = scheduledLearningRate(optimizer.learningRate, optimizer.schedule, model.step + b) * state.learningRateScale;
          learningRates[first + b] = learningRate;
        }
      }
      const count = (yield {
        kind: 'train',
        order: chunk,
        epochLength: perBatch ? chunk.length : rows,
        batchSize,
        learningRates: learningRates.subarray(first, first + batches),
        losses: losses.subarray(first, first + batches),
      }) as number;
      for (let b = first; b < first + count; b++) {
        if (!Number.isFinite(losses[b]!)) {
          keepFiniteState(model, lastFinite, current);
          throw new TrainingDivergedError(losses[b]!, epoch + Math.floor(b / batchesPerEpoch), b % batchesPerEpoch);
        }
        if (perBatch) {
          const size = Math.min(batchSize, rows - b * batchSize);
          const verdict = yield { kind: 'call', callback: 'onBatchEnd', run: () => options.onBatchEnd!(b, { loss: losses[b]!, size }) };
          if (verdict === false) stop = 'callback';
        }
      }
      done = first + count;
      if (options.signal?.aborted || count < batches) stop ??= 'aborted'; // aborted, or the backend stopped on request
    }
    if (done === 0) {
      history.stopReason = stop ?? 'aborted';
      break;
    }

    model.snapshot(vectors, current);
    if (!finiteSnapshot(current)) {
      const value = firstNonFiniteValue(current);
      model.restore(lastFinite);
      throw new TrainingDivergedError(value, epoch + Math.ceil(done / batchesPerEpoch) - 1);
    }
    [lastFinite, current] = [current, lastFinite];

    // Per-epoch bookkeeping for each epoch of the chunk (a partial last epoch counts too).
    const epochsDone = Math.ceil(done / batchesPerEpoch);
    const seconds = (now() - started) / 1000;
    for (let e = 0; e < epochsDone; e++) {
      state.epochsTrained++; // before the callbacks: a checkpoint saved in onEpochEnd resumes after this epoch
      let sum = 0;
      let seen = 0;
      for (let b = e * batchesPerEpoch; b < Math.min(done, (e + 1) * batchesPerEpoch); b++) {
        const size = Math.min(batchSize, rows - (b % batchesPerEpoch) * batchSize);
        sum += losses[b]! * size;
        seen += size;
      }
      const loss = sum / seen;
      const epochRate = learningRates[Math.min(done, (e + 1) * batchesPerEpoch) - 1]!;
      history.loss.push(loss);
      history.learningRate.push(epochRate);
      if (!perEpoch) continue; // a multi-epoch chunk: nothing watches single epochs

      const valLoss = validation ? model.evaluate(validation.x, validation.y, validation.rows) : undefined;
      if (valLoss !== undefined) {
        if (!Number.isFinite(valLoss)) {
          model.restore(current); // the chunk's starting state (swapped above)
          throw new TrainingDivergedError(valLoss, epoch);
        }
        history.valLoss.push(valLoss);
      }
      const monitored = valLoss ?? loss;
      if (monitored < bestValue - (es?.minDelta ?? 0)) {
        bestValue = monitored;
        history.bestEpoch = epoch;
        epochsWithoutImprovement = 0;
        if (best) model.getParams(best);
      } else if (es && ++epochsWithoutImprovement >= es.patience) {
        stop ??= 'early-stopping';
      }
      if (plateau) {
        if (monitored < plateauBest - plateau.minDelta) {
          plateauBest = monitored;
          plateauWait = 0;
        } else if (cooldown > 0) {
          cooldown--;
        } else if (++plateauWait >= plateau.patience) {
          // Lower, never below the floor, and never higher than it was.
          state.learningRateScale = Math.min(
            state.learningRateScale,
            Math.max(state.learningRateScale * plateau.factor, plateau.minLearningRate / optimizer.learningRate),
          );
          plateauWait = 0;
          cooldown = plateau.cooldown;
        }
      }
      if (options.onEpochEnd) {
        const logs: EpochLogs = {
          loss,
          learningRate: epochRate,
          samplesPerSecond: seconds > 0 ? Math.min(done * batchSize, rows) / seconds : Infinity,
        };
        if (valLoss !== undefined) logs.valLoss = valLoss;
        const verdict = yield { kind: 'call', callback: 'onEpochEnd', run: () => options.onEpochEnd!(epoch, logs) };
        if (verdict === false) stop ??= 'callback';
      }
    }
    if (!perEpoch) {
      const losses = history.loss.slice(-epochsDone);
      const bestInChunk = losses.indexOf(Math.min(...losses));
      if (losses[bestInChunk]! < bestValue) {
        bestValue = losses[bestInChunk]!;
        history.bestEpoch = epoch + bestInChunk;
      }
    }
    epoch += epochsDone;
    if (stop) {
      history.stopReason = stop;
      break;
    }
  }

  if (best && history.bestEpoch >= 0 && history.bestEpoch !== options.initialEpoch + history.loss.length - 1) model.setParams(best);
  return history;
}

/** Index of the first NaN or infinity in `values`, or -1 (a plain loop: this runs on every chunk). */
export function firstNonFinite(values: Float32Array): number {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return i;
  return -1;
}

/**
 * After a non-finite loss (whose update was not applied): keep the current state if all of it
 * is finite, else put back the last good one, weights and optimizer state together.
 */
export function keepFiniteState(model: BackendModel, lastFinite: StateSnapshot, scratch?: StateSnapshot): void {
  const current = model.snapshot(lastFinite.vectors.length - 1, scratch);
  if (!finiteSnapshot(current)) model.restore(lastFinite);
}

/** The first value of a snapshot that is not finite (NaN when there is none). */
function firstNonFiniteValue(snapshot: StateSnapshot): number {
  for (const vector of snapshot.vectors) {
    const at = firstNonFinite(vector);
    if (at >= 0) return vector[at]!;
  }
  return NaN;
}

/** Runs a training loop to the end, blocking. */
export function runSync(job: TrainingJob): History {
  const loop = trainingLoop(job);
  let step = loop.next();
  while (!step.done) {
    const request = step.value;
    step = loop.next(
      request.kind === 'train'
        ? job.model.train(request.order, request.epochLength, request.batchSize, request.learningRates, request.losses)
        : callSync(request.callback, request.run),
    );
  }
  return step.value;
}

/**
 * A callback of fitSync, which cannot wait: one that returns a promise is refused with a
 * TypeError, and the promise's eventual rejection is handled here, so it never becomes an
 * unhandled rejection that ends the process.
 */
function callSync(callback: string, run: () => unknown): unknown {
  const value = run();
  if (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  ) {
    (value as PromiseLike<unknown>).then(undefined, () => {});
    throw new TypeError(
      `${callback} returned a promise, which fitSync cannot wait for: use fit() for an asynchronous ${callback}, or return a boolean`,
    );
  }
  return value;
}

/** The longest stretch of wall time asynchronous training runs without giving the event loop a turn. */
const EVENT_LOOP_TURN_MS = 10;

/**
 * A chunk that took less than this runs on the calling thread the next time. Handing a chunk to a
 * worker thread and back costs tens to hundreds of microseconds (another CPU woken, the model's
 * memory moving to that core's caches and back), as much as a small network's epoch: per-epoch
 * chunks of a 64-32-10 network ran at half the speed of `fitSync`. The event loop still gets a
 * turn every EVENT_LOOP_TURN_MS.
 */
const ON_THIS_THREAD_MS = 2;

/**
 * Runs a training loop to the end without blocking the event loop; an abort stops the running
 * chunk (a chunk short enough to run on this thread ends first).
 */
export async function runAsync(job: TrainingJob): Promise<History> {
  const { signal } = job.options;
  const onAbort = () => job.model.requestStop();
  signal?.addEventListener('abort', onAbort);
  try {
    const loop = trainingLoop(job);
    let step = loop.next();
    // Chunks and callbacks can each be quick (small epochs, synchronous callbacks, validation):
    // the loop yields whenever EVENT_LOOP_TURN_MS have passed, so timers, I/O and an abort
    // signal fired from a timer are served whatever the chunking.
    let lastTurn = now();
    let lastChunkMs = Infinity; // the first chunk goes to a worker thread, and is timed
    while (!step.done) {
      if (now() - lastTurn >= EVENT_LOOP_TURN_MS) {
        await yieldToEventLoop();
        lastTurn = now();
      }
      const request = step.value;
      if (request.kind === 'call') {
        step = loop.next(await request.run());
        continue;
      }
      const { order, epochLength, batchSize, learningRates, losses } = request;
      const started = now();
      let done: number;
      if (lastChunkMs < ON_THIS_THREAD_MS) {
        done = job.model.train(order, epochLength, batchSize, learningRates, losses);
      } else {
        job.onChunk?.(true);
        try {
          done = await job.model.trainAsync(order, epochLength, batchSize, learningRates, losses);
        } finally {
          job.onChunk?.(false);
        }
      }
      lastChunkMs = now() - started;
      step = loop.next(done);
    }
    return step.value;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
