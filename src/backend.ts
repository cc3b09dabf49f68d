/**
 * The contract between the TypeScript API and a compute backend (js, wasm, native).
 *
 * A backend model owns the parameters, gradients, optimizer state, the training set and
 * all scratch memory of one network, sized once from the model and the largest batch.
 * JavaScript crosses into it once per chunk of mini-batches (a whole epoch when nothing
 * needs to observe single batches), never per layer. Everything a step needs is inside:
 *
 *   for each mini-batch (rows of the data set given once, in the order given):
 *     forward   Z_l = A_{l−1}·W_lᵀ + b_l,  A_l = φ_l(Z_l) ⊙ dropout mask / (1 − rate)
 *     loss      mean over rows of the loss, + l2·‖W‖²; fused δ_L (softmax+CE, sigmoid+BCE: ŷ − y)
 *     backward  dW_l = δ_lᵀ·A_{l−1} + 2·l2·W_l,  db_l = Σ_rows δ_l,  δ_{l−1} = (δ_l·W_l) ⊙ φ'_{l−1}
 *     update    one optimizer loop over the flat vectors, with that batch's learning rate
 *
 * The learning rate of every update is computed by the caller (schedules and
 * reduce-on-plateau live in TypeScript, once) and passed in per batch. The update counter
 * `step` lives in the backend: Adam's bias correction and the dropout masks depend on it.
 * Parameters cross the boundary only in the canonical layout of `layout.ts`.
 */
import type { BackendName, ModelSpec } from './spec.js';

export interface Backend {
  readonly name: BackendName;
  /** Instruction set of the kernels in use: 'scalar', 'simd128', 'avx2+fma', 'avx512', … */
  readonly isa: string;
  /** Threads a model trains on. */
  readonly threads: number;
  /**
   * Creates a model with room for batches of up to `capacity` rows. Parameters start at 0;
   * the caller initializes them with `setParams`.
   */
  createModel(spec: ModelSpec, capacity: number, options?: { threads?: number }): BackendModel;
}

export interface BackendModel {
  /** Number of parameters (the length of the flat vector). */
  readonly size: number;
  /** Rows of the largest batch the scratch memory holds. */
  readonly capacity: number;
  /** Updates applied so far (t of Adam's bias correction and of the dropout masks). */
  readonly step: number;

  /** Grows scratch memory to hold batches of `rows`; the only place a model allocates after creation. */
  reserve(rows: number): void;
  /** Copies the flat parameter vector into `out` (length `size`). */
  getParams(out: Float32Array): void;
  /** Replaces the parameters with `params` (length `size`). */
  setParams(params: Float32Array): void;
  /** Copies the gradient of the last training step (including the L2 term) into `out`. */
  getGrads(out: Float32Array): void;

  /** Copies a training set in (x: n×inputs, y: n×outputs, already scaled and one-hot). */
  setData(x: Float32Array, y: Float32Array, n: number): void;
  /**
   * Trains on the rows of `order` (indices into the data set given to `setData`): one or
   * more epochs of `epochLength` rows each, every epoch cut into batches of `batchSize`
   * (its last batch may be smaller). Batch b uses `learningRates[b]` and writes its mean
   * loss to `losses[b]`. Stops early after a batch whose loss is not finite (without
   * applying that update) or after `requestStop()`. Returns the number of batches done.
   */
  train(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): number;
  /** Same as `train`, without blocking the event loop. */
  trainAsync(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): Promise<number>;
  /** Asks a running `train`/`trainAsync` to return after its current batch. */
  requestStop(): void;
  /** One step on a batch given directly. Returns its mean loss; no update when that is not finite. */
  trainStep(x: Float32Array, y: Float32Array, n: number, learningRate: number): number;

  /** Mean loss (+ L2 penalty) over n rows, without dropout and without updating. */
  evaluate(x: Float32Array, y: Float32Array, n: number): number;
  /** Outputs for n rows of x into `out` (n×outputs). */
  predict(x: Float32Array, n: number, out: Float32Array): void;
  /** Releases the model's memory. Idempotent. */
  dispose(): void;
}
