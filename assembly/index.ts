// The WebAssembly ABI of mlpkit, in the shape of the native addon's (native/addon.cc): a model
// is created from the tables of src/tables.ts, borrows the state, counters, scratch and data
// its caller allocated in the arena (alloc / mark / release), and trains, evaluates and
// predicts on pointers into that memory. Floating-point arguments travel as f64 parameters.
// src/backends/wasm/ is the only caller and checks every argument first; these entry points
// keep the checks that protect memory (a batch beyond the capacity, a row outside the data
// set), failing through `abort` (a JavaScript Error) instead of writing where they should not.

import { arena_alloc, arena_release, arena_top } from './arena';
import { gemm_reserve, gemm_workspace_bytes, sgemm_epilogue, KC, MC, MR, NR, PATH_DIRECT } from './gemm';
import {
  bind, evaluate, loss_and_gradient, model_capacity, model_create, model_data_rows, model_param_count, penalty, predict,
  scratch_bytes, set_data, train, train_step,
} from './mlp';
import { philox4x32 } from './rng';

export { model_create };

/** 1 in the SIMD build, 0 in the scalar one. */
export function simd(): i32 {
  return ASC_FEATURE_SIMD ? 1 : 0;
}

/** `bytes` of memory at the top of the arena (64-byte aligned); memory grows as needed. */
export function alloc(bytes: f64): usize {
  return arena_alloc(<u64>bytes);
}

/** The top of the arena, to give back with `release`. */
export function mark(): usize {
  return arena_top();
}

/** Gives back everything allocated after `top` was returned by `mark`. */
export function release(top: usize): void {
  arena_release(top);
}

function check_model(): void {
  if (model_param_count() == 0) throw new Error("no model: model_create must come first");
}

function check_rows(n: i32): void {
  check_model();
  if (n < 1 || n > model_capacity()) throw new Error("n must be between 1 and the capacity");
}

/** Bytes of the scratch memory `model_bind` takes for batches of `rows`. */
export function model_scratch_bytes(rows: i32): f64 {
  check_model();
  if (rows < 1) throw new Error("rows must be at least 1");
  return scratch_bytes(rows);
}

/** Points the model at its state (STATE_VECTOR_COUNT · P floats), counters and scratch for batches of `rows`. */
export function model_bind(state: usize, counters: usize, scratch: usize, rows: i32): void {
  check_model();
  if (rows < 1) throw new Error("rows must be at least 1");
  bind(state, counters, scratch, rows);
}

/**
 * Points the model at a training set: x (rows × inputs floats, or bytes when `bytes`), y (rows ×
 * outputs floats), and optionally its scaling (mean then scale, 2 × inputs f64; 0 for none).
 */
export function model_set_data(x: usize, y: usize, rows: i32, bytes: i32, scaling: usize): void {
  check_model();
  if (rows < 1) throw new Error("rows must be at least 1");
  set_data(x, y, rows, bytes != 0, scaling);
}

/** Trains batches first … first+count−1 (batch b: order[bounds[b] … bounds[b+1])); returns the batches done. */
export function model_train(order: usize, bounds: usize, first: i32, count: i32, rates: usize, losses: usize): i32 {
  check_rows(1);
  if (model_data_rows() < 1) throw new Error("model_train: model_set_data must come first");
  if (first < 0 || count < 1) throw new Error("model_train: bad batch range");
  return train(order, bounds, first, count, rates, losses);
}

/** One step on n rows at x and y with `learning_rate`; returns the loss. */
export function model_train_step(x: usize, y: usize, n: i32, learning_rate: f64): f64 {
  check_rows(n);
  return train_step(x, y, n, learning_rate);
}

/** Mean loss + L2 penalty of n rows without dropout; the gradient goes to the state's grads. */
export function model_loss_and_gradient(x: usize, y: usize, n: i32): f64 {
  check_rows(n);
  return loss_and_gradient(x, y, n);
}

/** Σ of the loss over n rows, without dropout or penalty; ŷ into `out` unless it is 0. */
export function model_evaluate(x: usize, y: usize, n: i32, out: usize): f64 {
  check_rows(n);
  return evaluate(x, y, n, out);
}

/** l2 · ‖W‖². */
export function model_penalty(): f64 {
  check_rows(1);
  return penalty();
}

/** Outputs for n rows at x into `out`. */
export function model_predict(x: usize, n: i32, out: usize): void {
  check_rows(n);
  predict(x, n, out);
}

/** Grows the packing workspace of `sgemm` to products with n ≤ max_n; allocate its operands after this. */
export function sgemm_reserve(max_n: i32): void {
  if (model_param_count() != 0) throw new Error("sgemm_reserve: this instance holds a model");
  gemm_reserve(gemm_workspace_bytes(max_n));
}

/**
 * C = alpha·op(A)·op(B) + beta·C; path 0 chooses, 1 forces packing, 2 the direct loops. Kernel
 * tests and benchmarks only, on an instance without a model, after sgemm_reserve(n).
 */
export function sgemm(
  ta: i32, tb: i32, m: i32, n: i32, k: i32, alpha: f64,
  a: usize, // (m, k) if !ta, else (k, m); lda
  lda: i32,
  b: usize, // (k, n) if !tb, else (n, k); ldb
  ldb: i32,
  beta: f64,
  c: usize, // (m, n), ldc
  ldc: i32,
  path: i32,
): void {
  if (model_param_count() != 0) throw new Error("sgemm: this instance holds a model");
  if (m < 0 || n < 0 || k < 0 || <u32>path > <u32>PATH_DIRECT) throw new Error("sgemm: bad arguments");
  sgemm_epilogue(ta != 0, tb != 0, m, n, k, <f32>alpha, a, lda, b, ldb, <f32>beta, c, ldc, 0, null, 0, path);
}

/** The four Philox4x32-10 outputs for key (k0, k1) and counter (c0..c3), written to `out`. */
export function philox(
  k0: u32, k1: u32, c0: u32, c1: u32, c2: u32, c3: u32,
  out: usize, // (4) u32
): void {
  philox4x32(k0, k1, c0, c1, c2, c3, out);
}

/** The blocking of the packed path, [MR, NR, KC, MC] as i32 at `out`, for the kernel tests. */
export function gemm_blocking(
  out: usize, // (4) i32
): void {
  store<i32>(out, MR);
  store<i32>(out, NR, 4);
  store<i32>(out, KC, 8);
  store<i32>(out, MC, 12);
}
