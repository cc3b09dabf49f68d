/**
 * Converting what callers pass (nested arrays or flat typed arrays) into the flat float32
 * row-major matrices the backends take, with every value checked.
 */
import { describe, rangeError, typeError } from './errors.js';
import type { Loss } from './spec.js';

/**
 * A batch of rows: `number[][]`, or a flat row-major typed array whose row count is inferred
 * from its length — Float32Array, Float64Array, or Uint8Array (pixels, read without a copy).
 */
export type MatrixInput = readonly (readonly number[])[] | Float32Array | Float64Array | Uint8Array;

/** A flat row-major matrix as given: read in place, converted only where a copy is made anyway. */
export type FlatMatrix = Float32Array | Float64Array | Uint8Array;
/**
 * Targets: rows like `MatrixInput`; a flat array of n values when there is one output;
 * or n class indices (any integer array) with the 'cross-entropy' loss.
 */
export type TargetInput = MatrixInput | readonly number[] | Int32Array | Uint8Array | Uint16Array | Uint32Array | Int8Array | Int16Array;

export interface Matrix {
  readonly data: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

type NumericArray = ArrayLike<number> & { readonly length: number };

function isNumericTypedArray(value: unknown): value is NumericArray {
  return (
    ArrayBuffer.isView(value) && !(value instanceof DataView) && !(value instanceof BigInt64Array) && !(value instanceof BigUint64Array)
  );
}

/** What every stored value must be: finite once rounded to float32, the precision of every backend. */
export const FLOAT32_RANGE = 'a finite number within float32 range (magnitude at most 3.4028234663852886e+38)';

/** Whether v is finite once rounded to float32 (3.5e38 is finite in float64 but not there). */
export const isFiniteFloat32 = (v: number): boolean => Number.isFinite(Math.fround(v));

/** Floats from which a lent vector scan beats the loop below, call included. */
const VECTOR_SCAN_FROM = 4096;
let vectorScan: ((data: Float32Array) => boolean) | undefined;

/**
 * Lends `allFinite` a vectorized scan with the same answer: the native addon's, once it has
 * loaded, which reads about 7× faster than the engine runs the loop below on data in cache and
 * 3× from memory (a fit checks every value of its training set on each call, a prediction
 * every value of its batch).
 */
export function lendFiniteScan(scan: (data: Float32Array) => boolean): void {
  vectorScan = scan;
}

/**
 * Whether every value is finite: v·0 is ±0 for a finite v and NaN for NaN and ±Infinity, so
 * eight running sums of it stay 0 exactly when every value is finite — a branch-free scan that
 * keeps several additions in flight, about 3× faster than testing each value. (The tail is a
 * function of its own: a second loop here made the engine give up optimizing the first one as
 * soon as arrays of different lengths came by.)
 */
export function allFinite(data: Float32Array): boolean {
  if (vectorScan !== undefined && data.length >= VECTOR_SCAN_FROM) return vectorScan(data);
  const end = data.length - (data.length % 8);
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0,
    s4 = 0,
    s5 = 0,
    s6 = 0,
    s7 = 0;
  for (let i = 0; i < end; i += 8) {
    s0 += data[i]! * 0;
    s1 += data[i + 1]! * 0;
    s2 += data[i + 2]! * 0;
    s3 += data[i + 3]! * 0;
    s4 += data[i + 4]! * 0;
    s5 += data[i + 5]! * 0;
    s6 += data[i + 6]! * 0;
    s7 += data[i + 7]! * 0;
  }
  return s0 + s1 + s2 + s3 + s4 + s5 + s6 + s7 + tailTimesZero(data, end) === 0;
}

function tailTimesZero(data: Float32Array, from: number): number {
  let sum = 0;
  for (let i = from; i < data.length; i++) sum += data[i]! * 0;
  return sum;
}

function checkFinite(name: string, data: NumericArray, cols: number): void {
  // Values of other types are rounded to float32 first (3.5e38 is finite only in float64); only
  // when the scan fails does the second loop find where.
  let finite: boolean;
  if (data instanceof Float32Array) {
    finite = allFinite(data);
  } else {
    let s0 = 0,
      s1 = 0;
    let i = 0;
    for (; i + 2 <= data.length; i += 2) {
      s0 += Math.fround(data[i]!) * 0;
      s1 += Math.fround(data[i + 1]!) * 0;
    }
    if (i < data.length) s0 += Math.fround(data[i]!) * 0;
    finite = s0 + s1 === 0;
  }
  if (finite) return;
  for (let j = 0; j < data.length; j++) {
    const v = data[j]!;
    if (!isFiniteFloat32(v))
      throw rangeError(`${name}[${Math.floor(j / cols)}][${j % cols}]`, Number.isFinite(v) ? FLOAT32_RANGE : 'a finite number', v);
  }
}

function flattenRows(name: string, rows: readonly (readonly number[])[], cols: number): Float32Array {
  const data = new Float32Array(rows.length * cols);
  rows.forEach((row, r) => {
    if (!Array.isArray(row)) throw typeError(`${name}[${r}]`, `an array of ${cols} numbers`, row);
    if (row.length !== cols) throw rangeError(`${name}[${r}]`, `an array of ${cols} numbers`, row);
    for (let c = 0; c < cols; c++) {
      const v = row[c];
      if (typeof v !== 'number') throw typeError(`${name}[${r}][${c}]`, 'a number', v);
      if (!isFiniteFloat32(v)) throw rangeError(`${name}[${r}][${c}]`, Number.isFinite(v) ? FLOAT32_RANGE : 'a finite number', v);
      data[r * cols + c] = v;
    }
  });
  return data;
}

/** True when the caller used nested arrays (results then come back as nested arrays). */
export function isNested(value: unknown): value is readonly (readonly number[])[] {
  return Array.isArray(value) && (value.length === 0 || Array.isArray(value[0]));
}

/**
 * Reads a matrix of `cols` columns without copying a flat typed array: every value must be
 * finite; at least one row is required. Nested arrays are flattened into a Float32Array.
 */
export function toFlatMatrix(name: string, value: unknown, cols: number): { data: FlatMatrix; rows: number } {
  let data: FlatMatrix;
  if (isNested(value)) {
    data = flattenRows(name, value, cols);
  } else if (value instanceof Float32Array || value instanceof Float64Array || value instanceof Uint8Array) {
    if (!ArrayBuffer.isView(value)) throw typeError(name, 'a typed array itself (a Proxy of one cannot be read)', value);
    if (value.length % cols !== 0) {
      throw rangeError(name, `a flat array whose length is a multiple of ${cols} (rows × ${cols} columns)`, value);
    }
    if (!(value instanceof Uint8Array)) checkFinite(name, value, cols);
    data = value;
  } else {
    throw typeError(
      name,
      `an array of rows (number[][]) or a flat Float32Array, Float64Array or Uint8Array with ${cols} values per row`,
      value,
    );
  }
  if (data.length === 0) throw rangeError(name, 'a matrix with at least one row', value);
  return { data, rows: data.length / cols };
}

/**
 * Rows of a flat matrix as float32, written into `out`: rows first … first + count − 1, or
 * rows[first … first + count) when `rows` is given. With `scaling` (mean[cols] then
 * scale[cols]) each value is standardized in double from the value as given and rounded once
 * (StandardScaler's arithmetic, and the addon's as it gathers rows): doubles keep what float32
 * would lose before the mean is taken off (1,700,000,000.25 is 1,700,000,000 in float32).
 * Without it each value is rounded to float32. The one loop behind every scaled or selected
 * copy of rows.
 */
export function writeRowsFloat32(
  data: FlatMatrix,
  cols: number,
  out: Float32Array,
  first: number,
  count: number,
  scaling?: Float64Array,
  rows?: Int32Array,
): void {
  for (let r = 0; r < count; r++) {
    const from = (rows ? rows[first + r]! : first + r) * cols;
    const to = r * cols;
    if (scaling) {
      for (let c = 0; c < cols; c++) out[to + c] = (data[from + c]! - scaling[c]!) / scaling[cols + c]!;
    } else {
      for (let c = 0; c < cols; c++) out[to + c] = data[from + c]!;
    }
  }
}

/**
 * Reads a matrix of `cols` columns as float32. A Float32Array is used as is (not copied);
 * anything else is converted. Every value must be finite; at least one row is required.
 */
export function toMatrix(name: string, value: unknown, cols: number): Matrix {
  const { data, rows } = toFlatMatrix(name, value, cols);
  return { data: data instanceof Float32Array ? data : Float32Array.from(data), rows, cols };
}

/**
 * Reads the targets of `rows` samples for a model with `outputs` outputs and the given loss,
 * into dense rows (class indices become one-hot rows).
 */
export function toTargets(name: string, value: unknown, rows: number, outputs: number, loss: Loss): Matrix {
  const expected = `${rows} rows of ${outputs} targets` + (loss === 'cross-entropy' ? ` or ${rows} class indices` : '');
  let data: Float32Array;
  if (isNested(value)) {
    if (value.length !== rows) throw new RangeError(`${name} must have ${rows} rows to match x, got ${value.length}`);
    data = flattenRows(name, value, outputs);
  } else if (Array.isArray(value) || isNumericTypedArray(value)) {
    const flat = value as NumericArray;
    if (flat.length === rows * outputs) {
      for (let i = 0; i < flat.length; i++) {
        if (typeof flat[i] !== 'number') throw typeError(`${name}[${i}]`, 'a number', flat[i]);
      }
      checkFinite(name, flat, outputs);
      data = flat instanceof Float32Array ? flat : Float32Array.from(flat);
    } else if (loss === 'cross-entropy' && flat.length === rows) {
      data = oneHot(name, flat, outputs);
    } else {
      throw new RangeError(`${name} must hold ${expected} (${rows * outputs} values), got ${describe(value)}`);
    }
  } else {
    throw typeError(name, `${expected}, as number[][] or a flat array`, value);
  }
  checkTargetRange(name, data, outputs, loss);
  return { data, rows, cols: outputs };
}

function oneHot(name: string, indices: NumericArray, classes: number): Float32Array {
  const data = new Float32Array(indices.length * classes);
  for (let i = 0; i < indices.length; i++) {
    const k = indices[i]!;
    if (!Number.isInteger(k) || k < 0 || k >= classes) {
      throw rangeError(`${name}[${i}]`, `a class index, an integer between 0 and ${classes - 1}`, k);
    }
    data[i * classes + k] = 1;
  }
  return data;
}

/** Cross-entropy targets are distributions over the classes; binary cross-entropy targets lie in [0, 1]. */
function checkTargetRange(name: string, data: Float32Array, cols: number, loss: Loss): void {
  if (loss === 'binary-cross-entropy') {
    for (let i = 0; i < data.length; i++) {
      if (data[i]! < 0 || data[i]! > 1) {
        throw rangeError(`${name}[${Math.floor(i / cols)}][${i % cols}]`, 'a probability in [0, 1] for binary-cross-entropy', data[i]);
      }
    }
  } else if (loss === 'cross-entropy') {
    for (let r = 0; r < data.length / cols; r++) {
      let sum = 0;
      for (let c = 0; c < cols; c++) {
        const v = data[r * cols + c]!;
        if (v < 0) throw rangeError(`${name}[${r}][${c}]`, 'a non-negative probability for cross-entropy', v);
        sum += v;
      }
      if (Math.abs(sum - 1) > 1e-3) {
        throw new RangeError(
          `${name}[${r}] must be a one-hot row or a distribution summing to 1 for cross-entropy, got a row summing to ${sum}`,
        );
      }
    }
  }
}

/** Turns a flat n×cols result into what the caller gave: nested rows, or the flat array itself. */
export function shapeLike(nested: boolean, data: Float32Array, cols: number): Float32Array | number[][] {
  if (!nested) return data;
  const rows: number[][] = [];
  for (let r = 0; r < data.length / cols; r++) rows.push(Array.from(data.subarray(r * cols, (r + 1) * cols)));
  return rows;
}
