/**
 * One instance of the WebAssembly module: its exports as declared here (the ABI of
 * assembly/index.ts), typed-array views over its memory that follow the memory's growth,
 * AssemblyScript's `abort` turned into an Error, and the staging of arguments in its arena.
 */

/** The exports of assembly/index.ts. Pointers are byte addresses in the instance's memory. */
export interface WasmExports {
  readonly memory: WebAssembly.Memory;
  simd(): number;
  alloc(bytes: number): number;
  mark(): number;
  release(top: number): void;
  model_create(
    parameters: number,
    layers: number,
    layerCount: number,
    layerValues: number,
    hyper: number,
    loss: number,
    optimizer: number,
    seedLo: number,
    seedHi: number,
  ): void;
  model_scratch_bytes(rows: number): number;
  model_bind(state: number, counters: number, scratch: number, rows: number): void;
  model_set_data(x: number, y: number, rows: number, bytes: number, scaling: number): void;
  model_train(order: number, bounds: number, first: number, count: number, rates: number, losses: number): number;
  model_train_step(x: number, y: number, n: number, learningRate: number): number;
  model_loss_and_gradient(x: number, y: number, n: number): number;
  model_evaluate(x: number, y: number, n: number, out: number): number;
  model_penalty(): number;
  model_predict(x: number, n: number, out: number): void;
  gemm_blocking(out: number): void;
  sgemm_reserve(maxN: number): void;
  sgemm(
    ta: number,
    tb: number,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    beta: number,
    c: number,
    ldc: number,
    path: number,
  ): void;
  philox(k0: number, k1: number, c0: number, c1: number, c2: number, c3: number, out: number): void;
}

/** Every export of the module: a module that lacks one is not (this version of) mlpkit's. */
export const WASM_EXPORT_NAMES = [
  'memory',
  'simd',
  'alloc',
  'mark',
  'release',
  'model_create',
  'model_scratch_bytes',
  'model_bind',
  'model_set_data',
  'model_train',
  'model_train_step',
  'model_loss_and_gradient',
  'model_evaluate',
  'model_penalty',
  'model_predict',
  'gemm_blocking',
  'sgemm_reserve',
  'sgemm',
  'philox',
] as const satisfies readonly (keyof WasmExports)[];
// The list names every member of WasmExports (a compile-time check).
const everyExportListed: Exclude<keyof WasmExports, (typeof WASM_EXPORT_NAMES)[number]> extends never ? true : never = true;
void everyExportListed;

/** What `abort` throws from inside the module (an Error; the class only tells it from other failures). */
export class WasmAbort extends Error {}

/** A thrown value from inside a call, as an Error that says where it happened. */
export function wasmFailure(error: unknown, what: string): Error {
  if (error instanceof WasmAbort) return error;
  if (error instanceof WebAssembly.RuntimeError) return new Error(`mlpkit wasm: ${what} trapped: ${error.message}`, { cause: error });
  if (error instanceof Error) return new Error(`mlpkit wasm: ${what} failed: ${error.message}`, { cause: error });
  return new Error(`mlpkit wasm: ${what} failed: ${String(error)}`);
}

type Typed = Float32Array | Float64Array | Int32Array;

export class WasmInstance {
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
  get f32(): Float32Array {
    this.#views();
    return this.#f32;
  }
  get f64(): Float64Array {
    this.#views();
    return this.#f64;
  }
  get i32(): Int32Array {
    this.#views();
    return this.#i32;
  }
  get u8(): Uint8Array {
    return new Uint8Array(this.exports.memory.buffer);
  }

  /** The view of `array`'s element type over the whole memory. */
  view<T extends Typed>(array: T): T {
    return (array instanceof Float32Array ? this.f32 : array instanceof Float64Array ? this.f64 : this.i32) as T;
  }

  /** Copies `array` into freshly allocated arena memory and returns its address. */
  copyIn(array: Typed): number {
    const at = this.exports.alloc(Math.max(array.byteLength, 4));
    this.view(array).set(array, at / array.BYTES_PER_ELEMENT);
    return at;
  }

  /** Copies `length` elements at byte address `at` into `out`. */
  copyOut(at: number, out: Typed, length = out.length): void {
    const start = at / out.BYTES_PER_ELEMENT;
    out.set(this.view(out).subarray(start, start + length));
  }

  /**
   * Runs `fn` with arguments staged at the top of the arena, then gives that memory back:
   * arguments live only for the duration of one call.
   */
  staged<T>(fn: () => T): T {
    const top = this.exports.mark();
    try {
      return fn();
    } finally {
      this.exports.release(top);
    }
  }

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
