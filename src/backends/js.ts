/**
 * The js backend: the reference of reference.ts behind the raw interface, so that it trains
 * on the same terms as the compiled backends (the wrapper of backend-model.ts checks, slices
 * and guards it); and the last fallback. Its kernels are the reference kernels.
 */
import type { Backend, RawModel } from '../backend.js';
import { checkedKernels } from '../kernels.js';
import { philox4x32 } from '../rng.js';
import type { ModelTables } from '../tables.js';
import { sgemm } from './js-kernels.js';
import * as reference from './reference.js';

class JsModel implements RawModel {
  capacity = 0;
  readonly #net: reference.Network;
  readonly #vectors: reference.FloatArray[];
  #scratch: reference.Scratch;
  #batch = { x: new Float32Array(0), y: new Float32Array(0) };
  #data: { x: Float32Array; y: Float32Array } = { x: new Float32Array(0), y: new Float32Array(0) };

  constructor(readonly tables: ModelTables) {
    this.#net = reference.createNetwork(tables.spec, tables.layout);
    this.#vectors = [this.#net.params, this.#net.grads, this.#net.moment1, this.#net.moment2];
    this.#scratch = reference.createScratch(tables.spec, 0);
  }

  reserve(rows: number): void {
    this.#scratch = reference.createScratch(this.tables.spec, rows);
    this.#batch = { x: new Float32Array(rows * this.tables.inputs), y: new Float32Array(rows * this.tables.outputs) };
    this.capacity = rows;
  }

  readState(vector: number, out: Float32Array): void {
    out.set(this.#vectors[vector]!);
  }
  writeState(vector: number, values: Float32Array): void {
    this.#vectors[vector]!.set(values);
  }
  readCounters(out: Float64Array): void {
    out.set(this.#net.counters);
  }
  writeCounters(values: Float64Array): void {
    this.#net.counters.set(values);
  }

  setData(x: Float32Array, y: Float32Array, _rows: number, owned: boolean): void {
    this.#data = { x: owned ? x : x.slice(), y: y.slice() };
  }

  train(order: Int32Array, bounds: Int32Array, first: number, count: number, learningRates: Float64Array, losses: Float64Array): number {
    const { inputs, outputs } = this.tables;
    const { x, y } = this.#batch;
    for (let b = first; b < first + count; b++) {
      const rows = bounds[b + 1]! - bounds[b]!;
      for (let r = 0; r < rows; r++) {
        const row = order[bounds[b]! + r]!;
        x.set(this.#data.x.subarray(row * inputs, (row + 1) * inputs), r * inputs);
        y.set(this.#data.y.subarray(row * outputs, (row + 1) * outputs), r * outputs);
      }
      losses[b] = this.trainStep(x, y, rows, learningRates[b]!);
      if (!Number.isFinite(losses[b]!)) return b - first + 1;
    }
    return count;
  }

  trainStep(x: Float32Array, y: Float32Array, n: number, learningRate: number): number {
    return reference.trainStep(this.#net, this.#scratch, x, y, n, learningRate);
  }

  lossAndGradient(x: Float32Array, y: Float32Array, n: number): number {
    return reference.lossAndGradient(this.#net, this.#scratch, x, y, n);
  }

  evaluate(x: Float32Array, y: Float32Array, n: number, out: Float32Array | null): number {
    reference.forward(this.#net, this.#scratch, x, n, false);
    const loss = reference.lossForward(this.#net, this.#scratch, y, n);
    if (out) out.set(this.#scratch.a.at(-1)!.subarray(0, n * this.tables.outputs));
    return n * loss;
  }

  penalty(): number {
    return reference.penalty(this.#net);
  }

  predict(x: Float32Array, n: number, out: Float32Array): void {
    reference.forward(this.#net, this.#scratch, x, n, false);
    out.set(this.#scratch.a.at(-1)!.subarray(0, n * this.tables.outputs));
  }

  dispose(): void {
    this.#scratch = reference.createScratch(this.tables.spec, 0);
    this.#data = { x: new Float32Array(0), y: new Float32Array(0) };
  }
}

export const jsBackend: Backend = {
  name: 'js',
  isa: 'scalar',
  threads: 1,
  kernels: checkedKernels({
    variants: ['reference'],
    maxThreads: 1,
    blocking: () => ({ mr: 1, nr: 1, kc: 1, mc: 1 }),
    sgemm: (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) =>
      sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc),
    philox: (k0, k1, c0, c1, c2, c3) => {
      const out = new Uint32Array(4);
      philox4x32(k0, k1, c0, c1, c2, c3, out);
      return out;
    },
  }),
  createModel: (tables) => new JsModel(tables),
};
