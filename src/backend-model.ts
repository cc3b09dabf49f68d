/**
 * The one wrapper between the API and every backend's raw model (backend.ts). Everything a
 * backend would otherwise repeat is done here, once:
 *
 *   - every argument is checked (types, lengths, ranges, row indices, learning rates);
 *   - a model that is training asynchronously refuses every other call, a disposed one every
 *     call, and a model whose backend failed in the middle of a step (a trap, an abort)
 *     refuses every later call rather than compute on half-updated memory;
 *   - epochs are cut into batches here (`batchBounds`), so a backend only follows boundaries;
 *   - asynchronous training runs on the backend's own threads where it has them (native), and
 *     otherwise in slices of about SLICE_MS that yield to the event loop between them;
 *   - evaluations and predictions are cut into chunks of the capacity, and rows given as bytes or
 *     doubles (or to be standardized) are converted one chunk at a time, never copied whole.
 */
import type { Backend, RawModel } from './backend.js';
import { allFinite, writeRowsFloat32, type FlatMatrix } from './data.js';
import { checkInteger, checkTypedArray, ModelBusyError, ModelDisposedError, ModelFailedError, rangeError, typeError } from './errors.js';
import { paramLayout } from './layout.js';
import type { ModelSpec } from './spec.js';
import { COUNTER_FIELD, COUNTER_FIELDS, initialCounters, modelTables, STATE_VECTORS, type ModelTables } from './tables.js';

const MAX_I32 = 0x7fffffff;
/** Target length of one slice of asynchronous training on a backend without threads, in ms. */
export const SLICE_MS = 8;
/** Rows `lossAndGradient` runs as one batch; larger sets run in chunks of this many. */
export const FULL_BATCH_ROWS = 8192;

const now = (): number => performance.now();

/** Lets the event loop run: setImmediate where it exists (Node, Bun, Deno), else a zero timeout. */
const setImmediateIfAny = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
export const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => (setImmediateIfAny ? setImmediateIfAny(resolve) : setTimeout(resolve, 0)));

/**
 * Where the batches of `epochs` epochs of `epochLength` rows start in the order: batch b is
 * order[bounds[b] … bounds[b+1]); batches restart at each epoch, whose last one may be short.
 * The only place the batch-index formula is written.
 */
export function batchBounds(epochs: number, epochLength: number, batchSize: number): Int32Array {
  const perEpoch = Math.ceil(epochLength / batchSize);
  const bounds = new Int32Array(epochs * perEpoch + 1);
  for (let e = 0, b = 0; e < epochs; e++) {
    for (let i = 0; i < perEpoch; i++) bounds[b++] = e * epochLength + i * batchSize;
  }
  bounds[epochs * perEpoch] = epochs * epochLength;
  return bounds;
}

/** Everything an update changes: the parameters, then the optimizer's vectors, and the counters. */
export interface StateSnapshot {
  readonly vectors: Float32Array[];
  readonly counters: Float64Array;
}

/** Whether every value of a snapshot's vectors is finite. */
export function finiteSnapshot(snapshot: StateSnapshot): boolean {
  return snapshot.vectors.every(allFinite);
}

/** Bytes as GiB with one decimal. */
const gib = (bytes: number) => (bytes / 2 ** 30).toFixed(1);

/** data[begin, end): the array itself when that is all of it (a view costs an allocation per call, a prediction of one row makes two). */
function rowsOf(data: Float32Array, begin: number, end: number): Float32Array {
  return begin === 0 && end === data.length ? data : data.subarray(begin, end);
}

/**
 * Runs an allocation, turning running out of memory into a named RangeError. Each backend says
 * it in its own words: the engine cannot make the typed array, the WebAssembly memory cannot
 * grow past 4 GiB, the addon's allocator throws.
 */
function allocating<T>(allocate: () => T, tooLarge: () => RangeError): T {
  try {
    return allocate();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/out of memory|allocation failed|invalid (typed )?array length|bad_alloc|Array buffer allocation/i.test(message)) {
      throw Object.assign(tooLarge(), { cause: error });
    }
    throw error;
  }
}

/** One network on one backend. */
export class BackendModel {
  /** Number of parameters (the length of the flat vector). */
  readonly size: number;
  readonly tables: ModelTables;
  readonly #raw: RawModel;
  readonly #counters = new Float64Array(COUNTER_FIELDS.length);
  #dataRows = 0;
  #inPlace: { x: Float32Array | Uint8Array; bytes: number } | undefined; // x of setData, when the backend may read it in place
  #stopRequested = false;
  #busy = false;
  #disposed = false;
  #failure: Error | undefined;
  #bounds: { key: string; bounds: Int32Array } | undefined;
  #staging = new Float32Array(0); // rows of x converted for the backend, one chunk of the capacity at a time

  constructor(
    readonly backend: Backend,
    spec: ModelSpec,
    capacity: number,
    threads?: number,
  ) {
    this.tables = modelTables(spec, paramLayout(spec.inputs, spec.layers));
    this.size = this.tables.parameters;
    this.#raw = allocating(
      () => backend.createModel(this.tables, threads === undefined ? {} : { threads }),
      () =>
        new RangeError(
          `layers describe ${this.size} parameters, whose weights, gradients and optimizer state ` +
            `(${gib(4 * STATE_VECTORS.length * this.size)} GiB) do not fit in the memory of the ${backend.name} backend`,
        ),
    );
    this.#raw.writeCounters(initialCounters());
    this.reserve(capacity);
  }

  /** Rows of the largest batch the scratch memory holds. */
  get capacity(): number {
    return this.#raw.capacity;
  }

  /** Updates applied so far (t of Adam's bias correction and of the dropout masks). */
  get step(): number {
    this.#usable('step').readCounters(this.#counters);
    return this.#counters[COUNTER_FIELD.step]!;
  }

  /** Whether asynchronous training is in flight. */
  get busy(): boolean {
    return this.#busy;
  }

  #usable(what: string): RawModel {
    if (this.#failure)
      throw new ModelFailedError(
        `this ${this.backend.name} model can no longer be used (${what}): an earlier call failed: ${this.#failure.message}`,
        {
          cause: this.#failure,
        },
      );
    if (this.#disposed) throw new ModelDisposedError(`this ${this.backend.name} model has been disposed (${what})`);
    return this.#raw;
  }

  #idle(what: string): RawModel {
    const raw = this.#usable(what);
    if (this.#busy)
      throw new ModelBusyError(
        `this ${this.backend.name} model is busy training (trainAsync in flight); ${what} must wait until it is done`,
      );
    return raw;
  }

  /**
   * Runs `fn`; a failure that may have left the model half-updated makes it refuse every later
   * call. Allocations (`recoverable`) fail before anything changes.
   */
  #call<T>(what: string, fn: () => T, recoverable = false): T {
    try {
      return fn();
    } catch (error) {
      if (recoverable) throw error instanceof Error ? error : new Error(`${what} failed: ${String(error)}`);
      return this.#fail(what, error);
    }
  }

  /** Records a failure that may have left the model half-updated, and throws it. */
  #fail(what: string, error: unknown): never {
    const failure = error instanceof Error ? error : new Error(`${what} failed: ${String(error)}`);
    this.#failure = failure;
    this.#stopRequested = true;
    throw failure;
  }

  /** Grows scratch memory to hold batches of `rows`; the only place a model allocates after creation. */
  reserve(rows: number): void {
    const raw = this.#idle('reserve');
    checkInteger('rows', rows, 1, MAX_I32);
    if (rows > raw.capacity) {
      const tooMany = () =>
        new RangeError(
          `a batch of ${rows} rows does not fit in the memory of the ${this.backend.name} backend; use a smaller batchSize or predict in parts`,
        );
      this.#call('reserve', () => allocating(() => raw.reserve(rows), tooMany), true);
    }
  }

  /** Copies the flat parameter vector into `out` (length `size`). */
  getParams(out: Float32Array): void {
    this.#read('getParams', 'params', out);
  }
  /** Copies the gradient of the last step or `lossAndGradient` (including the L2 term) into `out`. */
  getGrads(out: Float32Array): void {
    this.#read('getGrads', 'grads', out);
  }
  /** Replaces the parameters with `params` (length `size`). */
  setParams(params: Float32Array): void {
    const raw = this.#idle('setParams');
    raw.writeState(STATE_VECTORS.indexOf('params'), checkTypedArray('params', params, Float32Array, this.size).subarray(0, this.size));
  }

  /**
   * Copies the parameters, the optimizer's first `optimizerVectors` vectors and the counters
   * into `into` (made when absent): what `restore` puts back after a step that went wrong.
   */
  snapshot(optimizerVectors: number, into?: StateSnapshot): StateSnapshot {
    const raw = this.#idle('snapshot');
    const snapshot = into ?? {
      vectors: Array.from({ length: 1 + optimizerVectors }, () => new Float32Array(this.size)),
      counters: new Float64Array(COUNTER_FIELDS.length),
    };
    snapshot.vectors.forEach((vector, k) =>
      raw.readState(k === 0 ? STATE_VECTORS.indexOf('params') : STATE_VECTORS.indexOf('moment1') + k - 1, vector),
    );
    raw.readCounters(snapshot.counters);
    return snapshot;
  }

  /** Puts back a snapshot: parameters, optimizer vectors and counters together. */
  restore(snapshot: StateSnapshot): void {
    const raw = this.#idle('restore');
    snapshot.vectors.forEach((vector, k) =>
      raw.writeState(k === 0 ? STATE_VECTORS.indexOf('params') : STATE_VECTORS.indexOf('moment1') + k - 1, vector),
    );
    raw.writeCounters(snapshot.counters);
  }

  /**
   * Copies of the optimizer's first `count` state vectors (moment1, then moment2) and of the
   * counters: with the parameters, everything the next update depends on.
   */
  readOptimizerState(count: number): { vectors: Float32Array[]; counters: Float64Array } {
    const raw = this.#idle('readOptimizerState');
    const vectors = Array.from({ length: count }, (_, k) => {
      const out = new Float32Array(this.size);
      raw.readState(STATE_VECTORS.indexOf('moment1') + k, out);
      return out;
    });
    const counters = new Float64Array(COUNTER_FIELDS.length);
    raw.readCounters(counters);
    return { vectors, counters };
  }

  /** Replaces the optimizer's state vectors (from moment1 on) and the counters. */
  writeOptimizerState(vectors: readonly Float32Array[], counters: ArrayLike<number>): void {
    const raw = this.#idle('writeOptimizerState');
    vectors.forEach((vector, k) =>
      raw.writeState(STATE_VECTORS.indexOf('moment1') + k, checkTypedArray(`vectors[${k}]`, vector, Float32Array, this.size)),
    );
    raw.writeCounters(Float64Array.from(counters));
  }

  #read(what: string, vector: (typeof STATE_VECTORS)[number], out: Float32Array): void {
    const raw = this.#idle(what);
    raw.readState(STATE_VECTORS.indexOf(vector), checkTypedArray('out', out, Float32Array, this.size).subarray(0, this.size));
  }

  /** Whether `setData` takes bytes and a scaling (the backend standardizes rows as it gathers them). */
  get scalesOnGather(): boolean {
    return this.backend.scalesOnGather === true;
  }

  /**
   * Hands a training set to the backend (x: n×inputs, y: n×outputs, one-hot; x scaled, or
   * given with its `scaling` to a backend that `scalesOnGather`). It is copied, unless `owned`
   * says that x needs no copy — a fresh array nobody else holds, or one that stays in place while
   * the backend reads it (a blocking fit; a detached one is refused at the next train call): a
   * backend that can read it in place then does.
   */
  setData(x: Float32Array | Uint8Array, y: Float32Array, n: number, owned = false, scaling?: Float64Array): void {
    const raw = this.#idle('setData');
    checkInteger('n', n, 1, MAX_I32);
    const inputs = this.tables.inputs;
    if ((x instanceof Uint8Array || scaling) && !this.scalesOnGather) {
      throw new TypeError(`the ${this.backend.name} backend takes its training set as scaled float32 rows`);
    }
    checkTypedArray('x', x, x instanceof Uint8Array ? Uint8Array : Float32Array, n * inputs);
    checkTypedArray('y', y, Float32Array, n * this.tables.outputs);
    if (scaling) checkTypedArray('scaling', scaling, Float64Array, 2 * inputs);
    const rows = x.subarray(0, n * inputs);
    this.#call('setData', () => raw.setData(rows, y.subarray(0, n * this.tables.outputs), n, owned, scaling?.slice(0, 2 * inputs)), true);
    this.#dataRows = n;
    this.#inPlace = owned ? { x: rows, bytes: rows.byteLength } : undefined;
  }

  /**
   * Trains on the rows of `order` (indices into the data set of `setData`): one or more
   * epochs of `epochLength` rows each, every epoch cut into batches of `batchSize` (its last
   * batch may be smaller). Batch b uses `learningRates[b]` and writes its mean loss to
   * `losses[b]`. Stops early after a batch whose loss is not finite (without applying that
   * update). Returns the number of batches done.
   */
  train(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): number {
    const raw = this.#idle('train');
    const bounds = this.#checkTrain(order, epochLength, batchSize, learningRates, losses);
    this.#stopRequested = false;
    return this.#call('train', () => raw.train(order, bounds, 0, bounds.length - 1, learningRates, losses));
  }

  /** Same as `train`, without blocking the event loop; `requestStop()` ends it after the current batch. */
  async trainAsync(
    order: Int32Array,
    epochLength: number,
    batchSize: number,
    learningRates: Float64Array,
    losses: Float64Array,
  ): Promise<number> {
    const raw = this.#idle('trainAsync');
    const bounds = this.#checkTrain(order, epochLength, batchSize, learningRates, losses);
    const batches = bounds.length - 1;
    this.#stopRequested = false;
    this.#busy = true;
    try {
      if (raw.trainAsync) {
        const running = this.#call('trainAsync', () => raw.trainAsync!(order, bounds, 0, batches, learningRates, losses));
        // A rejection comes from inside a step: the model may be half-updated, like after a throw.
        return await running.catch((error: unknown) => this.#fail('trainAsync', error));
      }
      let done = 0;
      let slice = 1;
      while (done < batches && !this.#stopRequested) {
        const started = now();
        const want = Math.min(slice, batches - done);
        const got = this.#call('trainAsync', () => raw.train(order, bounds, done, want, learningRates, losses));
        done += got;
        if (got < want) break; // a loss that is not finite
        // Aim the next slice at SLICE_MS from this one's speed, growing at most 4× at a time.
        slice = Math.max(1, Math.min(4 * slice, Math.floor((slice * SLICE_MS) / Math.max(now() - started, 0.01))));
        if (done < batches) await yieldToEventLoop();
      }
      return done;
    } finally {
      this.#busy = false;
    }
  }

  /** Asks a running `trainAsync` to return after its current batch (or slice). */
  requestStop(): void {
    this.#stopRequested = true;
    if (this.#busy) this.#raw.requestStop?.();
  }

  /** Checks a train() call and returns its batch boundaries. */
  #checkTrain(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): Int32Array {
    checkTypedArray('order', order, Int32Array, 1);
    if (this.#dataRows === 0) throw new Error('setData(x, y, n) must come before training');
    // A training set the backend may read in place must still be there: a callback between two
    // calls could have transferred its buffer away (the addon would read freed memory).
    if (this.#inPlace && this.#inPlace.x.byteLength !== this.#inPlace.bytes) {
      throw typeError('x', `the training set of this fit, left in place until it returns (${this.#inPlace.bytes} bytes)`, this.#inPlace.x);
    }
    checkInteger('epochLength', epochLength, 1, MAX_I32);
    if (order.length % epochLength !== 0) throw rangeError('epochLength', `a divisor of order.length = ${order.length}`, epochLength);
    checkInteger('batchSize', batchSize, 1, MAX_I32);
    if (Math.min(batchSize, epochLength) > this.capacity) {
      throw rangeError('batchSize', `at most the capacity (${this.capacity} rows) or the epoch length`, batchSize);
    }
    const key = `${order.length}:${epochLength}:${batchSize}`;
    if (this.#bounds?.key !== key) this.#bounds = { key, bounds: batchBounds(order.length / epochLength, epochLength, batchSize) };
    const { bounds } = this.#bounds;
    const batches = bounds.length - 1;
    checkTypedArray('learningRates', learningRates, Float64Array, batches);
    checkTypedArray('losses', losses, Float64Array, batches);
    for (let b = 0; b < batches; b++) {
      const rate = learningRates[b]!;
      if (!(rate >= 0 && rate < Infinity)) throw rangeError(`learningRates[${b}]`, 'a finite number >= 0', rate);
    }
    const rows = this.#dataRows;
    for (let i = 0; i < order.length; i++) {
      const row = order[i]!;
      if (!(row >= 0 && row < rows)) throw rangeError(`order[${i}]`, `a row index between 0 and ${rows - 1}`, row);
    }
    return bounds;
  }

  /** Checks n rows of x (and of y) for a call that runs them in one go. */
  #checkRows(n: number, x: Float32Array, y: Float32Array | undefined, limit = MAX_I32): void {
    checkInteger('n', n, 1, limit);
    checkTypedArray('x', x, Float32Array, n * this.tables.inputs);
    if (y !== undefined) checkTypedArray('y', y, Float32Array, n * this.tables.outputs);
  }

  /** Checks the n rows of x an evaluation or a prediction reads, chunk by chunk, and their scaling. */
  #checkInputRows(n: number, x: FlatMatrix, scaling: Float64Array | undefined): void {
    checkInteger('n', n, 1, MAX_I32);
    if (!(x instanceof Float32Array || x instanceof Float64Array || x instanceof Uint8Array)) {
      throw typeError('x', 'a Float32Array, Float64Array or Uint8Array', x);
    }
    checkTypedArray('x', x, x.constructor as Float32ArrayConstructor, n * this.tables.inputs);
    if (scaling !== undefined) checkTypedArray('scaling', scaling, Float64Array, 2 * this.tables.inputs);
  }

  /**
   * Rows start … start + rows − 1 of x as the backend reads them: in place when x is float32
   * and needs no scaling, else converted (and standardized by `scaling`) into one staging
   * chunk of the capacity, reused from call to call, so that a large matrix of bytes or
   * doubles is never copied whole.
   */
  #inputChunk(x: FlatMatrix, start: number, rows: number, scaling: Float64Array | undefined): Float32Array {
    const { inputs } = this.tables;
    if (x instanceof Float32Array && !scaling) return rowsOf(x, start * inputs, (start + rows) * inputs);
    if (this.#staging.length < this.capacity * inputs) this.#staging = new Float32Array(this.capacity * inputs);
    const chunk = this.#staging.subarray(0, rows * inputs);
    writeRowsFloat32(x, inputs, chunk, start, rows, scaling);
    return chunk;
  }

  /** One step on a batch given directly (n ≤ capacity). Returns its mean loss; no update when that is not finite. */
  trainStep(x: Float32Array, y: Float32Array, n: number, learningRate: number): number {
    const raw = this.#idle('trainStep');
    this.#checkRows(n, x, y, this.capacity);
    if (typeof learningRate !== 'number') throw typeError('learningRate', 'a finite number >= 0', learningRate);
    if (!(learningRate >= 0 && learningRate < Infinity)) throw rangeError('learningRate', 'a finite number >= 0', learningRate);
    return this.#call('trainStep', () => raw.trainStep(x, y, n, learningRate));
  }

  /**
   * Mean loss (+ L2 penalty) of all n rows without dropout, and its gradient, readable with
   * `getGrads`; no update. Full-batch, for deterministic optimizers such as L-BFGS. Up to
   * FULL_BATCH_ROWS rows run as one batch; a larger set runs in chunks of that many, whose
   * losses and gradients are averaged weighted by their rows (each includes the penalty and
   * the weights sum to 1, so the penalty counts once), so memory stays bounded for any n.
   */
  lossAndGradient(x: Float32Array, y: Float32Array, n: number): number {
    const raw = this.#idle('lossAndGradient');
    this.#checkRows(n, x, y);
    const rows = Math.min(n, FULL_BATCH_ROWS);
    this.reserve(rows);
    if (n === rows) return this.#call('lossAndGradient', () => raw.lossAndGradient(x, y, n));
    const { inputs, outputs } = this.tables;
    const grads = STATE_VECTORS.indexOf('grads');
    const sum = new Float64Array(this.size);
    const part = new Float32Array(this.size);
    let loss = 0;
    for (let start = 0; start < n; start += rows) {
      const count = Math.min(rows, n - start);
      const xs = x.subarray(start * inputs, (start + count) * inputs);
      const ys = y.subarray(start * outputs, (start + count) * outputs);
      loss += (count / n) * this.#call('lossAndGradient', () => raw.lossAndGradient(xs, ys, count));
      raw.readState(grads, part);
      for (let i = 0; i < part.length; i++) sum[i]! += (count / n) * part[i]!;
    }
    raw.writeState(grads, Float32Array.from(sum));
    return loss;
  }

  /**
   * Mean loss (+ L2 penalty) over n rows, without dropout and without updating; the outputs
   * into `out` (n × outputs) when it is given, from the same forward pass.
   */
  evaluate(x: FlatMatrix, y: Float32Array, n: number, out?: Float32Array, scaling?: Float64Array): number {
    const raw = this.#idle('evaluate');
    this.#checkInputRows(n, x, scaling);
    const { outputs } = this.tables;
    checkTypedArray('y', y, Float32Array, n * outputs);
    if (out !== undefined) checkTypedArray('out', out, Float32Array, n * outputs);
    let total = 0;
    for (let start = 0; start < n; start += this.capacity) {
      const rows = Math.min(this.capacity, n - start);
      const xs = this.#inputChunk(x, start, rows, scaling);
      const ys = y.subarray(start * outputs, (start + rows) * outputs);
      total += this.#call('evaluate', () =>
        raw.evaluate(xs, ys, rows, out ? out.subarray(start * outputs, (start + rows) * outputs) : null),
      );
    }
    return total / n + this.#call('evaluate', () => raw.penalty());
  }

  /** Outputs for n rows of x into `out` (n×outputs). */
  predict(x: FlatMatrix, n: number, out: Float32Array, scaling?: Float64Array): void {
    const raw = this.#idle('predict');
    this.#checkInputRows(n, x, scaling);
    const { outputs } = this.tables;
    checkTypedArray('out', out, Float32Array, n * outputs);
    for (let start = 0; start < n; start += this.capacity) {
      const rows = Math.min(this.capacity, n - start);
      const xs = this.#inputChunk(x, start, rows, scaling);
      this.#call('predict', () => raw.predict(xs, rows, rowsOf(out, start * outputs, (start + rows) * outputs)));
    }
  }

  /** Releases the model's memory. Idempotent; refused while training asynchronously. */
  dispose(): void {
    if (this.#busy)
      throw new ModelBusyError(
        `this ${this.backend.name} model is busy training (trainAsync in flight); dispose() must wait until it is done`,
      );
    if (this.#disposed) return;
    this.#disposed = true;
    this.#dataRows = 0;
    this.#inPlace = undefined;
    this.#staging = new Float32Array(0);
    this.#raw.dispose();
  }
}
