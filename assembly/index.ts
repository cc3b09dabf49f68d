// The WebAssembly ABI of mlpkit: integers and pointers in, numbers out. Floating-point
// arguments (learning rates, alpha and beta) travel through the `scalars` block, arrays through
// buffers whose addresses the model reports. src/backends/wasm.ts is the only caller; it
// validates every argument before the call, and these entry points check their own
// preconditions again, failing through `abort` (a JavaScript Error) instead of corrupting memory.

import { arena_alloc, arena_release, arena_top } from './arena';
import { gemm_reserve, gemm_workspace_bytes, sgemm_epilogue, PATH_DIRECT } from './gemm';
import {
  evaluate_rows, model_batch_x, model_batch_y, model_capacity, model_io_batches, model_io_rows, model_param_count,
  penalty, predict_rows, reserve, reserve_io, set_data, train, train_step,
} from './mlp';
import { philox4x32 } from './rng';

export {
  model_batch_x, model_batch_y, model_capacity, model_counters, model_create, model_data_rows, model_data_x,
  model_data_y, model_grads, model_io_batches, model_io_losses, model_io_order, model_io_rates, model_io_rows,
  model_output, model_param_count, model_params,
} from './mlp';

const scalars = memory.data(64, 16);

/** 1 in the SIMD build, 0 in the scalar one. */
export function simd(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}

/** Address of eight doubles that carry floating-point arguments. */
export function scalars_ptr(): usize {
  return scalars;
}

/** `bytes` of memory at the top of the arena (64-byte aligned); memory grows as needed. */
export function alloc(bytes: u32): usize {
  return arena_alloc(bytes);
}

/** The top of the arena, to give back with `release`. */
export function mark(): usize {
  return arena_top();
}

/** Gives back everything allocated after `top` was returned by `mark`. */
export function release(top: usize): void {
  arena_release(top);
}

function check_rows(n: i32): void {
  if (model_param_count() == 0) throw new Error("no model: model_create must come first");
  if (n < 1 || n > model_capacity()) throw new Error("n must be between 1 and the capacity");
}

/** Grows scratch memory to hold batches of `rows`. */
export function model_reserve(rows: i32): void {
  if (model_param_count() == 0) throw new Error("no model: model_create must come first");
  if (rows < 1) throw new Error("rows must be at least 1");
  reserve(rows);
}

/** Makes room for a training set of `rows`; its x and y go to model_data_x() and model_data_y(). */
export function model_set_data(rows: i32): void {
  if (model_param_count() == 0) throw new Error("no model: model_create must come first");
  if (rows < 1) throw new Error("rows must be at least 1");
  set_data(rows);
}

/** Makes room for train() windows of `rows` order entries and `batches` batches. */
export function model_reserve_io(rows: i32, batches: i32): void {
  if (model_param_count() == 0) throw new Error("no model: model_create must come first");
  if (rows < 1 || batches < 1) throw new Error("rows and batches must be at least 1");
  reserve_io(rows, batches);
}

/** Trains batches first … first+count−1 from the io window that starts at order entry `base`; returns the batches done. */
export function model_train(first: i32, count: i32, epoch_length: i32, batch_size: i32, base: i32): i32 {
  check_rows(1);
  if (count < 1 || count > model_io_batches() || epoch_length < 1 || batch_size < 1 || base < 0 || first < 0) {
    throw new Error("model_train: bad window");
  }
  if (model_io_rows() < 1) throw new Error("model_train: model_reserve_io must come first");
  return train(first, count, epoch_length, batch_size, base);
}

/** One step on the n rows of the batch buffers, with the learning rate in scalars[0]; returns the loss. */
export function model_train_step(n: i32): f64 {
  check_rows(n);
  return train_step(model_batch_x(), model_batch_y(), n, load<f64>(scalars));
}

/** Σ of the loss over the n rows of the batch buffers, without dropout or penalty. */
export function model_evaluate_rows(n: i32): f64 {
  check_rows(n);
  return evaluate_rows(model_batch_x(), model_batch_y(), n);
}

/** l2 · ‖W‖². */
export function model_penalty(): f64 {
  if (model_param_count() == 0) throw new Error("no model: model_create must come first");
  return penalty();
}

/** Outputs for the n rows of batch x, left at model_output(). */
export function model_predict_rows(n: i32): void {
  check_rows(n);
  predict_rows(model_batch_x(), n);
}

/** Grows the packing workspace of `sgemm` to products with n ≤ max_n; allocate its operands after this. */
export function sgemm_reserve(max_n: i32): void {
  if (model_param_count() != 0) throw new Error("sgemm_reserve: this instance holds a model");
  gemm_reserve(gemm_workspace_bytes(max_n));
}

/**
 * C = alpha·op(A)·op(B) + beta·C with alpha = scalars[0], beta = scalars[1]; path 0 chooses,
 * 1 forces packing, 2 the direct loops. Kernel tests and benchmarks only, on an instance
 * without a model, after sgemm_reserve(n).
 */
export function sgemm(
  ta: i32, tb: i32, m: i32, n: i32, k: i32,
  a: usize, // (m, k) if !ta, else (k, m); lda
  lda: i32,
  b: usize, // (k, n) if !tb, else (n, k); ldb
  ldb: i32,
  c: usize, // (m, n), ldc
  ldc: i32,
  path: i32,
): void {
  if (model_param_count() != 0) throw new Error("sgemm: this instance holds a model");
  if (m < 0 || n < 0 || k < 0 || <u32>path > <u32>PATH_DIRECT) throw new Error("sgemm: bad arguments");
  sgemm_epilogue(ta != 0, tb != 0, m, n, k, <f32>load<f64>(scalars), a, lda, b, ldb, <f32>load<f64>(scalars, 8), c, ldc, 0, null, 0, path);
}

/** The four Philox4x32-10 outputs for key (k0, k1) and counter (c0..c3), written to `out`. */
export function philox(
  k0: u32, k1: u32, c0: u32, c1: u32, c2: u32, c3: u32,
  out: usize, // (4) u32
): void {
  philox4x32(k0, k1, c0, c1, c2, c3, out);
}
