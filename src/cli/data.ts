/**
 * Reading data files for the command line: CSV (a header row, numeric feature columns, a
 * target column of numbers or class names) and IDX (the MNIST / Fashion-MNIST format,
 * gzipped or not). Every problem is an error that names the file, line and column.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { parse } from 'csv-parse/sync';

/** A table read from a file: numeric features, and the raw target values when there is a target. */
export interface Table {
  readonly format: 'csv' | 'idx';
  /** Row-major features, rows × features.length (IDX bytes stay bytes: the library reads them in place). */
  readonly x: Float32Array | Uint8Array;
  readonly rows: number;
  readonly features: readonly string[];
  /** Target values as read (strings from CSV, numbers from IDX), when a target was asked for. */
  readonly target?: readonly (string | number)[];
  readonly targetName?: string;
}

export interface ReadOptions {
  /** Target column: a name, or a 0-based index (CSV), or a labels file (IDX). */
  target?: string;
  /** Feature columns (CSV): names; default every column but the target. */
  features?: readonly string[];
  /** A labels file for IDX images. */
  labels?: string;
}

/** Loads a file's bytes, gunzipping when it starts with the gzip magic. */
function readBytes(path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(code === 'ENOENT' ? `${path}: no such file` : `${path}: cannot be read (${(error as Error).message})`, {
      cause: error,
    });
  }
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    // Inflated into one buffer of the size the gzip trailer states (mod 2^32, and never more
    // than deflate can expand this input): zlib's default 16 KB chunks would be joined by one more
    // copy of the whole file, and fresh memory is costly.
    const stated = bytes.length >= 18 ? bytes.readUInt32LE(bytes.length - 4) : 0;
    const chunkSize = Math.max(64 * 1024, Math.min(stated + 1, bytes.length * 1032, 2 ** 30));
    try {
      return gunzipSync(bytes, { chunkSize });
    } catch (error) {
      throw new Error(`${path}: a gzip file that cannot be decompressed (${(error as Error).message})`, { cause: error });
    }
  }
  return bytes;
}

/** IDX files start with two zero bytes, a type code and the number of dimensions. */
function isIdx(bytes: Buffer): boolean {
  return bytes.length >= 4 && bytes[0] === 0 && bytes[1] === 0 && [0x08, 0x09, 0x0b, 0x0c, 0x0d, 0x0e].includes(bytes[2]!);
}

/** An IDX array: its dimensions and its values: unsigned bytes in place, anything else as float32. */
export function readIdx(path: string, bytes = readBytes(path)): { dims: number[]; values: Float32Array | Uint8Array } {
  if (!isIdx(bytes)) throw new Error(`${path}: not an IDX file (it does not start with the IDX magic number)`);
  const type = bytes[2]!;
  const rank = bytes[3]!;
  if (rank < 1) throw new Error(`${path}: an IDX file with no dimensions`);
  if (bytes.length < 4 + 4 * rank) throw new Error(`${path}: truncated IDX header`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i, false));
  const count = dims.reduce((a, b) => a * b, 1);
  const size = { 0x08: 1, 0x09: 1, 0x0b: 2, 0x0c: 4, 0x0d: 4, 0x0e: 8 }[type]!;
  const start = 4 + 4 * rank;
  if (bytes.length < start + count * size) {
    throw new Error(
      `${path}: truncated IDX data: ${dims.join('×')} values need ${start + count * size} bytes, the file has ${bytes.length}`,
    );
  }
  if (type === 0x08) return { dims, values: bytes.subarray(start, start + count) }; // unsigned bytes (images): no copy
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const at = start + i * size;
    values[i] =
      type === 0x08
        ? bytes[at]!
        : type === 0x09
          ? view.getInt8(at)
          : type === 0x0b
            ? view.getInt16(at, false)
            : type === 0x0c
              ? view.getInt32(at, false)
              : type === 0x0d
                ? view.getFloat32(at, false)
                : view.getFloat64(at, false);
  }
  return { dims, values };
}

function readIdxTable(path: string, bytes: Buffer, options: ReadOptions): Table {
  const { dims, values } = readIdx(path, bytes);
  const rows = dims[0]!;
  const width = values.length / Math.max(rows, 1);
  if (rows === 0) throw new Error(`${path}: the IDX file holds no rows`);
  const features = Array.from({ length: width }, (_, i) => `pixel${i}`);
  if (options.features) throw new Error('--features applies to CSV files; an IDX file uses all its values');
  if (options.target !== undefined) throw new Error(`--target applies to CSV files; give the labels of ${path} with --labels`);
  if (!options.labels) return { format: 'idx', x: values, rows, features };
  const labels = readIdx(options.labels);
  if (labels.dims[0] !== rows || labels.values.length !== rows) {
    throw new Error(`${options.labels}: ${labels.values.length} labels for the ${rows} rows of ${path}`);
  }
  return { format: 'idx', x: values, rows, features, target: Array.from(labels.values), targetName: 'label' };
}

function readCsvTable(path: string, text: string, options: ReadOptions): Table {
  if (options.labels) throw new Error('--labels applies to IDX files; name the target column of a CSV file with --target');
  let records: string[][];
  try {
    records = parse(text, { skip_empty_lines: true, trim: true, relax_column_count: false });
  } catch (error) {
    throw new Error(`${path}: not a valid CSV file (${(error as Error).message})`, { cause: error });
  }
  if (records.length < 2) throw new Error(`${path}: a CSV file needs a header row and at least one data row`);
  const header = records[0]!;
  const columnIndex = (name: string, what: string): number => {
    const byName = header.indexOf(name);
    if (byName >= 0) return byName;
    if (/^\d+$/.test(name) && Number(name) < header.length) return Number(name);
    throw new Error(`${path}: no ${what} column '${name}'; the columns are ${header.map((h) => `'${h}'`).join(', ')}`);
  };
  const targetIndex = options.target === undefined ? -1 : columnIndex(options.target, 'target');
  const featureIndexes = options.features
    ? options.features.map((name) => columnIndex(name, 'feature'))
    : header.map((_, i) => i).filter((i) => i !== targetIndex);
  if (featureIndexes.includes(targetIndex)) throw new Error(`the target column '${header[targetIndex]}' cannot also be a feature`);
  if (featureIndexes.length === 0) throw new Error(`${path}: no feature columns left besides the target`);
  const rows = records.length - 1;
  const x = new Float32Array(rows * featureIndexes.length);
  const target: string[] = [];
  for (let r = 0; r < rows; r++) {
    const record = records[r + 1]!;
    const line = r + 2; // 1-based, after the header
    featureIndexes.forEach((c, j) => {
      const raw = record[c]!;
      if (raw === '') throw new Error(`${path}: line ${line}, column '${header[c]}': missing value`);
      const value = Number(raw);
      if (!Number.isFinite(value)) throw new Error(`${path}: line ${line}, column '${header[c]}': '${raw}' is not a number`);
      x[r * featureIndexes.length + j] = value;
    });
    if (targetIndex >= 0) {
      const raw = record[targetIndex]!;
      if (raw === '') throw new Error(`${path}: line ${line}, column '${header[targetIndex]}': missing target value`);
      target.push(raw);
    }
  }
  const table: Table = { format: 'csv', x, rows, features: featureIndexes.map((i) => header[i]!) };
  return targetIndex >= 0 ? { ...table, target, targetName: header[targetIndex]! } : table;
}

/** Reads a CSV or IDX file (detected from its content). */
export function readTable(path: string, options: ReadOptions = {}): Table {
  const bytes = readBytes(path);
  if (isIdx(bytes)) return readIdxTable(path, bytes, options);
  return readCsvTable(path, bytes.toString('utf8'), options);
}

/** Class labels stay strings in CSV files; numbers that all look like class indices become numbers. */
export function targetNumbers(table: Table): number[] | undefined {
  if (!table.target) return undefined;
  const values = table.target.map((v) => (typeof v === 'number' ? v : Number(v)));
  return values.every(Number.isFinite) ? values : undefined;
}

/** The task of a target: as asked, or classification for class names and few distinct integers. */
export function decideTask(table: Table, asked: 'auto' | 'classification' | 'regression'): 'classification' | 'regression' {
  if (asked !== 'auto') return asked;
  const numbers = targetNumbers(table);
  if (!numbers) return 'classification'; // class names
  const distinct = new Set(numbers).size;
  return numbers.every(Number.isInteger) && distinct <= Math.max(2, Math.min(50, table.rows / 10)) ? 'classification' : 'regression';
}
