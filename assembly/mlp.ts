// The training step of the WebAssembly backend: the same order and the same names as
// native/mlp.cc and the TypeScript reference.
//
//   for l in 0..L-1:  out_l = A_{l-1} · W_lᵀ + b_l, then φ_l and the dropout mask, fused in the
//                     GEMM epilogue (the output layer keeps its logits for the loss)
//   loss_forward:     mean loss over the rows; fused δ_L (softmax+CE and sigmoid+BCE: ŷ − y)
//   for l in L-1..0:  dW_l = δ_lᵀ · A_{l-1} + 2·l2·W_l   (GEMM "TN", L2 fused in the epilogue)
//                     db_l = Σ_rows δ_l
//                     δ_{l-1} = (δ_l · W_l) ⊙ φ'_{l-1} ⊙ keep_{l-1}   (GEMM "NN", fused epilogue)
//   optimizer_update: one loop over the flat parameter vector
//
// One instance holds one model, so the model lives in module globals. It arrives as the tables
// of src/tables.ts (model_create), offsets included: nothing about the layout is recomputed
// here. Like the native addon, the model borrows memory its caller allocated in the arena
// (arena.ts) and never allocates in a step:
//   state     (STATE_VECTOR_COUNT · P floats) params | grads | moment1 | moment2, each in the
//             layout of src/layout.ts
//   counters  (COUNTER_COUNT doubles) update step t, β1^t, β2^t
//   scratch   (scratch_bytes(capacity)) per layer: out, delta, keep with dropout and pre (z)
//             where φ' needs z (capacity × units each); the gathered batch x and y; the GEMM
//             packing workspace
//   data      the training set x (rows × inputs), y (rows × outputs)

import { activation_backward, activation_backward_block, activation_backward_from_input, activation_backward_from_input_block,
  activation_forward_block, sigmoid } from './activations';
import { arena_alloc } from './arena';
import { gemm_bind_workspace, gemm_workspace_bytes, sgemm_epilogue, PATH_AUTO } from './gemm';
import { activation_derivative_from_input, Activation, Counter, HyperField, LayerField, LayerValue, Loss, Optimizer, StateVector, Stream,
  ACTIVATION_COUNT, HYPER_FIELD_COUNT, LAYER_FIELD_COUNT, LAYER_VALUE_COUNT, LOSS_COUNT, OPTIMIZER_COUNT } from './generated/tables';
import { dropout_threshold, philox4x32 } from './rng';

// @ts-ignore: decorator
@unmanaged export class Layer {
  inputs: i32;
  units: i32;
  activation: i32;
  alpha: f32;
  bias: bool;
  dropout: f64;
  weight_offset: i32; // W (units, inputs) in the flat vector
  bias_offset: i32;   // b (units), or -1
  out: usize;         // (capacity, units): φ(z) ⊙ keep; for the output layer the logits, then ŷ
  delta: usize;       // (capacity, units): ∂(mean loss)/∂z
  keep: usize;        // (capacity, units): 0 or 1/(1 − rate); 0 without dropout
  pre: usize;         // (capacity, units): z where φ' needs it; 0 otherwise
}

const LAYER_BYTES: usize = offsetof<Layer>();

// The model of this instance.
let inputs: i32 = 0;
let layer_count: i32 = 0;
let layers: usize = 0; // Layer[layer_count]
let loss: i32 = Loss.Mse;
let optimizer: i32 = Optimizer.Sgd;
let momentum: f64 = 0, beta1: f64 = 0.9, beta2: f64 = 0.999, epsilon: f64 = 1e-8, l2: f64 = 0;
let seed_lo: u32 = 0, seed_hi: u32 = 0;
let param_count: i32 = 0;
let widest: i32 = 0;

let params: usize = 0;   // (P)
let grads: usize = 0;    // (P)
let moment1: usize = 0;  // (P)
let moment2: usize = 0;  // (P)
let counters: usize = 0; // (COUNTER_COUNT) f64

let capacity: i32 = 0;
let batch_x: usize = 0; // (capacity, inputs)
let batch_y: usize = 0; // (capacity, outputs)

let data_x: usize = 0;  // (data_rows, inputs) f32, or u8 when data_bytes
let data_bytes: bool = false;
let data_scaling: usize = 0; // 0, or mean (inputs f64) then scale (inputs f64): rows standardized as gathered
let data_y: usize = 0;  // (data_rows, outputs)
let data_rows: i32 = 0;

// @ts-ignore: decorator
@inline export function layer_at(l: i32): Layer {
  return changetype<Layer>(layers + <usize>l * LAYER_BYTES);
}

// @ts-ignore: decorator
@inline function align64(bytes: u64): u64 {
  return (bytes + 63) & ~<u64>63;
}

// @ts-ignore: decorator
@inline function counter(field: i32): usize {
  return counters + (<usize>field << 3);
}

/** Units of the output layer. */
export function outputs(): i32 { return layer_at(layer_count - 1).units; }
/** Number of parameters; 0 before model_create. */
export function model_param_count(): i32 { return param_count; }
/** Rows of the largest batch the bound scratch holds; 0 before bind. */
export function model_capacity(): i32 { return capacity; }
/** Rows of the bound training set; 0 before set_data. */
export function model_data_rows(): i32 { return data_rows; }

/**
 * Reads the tables of src/tables.ts: `parameters`, the layer table (LAYER_FIELD_COUNT i32 per
 * layer), the layer values (LAYER_VALUE_COUNT f64 per layer) and the optimizer constants
 * (HYPER_FIELD_COUNT f64). Checks every code, that each fan-in is the units below, and that W
 * and b lie inside the parameters, so that no step can address outside the state.
 */
export function model_create(
  parameters: i32,
  layer_table: usize,  // (n_layers, LAYER_FIELD_COUNT) i32
  n_layers: i32,
  layer_values: usize, // (n_layers, LAYER_VALUE_COUNT) f64
  hyper: usize,        // (HYPER_FIELD_COUNT) f64
  loss_kind: i32, optimizer_kind: i32, key_lo: u32, key_hi: u32,
): void {
  if (layers != 0) throw new Error("model_create: this instance already holds a model");
  if (parameters < 1 || n_layers < 1) throw new Error("model_create: a model needs parameters and at least one layer");
  if (<u32>loss_kind >= <u32>LOSS_COUNT || <u32>optimizer_kind >= <u32>OPTIMIZER_COUNT) throw new Error("model_create: unknown loss or optimizer code");
  for (let i = 0; i < HYPER_FIELD_COUNT; ++i) {
    const v = load<f64>(hyper + (<usize>i << 3));
    const fraction = i == HyperField.Momentum || i == HyperField.Beta1 || i == HyperField.Beta2;
    if (!isFinite(v) || v < 0 || (fraction && v >= 1) || (i == HyperField.Epsilon && v == 0)) throw new Error("model_create: an optimizer constant is out of range");
  }
  const table = arena_alloc(<u64>n_layers * LAYER_BYTES);
  for (let l = 0; l < n_layers; ++l) {
    const row = layer_table + (<usize>(l * LAYER_FIELD_COUNT) << 2);
    const values = layer_values + (<usize>(l * LAYER_VALUE_COUNT) << 3);
    const layer = changetype<Layer>(table + <usize>l * LAYER_BYTES);
    layer.inputs = load<i32>(row + (<usize>LayerField.Inputs << 2));
    layer.units = load<i32>(row + (<usize>LayerField.Units << 2));
    layer.activation = load<i32>(row + (<usize>LayerField.Activation << 2));
    layer.bias = load<i32>(row + (<usize>LayerField.Bias << 2)) != 0;
    layer.weight_offset = load<i32>(row + (<usize>LayerField.WeightOffset << 2));
    layer.bias_offset = load<i32>(row + (<usize>LayerField.BiasOffset << 2));
    layer.alpha = <f32>load<f64>(values + (<usize>LayerValue.Alpha << 3));
    layer.dropout = load<f64>(values + (<usize>LayerValue.Dropout << 3));
    const output = l == n_layers - 1;
    const below = l == 0 ? layer.inputs : changetype<Layer>(table + <usize>(l - 1) * LAYER_BYTES).units;
    if (layer.units < 1 || layer.units > (1 << 24) || layer.inputs != below || layer.inputs < 1 || layer.inputs > (1 << 24)) {
      throw new Error("model_create: a layer's sizes do not chain");
    }
    if (<u32>layer.activation >= <u32>ACTIVATION_COUNT) throw new Error("model_create: unknown activation code");
    if (layer.activation == Activation.Softmax && !output) throw new Error("model_create: softmax is only allowed on the output layer");
    const weights = <i64>layer.units * <i64>layer.inputs;
    if (layer.weight_offset < 0 || <i64>layer.weight_offset + weights > parameters ||
      (layer.bias && (layer.bias_offset < 0 || <i64>layer.bias_offset + layer.units > parameters)) || (!layer.bias && layer.bias_offset != -1)) {
      throw new Error("model_create: W or b lies outside the parameters");
    }
    if (!(layer.dropout >= 0 && layer.dropout < 1) || (output && layer.dropout != 0)) {
      throw new Error("model_create: dropout must be in [0, 1) on hidden layers and 0 on the output layer");
    }
    layer.out = 0;
    layer.delta = 0;
    layer.keep = 0;
    layer.pre = 0;
  }
  layers = table;
  layer_count = n_layers;
  inputs = layer_at(0).inputs;
  widest = inputs;
  for (let l = 0; l < n_layers; ++l) widest = max(widest, layer_at(l).units);
  loss = loss_kind;
  optimizer = optimizer_kind;
  momentum = load<f64>(hyper + (<usize>HyperField.Momentum << 3));
  beta1 = load<f64>(hyper + (<usize>HyperField.Beta1 << 3));
  beta2 = load<f64>(hyper + (<usize>HyperField.Beta2 << 3));
  epsilon = load<f64>(hyper + (<usize>HyperField.Epsilon << 3));
  l2 = load<f64>(hyper + (<usize>HyperField.L2 << 3));
  seed_lo = key_lo;
  seed_hi = key_hi;
  param_count = parameters;
}

/** Bytes of the scratch memory for batches of `rows` (a double: it may exceed 4 GiB). */
export function scratch_bytes(rows: i32): f64 {
  let total: u64 = 0;
  for (let l = 0; l < layer_count; ++l) {
    const layer = layer_at(l);
    total += align64(<u64>rows * <u64>layer.units * 4) * (2 + <u64>(layer.dropout > 0) + <u64>activation_derivative_from_input(layer.activation));
  }
  total += align64(<u64>rows * <u64>inputs * 4) + align64(<u64>rows * <u64>outputs() * 4);
  return <f64>(total + align64(<u64>gemm_workspace_bytes(widest)));
}

/** Points the model at its state, counters and scratch (for batches of up to `rows`). */
export function bind(state: usize, counter_block: usize, scratch: usize, rows: i32): void {
  const p = <usize>param_count << 2;
  params = state + <usize>StateVector.Params * p;
  grads = state + <usize>StateVector.Grads * p;
  moment1 = state + <usize>StateVector.Moment1 * p;
  moment2 = state + <usize>StateVector.Moment2 * p;
  counters = counter_block;
  let next = scratch;
  for (let l = 0; l < layer_count; ++l) {
    const layer = layer_at(l);
    const size = <usize>align64(<u64>rows * <u64>layer.units * 4);
    layer.out = next;
    layer.delta = next + size;
    next += 2 * size;
    layer.keep = 0;
    if (layer.dropout > 0) {
      layer.keep = next;
      next += size;
    }
    layer.pre = 0;
    if (activation_derivative_from_input(layer.activation)) {
      layer.pre = next;
      next += size;
    }
  }
  batch_x = next;
  next += <usize>align64(<u64>rows * <u64>inputs * 4);
  batch_y = next;
  next += <usize>align64(<u64>rows * <u64>outputs() * 4);
  gemm_bind_workspace(next, gemm_workspace_bytes(widest));
  capacity = rows;
}

/** Points the model at a training set of `rows` rows. */
export function set_data(x: usize, y: usize, rows: i32, bytes: bool, scaling: usize): void {
  data_x = x;
  data_bytes = bytes;
  data_scaling = scaling;
  data_y = y;
  data_rows = rows;
}

// ---------------------------------------------------------------------------------------------
// Epilogues

// Forward epilogue of a hidden layer: z kept where φ' needs it, φ, then inverted dropout, on a
// finished block of out.
// @ts-ignore: decorator
@unmanaged class ForwardEpilogue {
  activation: i32;
  alpha: f32;
  units: i32;
  pre: usize;       // (n, units): z, or 0 when φ' comes from the output
  keep: usize;      // (n, units), or 0 without dropout
  threshold: u32;   // dropout_threshold(rate)
  scale: f32;       // 1 / (1 − rate)
  key0: u32;
  key1: u32;
  step: u32;
  layer: u32;
}

// Backward epilogue: δ_{l-1} ⊙= φ'(a_{l-1}) ⊙ keep, where a is the layer's output before dropout
// (or φ'(z_{l-1}) where φ' needs z).
// @ts-ignore: decorator
@unmanaged class BackwardEpilogue {
  activation: i32;
  alpha: f32;
  units: i32;
  out: usize;       // (n, units): φ(z) ⊙ keep
  pre: usize;       // (n, units): z, or 0 when φ' comes from the output
  keep: usize;      // (n, units), or 0
  keep_rate: f32;   // 1 − rate: recovers φ(z) from a kept output
}

// Gradient epilogue: dW += 2·l2·W on a finished block of dW (row-major like W).
// @ts-ignore: decorator
@unmanaged class L2Epilogue {
  weights: usize;   // (units, inputs)
  factor: f32;      // 2·l2
}

const forward_epilogue = changetype<ForwardEpilogue>(memory.data(offsetof<ForwardEpilogue>(), 16));
const backward_epilogue = changetype<BackwardEpilogue>(memory.data(offsetof<BackwardEpilogue>(), 16));
const l2_epilogue = changetype<L2Epilogue>(memory.data(offsetof<L2Epilogue>(), 16));
const draws = memory.data(16, 16); // one Philox block
// A softmax row of up to KEPT_EXPS outputs keeps its exponentials here between the sum and the
// probabilities: each computed once (the same values, at half the calls; in a small classifier
// they cost more than its products).
const KEPT_EXPS = 256;
const kept_exps = memory.data(KEPT_EXPS * 8, 16);

/** Σ_j exp(z_j − max) over a row of k, each term kept in kept_exps when k <= KEPT_EXPS. */
function sum_of_exps(z: usize, k: i32, max: f64): f64 {
  let sum: f64 = 0;
  for (let j = 0; j < k; ++j) {
    const e = Math.exp(<f64>load<f32>(z + (<usize>j << 2)) - max);
    if (k <= KEPT_EXPS) store<f64>(kept_exps + (<usize>j << 3), e);
    sum += e;
  }
  return sum;
}

/** exp(z_j − max), as sum_of_exps kept it or computed again. */
// @ts-ignore: decorator
@inline function exp_term(z: usize, k: i32, j: i32, max: f64): f64 {
  return k <= KEPT_EXPS ? load<f64>(kept_exps + (<usize>j << 3)) : Math.exp(<f64>load<f32>(z + (<usize>j << 2)) - max);
}

function forward_post(user: usize, c: usize, ldc: i32, row0: i32, col0: i32, rows: i32, cols: i32): void {
  const e = changetype<ForwardEpilogue>(user);
  if (e.pre) {
    for (let r = 0; r < rows; ++r) {
      memory.copy(e.pre + ((<usize>(row0 + r) * <usize>e.units + <usize>col0) << 2), c + ((<usize>r * <usize>ldc) << 2), <usize>cols << 2);
    }
  }
  activation_forward_block(e.activation, e.alpha, c, ldc, rows, cols);
  if (!e.keep) return;
  for (let r = 0; r < rows; ++r) {
    const row = c + ((<usize>r * <usize>ldc) << 2);
    const first = <u32>(row0 + r) * <u32>e.units + <u32>col0;
    for (let j = 0; j < cols; ++j) {
      const i = first + <u32>j;
      if (j == 0 || (i & 3) == 0) philox4x32(e.key0, e.key1, i >> 2, e.step, e.layer, Stream.Dropout, draws);
      const keep: f32 = (load<u32>(draws + ((<usize>i & 3) << 2)) >> 8) >= e.threshold ? e.scale : 0;
      store<f32>(e.keep + (<usize>i << 2), keep);
      const p = row + (<usize>j << 2);
      store<f32>(p, load<f32>(p) * keep);
    }
  }
}

function backward_post(user: usize, c: usize, ldc: i32, row0: i32, col0: i32, rows: i32, cols: i32): void {
  const e = changetype<BackwardEpilogue>(user);
  const first = (<usize>row0 * <usize>e.units + <usize>col0) << 2;
  if (e.pre) {
    activation_backward_from_input_block(e.activation, e.alpha, c, ldc, rows, cols, e.pre + first, e.units);
    if (!e.keep) return;
    for (let r = 0; r < rows; ++r) {
      const row = c + ((<usize>r * <usize>ldc) << 2);
      const keep = e.keep + first + ((<usize>r * <usize>e.units) << 2);
      for (let j = 0; j < cols; ++j) {
        const p = row + (<usize>j << 2);
        store<f32>(p, load<f32>(p) * load<f32>(keep + (<usize>j << 2)));
      }
    }
    return;
  }
  if (!e.keep) {
    activation_backward_block(e.activation, e.alpha, c, ldc, rows, cols, e.out + first, e.units);
    return;
  }
  for (let r = 0; r < rows; ++r) {
    const row = c + ((<usize>r * <usize>ldc) << 2);
    const at = first + ((<usize>r * <usize>e.units) << 2);
    for (let j = 0; j < cols; ++j) {
      const off = at + (<usize>j << 2);
      const keep = load<f32>(e.keep + off);
      const p = row + (<usize>j << 2);
      store<f32>(p, keep == 0 ? 0 : load<f32>(p) * keep * activation_backward(e.activation, e.alpha, load<f32>(e.out + off) * e.keep_rate));
    }
  }
}

function l2_post(user: usize, c: usize, ldc: i32, row0: i32, col0: i32, rows: i32, cols: i32): void {
  const e = changetype<L2Epilogue>(user);
  for (let r = 0; r < rows; ++r) {
    const row = c + ((<usize>r * <usize>ldc) << 2);
    const w = e.weights + ((<usize>(row0 + r) * <usize>ldc + <usize>col0) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const factor = f32x4.splat(e.factor);
      for (; j + 4 <= cols; j += 4) {
        const off = <usize>j << 2;
        v128.store(row + off, f32x4.add(v128.load(row + off), f32x4.mul(factor, v128.load(w + off))));
      }
    }
    for (; j < cols; ++j) {
      const off = <usize>j << 2;
      store<f32>(row + off, load<f32>(row + off) + e.factor * load<f32>(w + off));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The step

/** out_l = φ_l(A_{l-1} · W_lᵀ + b_l) ⊙ mask for every layer; the output layer keeps its logits. */
export function forward(
  x: usize, // (n, inputs)
  n: i32, training: bool,
): void {
  let input = x;
  const last = layer_count - 1;
  const step = <u32>load<f64>(counter(Counter.Step));
  for (let l = 0; l <= last; ++l) {
    const layer = layer_at(l);
    const dropout = training && layer.dropout > 0;
    const e = forward_epilogue;
    e.activation = layer.activation;
    e.alpha = layer.alpha;
    e.units = layer.units;
    e.pre = layer.pre;
    e.keep = dropout ? layer.keep : 0;
    e.threshold = dropout_threshold(layer.dropout);
    e.scale = <f32>(1.0 / (1.0 - layer.dropout));
    e.key0 = seed_lo;
    e.key1 = seed_hi;
    e.step = step;
    e.layer = <u32>l;
    const post = l < last && (layer.activation != Activation.Identity || dropout) ? forward_post : null;
    sgemm_epilogue(false, true, n, layer.units, layer.inputs, 1, input, layer.inputs,
      params + (<usize>layer.weight_offset << 2), layer.inputs, 0, layer.out, layer.units,
      layer.bias ? params + (<usize>layer.bias_offset << 2) : 0, post, changetype<usize>(e), PATH_AUTO);
    input = layer.out;
  }
}

/** ŷ = φ_L(logits) in the last out, for predictions. */
export function output_activation(n: i32): void {
  const layer = layer_at(layer_count - 1);
  const out = layer.out;
  const k = layer.units;
  if (layer.activation == Activation.Softmax) {
    for (let r = 0; r < n; ++r) {
      const row = out + ((<usize>r * <usize>k) << 2);
      let max = load<f32>(row);
      for (let j = 1; j < k; ++j) { const v = load<f32>(row + (<usize>j << 2)); if (max < v) max = v; }
      const sum = sum_of_exps(row, k, max);
      for (let j = 0; j < k; ++j) store<f32>(row + (<usize>j << 2), <f32>(exp_term(row, k, j, max) / sum));
    }
  } else if (layer.activation != Activation.Identity) {
    if (layer.pre) memory.copy(layer.pre, out, (<usize>n * <usize>k) << 2); // z, for φ'(z) in loss_forward
    activation_forward_block(layer.activation, layer.alpha, out, k, n, k);
  }
}

/** Mean loss over n rows from the logits; writes ŷ into the last out and δ_L. */
export function loss_forward(
  y: usize, // (n, outputs)
  n: i32,
): f64 {
  const layer = layer_at(layer_count - 1);
  const k = layer.units;
  const out = layer.out;     // logits in, ŷ out
  const delta = layer.delta; // ∂(mean loss)/∂z
  const inv_n = 1.0 / n;
  let total: f64 = 0;
  if (loss == Loss.CrossEntropy) { // softmax output, from the logits: logΣexp(z) − Σ y·z
    for (let r = 0; r < n; ++r) {
      const z = out + ((<usize>r * <usize>k) << 2);
      const t = y + ((<usize>r * <usize>k) << 2);
      const d = delta + ((<usize>r * <usize>k) << 2);
      let zmax = load<f32>(z);
      for (let j = 1; j < k; ++j) { const v = load<f32>(z + (<usize>j << 2)); if (zmax < v) zmax = v; }
      const max = <f64>zmax;
      const sum = sum_of_exps(z, k, max);
      const log_sum_exp = max + Math.log(sum);
      for (let j = 0; j < k; ++j) {
        const off = <usize>j << 2;
        const zj = load<f32>(z + off);
        const tj = load<f32>(t + off);
        total += <f64>tj * (log_sum_exp - <f64>zj);
        const p = <f32>(exp_term(z, k, j, max) / sum);
        store<f32>(z + off, p);
        store<f32>(d + off, <f32>(<f64>(p - tj) * inv_n));
      }
    }
    return total * inv_n;
  }
  const count = <usize>n * <usize>k;
  if (loss == Loss.BinaryCrossEntropy) { // sigmoid output, from the logits
    for (let i: usize = 0; i < count; ++i) {
      const off = i << 2;
      const zf = load<f32>(out + off);
      const yf = load<f32>(y + off);
      const z = <f64>zf;
      total += (z < 0 ? 0 : z) - z * <f64>yf + Math.log1p(Math.exp(-Math.abs(z)));
      const a = sigmoid(zf);
      store<f32>(out + off, a);
      store<f32>(delta + off, <f32>(<f64>(a - yf) * inv_n));
    }
    return total * inv_n;
  }
  output_activation(n);
  for (let r = 0; r < n; ++r) {
    const a = out + ((<usize>r * <usize>k) << 2);
    const t = y + ((<usize>r * <usize>k) << 2);
    const d = delta + ((<usize>r * <usize>k) << 2);
    for (let j = 0; j < k; ++j) { // d = ∂loss/∂ŷ first
      const off = <usize>j << 2;
      const e = <f64>load<f32>(a + off) - <f64>load<f32>(t + off);
      if (loss == Loss.Mse) {
        total += e * e;
        store<f32>(d + off, <f32>(2 * e));
      } else if (loss == Loss.HalfMse) {
        total += 0.5 * e * e;
        store<f32>(d + off, <f32>e);
      } else {
        total += Math.abs(e);
        store<f32>(d + off, <f32>(<i32>(e > 0) - <i32>(e < 0)));
      }
    }
    if (layer.activation == Activation.Softmax) { // δ = p ⊙ (g − p·g)
      let dot: f64 = 0;
      for (let j = 0; j < k; ++j) dot += <f64>load<f32>(a + (<usize>j << 2)) * <f64>load<f32>(d + (<usize>j << 2));
      for (let j = 0; j < k; ++j) {
        const off = <usize>j << 2;
        store<f32>(d + off, <f32>(<f64>load<f32>(a + off) * (<f64>load<f32>(d + off) - dot) * inv_n));
      }
    } else if (layer.pre) {
      const z = layer.pre + ((<usize>r * <usize>k) << 2);
      for (let j = 0; j < k; ++j) {
        const off = <usize>j << 2;
        store<f32>(d + off, <f32>(<f64>(load<f32>(d + off) * activation_backward_from_input(layer.activation, layer.alpha, load<f32>(z + off))) * inv_n));
      }
    } else {
      for (let j = 0; j < k; ++j) {
        const off = <usize>j << 2;
        store<f32>(d + off, <f32>(<f64>(load<f32>(d + off) * activation_backward(layer.activation, layer.alpha, load<f32>(a + off))) * inv_n));
      }
    }
  }
  return total * inv_n;
}

/** dW, db for every layer and δ for every layer below the output, from δ_L. */
export function backward(
  x: usize, // (n, inputs)
  n: i32,
): void {
  for (let l = layer_count - 1; l >= 0; --l) {
    const layer = layer_at(l);
    const input = l == 0 ? x : layer_at(l - 1).out;
    const delta = layer.delta;
    const dweights = grads + (<usize>layer.weight_offset << 2);
    const le = l2_epilogue;
    le.weights = params + (<usize>layer.weight_offset << 2);
    le.factor = <f32>(2 * l2);
    sgemm_epilogue(true, false, layer.units, layer.inputs, n, 1, delta, layer.units, input, layer.inputs,
      0, dweights, layer.inputs, 0, l2 > 0 ? l2_post : null, changetype<usize>(le), PATH_AUTO);
    if (layer.bias) bias_backward(delta, n, layer.units, grads + (<usize>layer.bias_offset << 2));
    if (l == 0) break;
    const below = layer_at(l - 1);
    const be = backward_epilogue;
    be.activation = below.activation;
    be.alpha = below.alpha;
    be.units = below.units;
    be.out = below.out;
    be.pre = below.pre;
    be.keep = below.dropout > 0 ? below.keep : 0;
    be.keep_rate = <f32>(1.0 - below.dropout);
    sgemm_epilogue(false, false, n, layer.inputs, layer.units, 1, delta, layer.units,
      params + (<usize>layer.weight_offset << 2), layer.inputs, 0, below.delta, layer.inputs, 0, backward_post, changetype<usize>(be), PATH_AUTO);
  }
}

/** db = Σ_rows δ, in row order (the order every backend sums in). */
function bias_backward(
  delta: usize, // (n, units)
  n: i32, units: i32,
  dbias: usize, // (units)
): void {
  for (let j = 0; j < units; ++j) store<f32>(dbias + (<usize>j << 2), 0);
  for (let r = 0; r < n; ++r) {
    const row = delta + ((<usize>r * <usize>units) << 2);
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      for (; j + 4 <= units; j += 4) {
        const off = <usize>j << 2;
        v128.store(dbias + off, f32x4.add(v128.load(dbias + off), v128.load(row + off)));
      }
    }
    for (; j < units; ++j) {
      const off = <usize>j << 2;
      store<f32>(dbias + off, load<f32>(dbias + off) + load<f32>(row + off));
    }
  }
}

/** l2 · ‖W‖² over the weights (biases are not penalized). */
export function penalty(): f64 {
  if (l2 == 0) return 0;
  let sum: f64 = 0;
  for (let l = 0; l < layer_count; ++l) {
    const layer = layer_at(l);
    const w = params + (<usize>layer.weight_offset << 2);
    const count = <usize>layer.units * <usize>layer.inputs;
    for (let i: usize = 0; i < count; ++i) { const v = <f64>load<f32>(w + (i << 2)); sum += v * v; }
  }
  return l2 * sum;
}

function sgd_update(
  n: usize, lr: f32,
  p: usize, // (n)
  g: usize, // (n)
): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr);
    for (; i + 4 <= n; i += 4) {
      const off = i << 2;
      v128.store(p + off, f32x4.sub(v128.load(p + off), f32x4.mul(vlr, v128.load(g + off))));
    }
  }
  for (; i < n; ++i) {
    const off = i << 2;
    store<f32>(p + off, load<f32>(p + off) - lr * load<f32>(g + off));
  }
}

// Δw_t = −η·g + μ·Δw_{t−1}; plain momentum adds Δw_t, Nesterov's look-ahead form μ·Δw_t − η·g.
function momentum_update(
  n: usize, lr: f32, mu: f32, nesterov: bool,
  p: usize, // (n)
  g: usize, // (n)
  m: usize, // (n)
): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr);
    const vmu = f32x4.splat(mu);
    for (; i + 4 <= n; i += 4) {
      const off = i << 2;
      const step = f32x4.mul(vlr, v128.load(g + off));
      const vm = f32x4.sub(f32x4.mul(vmu, v128.load(m + off)), step);
      v128.store(m + off, vm);
      v128.store(p + off, f32x4.add(v128.load(p + off), nesterov ? f32x4.sub(f32x4.mul(vmu, vm), step) : vm));
    }
  }
  for (; i < n; ++i) {
    const off = i << 2;
    const step = lr * load<f32>(g + off);
    const vm = mu * load<f32>(m + off) - step;
    store<f32>(m + off, vm);
    store<f32>(p + off, load<f32>(p + off) + (nesterov ? mu * vm - step : vm));
  }
}

function adam_update(
  n: usize, lr: f32, b1: f32, b2: f32, one_minus_b1: f32, one_minus_b2: f32, c1: f32, c2: f32, eps: f32,
  p: usize, // (n)
  g: usize, // (n)
  m: usize, // (n)
  v: usize, // (n)
): void {
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) {
    const vlr = f32x4.splat(lr), vb1 = f32x4.splat(b1), vb2 = f32x4.splat(b2);
    const vomb1 = f32x4.splat(one_minus_b1), vomb2 = f32x4.splat(one_minus_b2);
    const vc1 = f32x4.splat(c1), vc2 = f32x4.splat(c2), veps = f32x4.splat(eps);
    for (; i + 4 <= n; i += 4) {
      const off = i << 2;
      const vg = v128.load(g + off);
      const vm = f32x4.add(f32x4.mul(vb1, v128.load(m + off)), f32x4.mul(vomb1, vg));
      const vv = f32x4.add(f32x4.mul(vb2, v128.load(v + off)), f32x4.mul(f32x4.mul(vomb2, vg), vg));
      v128.store(m + off, vm);
      v128.store(v + off, vv);
      const update = f32x4.div(f32x4.mul(vlr, f32x4.mul(vm, vc1)), f32x4.add(f32x4.sqrt(f32x4.mul(vv, vc2)), veps));
      v128.store(p + off, f32x4.sub(v128.load(p + off), update));
    }
  }
  for (; i < n; ++i) {
    const off = i << 2;
    const gi = load<f32>(g + off);
    const mi = b1 * load<f32>(m + off) + one_minus_b1 * gi;
    const vi = b2 * load<f32>(v + off) + one_minus_b2 * gi * gi;
    store<f32>(m + off, mi);
    store<f32>(v + off, vi);
    store<f32>(p + off, load<f32>(p + off) - lr * (mi * c1) / (Mathf.sqrt(vi * c2) + eps));
  }
}

/** One update of the flat parameter vector from the gradients, with this batch's learning rate. */
export function optimizer_update(learning_rate: f64): void {
  const size = <usize>param_count;
  const lr = <f32>learning_rate;
  store<f64>(counter(Counter.Step), load<f64>(counter(Counter.Step)) + 1);
  switch (optimizer) {
    case Optimizer.Sgd:
      sgd_update(size, lr, params, grads);
      break;
    case Optimizer.Momentum:
    case Optimizer.Nesterov:
      momentum_update(size, lr, <f32>momentum, optimizer == Optimizer.Nesterov, params, grads, moment1);
      break;
    default: {
      const b1t = load<f64>(counter(Counter.Beta1Power)) * beta1; // β^t as running products, as every backend computes them
      const b2t = load<f64>(counter(Counter.Beta2Power)) * beta2;
      store<f64>(counter(Counter.Beta1Power), b1t);
      store<f64>(counter(Counter.Beta2Power), b2t);
      // Coefficients in double, rounded once: 1 − 0.999f alone would be off by 1e-5 relative.
      adam_update(size, lr, <f32>beta1, <f32>beta2, <f32>(1.0 - beta1), <f32>(1.0 - beta2),
        <f32>(1.0 / (1.0 - b1t)), <f32>(1.0 / (1.0 - b2t)), <f32>epsilon, params, grads, moment1, moment2);
      break;
    }
  }
}

/** One step on n rows (n ≤ capacity): the mean loss + L2 penalty; no update when that is not finite. */
export function train_step(
  x: usize, // (n, inputs)
  y: usize, // (n, outputs)
  n: i32, learning_rate: f64,
): f64 {
  forward(x, n, true);
  const value = loss_forward(y, n) + penalty();
  if (!isFinite(value)) return value;
  backward(x, n);
  optimizer_update(learning_rate);
  return value;
}

/**
 * Batches first … first+count−1 of the bound data set (see RawModel.train in src/backend.ts):
 * batch b is the rows order[bounds[b] … bounds[b+1]), trained with rates[b], its loss written
 * to losses[b]. Returns the number of batches whose loss was written; stops after a loss that
 * is not finite. A batch outside the capacity or a row outside the data set aborts before
 * memory is touched.
 */
export function train(
  order: usize,  // i32 row indices
  bounds: usize, // (≥ first + count + 1) i32
  first: i32, count: i32,
  rates: usize,  // (≥ first + count) f64
  losses: usize, // (≥ first + count) f64
): i32 {
  const n_inputs = <usize>inputs << 2, n_outputs = <usize>outputs() << 2;
  for (let b = first; b < first + count; ++b) {
    const start = load<i32>(bounds + (<usize>b << 2));
    const rows = load<i32>(bounds + (<usize>(b + 1) << 2)) - start;
    if (rows < 1 || rows > capacity) throw new Error("train: a batch is empty or larger than the capacity");
    for (let r = 0; r < rows; ++r) {
      const row = load<i32>(order + (<usize>(start + r) << 2));
      if (<u32>row >= <u32>data_rows) throw new Error("train: order holds a row index outside the data set");
      gather_row(batch_x + <usize>r * n_inputs, row);
      copy_floats(batch_y + <usize>r * n_outputs, data_y + <usize>row * n_outputs, n_outputs);
    }
    const value = train_step(batch_x, batch_y, rows, load<f64>(rates + (<usize>b << 3)));
    store<f64>(losses + (<usize>b << 3), value);
    if (!isFinite(value)) return b - first + 1;
  }
  return count;
}

/** Mean loss + L2 penalty of n ≤ capacity rows without dropout, and its gradient in grads; no update. */
export function loss_and_gradient(
  x: usize, // (n, inputs)
  y: usize, // (n, outputs)
  n: i32,
): f64 {
  forward(x, n, false);
  const value = loss_forward(y, n) + penalty();
  backward(x, n);
  return value;
}

/** Copies `bytes` (a multiple of 4); short rows in a loop, since memory.copy is a call out of the module in V8. */
// @ts-ignore: decorator
/**
 * One row of the training set into the batch: copied, or converted from bytes, and standardized
 * when the set came with its scaling: fround((x − mean) / scale) in f64, the bits of a copy
 * scaled in JavaScript.
 */
function gather_row(dst: usize, row: i32): void {
  const n = <usize>inputs;
  if (!data_bytes && data_scaling == 0) {
    copy_floats(dst, data_x + <usize>row * (n << 2), n << 2);
    return;
  }
  for (let c: usize = 0; c < n; ++c) {
    let v: f64 = data_bytes ? <f64>load<u8>(data_x + <usize>row * n + c) : <f64>load<f32>(data_x + ((<usize>row * n + c) << 2));
    if (data_scaling != 0) v = (v - load<f64>(data_scaling + (c << 3))) / load<f64>(data_scaling + ((n + c) << 3));
    store<f32>(dst + (c << 2), <f32>v);
  }
}

@inline function copy_floats(dst: usize, src: usize, bytes: usize): void {
  if (bytes >= 256) {
    memory.copy(dst, src, bytes);
    return;
  }
  let i: usize = 0;
  if (ASC_FEATURE_SIMD) for (; i + 16 <= bytes; i += 16) v128.store(dst + i, v128.load(src + i));
  for (; i < bytes; i += 4) store<f32>(dst + i, load<f32>(src + i));
}

/** Σ over n ≤ capacity rows of the loss, without dropout or penalty; ŷ into `out` unless it is 0. */
export function evaluate(
  x: usize,   // (n, inputs)
  y: usize,   // (n, outputs)
  n: i32,
  out: usize, // (n, outputs), or 0
): f64 {
  forward(x, n, false);
  const total = n * loss_forward(y, n);
  if (out) memory.copy(out, layer_at(layer_count - 1).out, <usize>n * <usize>outputs() << 2);
  return total;
}

/** ŷ for n ≤ capacity rows into `out`. */
export function predict(
  x: usize,   // (n, inputs)
  n: i32,
  out: usize, // (n, outputs)
): void {
  forward(x, n, false);
  output_activation(n);
  memory.copy(out, layer_at(layer_count - 1).out, <usize>n * <usize>outputs() << 2);
}
