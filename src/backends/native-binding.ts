import type { GemmOperands } from '../backend.js';

/** The shape of the native addon (native/addon.cc), declared once. */
export interface GemmConfigInfo {
  /** Micro-kernel instruction set: 'avx512', 'avx2+fma' or 'scalar'. */
  readonly isa: string;
  readonly mr: number;
  readonly nr: number;
  readonly kc: number;
  readonly mc: number;
  readonly nc: number;
}

export interface NativeInfo extends GemmConfigInfo {
  /** Default thread count: the number of cores. */
  readonly threads: number;
  /** Every GEMM configuration this CPU runs, the chosen one first. */
  readonly configs: readonly GemmConfigInfo[];
}

/** A model of the addon: the raw interface of backend.ts, on arrays JavaScript allocated. */
export interface NativeModelHandle {
  stateFloats(): number;
  scratchFloats(capacity: number): number;
  bind(state: Float32Array, counters: Float64Array, scratch: Float32Array, capacity: number): void;
  setThreads(threads: number): void;
  setData(x: Float32Array | Uint8Array, y: Float32Array, rows: number, scaling: Float64Array | undefined): void;
  train(order: Int32Array, bounds: Int32Array, first: number, count: number, learningRates: Float64Array, losses: Float64Array): number;
  trainAsync(
    order: Int32Array,
    bounds: Int32Array,
    first: number,
    count: number,
    learningRates: Float64Array,
    losses: Float64Array,
  ): Promise<number>;
  requestStop(): void;
  trainStep(x: Float32Array, y: Float32Array, n: number, learningRate: number): number;
  lossAndGradient(x: Float32Array, y: Float32Array, n: number): number;
  evaluate(x: Float32Array, y: Float32Array, n: number, out: Float32Array | null): number;
  penalty(): number;
  /** The state was written from JavaScript: copies the addon keeps of the weights are stale. */
  weightsChanged(): void;
  /** The threads the latest call ran on: at most the team's, fewer when its work is small. */
  lastThreads(): number;
  predict(x: Float32Array, n: number, out: Float32Array): void;
  dispose(): void;
}

export interface NativeBinding {
  info(): NativeInfo;
  philox(key0: number, key1: number, c0: number, c1: number, c2: number, c3: number): Uint32Array;
  /** C = alpha·op(A)·op(B) + beta·C, row-major; for parity tests and benchmarks. */
  sgemm(...args: [...GemmOperands, threads: number, isa: string]): void;
  /**
   * GFLOP/s of one core running only the vector FMAs of an ISA's kernels ('auto': the ones in
   * use) for about `seconds`: the yardstick of the benchmarks. 0 for scalar.
   */
  fmaPeak(seconds: number, isa: 'auto' | 'avx512' | 'avx2' | 'scalar'): number;
  /**
   * GB/s at which one core reads a block of `bytes` over and over with the kernels' vector loads
   * (the best pass of about `seconds`): the yardstick of work bound by reading its operands,
   * such as a prediction of one row.
   */
  readBandwidth(bytes: number, seconds: number): number;
  /**
   * Nanoseconds for a cache line to go from one thread to another and back (the median of passes
   * over about `seconds`; 0 when the process may use one CPU only): what each line a training
   * step hands between its threads costs, the yardstick of the 2-thread speed-ups.
   */
  handoffRoundTrip(seconds: number): number;
  /** StandardScaler's sums over rows of x, to its bits (see ColumnMoments in src/scaler.ts). */
  columnMoments(x: Float32Array | Uint8Array, cols: number, rows: Int32Array | undefined, mean: Float64Array, squares: Float64Array): void;
  /** Whether no value is NaN or ±Infinity (a vectorized scan; `allFinite` in data.ts uses it for large arrays). */
  allFinite(data: Float32Array): boolean;
  /** new Model(parameters, layers, layerValues, hyper, loss, optimizer, seedLo, seedHi): the tables of tables.ts. */
  Model: new (
    parameters: number,
    layers: Int32Array,
    layerValues: Float64Array,
    hyper: Float64Array,
    loss: number,
    optimizer: number,
    seedLo: number,
    seedHi: number,
  ) => NativeModelHandle;
}
