/**
 * The native backend: the C++ addon (native/), loaded through node-gyp-build from
 * prebuilds/ or build/Release. This adapter allocates every buffer the addon works on —
 * parameters and optimizer state, update counters, scratch, the training set — and the
 * addon borrows them, so reading the weights needs no call into native code. It trains off
 * the JavaScript thread (trainAsync), on the addon's thread pool.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend, RawModel } from '../backend.js';
import { lendFiniteScan } from '../data.js';
import { checkedKernels } from '../kernels.js';
import { initialCounters, type ModelTables } from '../tables.js';
import type { NativeBinding, NativeModelHandle } from './native-binding.js';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Loads the addon, or throws an error that says what was tried, why it failed and how to fix it. */
export function loadNativeBinding(): NativeBinding {
  const require = createRequire(import.meta.url);
  // MLPKIT_NATIVE_ADDON names another build of the addon (a sanitizer or debug build).
  const override = process.env.MLPKIT_NATIVE_ADDON;
  try {
    if (override) return require(override) as NativeBinding;
    const load = require('node-gyp-build') as (dir: string) => unknown;
    return load(packageRoot) as NativeBinding;
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new Error(
      `the native addon could not be loaded (${process.platform}-${process.arch}, node ${process.versions.node}): ${reason}\n` +
        `  tried: ${override ? `${override} (MLPKIT_NATIVE_ADDON)` : `${join(packageRoot, 'build', 'Release', 'mlpkit.node')}, ${join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`)}`}\n` +
        '  to build it: npm rebuild mlpkit --foreground-scripts  (needs python3, make and a C++17 compiler)',
      { cause: error },
    );
  }
}

let binding: NativeBinding | undefined;

/** The loaded addon (for the parity tests and benchmarks of its kernels). */
export function nativeBinding(): NativeBinding {
  if (binding === undefined) {
    binding = loadNativeBinding();
    lendFiniteScan(binding.allFinite);
  }
  return binding;
}

export function loadNativeBackend(): Backend {
  const addon = nativeBinding();
  const info = addon.info();
  const configs = new Map(info.configs.map((c) => [c.isa, c]));
  return {
    name: 'native',
    isa: info.isa,
    threads: info.threads,
    kernels: checkedKernels({
      variants: info.configs.map((c) => c.isa),
      maxThreads: 256,
      blocking: (isa) => configs.get(isa)!,
      sgemm: (transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, isa, threads) =>
        addon.sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, isa),
      philox: (k0, k1, c0, c1, c2, c3) => addon.philox(k0, k1, c0, c1, c2, c3),
    }),
    scalesOnGather: true,
    columnMoments: (x, cols, rows, mean, squares) => addon.columnMoments(x, cols, rows, mean, squares),
    createModel: (tables, options) => new NativeModel(addon, tables, options.threads),
  };
}

/**
 * A model of the addon. Its state (STATE_VECTORS × parameters), counters and scratch are
 * arrays allocated here and borrowed by the addon, so reading the weights needs no crossing.
 */
class NativeModel implements RawModel {
  capacity = 0;
  readonly #handle: NativeModelHandle;
  readonly #size: number;
  readonly #state: Float32Array;
  readonly #counters = initialCounters();
  #copies: [ArrayBufferLike | undefined, ArrayBufferLike | undefined] = [undefined, undefined];

  constructor(addon: NativeBinding, tables: ModelTables, threads: number | undefined) {
    const [seedLo, seedHi] = tables.seed;
    this.#handle = new addon.Model(
      tables.parameters,
      tables.layers,
      tables.layerValues,
      tables.hyper,
      tables.loss,
      tables.optimizer,
      seedLo,
      seedHi,
    );
    if (threads !== undefined) this.#handle.setThreads(threads);
    this.#size = tables.parameters;
    this.#state = new Float32Array(this.#handle.stateFloats());
  }

  reserve(rows: number): void {
    // The addon holds a reference to every array it borrows, for as long as it uses it.
    this.#handle.bind(this.#state, this.#counters, new Float32Array(this.#handle.scratchFloats(rows)), rows);
    this.capacity = rows;
  }

  #vector(index: number): Float32Array {
    return this.#state.subarray(index * this.#size, (index + 1) * this.#size);
  }
  readState(vector: number, out: Float32Array): void {
    out.set(this.#vector(vector));
  }
  writeState(vector: number, values: Float32Array): void {
    this.#vector(vector).set(values);
    this.#handle.weightsChanged(); // the addon keeps the weights packed for predictions
  }
  readCounters(out: Float64Array): void {
    out.set(this.#counters);
  }
  writeCounters(values: Float64Array): void {
    this.#counters.set(values);
  }

  setData(x: Float32Array | Uint8Array, y: Float32Array, n: number, owned: boolean, scaling?: Float64Array): void {
    // The addon borrows the arrays: x as it is when it needs no copy (and is not in shared
    // memory, which the addon does not read), else a copy. Copies go into the buffers of the
    // last set when they are large enough: fresh memory costs a page fault per 4 KB on first
    // touch, which for a large set outweighs the copy itself. Bytes (pixels) stay bytes, a
    // quarter of the memory, and are standardized as rows are gathered.
    const inPlace = owned && x.buffer instanceof ArrayBuffer;
    const dataX = inPlace ? x : copyInto(this.#copies[0], x);
    const dataY = copyInto(this.#copies[1], y);
    this.#handle.setData(dataX, dataY, n, scaling);
    // Keep whole buffers for the next set (a kept x would only hold memory when x is in place).
    this.#copies = [inPlace ? undefined : dataX.buffer, dataY.buffer];
  }

  train(order: Int32Array, bounds: Int32Array, first: number, count: number, learningRates: Float64Array, losses: Float64Array): number {
    return this.#handle.train(order, bounds, first, count, learningRates, losses);
  }

  trainAsync(
    order: Int32Array,
    bounds: Int32Array,
    first: number,
    count: number,
    learningRates: Float64Array,
    losses: Float64Array,
  ): Promise<number> {
    return this.#handle.trainAsync(order, bounds, first, count, learningRates, losses);
  }

  requestStop(): void {
    this.#handle.requestStop();
  }
  trainStep(x: Float32Array, y: Float32Array, n: number, learningRate: number): number {
    return this.#handle.trainStep(x, y, n, learningRate);
  }
  lossAndGradient(x: Float32Array, y: Float32Array, n: number): number {
    return this.#handle.lossAndGradient(x, y, n);
  }
  evaluate(x: Float32Array, y: Float32Array, n: number, out: Float32Array | null): number {
    return this.#handle.evaluate(x, y, n, out);
  }
  penalty(): number {
    return this.#handle.penalty();
  }
  predict(x: Float32Array, n: number, out: Float32Array): void {
    this.#handle.predict(x, n, out);
  }

  dispose(): void {
    this.#handle.dispose();
    this.#copies = [undefined, undefined];
  }
}

/** `values` copied into the start of `into` when it is large enough, else into a fresh array. */
function copyInto<T extends Float32Array | Uint8Array>(into: ArrayBufferLike | undefined, values: T): T {
  if (!into || into.byteLength < values.byteLength) return values.slice() as T;
  const copy = new (values.constructor as new (buffer: ArrayBufferLike, offset: number, length: number) => T)(into, 0, values.length);
  copy.set(values);
  return copy;
}
