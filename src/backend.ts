/**
 * What a compute backend (js, wasm, native) implements: a small raw interface, called only by
 * the one wrapper of `backend-model.ts`, which checks every argument, guards busy and disposed
 * models, cuts work into batches and slices, and chunks evaluations. A backend therefore
 * checks nothing that the wrapper has checked; the compiled ones keep only the checks that
 * protect their memory.
 *
 * A raw model owns the state of one network — parameters, gradients, the optimizer's moments
 * (STATE_VECTORS of tables.ts, each in the layout of layout.ts) and the counters — plus the
 * training set and all scratch memory, sized once from the model and the largest batch.
 * JavaScript crosses into it once per chunk of mini-batches, never per layer:
 *
 *   for each batch b of the chunk (rows order[bounds[b] … bounds[b+1]) of the data set):
 *     forward        Z_l = A_{l−1}·W_lᵀ + b_l,  A_l = φ_l(Z_l) ⊙ dropout mask / (1 − rate)
 *     loss_forward   mean loss over rows, + l2·‖W‖²; fused δ_L (softmax+CE, sigmoid+BCE: ŷ − y)
 *     backward       dW_l = δ_lᵀ·A_{l−1} + 2·l2·W_l,  db_l = Σ_rows δ_l,  δ_{l−1} = (δ_l·W_l) ⊙ φ'_{l−1}
 *     update         one optimizer loop over the flat vectors, with learningRates[b]
 *
 * The learning rate of every update comes from the caller (schedules and reduce-on-plateau
 * live in TypeScript, once); the update counter lives in the counters, since Adam's bias
 * correction and the dropout masks depend on it.
 */
import type { BackendName } from './spec.js';
import type { ModelTables } from './tables.js';
import type { ColumnMoments } from './scaler.js';

export interface Backend {
  readonly name: BackendName;
  /** Instruction set of the kernels in use: 'scalar', 'simd128', 'avx2+fma', 'avx512', … */
  readonly isa: string;
  /** Threads a model trains on by default. */
  readonly threads: number;
  /** The backend's kernels, for parity tests and benchmarks; training never goes through them. */
  readonly kernels: Kernels;
  /**
   * Whether `setData` takes x as bytes and standardizes rows as it gathers them (`scaling`):
   * a large data set then reaches the backend unscaled and uncopied by JavaScript.
   */
  readonly scalesOnGather?: boolean;
  /** StandardScaler's sums (see ColumnMoments), made natively: fitting the scaler of a large set. */
  readonly columnMoments?: ColumnMoments;
  /** A model of the given tables whose parameters are all 0 and whose capacity is 0. */
  createModel(tables: ModelTables, options: { threads?: number }): RawModel;
}

/** The raw model of a backend. Arguments arrive checked: lengths, ranges, n ≤ capacity. */
export interface RawModel {
  /** Rows of the largest batch the scratch memory holds. */
  readonly capacity: number;
  /** Grows the scratch memory to hold batches of `rows` (> capacity). */
  reserve(rows: number): void;

  /** Copies state vector `vector` (an index of STATE_VECTORS) into `out` (length: the parameter count). */
  readState(vector: number, out: Float32Array): void;
  /** Replaces state vector `vector` with `values`. */
  writeState(vector: number, values: Float32Array): void;
  /** Copies the counters (COUNTER_FIELDS) into `out`. */
  readCounters(out: Float64Array): void;
  writeCounters(values: Float64Array): void;

  /**
   * Copies in a training set: x (rows × inputs), y (rows × outputs). When `owned`, x needs no
   * copy (a fresh array nobody else holds, or one that stays in place while the backend reads it):
   * a backend that reads the set from JavaScript memory keeps it as it is. Only a backend with `scalesOnGather` is given x as bytes or a
   * `scaling` (mean[inputs] then scale[inputs]): each gathered row is then
   * fround((x − mean) / scale), computed in double.
   */
  setData(x: Float32Array | Uint8Array, y: Float32Array, rows: number, owned: boolean, scaling?: Float64Array): void;
  /**
   * Trains batches first … first+count−1: batch b is the rows order[bounds[b] … bounds[b+1])
   * of the data set, updated with learningRates[b], its mean loss written to losses[b]. Stops
   * after a batch whose loss is not finite (without applying that update). Returns the
   * number of batches done.
   */
  train(order: Int32Array, bounds: Int32Array, first: number, count: number, learningRates: Float64Array, losses: Float64Array): number;
  /**
   * The same off the JavaScript thread, for backends with threads of their own; it also
   * returns early after `requestStop()`. Backends without it are run in slices by the wrapper.
   */
  trainAsync?(
    order: Int32Array,
    bounds: Int32Array,
    first: number,
    count: number,
    learningRates: Float64Array,
    losses: Float64Array,
  ): Promise<number>;
  requestStop?(): void;
  /** One step on n rows given directly; returns the mean loss + penalty, with no update when it is not finite. */
  trainStep(x: Float32Array, y: Float32Array, n: number, learningRate: number): number;
  /** Mean loss + penalty of n rows without dropout, its gradient left in the grads vector; no update. */
  lossAndGradient(x: Float32Array, y: Float32Array, n: number): number;
  /** Σ of the loss over n rows without dropout or penalty; the outputs ŷ into `out` unless it is null. */
  evaluate(x: Float32Array, y: Float32Array, n: number, out: Float32Array | null): number;
  /** l2 · ‖W‖² (biases are not penalized). */
  penalty(): number;
  /** Outputs ŷ of n rows into `out` (n × outputs). */
  predict(x: Float32Array, n: number, out: Float32Array): void;
  /** Releases the model's memory. */
  dispose(): void;
}

/** GEMM blocking of one kernel variant, for tests that probe every tile and block edge. */
export interface Blocking {
  readonly mr: number;
  readonly nr: number;
  readonly kc: number;
  readonly mc: number;
}

/** The operands of C = alpha·op(A)·op(B) + beta·C, row-major with leading dimensions, in BLAS order. */
export type GemmOperands = [
  transA: boolean,
  transB: boolean,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Float32Array,
  lda: number,
  b: Float32Array,
  ldb: number,
  beta: number,
  c: Float32Array,
  ldc: number,
];

/** A backend's kernels, as its raw form: the arguments arrive checked (see kernels.ts). */
export interface RawKernels {
  /**
   * The ways a product can be forced to run: instruction sets (native), packed or direct loops
   * (wasm). The first is the one the backend picks by itself.
   */
  readonly variants: readonly string[];
  /** Blocking of a variant. */
  blocking(variant: string): Blocking;
  /** Threads a product may use. */
  readonly maxThreads: number;
  /** C = alpha·op(A)·op(B) + beta·C, row-major with leading dimensions; beta = 0 never reads C. */
  sgemm(...args: [...GemmOperands, variant: string, threads: number]): void;
  /** Philox4x32-10 of key (k0, k1) and counter (c0..c3). */
  philox(k0: number, k1: number, c0: number, c1: number, c2: number, c3: number): Uint32Array;
}

/** The checked kernels every backend exposes (one signature per kernel). */
export interface Kernels extends RawKernels {
  sgemm(...args: [...GemmOperands, variant?: string, threads?: number]): void;
}
