/**
 * Seeded ways to divide n rows: a hold-out split and k folds, optionally stratified so every
 * part keeps the class proportions. All draws come from the SPLIT stream of rng.ts.
 */
import { rangeError } from './errors.js';
import { writeRowsFloat32 } from './data.js';
import { permutation, Stream } from './rng.js';

/** Rows of each stratum (or all rows as one stratum), each list in seeded random order. */
function shuffledGroups(n: number, seed: number, strata?: Int32Array): number[][] {
  const order = permutation(n, seed, Stream.SPLIT, 0);
  if (!strata) return [Array.from(order)];
  const groups = new Map<number, number[]>();
  for (const i of order) {
    const key = strata[i]!;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(i);
  }
  return [...groups.keys()].sort((a, b) => a - b).map((k) => groups.get(k)!);
}

const ascending = (rows: number[]): Int32Array => Int32Array.from(rows).sort();

/** Holds out `fraction` of the rows (of each stratum) as a test set. */
export function holdOut(
  n: number,
  fraction: number,
  seed: number,
  strata?: Int32Array,
  name = 'validationSplit',
): { train: Int32Array; test: Int32Array } {
  const train: number[] = [];
  const test: number[] = [];
  for (const group of shuffledGroups(n, seed, strata)) {
    const count = Math.round(group.length * fraction);
    test.push(...group.slice(0, count));
    train.push(...group.slice(count));
  }
  if (test.length === 0 || train.length === 0) {
    throw rangeError(name, `a fraction that leaves rows on both sides of the split of ${n} rows`, fraction);
  }
  return { train: ascending(train), test: ascending(test) };
}

/** Splits the rows into k folds (dealing each stratum round-robin); returns the rows of each fold. */
export function kFold(n: number, k: number, seed: number, strata?: Int32Array): Int32Array[] {
  if (k < 2 || k > n) throw rangeError('folds', `an integer between 2 and the number of rows (${n})`, k);
  const folds: number[][] = Array.from({ length: k }, () => []);
  let next = 0;
  for (const group of shuffledGroups(n, seed, strata)) {
    for (const row of group) folds[next++ % k]!.push(row);
  }
  return folds.map(ascending);
}

/** The rows `rows` of a flat matrix with `cols` columns, as float32. */
export function selectRows(data: Float32Array | Float64Array | Uint8Array, cols: number, rows: Int32Array): Float32Array {
  const out = new Float32Array(rows.length * cols);
  writeRowsFloat32(data, cols, out, 0, rows.length, undefined, rows);
  return out;
}

/** Everything in 0..n-1 that is not in `excluded` (sorted). */
export function complement(n: number, excluded: Int32Array): Int32Array {
  const mark = new Uint8Array(n);
  for (const i of excluded) mark[i] = 1;
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (!mark[i]) rest.push(i);
  return Int32Array.from(rest);
}
