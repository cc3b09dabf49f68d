/**
 * The WebAssembly backend's raw model and kernels. Each model gets an instance of its own, in
 * whose arena this adapter allocates what the native adapter allocates in JavaScript — the
 * state (STATE_VECTORS × parameters), the counters, the scratch, the training set — and the
 * module borrows them through the same calls as the addon (assembly/index.ts). Arrays that
 * the addon would borrow for one call are staged at the top of the arena for that call.
 */
import type { Backend, Blocking, GemmOperands, RawKernels, RawModel } from '../../backend.js';
import { checkedKernels } from '../../kernels.js';
import { COUNTER_FIELDS, initialCounters, STATE_VECTORS, type ModelTables } from '../../tables.js';
import { wasmFailure, WasmInstance } from './instance.js';

/** A block of arena memory, [start, end) in bytes. */
interface Region {
  readonly start: number;
  readonly end: number;
}

class WasmModel implements RawModel {
  capacity = 0;
  readonly #wasm: WasmInstance;
  readonly #tables: ModelTables;
  readonly #state: number;
  readonly #counters: number;
  #scratch: Region | undefined;
  #data: Region | undefined;

  constructor(module: WebAssembly.Module, tables: ModelTables) {
    const wasm = new WasmInstance(module);
    const e = wasm.exports;
    this.#wasm = wasm;
    this.#tables = tables;
    const [seedLo, seedHi] = tables.seed;
    // The tables stay in the arena below the model: a few bytes, read once.
    this.#call('createModel', () =>
      e.model_create(
        tables.parameters,
        wasm.copyIn(tables.layers),
        tables.spec.layers.length,
        wasm.copyIn(tables.layerValues),
        wasm.copyIn(tables.hyper),
        tables.loss,
        tables.optimizer,
        seedLo,
        seedHi,
      ),
    );
    this.#state = this.#call('createModel', () => e.alloc(4 * STATE_VECTORS.length * tables.parameters));
    this.#counters = this.#call('createModel', () => wasm.copyIn(initialCounters()));
  }

  #call<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      throw wasmFailure(error, what);
    }
  }

  /**
   * A region of at least `bytes`: `region` itself when it is large enough, extended in place
   * when it ends at the top of the arena, else a new one (the arena never frees; growth is
   * rare: a larger batch, a larger data set). Nothing changes when memory cannot grow.
   */
  #region(region: Region | undefined, bytes: number): Region {
    const e = this.#wasm.exports;
    if (region && region.end - region.start >= bytes) return region;
    if (region && region.end === e.mark()) {
      e.alloc(bytes - (region.end - region.start));
      return { start: region.start, end: e.mark() };
    }
    const start = e.alloc(bytes);
    return { start, end: e.mark() };
  }

  reserve(rows: number): void {
    const e = this.#wasm.exports;
    this.#call('reserve', () => {
      const scratch = this.#region(this.#scratch, e.model_scratch_bytes(rows));
      e.model_bind(this.#state, this.#counters, scratch.start, rows);
      this.#scratch = scratch;
    });
    this.capacity = rows;
  }

  #vector(index: number): number {
    return this.#state / 4 + index * this.#tables.parameters;
  }
  readState(vector: number, out: Float32Array): void {
    out.set(this.#wasm.f32.subarray(this.#vector(vector), this.#vector(vector) + out.length));
  }
  writeState(vector: number, values: Float32Array): void {
    this.#wasm.f32.set(values, this.#vector(vector));
  }
  readCounters(out: Float64Array): void {
    this.#wasm.copyOut(this.#counters, out, COUNTER_FIELDS.length);
  }
  writeCounters(values: Float64Array): void {
    this.#wasm.f64.set(values, this.#counters / 8);
  }

  setData(x: Float32Array | Uint8Array, y: Float32Array, rows: number, _owned: boolean, scaling?: Float64Array): void {
    const e = this.#wasm.exports;
    // Bytes stay bytes in the arena (a quarter of the memory of floats); the module standardizes
    // each row as it gathers a batch.
    const xBytes = Math.ceil(x.byteLength / 64) * 64;
    const yBytes = Math.ceil(y.byteLength / 8) * 8;
    this.#call('setData', () => {
      const data = this.#region(this.#data, xBytes + yBytes + (scaling?.byteLength ?? 0));
      this.#wasm.u8.set(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), data.start);
      this.#wasm.f32.set(y, (data.start + xBytes) / 4);
      const scalingAt = scaling ? data.start + xBytes + yBytes : 0;
      if (scaling) this.#wasm.f64.set(scaling, scalingAt / 8);
      e.model_set_data(data.start, data.start + xBytes, rows, x instanceof Uint8Array ? 1 : 0, scalingAt);
      this.#data = data;
    });
  }

  train(order: Int32Array, bounds: Int32Array, first: number, count: number, learningRates: Float64Array, losses: Float64Array): number {
    const wasm = this.#wasm;
    // Only this call's rows of the order cross, with the boundaries rebased to them.
    const start = bounds[first]!;
    const localBounds = bounds.slice(first, first + count + 1).map((b) => b - start);
    return this.#call('train', () =>
      wasm.staged(() => {
        const lossesAt = wasm.exports.alloc(8 * count);
        const done = wasm.exports.model_train(
          wasm.copyIn(order.subarray(start, bounds[first + count]!)),
          wasm.copyIn(localBounds),
          0,
          count,
          wasm.copyIn(learningRates.subarray(first, first + count)),
          lossesAt,
        );
        wasm.copyOut(lossesAt, losses.subarray(first, first + done));
        return done;
      }),
    );
  }

  trainStep(x: Float32Array, y: Float32Array, n: number, learningRate: number): number {
    const wasm = this.#wasm;
    return this.#call('trainStep', () => wasm.staged(() => wasm.exports.model_train_step(wasm.copyIn(x), wasm.copyIn(y), n, learningRate)));
  }

  lossAndGradient(x: Float32Array, y: Float32Array, n: number): number {
    const wasm = this.#wasm;
    return this.#call('lossAndGradient', () => wasm.staged(() => wasm.exports.model_loss_and_gradient(wasm.copyIn(x), wasm.copyIn(y), n)));
  }

  evaluate(x: Float32Array, y: Float32Array, n: number, out: Float32Array | null): number {
    const wasm = this.#wasm;
    return this.#call('evaluate', () =>
      wasm.staged(() => {
        const outAt = out ? wasm.exports.alloc(out.byteLength) : 0;
        const total = wasm.exports.model_evaluate(wasm.copyIn(x), wasm.copyIn(y), n, outAt);
        if (out) wasm.copyOut(outAt, out);
        return total;
      }),
    );
  }

  penalty(): number {
    return this.#call('penalty', () => this.#wasm.exports.model_penalty());
  }

  predict(x: Float32Array, n: number, out: Float32Array): void {
    const wasm = this.#wasm;
    this.#call('predict', () =>
      wasm.staged(() => {
        const outAt = wasm.exports.alloc(out.byteLength);
        wasm.exports.model_predict(wasm.copyIn(x), n, outAt);
        wasm.copyOut(outAt, out);
      }),
    );
  }

  dispose(): void {
    // The instance and its memory go with the last reference to this object.
    this.#scratch = this.#data = undefined;
  }
}

const PATHS = { auto: 0, packed: 1, direct: 2 } as const;

/** The module's SGEMM and Philox, on an instance of their own (one without a model). */
export class WasmKernels implements RawKernels {
  readonly variants = Object.keys(PATHS);
  readonly maxThreads = 1;
  readonly isa: 'simd128' | 'scalar';
  readonly #wasm: WasmInstance;
  readonly #blocking: Blocking;

  constructor(module: WebAssembly.Module) {
    this.#wasm = new WasmInstance(module);
    this.isa = this.#wasm.exports.simd() === 1 ? 'simd128' : 'scalar';
    const words = this.#wasm.staged(() => {
      const at = this.#wasm.exports.alloc(16);
      this.#wasm.exports.gemm_blocking(at);
      return this.#wasm.i32.slice(at / 4, at / 4 + 4);
    });
    this.#blocking = { mr: words[0]!, nr: words[1]!, kc: words[2]!, mc: words[3]! };
  }

  blocking(): Blocking {
    return this.#blocking;
  }

  /** C = alpha·op(A)·op(B) + beta·C, copied in and out of the instance; the variant forces the packed or direct loops. */
  sgemm(...[transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, variant]: [...GemmOperands, variant: string]): void {
    const wasm = this.#wasm;
    const e = wasm.exports;
    const span = (rows: number, cols: number, ld: number) => (rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols);
    const [aRows, aCols] = transA ? [k, m] : [m, k];
    const [bRows, bCols] = transB ? [n, k] : [k, n];
    const cLength = span(m, n, ldc);
    e.sgemm_reserve(n); // below the operands, which are released after the call
    wasm.staged(() => {
      const pa = wasm.copyIn(a.subarray(0, span(aRows, aCols, lda)));
      const pb = wasm.copyIn(b.subarray(0, span(bRows, bCols, ldb)));
      const pc = wasm.copyIn(c.subarray(0, cLength));
      try {
        e.sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, PATHS[variant as keyof typeof PATHS]);
      } catch (error) {
        throw wasmFailure(error, 'sgemm');
      }
      wasm.copyOut(pc, c, cLength);
    });
  }

  /**
   * Copies op(A) (m×k) and op(B) (k×n) into the instance once, for benchmarks: `run()` computes
   * C = op(A)·op(B) in place, so the timing holds no copies; `read(out)` copies C (m×n) out.
   * The operands stay allocated for the life of this object.
   */
  resident(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: Float32Array,
    b: Float32Array,
  ): { run: () => void; read: (out: Float32Array) => void } {
    const wasm = this.#wasm;
    const e = wasm.exports;
    e.sgemm_reserve(n);
    const [pa, pb, pc] = [wasm.copyIn(a.subarray(0, m * k)), wasm.copyIn(b.subarray(0, k * n)), e.alloc(4 * m * n)];
    const [lda, ldb] = [transA ? m : k, transB ? k : n];
    return {
      run: () => e.sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, 1, pa, lda, pb, ldb, 0, pc, n, PATHS.auto),
      read: (out) => wasm.copyOut(pc, out, m * n),
    };
  }

  /** Philox4x32-10 of key (k0, k1) and counter (c0..c3). */
  philox(k0: number, k1: number, c0: number, c1: number, c2: number, c3: number): Uint32Array {
    const wasm = this.#wasm;
    return wasm.staged(() => {
      const out = wasm.exports.alloc(16);
      wasm.exports.philox(k0, k1, c0, c1, c2, c3, out);
      return new Uint32Array(wasm.exports.memory.buffer.slice(out, out + 16));
    });
  }
}

/** The wasm backend over a compiled module. */
export function wasmBackend(module: WebAssembly.Module): Backend {
  const kernels = new WasmKernels(module);
  return {
    name: 'wasm',
    isa: kernels.isa,
    threads: 1,
    kernels: checkedKernels(kernels),
    scalesOnGather: true,
    createModel: (tables) => new WasmModel(module, tables),
  };
}
