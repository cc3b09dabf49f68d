/** Scores of predictions against true values. Every argument is checked. */
import { checkInteger, rangeError, typeError } from './errors.js';

/** An array (or typed array) of `length` finite numbers — of integers in [0, limit) when a limit is given. */
function checkValues(name: string, value: unknown, length?: number, limit?: number): ArrayLike<number> {
  if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView)))
    throw typeError(name, 'an array of numbers', value);
  const values = value as ArrayLike<unknown>;
  if (values.length === 0) throw rangeError(name, 'a non-empty array of numbers', value);
  if (length !== undefined && values.length !== length)
    throw rangeError(name, `an array of ${length} numbers (as many as the other)`, value);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== 'number') throw typeError(`${name}[${i}]`, 'a number', v);
    if (limit !== undefined) checkInteger(`${name}[${i}]`, v, 0, limit - 1);
    else if (!Number.isFinite(v)) throw rangeError(`${name}[${i}]`, 'a finite number', v);
  }
  return values as ArrayLike<number>;
}

/** Counts: entry [t][p] is the number of rows of true class t predicted as class p. */
export function confusionMatrix(truth: ArrayLike<number>, predicted: ArrayLike<number>, classes: number): number[][] {
  checkInteger('classes', classes, 1, 1 << 20);
  checkValues('truth', truth, undefined, classes);
  checkValues('predicted', predicted, truth.length, classes);
  const matrix = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  for (let i = 0; i < truth.length; i++) matrix[truth[i]!]![predicted[i]!]!++;
  return matrix;
}

export interface ClassScores {
  /** Of the rows predicted as this class, the fraction that are (0 when none were predicted). */
  precision: number;
  /** Of the rows of this class, the fraction predicted as it (0 when there are none). */
  recall: number;
  f1: number;
  /** Rows of this class. */
  support: number;
}

/** Precision, recall, F1 and support of every class, from a confusion matrix. */
export function classScores(matrix: readonly (readonly number[])[]): ClassScores[] {
  if (!Array.isArray(matrix as unknown) || matrix.length === 0) throw typeError('matrix', 'a square confusion matrix (number[][])', matrix);
  matrix.forEach((row, k) => {
    checkValues(`matrix[${k}]`, row, matrix.length);
    row.forEach((count, j) => checkInteger(`matrix[${k}][${j}]`, count, 0));
  });
  return matrix.map((row, k) => {
    const truePositives = row[k]!;
    const support = row.reduce((a, b) => a + b, 0);
    const predictedAsK = matrix.reduce((a, r) => a + r[k]!, 0);
    const precision = predictedAsK === 0 ? 0 : truePositives / predictedAsK;
    const recall = support === 0 ? 0 : truePositives / support;
    return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), support };
  });
}

/** R² = 1 − SS_res / SS_tot per target column, averaged (1 when a column is constant and matched exactly). */
export function r2Score(want: ArrayLike<number>, got: ArrayLike<number>, columns = 1): number {
  checkValues('want', want);
  checkValues('got', got, want.length);
  checkInteger('columns', columns, 1, want.length);
  if (want.length % columns !== 0) throw rangeError('columns', `a divisor of the ${want.length} values`, columns);
  const rows = want.length / columns;
  let total = 0;
  for (let c = 0; c < columns; c++) {
    let mean = 0;
    for (let r = 0; r < rows; r++) mean += want[r * columns + c]!;
    mean /= rows;
    let residual = 0;
    let spread = 0;
    for (let r = 0; r < rows; r++) {
      residual += (want[r * columns + c]! - got[r * columns + c]!) ** 2;
      spread += (want[r * columns + c]! - mean) ** 2;
    }
    total += spread === 0 ? (residual === 0 ? 1 : 0) : 1 - residual / spread;
  }
  return total / columns;
}

/** Mean absolute error and root mean squared error over all values. */
export function regressionErrors(want: ArrayLike<number>, got: ArrayLike<number>): { mae: number; rmse: number } {
  checkValues('want', want);
  checkValues('got', got, want.length);
  let absolute = 0;
  let squared = 0;
  for (let i = 0; i < want.length; i++) {
    const e = got[i]! - want[i]!;
    absolute += Math.abs(e);
    squared += e * e;
  }
  return { mae: absolute / want.length, rmse: Math.sqrt(squared / want.length) };
}

/** Index of the largest of data[offset … offset+length) (the first one on ties). */
export function argmax(data: ArrayLike<number>, offset: number, length: number): number {
  let best = 0;
  for (let j = 1; j < length; j++) if (data[offset + j]! > data[offset + best]!) best = j;
  return best;
}

/**
 * The class of each of `rows` rows of outputs (k per row): the argmax, or for a single
 * output 1 when it is ≥ 0.5, else 0.
 */
export function classesOf(outputs: ArrayLike<number>, rows: number, k: number): Int32Array {
  if (k === 1) return Int32Array.from({ length: rows }, (_, r) => (outputs[r]! >= 0.5 ? 1 : 0));
  return Int32Array.from({ length: rows }, (_, r) => argmax(outputs, r * k, k));
}

/**
 * Fraction of correct predictions for outputs and targets of k columns: by row (argmax) for
 * one-hot targets of several classes, by value (≥ 0.5) for independent binary outputs.
 */
export function accuracyOf(outputs: ArrayLike<number>, targets: ArrayLike<number>, rows: number, k: number, perValue: boolean): number {
  let correct = 0;
  if (perValue) {
    for (let i = 0; i < rows * k; i++) if (outputs[i]! >= 0.5 === targets[i]! >= 0.5) correct++;
    return correct / (rows * k);
  }
  for (let r = 0; r < rows; r++) if (argmax(outputs, r * k, k) === argmax(targets, r * k, k)) correct++;
  return correct / rows;
}
