/**
 * The reference implementation of one training step, in plain TypeScript: the oracle every
 * other backend is tested against. Pure functions over a `Network` (its spec, layout, state
 * vectors and counters) and its `Scratch`, in the order and under the names of the compiled
 * backends (native/mlp.cc, assembly/mlp.ts):
 *
 *   forward → loss_forward (+ penalty) → backward → optimizer_update
 *
 * Loops are short and obvious; sums accumulate in float64. Storage is float32 like the other
 * backends, or float64 for the gradient check. The activations' formulas are in
 * reference-activations.ts.
 */
import type { ParamLayout } from '../layout.js';
import { dropoutThreshold, philox4x32, seedKey, Stream } from '../rng.js';
import type { ModelSpec } from '../spec.js';
import { activationBackward, activationForward } from './reference-activations.js';
import { COUNTER_FIELD, initialCounters } from '../tables.js';

export type FloatArray = Float32Array | Float64Array;
export type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor;

export interface Network {
  readonly spec: ModelSpec;
  readonly layout: ParamLayout;
  readonly params: FloatArray;
  readonly grads: FloatArray;
  /** Momentum's velocity, or Adam's first moment. */
  readonly moment1: FloatArray;
  /** Adam's second moment. */
  readonly moment2: FloatArray;
  /** COUNTER_FIELDS: the update step, β1^t, β2^t. */
  readonly counters: Float64Array;
}

/** Per layer, (capacity × units) each: pre-activations z, outputs a (after dropout), δ = ∂loss/∂z, dropout factors. */
export interface Scratch {
  readonly z: FloatArray[];
  readonly a: FloatArray[];
  readonly delta: FloatArray[];
  readonly keep: FloatArray[];
}

export function createNetwork(spec: ModelSpec, layout: ParamLayout, Float: FloatArrayConstructor = Float32Array): Network {
  // One allocation for the four vectors, so a model too large for memory fails at once.
  const state = new Float(4 * layout.size);
  const vector = (k: number) => state.subarray(k * layout.size, (k + 1) * layout.size);
  return { spec, layout, params: vector(0), grads: vector(1), moment1: vector(2), moment2: vector(3), counters: initialCounters() };
}

export function createScratch(spec: ModelSpec, rows: number, Float: FloatArrayConstructor = Float32Array): Scratch {
  const sized = () => spec.layers.map((l) => new Float(rows * l.units));
  return { z: sized(), a: sized(), delta: sized(), keep: sized() };
}

/** a[r] = softmax(z[r]) for n rows of width k (max-subtracted). */
function softmaxRows(z: FloatArray, a: FloatArray, n: number, k: number): void {
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, z[r * k + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(z[r * k + j]! - max);
    for (let j = 0; j < k; j++) a[r * k + j] = Math.exp(z[r * k + j]! - max) / sum;
  }
}

/** z_l = a_{l−1}·W_lᵀ + b_l and a_l = φ_l(z_l) (⊙ the dropout mask when training), for every layer. */
export function forward(net: Network, s: Scratch, x: FloatArray, n: number, training: boolean): void {
  const { spec, layout, params: p } = net;
  let input = x;
  spec.layers.forEach((layer, l) => {
    const { inputs, units, weightOffset, biasOffset } = layout.layers[l]!;
    const [z, a] = [s.z[l]!, s.a[l]!];
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < units; j++) {
        let sum = biasOffset >= 0 ? p[biasOffset + j]! : 0;
        for (let i = 0; i < inputs; i++) sum += input[r * inputs + i]! * p[weightOffset + j * inputs + i]!;
        z[r * units + j] = sum;
      }
    }
    if (layer.activation === 'softmax') softmaxRows(z, a, n, units);
    else for (let i = 0; i < n * units; i++) a[i] = activationForward(layer.activation, layer.alpha, z[i]!);
    const rate = spec.dropout[l]!;
    if (training && rate > 0) dropoutForward(net, s, l, n * units, rate);
    input = a;
  });
}

/** Inverted dropout with the mask rule of rng.ts: counter [i/4, step, layer, DROPOUT]. */
function dropoutForward(net: Network, s: Scratch, layer: number, count: number, rate: number): void {
  const [k0, k1] = seedKey(net.spec.seed);
  const [threshold, scale] = [dropoutThreshold(rate), Math.fround(1 / (1 - rate))];
  const draws = new Uint32Array(4);
  const [a, keep] = [s.a[layer]!, s.keep[layer]!];
  for (let i = 0; i < count; i++) {
    if ((i & 3) === 0) philox4x32(k0, k1, i >>> 2, net.counters[COUNTER_FIELD.step]!, layer, Stream.DROPOUT, draws);
    keep[i] = draws[i & 3]! >>> 8 >= threshold ? scale : 0;
    a[i] = a[i]! * keep[i]!;
  }
}

/** Mean data loss over n rows; writes δ_L = ∂(mean loss)/∂z of the output layer. */
export function lossForward(net: Network, s: Scratch, y: FloatArray, n: number): number {
  const last = net.spec.layers.length - 1;
  const { activation, alpha, units: k } = net.spec.layers[last]!;
  const [z, a, delta] = [s.z[last]!, s.a[last]!, s.delta[last]!];
  const g = new Float64Array(k); // ∂loss/∂ŷ of one row
  let total = 0;
  for (let r = 0; r < n; r++) {
    const row = r * k;
    switch (net.spec.loss) {
      case 'cross-entropy': {
        // fused with softmax, from the logits: loss = logΣexp(z) − Σ y·z
        let max = -Infinity;
        for (let j = 0; j < k; j++) max = Math.max(max, z[row + j]!);
        let sum = 0;
        for (let j = 0; j < k; j++) sum += Math.exp(z[row + j]! - max);
        for (let j = 0; j < k; j++) {
          total += y[row + j]! * (max + Math.log(sum) - z[row + j]!);
          delta[row + j] = (a[row + j]! - y[row + j]!) / n;
        }
        continue;
      }
      case 'binary-cross-entropy': // fused with sigmoid, from the logits
        for (let j = 0; j < k; j++) {
          const zj = z[row + j]!;
          total += Math.max(zj, 0) - zj * y[row + j]! + Math.log1p(Math.exp(-Math.abs(zj)));
          delta[row + j] = (a[row + j]! - y[row + j]!) / n;
        }
        continue;
      case 'mse':
        for (let j = 0; j < k; j++) {
          const e = a[row + j]! - y[row + j]!;
          total += e * e;
          g[j] = 2 * e;
        }
        break;
      case 'half-mse':
        for (let j = 0; j < k; j++) {
          const e = a[row + j]! - y[row + j]!;
          total += 0.5 * e * e;
          g[j] = e;
        }
        break;
      case 'mae':
        for (let j = 0; j < k; j++) {
          const e = a[row + j]! - y[row + j]!;
          total += Math.abs(e);
          g[j] = Math.sign(e);
        }
        break;
    }
    if (activation === 'softmax') {
      // δ = J_softmaxᵀ g = p ⊙ (g − p·g)
      let dot = 0;
      for (let j = 0; j < k; j++) dot += a[row + j]! * g[j]!;
      for (let j = 0; j < k; j++) delta[row + j] = (a[row + j]! * (g[j]! - dot)) / n;
    } else {
      for (let j = 0; j < k; j++) delta[row + j] = (g[j]! * activationBackward(activation, alpha, z[row + j]!)) / n;
    }
  }
  return total / n;
}

/** l2 · ‖W‖² over the weights (biases are not penalized). */
export function penalty(net: Network): number {
  if (net.spec.l2 === 0) return 0;
  let sum = 0;
  for (const { inputs, units, weightOffset } of net.layout.layers) {
    for (let i = weightOffset; i < weightOffset + inputs * units; i++) sum += net.params[i]! * net.params[i]!;
  }
  return net.spec.l2 * sum;
}

/** dW_l = δ_lᵀ·a_{l−1} + 2·l2·W_l, db_l = Σ_rows δ_l and δ_{l−1} = (δ_l·W_l) ⊙ φ'(z_{l−1}) ⊙ keep_{l−1}. */
export function backward(net: Network, s: Scratch, x: FloatArray, n: number): void {
  const { spec, layout, params: p, grads } = net;
  for (let l = spec.layers.length - 1; l >= 0; l--) {
    const { inputs, units, weightOffset, biasOffset } = layout.layers[l]!;
    const input = l === 0 ? x : s.a[l - 1]!;
    const delta = s.delta[l]!;
    for (let j = 0; j < units; j++) {
      if (biasOffset >= 0) {
        let sum = 0;
        for (let r = 0; r < n; r++) sum += delta[r * units + j]!;
        grads[biasOffset + j] = sum;
      }
      for (let i = 0; i < inputs; i++) {
        let sum = 0;
        for (let r = 0; r < n; r++) sum += delta[r * units + j]! * input[r * inputs + i]!;
        grads[weightOffset + j * inputs + i] = sum + 2 * spec.l2 * p[weightOffset + j * inputs + i]!;
      }
    }
    if (l === 0) break;
    const below = spec.layers[l - 1]!;
    const dropped = spec.dropout[l - 1]! > 0;
    for (let r = 0; r < n; r++) {
      for (let i = 0; i < inputs; i++) {
        let sum = 0;
        for (let j = 0; j < units; j++) sum += delta[r * units + j]! * p[weightOffset + j * inputs + i]!;
        const derivative = activationBackward(below.activation, below.alpha, s.z[l - 1]![r * inputs + i]!);
        s.delta[l - 1]![r * inputs + i] = sum * derivative * (dropped ? s.keep[l - 1]![r * inputs + i]! : 1);
      }
    }
  }
}

/** One update of every parameter from its gradient, with this batch's learning rate. */
export function optimizerUpdate(net: Network, learningRate: number): void {
  const { type, momentum, beta1, beta2, epsilon } = net.spec.optimizer;
  const { params: p, grads: g, moment1: m, moment2: v, counters } = net;
  counters[COUNTER_FIELD.step]!++;
  if (type === 'adam') {
    // β^t as running products, so every backend gets the same bits
    counters[COUNTER_FIELD.beta1Power]! *= beta1;
    counters[COUNTER_FIELD.beta2Power]! *= beta2;
  }
  for (let i = 0; i < p.length; i++) {
    switch (type) {
      case 'sgd':
        p[i] = p[i]! - learningRate * g[i]!;
        break;
      case 'momentum': // Δw_t = −η·g + μ·Δw_{t−1}
        m[i] = momentum * m[i]! - learningRate * g[i]!;
        p[i] = p[i]! + m[i]!;
        break;
      case 'nesterov': // the look-ahead form: w += μ·Δw_t − η·g
        m[i] = momentum * m[i]! - learningRate * g[i]!;
        p[i] = p[i]! + momentum * m[i]! - learningRate * g[i]!;
        break;
      case 'adam': {
        m[i] = beta1 * m[i]! + (1 - beta1) * g[i]!;
        v[i] = beta2 * v[i]! + (1 - beta2) * g[i]! * g[i]!;
        const mHat = m[i]! / (1 - counters[COUNTER_FIELD.beta1Power]!);
        const vHat = v[i]! / (1 - counters[COUNTER_FIELD.beta2Power]!);
        p[i] = p[i]! - (learningRate * mHat) / (Math.sqrt(vHat) + epsilon);
        break;
      }
    }
  }
}

/** One step on n rows: the mean loss + penalty, with no update when that is not finite. */
export function trainStep(net: Network, s: Scratch, x: FloatArray, y: FloatArray, n: number, learningRate: number): number {
  forward(net, s, x, n, true);
  const loss = lossForward(net, s, y, n) + penalty(net);
  if (!Number.isFinite(loss)) return loss;
  backward(net, s, x, n);
  optimizerUpdate(net, learningRate);
  return loss;
}

/** The gradient of the mean loss + penalty of n rows without dropout, left in grads; returns that loss. */
export function lossAndGradient(net: Network, s: Scratch, x: FloatArray, y: FloatArray, n: number): number {
  forward(net, s, x, n, false);
  const loss = lossForward(net, s, y, n) + penalty(net);
  backward(net, s, x, n);
  return loss;
}
