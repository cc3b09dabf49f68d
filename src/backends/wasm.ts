/**
 * The WebAssembly backend: the AssemblyScript build of assembly/, in two flavours compiled
 * from one source — `mlpkit-simd.wasm` (128-bit SIMD) and `mlpkit-scalar.wasm` — the right one
 * chosen by whether the runtime validates a tiny SIMD module. It imports nothing from Node, so
 * it runs in browsers, workers, Deno, Bun and Cloudflare Workers.
 *
 * The module is compiled once; every model gets its own instance, whose linear memory holds
 * that model's parameters, optimizer state, scratch and training set (see assembly/mlp.ts).
 * This adapter validates every argument before it crosses, copies arrays in and out, and
 * re-derives its typed-array views whenever the memory has grown. A training chunk crosses
 * once per window of batches (tens of thousands), or, asynchronously, once per slice of about
 * 10 ms, yielding to the event loop in between.
 *
 * Failures: AssemblyScript's `abort(message, file, line, column)` becomes an
 * `Error('mlpkit wasm abort: <message> at <file>:<line>')`. A failure while allocating leaves
 * the model as it was; a failure during any other call (a trap, an abort) leaves it refusing
 * every further call with that error, rather than computing on half-updated memory.
 */
import type { Backend, BackendModel } from '../backend.js';
import { rangeError, typeError } from '../errors.js';
import { BackendAbsent, setBackendLoader } from '../registry.js';
import { seedKey } from '../rng.js';
import { ACTIVATION_CODE, LOSS_CODE, OPTIMIZER_CODE, type ModelSpec } from '../spec.js';

/** Where the compiled module comes from: the module itself, its bytes, or a URL (or its fetched response). */
export type WasmSource = WebAssembly.Module | BufferSource | URL | string | Response | PromiseLike<Response>;

/** What `initWasm` loaded. */
export interface WasmInfo {
  /** 'simd128' for the SIMD build, 'scalar' for the other. */
  readonly isa: 'simd128' | 'scalar';
}

/** A tiny module using f32x4 instructions: whether this runtime's WebAssembly has 128-bit SIMD. */
const SIMD_PROBE = Uint8Array.of(
  0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 125, 125, 1, 125, 3, 2, 1, 0, 7, 8, 1, 4, 115, 105, 109, 100, 0, 0,
  10, 18, 1, 16, 0, 32, 0, 253, 19, 32, 1, 253, 19, 253, 228, 1, 253, 31, 0, 11,
);

/** Whether this runtime runs WebAssembly SIMD (the `mlpkit-simd.wasm` build). */
export function wasmSimdSupported(): boolean {
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** File names of the two builds, in dist/wasm/ of the package. */
export const WASM_FILES = { simd: 'mlpkit-simd.wasm', scalar: 'mlpkit-scalar.wasm' } as const;

/** URL of a build next to this module (literal paths, so that bundlers can see and copy them). */
export function defaultWasmUrl(simd = wasmSimdSupported()): URL {
  return simd
    ? new URL('../../dist/wasm/mlpkit-simd.wasm', import.meta.url)
    : new URL('../../dist/wasm/mlpkit-scalar.wasm', import.meta.url);
}

interface WasmExports {
  readonly memory: WebAssembly.Memory;
  simd(): number;
  scalars_ptr(): number;
  alloc(bytes: number): number;
  mark(): number;
  release(top: number): void;
  model_create(inputs: number, layers: number, layerInts: number, layerFloats: number, loss: number, optimizer: number, hyper: number, keyLo: number, keyHi: number): number;
  model_reserve(rows: number): void;
  model_set_data(rows: number): void;
  model_reserve_io(rows: number, batches: number): void;
  model_train(first: number, count: number, epochLength: number, batchSize: number, base: number): number;
  model_train_step(n: number): number;
  model_evaluate_rows(n: number): number;
  model_penalty(): number;
  model_predict_rows(n: number): void;
  model_params(): number;
  model_grads(): number;
  model_counters(): number;
  model_batch_x(): number;
  model_batch_y(): number;
  model_output(): number;
  model_data_x(): number;
  model_data_y(): number;
  model_io_order(): number;
  model_io_rates(): number;
  model_io_losses(): number;
  model_io_rows(): number;
  model_io_batches(): number;
  sgemm_reserve(maxN: number): void;
  sgemm(ta: number, tb: number, m: number, n: number, k: number, a: number, lda: number, b: number, ldb: number, c: number, ldc: number, path: number): void;
  philox(k0: number, k1: number, c0: number, c1: number, c2: number, c3: number, out: number): void;
}

/** One instance of the module, with views over its memory that follow its growth. */
class WasmInstance {
  readonly exports: WasmExports;
  #buffer: ArrayBuffer | undefined;
  #f32 = new Float32Array(0);
  #f64 = new Float64Array(0);
  #i32 = new Int32Array(0);

  constructor(module: WebAssembly.Module) {
    const imports = { env: { abort: (message: number, file: number, line: number) => this.#abort(message, file, line) } };
    this.exports = new WebAssembly.Instance(module, imports).exports as unknown as WasmExports;
  }

  #views(): void {
    const buffer = this.exports.memory.buffer;
    if (buffer === this.#buffer) return;
    this.#buffer = buffer as ArrayBuffer;
    this.#f32 = new Float32Array(buffer);
    this.#f64 = new Float64Array(buffer);
    this.#i32 = new Int32Array(buffer);
  }

  /** The memory as floats; re-derived when the memory has grown (growth detaches old views). */
  get f32(): Float32Array { this.#views(); return this.#f32; }
  get f64(): Float64Array { this.#views(); return this.#f64; }
  get i32(): Int32Array { this.#views(); return this.#i32; }

  /** An AssemblyScript string (UTF-16, byte length in the 4 bytes before it). */
  #string(pointer: number): string {
    try {
      const buffer = this.exports.memory.buffer;
      const units = new Uint16Array(buffer, pointer, new Uint32Array(buffer, pointer - 4, 1)[0]! >>> 1);
      let text = '';
      for (let i = 0; i < units.length; i += 1024) text += String.fromCharCode(...units.subarray(i, i + 1024));
      return text;
    } catch {
      return 'unknown'; // a null or corrupt pointer: the message must not hide the failure
    }
  }

  #abort(message: number, file: number, line: number): never {
    throw new WasmAbort(`mlpkit wasm abort: ${this.#string(message)} at ${this.#string(file)}:${line}`);
  }
}

/** What `abort` throws from inside the module (an Error; the class only tells it from other failures). */
class WasmAbort extends Error {}

/** A thrown value from inside a call, as an Error that says where it happened. */
function wasmFailure(error: unknown, what: string): Error {
  if (error instanceof WasmAbort) return error;
  if (error instanceof WebAssembly.RuntimeError) return new Error(`mlpkit wasm: ${what} trapped: ${error.message}`, { cause: error });
  if (error instanceof Error) return new Error(`mlpkit wasm: ${what} failed: ${error.message}`, { cause: error });
  return new Error(`mlpkit wasm: ${what} failed: ${String(error)}`);
}

// ---------------------------------------------------------------------------------------------
// Loading

interface ActiveModule {
  readonly module: WebAssembly.Module;
  readonly isa: 'simd128' | 'scalar';
  readonly backend: Backend;
}

let active: ActiveModule | undefined;

/**
 * Makes `module` the WebAssembly backend's module (synchronously: it is already compiled).
 * Used by `initWasm` and by the Node entry, which compiles the file in place.
 */
export function useWasmModule(module: WebAssembly.Module): WasmInfo {
  if (!(module instanceof WebAssembly.Module)) throw typeError('module', 'a WebAssembly.Module', module);
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = ['memory', 'simd', 'model_create', 'model_train', 'sgemm'].filter((name) => !names.has(name));
  if (missing.length > 0) {
    throw new TypeError(`module must be the mlpkit WebAssembly module (mlpkit-simd.wasm or mlpkit-scalar.wasm), got a module without ${missing.join(', ')}`);
  }
  const probe = new WasmInstance(module);
  const isa = probe.exports.simd() === 1 ? 'simd128' : 'scalar';
  const backend: Backend = {
    name: 'wasm',
    isa,
    threads: 1,
    createModel: (spec, capacity) => new WasmModel(module, spec, capacity),
  };
  active = { module, isa, backend };
  setBackendLoader('wasm', loadWasmBackend); // forgets any earlier failure to load
  return { isa };
}

/** The loader of the universal entry: the backend once `initWasm` has run. */
export function loadWasmBackend(): Backend {
  if (!active) {
    throw new BackendAbsent('the WebAssembly module is not initialized in this runtime: call await initWasm() first');
  }
  return active.backend;
}

/** The module in use, if any (tests and benchmarks build kernel instances from it). */
export function activeWasmModule(): WebAssembly.Module | undefined {
  return active?.module;
}

function isResponse(value: unknown): value is Response {
  return typeof Response !== 'undefined' && value instanceof Response;
}

async function compileResponse(response: Response): Promise<WebAssembly.Module> {
  if (!response.ok) throw new Error(`fetching ${response.url || 'the WebAssembly module'} failed: HTTP ${response.status}`);
  const streaming = typeof WebAssembly.compileStreaming === 'function' && response.headers.get('content-type')?.startsWith('application/wasm');
  return streaming ? WebAssembly.compileStreaming(response) : WebAssembly.compile(await response.arrayBuffer());
}

/** Compiles (or takes) the module a `WasmSource` describes. */
export async function compileWasmSource(source: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) return WebAssembly.compile(source);
  if (typeof source === 'string' || source instanceof URL) return compileResponse(await fetch(source));
  if (isResponse(source)) return compileResponse(source);
  if (source && typeof (source as PromiseLike<Response>).then === 'function') {
    const response = await source;
    if (!isResponse(response)) throw typeError('source', 'a promise of a Response', response);
    return compileResponse(response);
  }
  throw typeError('source', 'a WebAssembly.Module, the bytes of one, a URL or a Response', source);
}

/**
 * Loads the WebAssembly backend. Call it once before creating models with
 * `backend: 'wasm'` in browsers, workers, Deno, Bun and Cloudflare Workers (Node loads the
 * module by itself). Until it has run, `listBackends()` reports wasm as not initialized and
 * `'auto'` picks the JavaScript backend.
 *
 * @param source where the module comes from: a `WebAssembly.Module` (in Cloudflare Workers,
 *   which forbid compiling at run time, import the `.wasm` file and pass it here), its bytes,
 *   a URL, or a `Response`. Default: `mlpkit-simd.wasm` next to this package's code when the
 *   runtime has WebAssembly SIMD, `mlpkit-scalar.wasm` otherwise, fetched relative to this module.
 * @returns the instruction set of the build that was loaded.
 * @throws TypeError for a source of the wrong kind or a module that is not mlpkit's; the
 *   fetch or compile error when the module cannot be loaded.
 * @example
 * ```ts
 * import { initWasm, MLP } from 'mlpkit';
 *
 * await initWasm(); // fetches the SIMD or the scalar build next to the package
 * const net = new MLP({ inputs: 2, layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation: 'sigmoid' }], backend: 'wasm' });
 * ```
 * @example
 * ```ts
 * // Cloudflare Workers: the .wasm import is a compiled WebAssembly.Module
 * import wasm from 'mlpkit/wasm/mlpkit-simd.wasm';
 * import { initWasm, MLP } from 'mlpkit';
 *
 * await initWasm(wasm);
 * ```
 */
export async function initWasm(source?: WasmSource): Promise<WasmInfo> {
  if (source === undefined) {
    if (active) return { isa: active.isa };
    source = defaultWasmUrl();
  }
  return useWasmModule(await compileWasmSource(source));
}

// ---------------------------------------------------------------------------------------------
// Argument checks of the adapter (the MLP layer has validated user input already)

function checkFloat32(name: string, value: unknown, length: number): Float32Array {
  if (!(value instanceof Float32Array)) throw typeError(name, 'a Float32Array', value);
  if (value.length < length) throw rangeError(name, `a Float32Array of length at least ${length}`, value);
  return value;
}

function checkFloat64(name: string, value: unknown, length: number): Float64Array {
  if (!(value instanceof Float64Array)) throw typeError(name, 'a Float64Array', value);
  if (value.length < length) throw rangeError(name, `a Float64Array of length at least ${length}`, value);
  return value;
}

function checkCount(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw (typeof value === 'number' ? rangeError : typeError)(name, `an integer between ${min} and ${max}`, value);
  }
  return value;
}

const MAX_I32 = 0x7fffffff;
/** Order entries and batches one train() window holds: the rows of one training-loop chunk. */
const WINDOW_ROWS = 1 << 16;
const WINDOW_BATCHES = 1 << 16;
/** Target length of one slice of trainAsync, in ms. */
const SLICE_MS = 8;

const now = (): number => performance.now();

/** Lets the event loop run: setImmediate where it exists (Node, Bun, Deno), else a zero timeout. */
const setImmediateIfAny = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
const yieldToEventLoop = (): Promise<void> =>
  new Promise((resolve) => (setImmediateIfAny ? setImmediateIfAny(resolve) : setTimeout(resolve, 0)));

// ---------------------------------------------------------------------------------------------
// The model

class WasmModel implements BackendModel {
  readonly size: number;
  capacity = 0;
  readonly #inputs: number;
  readonly #outputs: number;
  #wasm: WasmInstance | undefined;
  #dataRows = 0;
  #stopRequested = false;
  #busy = false;
  #failure: Error | undefined;
  // Addresses inside the instance, refreshed after every call that can move them.
  #params = 0;
  #grads = 0;
  #counters = 0;
  #batchX = 0;
  #batchY = 0;
  #output = 0;
  #scalars = 0;

  constructor(module: WebAssembly.Module, spec: ModelSpec, capacity: number) {
    this.#inputs = spec.inputs;
    this.#outputs = spec.layers[spec.layers.length - 1]!.units;
    const wasm = new WasmInstance(module);
    this.#wasm = wasm;
    const w = wasm.exports;
    const [seedLo, seedHi] = seedKey(spec.seed);
    const { momentum, beta1, beta2, epsilon } = spec.optimizer;
    const layers = spec.layers.length;
    // The description goes through a few bytes of the arena that stay allocated (the arena never frees).
    const ints = w.alloc(12 * layers) >>> 2;
    const floats = w.alloc(16 * layers) >>> 3;
    const hyper = w.alloc(40) >>> 3;
    spec.layers.forEach((layer, l) => {
      wasm.i32.set([layer.units, ACTIVATION_CODE[layer.activation], layer.bias ? 1 : 0], ints + 3 * l);
      wasm.f64.set([layer.alpha, spec.dropout[l]!], floats + 2 * l);
    });
    wasm.f64.set([momentum, beta1, beta2, epsilon, spec.l2], hyper);
    this.size = this.#call('createModel', (e) => e.model_create(
      spec.inputs, layers, ints << 2, floats << 3, LOSS_CODE[spec.loss], OPTIMIZER_CODE[spec.optimizer.type], hyper << 3, seedLo, seedHi,
    ));
    this.#scalars = w.scalars_ptr();
    this.reserve(capacity);
  }

  /** Runs `fn` on the instance; a failure makes the model refuse every later call unless `recoverable`. */
  #call<T>(what: string, fn: (exports: WasmExports) => T, recoverable = false): T {
    const wasm = this.#usable(what);
    try {
      return fn(wasm.exports);
    } catch (error) {
      const failure = wasmFailure(error, what);
      if (!recoverable) {
        this.#failure = failure;
        this.#stopRequested = true;
      }
      throw failure;
    }
  }

  #usable(what: string): WasmInstance {
    if (this.#failure) throw new Error(`this wasm model can no longer be used (${what}): an earlier call failed: ${this.#failure.message}`, { cause: this.#failure });
    if (!this.#wasm) throw new Error(`this wasm model has been disposed (${what})`);
    return this.#wasm;
  }

  #idle(what: string): WasmInstance {
    const wasm = this.#usable(what);
    if (this.#busy) throw new Error(`this wasm model is busy training (trainAsync in flight); ${what} must wait until it is done`);
    return wasm;
  }

  #refreshAddresses(e: WasmExports): void {
    this.#params = e.model_params() >>> 2;
    this.#grads = e.model_grads() >>> 2;
    this.#counters = e.model_counters() >>> 3;
    this.#batchX = e.model_batch_x() >>> 2;
    this.#batchY = e.model_batch_y() >>> 2;
    this.#output = e.model_output() >>> 2;
  }

  get step(): number {
    return this.#usable('step').f64[this.#counters]!;
  }

  reserve(rows: number): void {
    this.#idle('reserve');
    checkCount('rows', rows, 1, MAX_I32);
    if (rows <= this.capacity) return;
    this.#call('reserve', (e) => { e.model_reserve(rows); this.#refreshAddresses(e); }, true);
    this.capacity = rows;
  }

  getParams(out: Float32Array): void {
    const wasm = this.#idle('getParams');
    checkFloat32('out', out, this.size);
    out.set(wasm.f32.subarray(this.#params, this.#params + this.size));
  }

  setParams(params: Float32Array): void {
    const wasm = this.#idle('setParams');
    checkFloat32('params', params, this.size);
    wasm.f32.set(params.subarray(0, this.size), this.#params);
  }

  getGrads(out: Float32Array): void {
    const wasm = this.#idle('getGrads');
    checkFloat32('out', out, this.size);
    out.set(wasm.f32.subarray(this.#grads, this.#grads + this.size));
  }

  setData(x: Float32Array, y: Float32Array, n: number): void {
    const wasm = this.#idle('setData');
    checkCount('n', n, 1, MAX_I32);
    checkFloat32('x', x, n * this.#inputs);
    checkFloat32('y', y, n * this.#outputs);
    const [dataX, dataY] = this.#call('setData', (e) => { e.model_set_data(n); return [e.model_data_x() >>> 2, e.model_data_y() >>> 2]; }, true);
    this.#dataRows = n;
    wasm.f32.set(x.subarray(0, n * this.#inputs), dataX);
    wasm.f32.set(y.subarray(0, n * this.#outputs), dataY);
  }

  /** Checks a train() call and returns its number of batches. */
  #checkTrain(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): number {
    if (!(order instanceof Int32Array)) throw typeError('order', 'an Int32Array', order);
    if (this.#dataRows === 0) throw new Error('setData(x, y, n) must come before training');
    checkCount('epochLength', epochLength, 1, MAX_I32);
    if (order.length % epochLength !== 0) throw rangeError('epochLength', `a divisor of order.length = ${order.length}`, epochLength);
    checkCount('batchSize', batchSize, 1, MAX_I32);
    if (Math.min(batchSize, epochLength) > this.capacity) {
      throw rangeError('batchSize', `at most the capacity (${this.capacity} rows) or the epoch length`, batchSize);
    }
    const batches = (order.length / epochLength) * Math.ceil(epochLength / batchSize);
    checkFloat64('learningRates', learningRates, batches);
    checkFloat64('losses', losses, batches);
    for (let b = 0; b < batches; b++) {
      const rate = learningRates[b]!;
      if (!(rate >= 0 && rate < Infinity)) throw rangeError(`learningRates[${b}]`, 'a finite number >= 0', rate);
    }
    const rows = this.#dataRows;
    for (let i = 0; i < order.length; i++) {
      const row = order[i]!;
      if (!(row >= 0 && row < rows)) throw rangeError(`order[${i}]`, `a row index between 0 and ${rows - 1}`, row);
    }
    return batches;
  }

  /**
   * Runs batches first … first+limit−1 (fewer if the loss stops being finite) in windows of
   * the io region, one crossing per window. Returns the number of batches done.
   */
  #trainBatches(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array, first: number, limit: number): number {
    const perEpoch = Math.ceil(epochLength / batchSize);
    const rowsPerBatch = Math.min(batchSize, epochLength);
    const e = this.#wasm!.exports;
    const windowRows = Math.max(rowsPerBatch, Math.min(order.length, WINDOW_ROWS));
    const windowBatches = Math.max(1, Math.min(limit, WINDOW_BATCHES, Math.floor(windowRows / rowsPerBatch)));
    this.#call('train', (w) => w.model_reserve_io(windowRows, windowBatches), true);
    const ioRows = e.model_io_rows();
    const ioBatches = e.model_io_batches();
    const wasm = this.#wasm!;
    let done = 0;
    while (done < limit) {
      const b0 = first + done;
      const count = Math.min(limit - done, ioBatches, Math.floor(ioRows / rowsPerBatch));
      const start = Math.floor(b0 / perEpoch) * epochLength + (b0 % perEpoch) * batchSize;
      const last = b0 + count - 1;
      const end = Math.floor(last / perEpoch) * epochLength + (last % perEpoch) * batchSize + Math.min(batchSize, epochLength - (last % perEpoch) * batchSize);
      wasm.i32.set(order.subarray(start, end), e.model_io_order() >>> 2);
      wasm.f64.set(learningRates.subarray(b0, b0 + count), e.model_io_rates() >>> 3);
      const got = this.#call('train', (w) => w.model_train(b0, count, epochLength, batchSize, start));
      const lossesAt = e.model_io_losses() >>> 3;
      losses.set(wasm.f64.subarray(lossesAt, lossesAt + got), b0);
      done += got;
      if (got < count) break; // a loss that is not finite
    }
    return done;
  }

  train(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): number {
    this.#idle('train');
    const batches = this.#checkTrain(order, epochLength, batchSize, learningRates, losses);
    this.#stopRequested = false;
    if (batches === 0) return 0;
    return this.#trainBatches(order, epochLength, batchSize, learningRates, losses, 0, batches);
  }

  /** Runs the chunk in slices of about SLICE_MS, giving the event loop a turn between slices. */
  async trainAsync(order: Int32Array, epochLength: number, batchSize: number, learningRates: Float64Array, losses: Float64Array): Promise<number> {
    this.#idle('trainAsync');
    const batches = this.#checkTrain(order, epochLength, batchSize, learningRates, losses);
    this.#stopRequested = false;
    this.#busy = true;
    try {
      let done = 0;
      let slice = 1;
      while (done < batches && !this.#stopRequested) {
        const started = now();
        const want = Math.min(slice, batches - done);
        const got = this.#trainBatches(order, epochLength, batchSize, learningRates, losses, done, want);
        done += got;
        if (got < want) break; // a loss that is not finite
        const elapsed = now() - started;
        // Aim the next slice at SLICE_MS from this one's speed, growing at most 4× at a time.
        slice = Math.max(1, Math.min(4 * slice, Math.floor((slice * SLICE_MS) / Math.max(elapsed, 0.01))));
        if (done < batches) await yieldToEventLoop();
      }
      return done;
    } finally {
      this.#busy = false;
    }
  }

  requestStop(): void {
    this.#stopRequested = true;
  }

  /** Copies rows [start, start + rows) of x (and y) into the batch buffers. */
  #stage(wasm: WasmInstance, x: Float32Array, y: Float32Array | undefined, start: number, rows: number): void {
    const f32 = wasm.f32;
    f32.set(x.subarray(start * this.#inputs, (start + rows) * this.#inputs), this.#batchX);
    if (y) f32.set(y.subarray(start * this.#outputs, (start + rows) * this.#outputs), this.#batchY);
  }

  trainStep(x: Float32Array, y: Float32Array, n: number, learningRate: number): number {
    const wasm = this.#idle('trainStep');
    checkCount('n', n, 1, this.capacity);
    checkFloat32('x', x, n * this.#inputs);
    checkFloat32('y', y, n * this.#outputs);
    if (typeof learningRate !== 'number' || !(learningRate >= 0 && learningRate < Infinity)) {
      throw (typeof learningRate === 'number' ? rangeError : typeError)('learningRate', 'a finite number >= 0', learningRate);
    }
    this.#stage(wasm, x, y, 0, n);
    wasm.f64[this.#scalars >>> 3] = learningRate;
    return this.#call('trainStep', (e) => e.model_train_step(n));
  }

  evaluate(x: Float32Array, y: Float32Array, n: number): number {
    const wasm = this.#idle('evaluate');
    checkCount('n', n, 1, MAX_I32);
    checkFloat32('x', x, n * this.#inputs);
    checkFloat32('y', y, n * this.#outputs);
    let total = 0;
    for (let start = 0; start < n; start += this.capacity) {
      const rows = Math.min(this.capacity, n - start);
      this.#stage(wasm, x, y, start, rows);
      total += this.#call('evaluate', (e) => e.model_evaluate_rows(rows));
    }
    return total / n + this.#call('evaluate', (e) => e.model_penalty());
  }

  predict(x: Float32Array, n: number, out: Float32Array): void {
    const wasm = this.#idle('predict');
    checkCount('n', n, 1, MAX_I32);
    checkFloat32('x', x, n * this.#inputs);
    checkFloat32('out', out, n * this.#outputs);
    const k = this.#outputs;
    for (let start = 0; start < n; start += this.capacity) {
      const rows = Math.min(this.capacity, n - start);
      this.#stage(wasm, x, undefined, start, rows);
      this.#call('predict', (e) => e.model_predict_rows(rows));
      out.set(wasm.f32.subarray(this.#output, this.#output + rows * k), start * k);
    }
  }

  dispose(): void {
    if (this.#busy) throw new Error('this wasm model is busy training (trainAsync in flight); dispose() must wait until it is done');
    this.#wasm = undefined; // the instance and its memory go with the last reference
    this.#dataRows = 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Kernels, for the parity tests and the benchmarks; training never goes through them.

const PATHS = { auto: 0, packed: 1, direct: 2 } as const;

/** The module's SGEMM and Philox on an instance of their own. */
export class WasmKernels {
  readonly isa: 'simd128' | 'scalar';
  readonly #wasm: WasmInstance;

  constructor(module: WebAssembly.Module) {
    this.#wasm = new WasmInstance(module);
    this.isa = this.#wasm.exports.simd() === 1 ? 'simd128' : 'scalar';
  }

  /**
   * C = alpha·op(A)·op(B) + beta·C (row-major, leading dimensions), copied in and out of the
   * instance. `path` forces the packed or the direct loops; 'auto' chooses by shape.
   */
  sgemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: Float32Array, lda: number, b: Float32Array, ldb: number, beta: number, c: Float32Array, ldc: number,
    path: keyof typeof PATHS = 'auto',
  ): void {
    for (const [name, value] of [['m', m], ['n', n], ['k', k]] as const) checkCount(name, value, 0, MAX_I32);
    const [aRows, aCols] = transA ? [k, m] : [m, k];
    const [bRows, bCols] = transB ? [n, k] : [k, n];
    checkCount('lda', lda, Math.max(1, aCols), MAX_I32);
    checkCount('ldb', ldb, Math.max(1, bCols), MAX_I32);
    checkCount('ldc', ldc, Math.max(1, n), MAX_I32);
    for (const [name, value] of [['alpha', alpha], ['beta', beta]] as const) {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw typeError(name, 'a finite number', value);
    }
    if (!(path in PATHS)) throw rangeError('path', "one of 'auto', 'packed', 'direct'", path);
    const need = (rows: number, cols: number, ld: number) => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
    checkFloat32('a', a, need(aRows, aCols, lda));
    checkFloat32('b', b, need(bRows, bCols, ldb));
    checkFloat32('c', c, need(m, n, ldc));
    const e = this.#wasm.exports;
    e.sgemm_reserve(n); // below the operands, which are released after the call
    const top = e.mark();
    try {
      const sizes = [need(aRows, aCols, lda), need(bRows, bCols, ldb), need(m, n, ldc)];
      const [pa, pb, pc] = sizes.map((size) => e.alloc(4 * Math.max(size, 1)) >>> 2) as [number, number, number];
      const f32 = this.#wasm.f32;
      f32.set(a.subarray(0, sizes[0]), pa);
      f32.set(b.subarray(0, sizes[1]), pb);
      f32.set(c.subarray(0, sizes[2]), pc);
      this.#wasm.f64.set([alpha, beta], e.scalars_ptr() >>> 3);
      try {
        e.sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, pa << 2, lda, pb << 2, ldb, pc << 2, ldc, PATHS[path]);
      } catch (error) {
        throw wasmFailure(error, 'sgemm');
      }
      c.set(this.#wasm.f32.subarray(pc, pc + sizes[2]!));
    } finally {
      e.release(top);
    }
  }

  /**
   * Copies op(A) (m×k) and op(B) (k×n) into the instance once, for benchmarks: `run()` computes
   * C = op(A)·op(B) in place, so the timing holds no copies; `read(out)` copies C (m×n) out.
   * The operands stay allocated for the life of this object.
   */
  resident(transA: boolean, transB: boolean, m: number, n: number, k: number, a: Float32Array, b: Float32Array): { run: () => void; read: (out: Float32Array) => void } {
    for (const [name, value] of [['m', m], ['n', n], ['k', k]] as const) checkCount(name, value, 1, MAX_I32);
    checkFloat32('a', a, m * k);
    checkFloat32('b', b, k * n);
    const e = this.#wasm.exports;
    e.sgemm_reserve(n);
    const [pa, pb, pc] = [m * k, k * n, m * n].map((size) => e.alloc(4 * size) >>> 2) as [number, number, number];
    this.#wasm.f32.set(a.subarray(0, m * k), pa);
    this.#wasm.f32.set(b.subarray(0, k * n), pb);
    const [lda, ldb] = [transA ? m : k, transB ? k : n];
    const scalars = e.scalars_ptr() >>> 3;
    return {
      run: () => {
        this.#wasm.f64[scalars] = 1;
        this.#wasm.f64[scalars + 1] = 0;
        e.sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, pa << 2, lda, pb << 2, ldb, pc << 2, n, PATHS.auto);
      },
      read: (out) => { checkFloat32('out', out, m * n); out.set(this.#wasm.f32.subarray(pc, pc + m * n)); },
    };
  }

  /** Philox4x32-10 of key (k0, k1) and counter (c0..c3). */
  philox(k0: number, k1: number, c0: number, c1: number, c2: number, c3: number): Uint32Array {
    const words = [k0, k1, c0, c1, c2, c3];
    ['key0', 'key1', 'counter0', 'counter1', 'counter2', 'counter3'].forEach((name, i) => checkCount(name, words[i], 0, 0xffffffff));
    const e = this.#wasm.exports;
    const top = e.mark();
    try {
      const out = e.alloc(16);
      e.philox(k0, k1, c0, c1, c2, c3, out);
      return new Uint32Array(e.memory.buffer.slice(out, out + 16));
    } finally {
      e.release(top);
    }
  }
}
