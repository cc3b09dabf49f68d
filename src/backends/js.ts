/**
 * The reference backend, in plain TypeScript: the oracle every other backend is tested
 * against, and the last fallback. Loops are short and obvious; sums accumulate in float64.
 * Storage is float32 like the other backends, or float64 for the gradient check.
 */
import type { Backend, BackendModel } from '../backend.js';
import { paramLayout, type ParamLayout } from '../layout.js';
import { dropoutThreshold, philox4x32, seedKey, Stream } from '../rng.js';
import type { Activation, ModelSpec } from '../spec.js';

type FloatArray = Float32Array | Float64Array;
type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor;

export function activate(kind: Activation, alpha: number, z: number): number {
  switch (kind) {
    case 'identity': return z;
    case 'sigmoid': return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
    case 'tanh': return Math.tanh(z);
    case 'relu': return z > 0 ? z : 0;
    case 'leaky-relu': return z > 0 ? z : alpha * z;
    case 'elu': return z > 0 ? z : alpha * Math.expm1(z);
    case 'softmax': throw new Error('softmax is applied per row, not per element');
  }
}

export function activationDerivative(kind: Activation, alpha: number, z: number): number {
  switch (kind) {
    case 'identity': return 1;
    case 'sigmoid': { const s = activate('sigmoid', 0, z); return s * (1 - s); }
    case 'tanh': { const t = Math.tanh(z); return 1 - t * t; }
    case 'relu': return z > 0 ? 1 : 0;
    case 'leaky-relu': return z > 0 ? 1 : alpha;
    case 'elu': return z > 0 ? 1 : alpha * Math.exp(z);
    case 'softmax': throw new Error('the softmax derivative is a Jacobian, applied per row');
  }
}

/** Writes softmax(z[row]) into a[row] for each of n rows of width k (max-subtracted). */
function softmaxRows(z: FloatArray, a: FloatArray, n: number, k: number): void {
  for (let r = 0; r < n; r++) {
    let max = -Infinity;
    for (let j = 0; j < k; j++) max = Math.max(max, z[r * k + j]!);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(z[r * k + j]! - max);
    for (let j = 0; j < k; j++) a[r * k + j] = Math.exp(z[r * k + j]! - max) / sum;
  }
}

export const jsBackend: Backend = {
  name: 'js',
  isa: 'scalar',
  threads: 1,
  createModel: (spec, capacity) => new ReferenceModel(spec, capacity),
};

export class ReferenceModel implements BackendModel {
  readonly size: number;
  capacity = 0;
  step = 0;
  private readonly layout: ParamLayout;
  private readonly params: FloatArray;
  private readonly grads: FloatArray;
  private readonly moment1: FloatArray; // momentum velocity, or Adam's m
  private readonly moment2: FloatArray; // Adam's v
  private beta1Power = 1; // β1^t and β2^t as running products, so every backend gets the same bits
  private beta2Power = 1;
  private z: FloatArray[] = []; // pre-activations per layer, capacity × units
  private a: FloatArray[] = []; // outputs per layer (after dropout), capacity × units
  private delta: FloatArray[] = []; // ∂loss/∂z per layer
  private keep: FloatArray[] = []; // dropout: 0 or 1/(1−rate) per unit
  private batchX: FloatArray = new Float32Array(0);
  private batchY: FloatArray = new Float32Array(0);
  private dataX: Float32Array = new Float32Array(0);
  private dataY: Float32Array = new Float32Array(0);
  private stopRequested = false;

  constructor(private readonly spec: ModelSpec, capacity: number, private readonly Float: FloatArrayConstructor = Float32Array) {
    this.layout = paramLayout(spec.inputs, spec.layers);
    this.size = this.layout.size;
    this.params = new Float(this.size);
    this.grads = new Float(this.size);
    this.moment1 = new Float(this.size);
    this.moment2 = new Float(this.size);
    this.reserve(capacity);
  }

  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    const sized = (width: number) => new this.Float(rows * width);
    this.z = this.spec.layers.map((l) => sized(l.units));
    this.a = this.spec.layers.map((l) => sized(l.units));
    this.delta = this.spec.layers.map((l) => sized(l.units));
    this.keep = this.spec.layers.map((l) => sized(l.units));
    this.batchX = sized(this.spec.inputs);
    this.batchY = sized(this.outputs);
    this.capacity = rows;
  }

  private get outputs(): number {
    return this.spec.layers[this.spec.layers.length - 1]!.units;
  }

  getParams(out: FloatArray): void { out.set(this.params); }
  setParams(params: FloatArray): void { this.params.set(params); }
  getGrads(out: FloatArray): void { out.set(this.grads); }

  setData(x: FloatArray, y: FloatArray): void {
    this.dataX = Float32Array.from(x);
    this.dataY = Float32Array.from(y);
  }

  requestStop(): void { this.stopRequested = true; }

  train(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): number {
    this.stopRequested = false;
    return this.trainBatches(order, epochLength, batchSize, learningRates, losses, 0, Infinity);
  }

  /** Runs batches in slices of about 10 ms, giving the event loop a turn between slices. */
  async trainAsync(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): Promise<number> {
    this.stopRequested = false;
    const batches = (order.length / epochLength) * Math.ceil(epochLength / batchSize);
    let done = 0;
    while (done < batches && !this.stopRequested) {
      done = this.trainBatches(order, epochLength, batchSize, learningRates, losses, done, performance.now() + 10);
      if (!Number.isFinite(losses[done - 1]!)) break;
      if (done < batches) await yieldToEventLoop();
    }
    return done;
  }

  /** Trains batches first, first+1, … until all are done, one fails, a stop is requested or the deadline passes. */
  private trainBatches(
    order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array,
    first: number, deadline: number,
  ): number {
    const { inputs } = this.spec;
    const outputs = this.outputs;
    const perEpoch = Math.ceil(epochLength / batchSize);
    const batches = (order.length / epochLength) * perEpoch;
    for (let b = first; b < batches; b++) {
      const start = Math.floor(b / perEpoch) * epochLength + (b % perEpoch) * batchSize;
      const rows = Math.min(batchSize, epochLength - (b % perEpoch) * batchSize);
      for (let r = 0; r < rows; r++) {
        const row = order[start + r]!;
        for (let i = 0; i < inputs; i++) this.batchX[r * inputs + i] = this.dataX[row * inputs + i]!;
        for (let k = 0; k < outputs; k++) this.batchY[r * outputs + k] = this.dataY[row * outputs + k]!;
      }
      losses[b] = this.trainStep(this.batchX, this.batchY, rows, learningRates[b]!);
      if (!Number.isFinite(losses[b]!) || this.stopRequested || performance.now() > deadline) return b + 1;
    }
    return batches;
  }

  trainStep(x: FloatArray, y: FloatArray, n: number, learningRate: number): number {
    this.forward(x, n, true);
    const loss = this.lossAndOutputDelta(y, n) + this.penalty();
    if (!Number.isFinite(loss)) return loss;
    this.backward(x, n);
    this.update(learningRate);
    return loss;
  }

  evaluate(x: FloatArray, y: FloatArray, n: number): number {
    const { inputs } = this.spec;
    const outputs = this.outputs;
    let total = 0;
    for (let start = 0; start < n; start += this.capacity) {
      const rows = Math.min(this.capacity, n - start);
      this.forward(x.subarray(start * inputs), rows, false);
      total += rows * this.lossAndOutputDelta(y.subarray(start * outputs), rows);
    }
    return total / n + this.penalty();
  }

  predict(x: FloatArray, n: number, out: FloatArray): void {
    const { inputs } = this.spec;
    const outputs = this.outputs;
    const last = this.a[this.a.length - 1]!;
    for (let start = 0; start < n; start += this.capacity) {
      const rows = Math.min(this.capacity, n - start);
      this.forward(x.subarray(start * inputs), rows, false);
      out.set(last.subarray(0, rows * outputs), start * outputs);
    }
  }

  dispose(): void {
    this.z = this.a = this.delta = this.keep = [];
    this.dataX = this.dataY = new Float32Array(0);
  }

  private forward(x: FloatArray, n: number, training: boolean): void {
    const p = this.params;
    let input = x;
    this.spec.layers.forEach((layer, l) => {
      const { inputs, units, weightOffset, biasOffset } = this.layout.layers[l]!;
      const z = this.z[l]!;
      const a = this.a[l]!;
      for (let r = 0; r < n; r++) {
        for (let j = 0; j < units; j++) {
          let sum = biasOffset >= 0 ? p[biasOffset + j]! : 0;
          for (let i = 0; i < inputs; i++) sum += input[r * inputs + i]! * p[weightOffset + j * inputs + i]!;
          z[r * units + j] = sum;
        }
      }
      if (layer.activation === 'softmax') softmaxRows(z, a, n, units);
      else for (let i = 0; i < n * units; i++) a[i] = activate(layer.activation, layer.alpha, z[i]!);
      const rate = this.spec.dropout[l]!;
      if (training && rate > 0) this.applyDropout(l, n * units, rate);
      input = a;
    });
  }

  /** Inverted dropout with the shared mask rule of rng.ts: counter [i/4, step, layer, DROPOUT]. */
  private applyDropout(layer: number, count: number, rate: number): void {
    const [k0, k1] = seedKey(this.spec.seed);
    const threshold = dropoutThreshold(rate);
    const scale = Math.fround(1 / (1 - rate));
    const draws = new Uint32Array(4);
    const a = this.a[layer]!;
    const keep = this.keep[layer]!;
    for (let i = 0; i < count; i++) {
      if ((i & 3) === 0) philox4x32(k0, k1, i >>> 2, this.step, layer, Stream.DROPOUT, draws);
      keep[i] = draws[i & 3]! >>> 8 >= threshold ? scale : 0;
      a[i] = a[i]! * keep[i]!;
    }
  }

  /** Mean data loss over n rows; writes ∂(mean loss)/∂z of the output layer into its delta. */
  private lossAndOutputDelta(y: FloatArray, n: number): number {
    const last = this.spec.layers.length - 1;
    const { activation, alpha, units: k } = this.spec.layers[last]!;
    const z = this.z[last]!;
    const a = this.a[last]!;
    const delta = this.delta[last]!;
    const g = new Float64Array(k); // ∂loss/∂ŷ of one row
    let total = 0;
    for (let r = 0; r < n; r++) {
      const row = r * k;
      switch (this.spec.loss) {
        case 'cross-entropy': { // fused with softmax, from the logits: loss = logΣexp(z) − Σ y·z
          let max = -Infinity;
          for (let j = 0; j < k; j++) max = Math.max(max, z[row + j]!);
          let sum = 0;
          for (let j = 0; j < k; j++) sum += Math.exp(z[row + j]! - max);
          const logSumExp = max + Math.log(sum);
          for (let j = 0; j < k; j++) {
            total += y[row + j]! * (logSumExp - z[row + j]!);
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
          for (let j = 0; j < k; j++) { const e = a[row + j]! - y[row + j]!; total += e * e; g[j] = 2 * e; }
          break;
        case 'half-mse':
          for (let j = 0; j < k; j++) { const e = a[row + j]! - y[row + j]!; total += 0.5 * e * e; g[j] = e; }
          break;
        case 'mae':
          for (let j = 0; j < k; j++) { const e = a[row + j]! - y[row + j]!; total += Math.abs(e); g[j] = Math.sign(e); }
          break;
      }
      if (activation === 'softmax') { // δ = J_softmaxᵀ g = p ⊙ (g − p·g)
        let dot = 0;
        for (let j = 0; j < k; j++) dot += a[row + j]! * g[j]!;
        for (let j = 0; j < k; j++) delta[row + j] = (a[row + j]! * (g[j]! - dot)) / n;
      } else {
        for (let j = 0; j < k; j++) delta[row + j] = (g[j]! * activationDerivative(activation, alpha, z[row + j]!)) / n;
      }
    }
    return total / n;
  }

  /** l2 · ‖W‖² over the weights (biases are not penalized). */
  private penalty(): number {
    if (this.spec.l2 === 0) return 0;
    let sum = 0;
    for (const { inputs, units, weightOffset } of this.layout.layers) {
      for (let i = weightOffset; i < weightOffset + inputs * units; i++) sum += this.params[i]! * this.params[i]!;
    }
    return this.spec.l2 * sum;
  }

  private backward(x: FloatArray, n: number): void {
    const p = this.params;
    for (let l = this.spec.layers.length - 1; l >= 0; l--) {
      const { inputs, units, weightOffset, biasOffset } = this.layout.layers[l]!;
      const input = l === 0 ? x : this.a[l - 1]!;
      const delta = this.delta[l]!;
      for (let j = 0; j < units; j++) {
        if (biasOffset >= 0) {
          let sum = 0;
          for (let r = 0; r < n; r++) sum += delta[r * units + j]!;
          this.grads[biasOffset + j] = sum;
        }
        for (let i = 0; i < inputs; i++) {
          let sum = 0;
          for (let r = 0; r < n; r++) sum += delta[r * units + j]! * input[r * inputs + i]!;
          this.grads[weightOffset + j * inputs + i] = sum + 2 * this.spec.l2 * p[weightOffset + j * inputs + i]!;
        }
      }
      if (l === 0) break;
      const below = this.spec.layers[l - 1]!;
      const previous = this.delta[l - 1]!;
      const zBelow = this.z[l - 1]!;
      const keep = this.keep[l - 1]!;
      const dropped = this.spec.dropout[l - 1]! > 0;
      for (let r = 0; r < n; r++) {
        for (let i = 0; i < inputs; i++) {
          let sum = 0;
          for (let j = 0; j < units; j++) sum += delta[r * units + j]! * p[weightOffset + j * inputs + i]!;
          const derivative = activationDerivative(below.activation, below.alpha, zBelow[r * inputs + i]!);
          previous[r * inputs + i] = sum * derivative * (dropped ? keep[r * inputs + i]! : 1);
        }
      }
    }
  }

  private update(learningRate: number): void {
    const { type, momentum, beta1, beta2, epsilon } = this.spec.optimizer;
    const { params: p, grads: g, moment1: m, moment2: v } = this;
    this.step++;
    if (type === 'adam') {
      this.beta1Power *= beta1;
      this.beta2Power *= beta2;
    }
    for (let i = 0; i < this.size; i++) {
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
          const mHat = m[i]! / (1 - this.beta1Power);
          const vHat = v[i]! / (1 - this.beta2Power);
          p[i] = p[i]! - (learningRate * mHat) / (Math.sqrt(vHat) + epsilon);
          break;
        }
      }
    }
  }
}

/** Lets the event loop run: setImmediate where it exists (Node, Bun, Deno), else a zero timeout. */
const setImmediateIfAny = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => (setImmediateIfAny ? setImmediateIfAny(resolve) : setTimeout(resolve, 0)));
