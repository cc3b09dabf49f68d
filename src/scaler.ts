import { checkKnownKeys, checkOptions, rangeError, typeError } from './errors.js';
import { isNested, shapeLike, toFlatMatrix, toMatrix, type FlatMatrix, type MatrixInput, writeRowsFloat32 } from './data.js';

/**
 * The sums a scaler is fitted from, made by a backend: over the rows `rows` of x (all when
 * undefined), each column's mean, then its sum of squared deviations from it, each summed in row
 * order in double — the bits of StandardScaler's own loops.
 */
export type ColumnMoments = (
  x: Float32Array | Uint8Array,
  cols: number,
  rows: Int32Array | undefined,
  mean: Float64Array,
  squares: Float64Array,
) => void;

/**
 * Standardizes features to zero mean and unit variance: x' = (x − mean) / scale, where
 * scale is the population standard deviation (1 for a constant feature). Fit it on training
 * data only. A model can hold one (`standardize: true`, or `net.scaler = scaler`) so that it
 * takes raw inputs, and saves it with its weights.
 *
 * @example
 * ```ts
 * const scaler = new StandardScaler().fit(xTrain);
 * const xScaled = scaler.transform(xTest);
 * ```
 */
export class StandardScaler {
  #mean: Float64Array | undefined;
  #scale: Float64Array | undefined;

  /** Per-feature means (undefined before `fit`). */
  get mean(): readonly number[] | undefined {
    return this.#mean && Array.from(this.#mean);
  }
  /** Per-feature scales (standard deviations, 1 for constant features). */
  get scale(): readonly number[] | undefined {
    return this.#scale && Array.from(this.#scale);
  }
  /** Number of features it was fitted on (0 before `fit`). */
  get features(): number {
    return this.#mean?.length ?? 0;
  }

  /**
   * Learns the mean and scale of each column of x.
   * @param x rows as number[][], or a flat Float32Array together with `features`.
   * @param features columns of a flat x (required for flat input).
   * @returns this scaler.
   * @throws TypeError / RangeError for an empty, ragged or non-finite x.
   */
  fit(x: MatrixInput, features?: number): this {
    const cols = isNested(x) ? (x[0]?.length ?? 0) : features;
    if (cols === undefined) throw typeError('features', 'the number of columns of a flat x', features);
    if (!Number.isInteger(cols) || cols < 1) throw rangeError('x', 'a matrix with at least one column', x);
    return this._fitRows(toFlatMatrix('x', x, cols).data, cols);
  }

  /**
   * @internal Fits on the rows `rows` (default: all) of a flat, already validated matrix,
   * without copying them. Sums run column by column in row order; `moments`, when given (a
   * backend's, see Backend.columnMoments), makes the same sums natively for float32 and byte
   * matrices.
   */
  _fitRows(data: FlatMatrix, cols: number, rows?: Int32Array, moments?: ColumnMoments): this {
    const count = rows ? rows.length : data.length / cols;
    const rowAt = (r: number) => (rows ? rows[r]! : r) * cols;
    const mean = new Float64Array(cols);
    const scale = new Float64Array(cols);
    if (moments && !(data instanceof Float64Array)) moments(data, cols, rows, mean, scale);
    else this.#sums(data, cols, count, rowAt, mean, scale);
    for (let c = 0; c < cols; c++) {
      const std = Math.sqrt(scale[c]! / count);
      scale[c] = std > 1e-12 * Math.max(1, Math.abs(mean[c]!)) ? std : 1;
    }
    this.#mean = mean;
    this.#scale = scale;
    return this;
  }

  /** The column means, and the sums of squared deviations from them into `squares`. */
  #sums(data: FlatMatrix, cols: number, count: number, rowAt: (r: number) => number, mean: Float64Array, squares: Float64Array): void {
    for (let r = 0; r < count; r++) {
      const at = rowAt(r);
      for (let c = 0; c < cols; c++) mean[c]! += data[at + c]!;
    }
    for (let c = 0; c < cols; c++) mean[c]! /= count;
    for (let r = 0; r < count; r++) {
      const at = rowAt(r);
      for (let c = 0; c < cols; c++) {
        const d = data[at + c]! - mean[c]!;
        squares[c]! += d * d;
      }
    }
  }

  /** Standardizes x (same shape out as in: number[][] or a flat Float32Array). */
  transform(x: MatrixInput): Float32Array | number[][] {
    const { data, cols } = toMatrix('x', x, this.#fitted().length);
    return shapeLike(isNested(x), this.transformFlat(data), cols);
  }

  /** `fit(x)` then `transform(x)`. */
  fitTransform(x: MatrixInput, features?: number): Float32Array | number[][] {
    return this.fit(x, features).transform(x);
  }

  /** Undoes `transform`. */
  inverseTransform(x: MatrixInput): Float32Array | number[][] {
    const mean = this.#fitted();
    const scale = this.#scale!;
    const { data, cols } = toMatrix('x', x, mean.length);
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i]! * scale[i % cols]! + mean[i % cols]!;
    return shapeLike(isNested(x), out, cols);
  }

  /** @internal Standardizes a flat, already validated matrix into a new array. */
  transformFlat(data: Float32Array): Float32Array {
    return this._transformRows(data);
  }

  /**
   * @internal Standardizes the rows `rows` (default: all) of a flat, already validated matrix
   * into one new array: selecting and scaling in a single pass, a single copy.
   */
  _transformRows(data: FlatMatrix, rows?: Int32Array): Float32Array {
    const cols = this.#fitted().length;
    const count = rows ? rows.length : data.length / cols;
    const out = new Float32Array(count * cols);
    writeRowsFloat32(data, cols, out, 0, count, this._parameters(), rows);
    return out;
  }

  /** @internal mean[cols] then scale[cols], for a backend that standardizes rows itself. */
  _parameters(): Float64Array {
    const mean = this.#fitted();
    const out = new Float64Array(2 * mean.length);
    out.set(mean);
    out.set(this.#scale!, mean.length);
    return out;
  }

  /** The fitted parameters, for storage. */
  toJSON(): { mean: number[]; scale: number[] } {
    this.#fitted();
    return { mean: Array.from(this.#mean!), scale: Array.from(this.#scale!) };
  }

  /** A scaler from `toJSON()` output, validated. */
  static fromJSON(value: unknown): StandardScaler {
    const json = checkOptions<{ mean: number[]; scale: number[] }>('scaler', value);
    checkKnownKeys('scaler', json, ['mean', 'scale']);
    const { mean, scale } = json;
    if (!Array.isArray(mean) || mean.length === 0) throw typeError('scaler.mean', 'a non-empty array of numbers', mean);
    if (!Array.isArray(scale) || scale.length !== mean.length) throw typeError('scaler.scale', `an array of ${mean.length} numbers`, scale);
    mean.forEach((v, i) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) throw rangeError(`scaler.mean[${i}]`, 'a finite number', v);
    });
    scale.forEach((v, i) => {
      if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) throw rangeError(`scaler.scale[${i}]`, 'a finite number > 0', v);
    });
    const scaler = new StandardScaler();
    scaler.#mean = Float64Array.from(mean);
    scaler.#scale = Float64Array.from(scale);
    return scaler;
  }

  #fitted(): Float64Array {
    if (!this.#mean) throw new Error('this StandardScaler is not fitted yet; call fit(x) first');
    return this.#mean;
  }
}
