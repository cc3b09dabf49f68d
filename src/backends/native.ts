/**
 * The native backend: the C++ addon (native/), loaded through node-gyp-build from
 * prebuilds/ or build/Release. This adapter allocates every buffer the addon works on —
 * parameters and optimizer state, update counters, scratch, the training set — and the
 * addon borrows them, so reading the weights needs no call into native code.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend, BackendModel } from '../backend.js';
import { seedKey } from '../rng.js';
import { ACTIVATION_CODE, LOSS_CODE, OPTIMIZER_CODE, type ModelSpec } from '../spec.js';
import type { NativeBinding, NativeModelHandle } from './native-binding.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Loads the addon, or throws an error that says what was tried, why it failed and how to fix it. */
export function loadNativeBinding(): NativeBinding {
  const require = createRequire(import.meta.url);
  try {
    const load = require('node-gyp-build') as (dir: string) => unknown;
    return load(packageRoot) as NativeBinding;
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new Error(
      `the native addon could not be loaded (${process.platform}-${process.arch}, node ${process.versions.node}): ${reason}\n` +
        `  tried: ${join(packageRoot, 'build', 'Release', 'mlpkit.node')}, ${join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`)}\n` +
        '  to build it: npm rebuild mlpkit --foreground-scripts  (needs python3, make and a C++17 compiler)',
    );
  }
}

let binding: NativeBinding | undefined;

/** The loaded addon (for the parity tests and benchmarks of its kernels). */
export function nativeBinding(): NativeBinding {
  binding ??= loadNativeBinding();
  return binding;
}

export function loadNativeBackend(): Backend {
  const addon = nativeBinding();
  const info = addon.info();
  return {
    name: 'native',
    isa: info.isa,
    threads: info.threads,
    createModel: (spec, capacity, options) => new NativeModel(addon, spec, capacity, options?.threads),
  };
}

class NativeModel implements BackendModel {
  readonly size: number;
  capacity = 0;
  readonly #handle: NativeModelHandle;
  readonly #state: Float32Array; // params | grads | moment1 | moment2
  readonly #counters = Float64Array.of(0, 1, 1); // update step, β1^t, β2^t
  #scratch = new Float32Array(0);
  #data: [Float32Array, Float32Array] | undefined;

  constructor(addon: NativeBinding, spec: ModelSpec, capacity: number, threads: number | undefined) {
    const layers = Int32Array.from(spec.layers.flatMap((l) => [l.units, ACTIVATION_CODE[l.activation], l.bias ? 1 : 0]));
    const layerParams = Float64Array.from(spec.layers.flatMap((l, i) => [l.alpha, spec.dropout[i]!]));
    const { momentum, beta1, beta2, epsilon } = spec.optimizer;
    const [seedLo, seedHi] = seedKey(spec.seed);
    this.#handle = new addon.Model(
      spec.inputs, layers, layerParams, LOSS_CODE[spec.loss], OPTIMIZER_CODE[spec.optimizer.type],
      Float64Array.of(momentum, beta1, beta2, epsilon, spec.l2), seedLo, seedHi,
    );
    if (threads !== undefined) this.#handle.setThreads(threads);
    this.#state = new Float32Array(this.#handle.stateFloats());
    this.size = this.#state.length / 4;
    this.reserve(capacity);
  }

  get step(): number { return this.#counters[0]!; }

  reserve(rows: number): void {
    if (rows <= this.capacity) return;
    this.#scratch = new Float32Array(this.#handle.scratchFloats(rows));
    this.#handle.bind(this.#state, this.#counters, this.#scratch, rows);
    this.capacity = rows;
  }

  getParams(out: Float32Array): void { out.set(this.#state.subarray(0, this.size)); }
  setParams(params: Float32Array): void { this.#state.set(params.subarray(0, this.size)); }
  getGrads(out: Float32Array): void { out.set(this.#state.subarray(this.size, 2 * this.size)); }

  setData(x: Float32Array, y: Float32Array, n: number): void {
    this.#data = [x.slice(), y.slice()]; // owned here, borrowed by the addon
    this.#handle.setData(this.#data[0], this.#data[1], n);
  }

  train(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): number {
    return this.#handle.train(order, epochLength, batchSize, learningRates, losses);
  }

  trainAsync(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): Promise<number> {
    return this.#handle.trainAsync(order, epochLength, batchSize, learningRates, losses);
  }

  requestStop(): void { this.#handle.requestStop(); }

  trainStep(x: Float32Array, y: Float32Array, n: number, learningRate: number): number {
    return this.#handle.trainStep(x, y, n, learningRate);
  }

  evaluate(x: Float32Array, y: Float32Array, n: number): number { return this.#handle.evaluate(x, y, n); }
  predict(x: Float32Array, n: number, out: Float32Array): void { this.#handle.predict(x, n, out); }

  dispose(): void {
    this.#handle.dispose();
    this.#data = undefined;
    this.#scratch = new Float32Array(0);
  }
}
