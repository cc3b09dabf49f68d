/**
 * The model file: versioned, self-describing, and the same for every backend.
 *
 *   offset  size  content
 *   0       4     magic "MLPK"
 *   4       4     format version, u32 little-endian (FORMAT_VERSION)
 *   8       4     manifest length M in bytes, u32 LE
 *   12      M     manifest: UTF-8 JSON (the model's options, scaler, estimator, parameter count)
 *   12+M    pad   spaces up to a multiple of 4
 *   W       4·P   the P parameters as float32 LE, in the canonical layout of layout.ts
 *   …       4·P·V with a training checkpoint (version 2): the optimizer's V state vectors
 *                 (momentum: its velocity; adam: both moments), float32 LE, the same layout
 *   end−4   4     CRC-32 (IEEE) of every byte before it
 *
 * A checkpoint's scalars (the update counters, epochs trained, the plateau-reduced rate) are
 * in the manifest's `training`. Version 1 files (no checkpoints) still load.
 */
import { checkKnownKeys, checkOptions, describe, describeError, typeError } from './errors.js';
import { paramLayout } from './layout.js';
import { normalizeModelSpec, specToOptions, type MLPOptions, type ModelSpec } from './spec.js';
import { COUNTER_FIELDS } from './tables.js';
import { VERSION } from './version.js';

export const FORMAT_VERSION = 2;
const MAGIC = 'MLPK';
const HEADER_BYTES = 12;

/** Class labels a classifier can store. */
export type Label = string | number | boolean;

export interface EstimatorRecord {
  readonly type: 'MLPClassifier' | 'MLPRegressor';
  /** The estimator's constructor options. */
  readonly params: Record<string, unknown>;
  /** Class labels, in output order (classifiers). */
  readonly classes?: readonly Label[];
}

/** What a training checkpoint adds to a model: everything the next update depends on. */
export interface TrainingRecord {
  /** The optimizer's state vectors (none for sgd, the velocity for momentum, both moments for adam). */
  readonly vectors: readonly Float32Array[];
  /** COUNTER_FIELDS: the update step, β1^t, β2^t. */
  readonly counters: readonly number[];
  readonly epochsTrained: number;
  readonly learningRateScale: number;
}

/** State vectors an optimizer keeps besides the parameters. */
export const OPTIMIZER_VECTORS: Readonly<Record<ModelSpec['optimizer']['type'], number>> = { sgd: 0, momentum: 1, nesterov: 1, adam: 2 };

export interface ModelRecord {
  readonly spec: ModelSpec;
  readonly params: Float32Array;
  readonly standardize: boolean;
  readonly scaler?: { mean: number[]; scale: number[] };
  readonly estimator?: EstimatorRecord;
  /** The user's JSON metadata (feature names, the target column, …). */
  readonly metadata?: Record<string, unknown>;
  /** A training checkpoint, when saved with `{ training: true }`. */
  readonly training?: TrainingRecord;
}

interface Manifest {
  format: 'mlpkit-model';
  library: string;
  model: MLPOptions;
  parameters: number;
  standardize: boolean;
  scaler?: { mean: number[]; scale: number[] };
  estimator?: EstimatorRecord;
  metadata?: Record<string, unknown>;
  training?: { counters: number[]; epochsTrained: number; learningRateScale: number };
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) crc = CRC_TABLE[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function encodeModel(record: ModelRecord): Uint8Array {
  const manifest: Manifest = {
    format: 'mlpkit-model',
    library: VERSION,
    model: specToOptions(record.spec),
    parameters: record.params.length,
    standardize: record.standardize,
  };
  if (record.scaler) manifest.scaler = record.scaler;
  if (record.estimator) manifest.estimator = record.estimator;
  if (record.metadata) manifest.metadata = record.metadata;
  const { training } = record;
  if (training) {
    manifest.training = {
      counters: [...training.counters],
      epochsTrained: training.epochsTrained,
      learningRateScale: training.learningRateScale,
    };
  }
  const vectors = [record.params, ...(training?.vectors ?? [])];
  const json = new TextEncoder().encode(JSON.stringify(manifest));
  const weightsOffset = Math.ceil((HEADER_BYTES + json.length) / 4) * 4;
  const bytes = new Uint8Array(weightsOffset + 4 * record.params.length * vectors.length + 4);
  const view = new DataView(bytes.buffer);
  bytes.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(4, FORMAT_VERSION, true);
  view.setUint32(8, json.length, true);
  bytes.set(json, HEADER_BYTES);
  bytes.fill(0x20, HEADER_BYTES + json.length, weightsOffset);
  vectors.forEach((vector, k) => vector.forEach((v, i) => view.setFloat32(weightsOffset + 4 * (k * vector.length + i), v, true)));
  view.setUint32(bytes.length - 4, crc32(bytes.subarray(0, bytes.length - 4)), true);
  return bytes;
}

/** How deep metadata may nest: deeper data could be read but not written back (JSON.stringify recurses). */
export const METADATA_DEPTH = 64;

/**
 * Why `value` cannot be model metadata — not a plain object once it has been through JSON, or
 * nested deeper than METADATA_DEPTH — or undefined when it can. What the setter accepts, a
 * file may hold, so every saved model loads.
 */
export function metadataProblem(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return `it is ${describe(value)}, not a plain object`;
  const pending: [unknown, number][] = [[value, 1]];
  const seen = new Set<object>(); // each object once: shared or cyclic data cannot make the walk explode
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object' || seen.has(item)) continue;
    seen.add(item);
    if (depth > METADATA_DEPTH) return `it nests deeper than ${METADATA_DEPTH} levels`;
    let children: unknown[];
    try {
      children = Object.values(item);
    } catch (error) {
      return `reading it threw ${describeError(error)}`; // a getter or a Proxy trap of the caller's
    }
    for (const child of children) pending.push([child, depth + 1]);
  }
  return undefined;
}

function corrupt(detail: string): RangeError {
  return new RangeError(`model file is corrupt: ${detail}`);
}

export function decodeModel(value: unknown): ModelRecord {
  let bytes: Uint8Array;
  if (value instanceof Uint8Array) bytes = value;
  else if (value instanceof ArrayBuffer) bytes = new Uint8Array(value);
  else if (ArrayBuffer.isView(value)) bytes = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  else throw typeError('bytes', 'a Uint8Array or ArrayBuffer holding a saved model', value);

  if (bytes.length < HEADER_BYTES) {
    throw new RangeError(`model file is truncated: ${bytes.length} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  }
  if (new TextDecoder().decode(bytes.subarray(0, 4)) !== MAGIC) {
    throw corrupt(`it does not start with "${MAGIC}" (this is not an mlpkit model)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version > FORMAT_VERSION) {
    throw new RangeError(
      `model file format version ${version} is newer than this mlpkit ${VERSION} reads (up to ${FORMAT_VERSION}); upgrade mlpkit to load it`,
    );
  }
  if (version === 0) throw corrupt('format version 0');
  const manifestLength = view.getUint32(8, true);
  if (HEADER_BYTES + manifestLength > bytes.length) {
    throw new RangeError(
      `model file is truncated: its manifest needs ${HEADER_BYTES + manifestLength} bytes, the file has ${bytes.length}`,
    );
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(HEADER_BYTES, HEADER_BYTES + manifestLength)));
  } catch (error) {
    throw corrupt(`its manifest is not valid JSON (${(error as Error).message})`);
  }
  const m = checkOptions<Manifest>('model file manifest', manifest);
  if (m.format !== 'mlpkit-model') throw corrupt(`its manifest format is ${describe(m.format)}, expected "mlpkit-model"`);
  checkKnownKeys('model file manifest', m, [
    'format',
    'library',
    'model',
    'parameters',
    'standardize',
    'scaler',
    'estimator',
    'metadata',
    'training',
  ]);
  if (m.training !== undefined && version < 2) throw corrupt('a version 1 file cannot hold a training checkpoint');
  let spec: ModelSpec;
  try {
    spec = normalizeModelSpec(m.model);
  } catch (error) {
    throw corrupt(`its model description is invalid (${(error as Error).message})`);
  }
  const count = paramLayout(spec.inputs, spec.layers).size;
  if (m.parameters !== count) throw corrupt(`it declares ${describe(m.parameters)} parameters, the model has ${count}`);
  const weightsOffset = Math.ceil((HEADER_BYTES + manifestLength) / 4) * 4;
  const stateVectors = m.training === undefined ? 0 : OPTIMIZER_VECTORS[spec.optimizer.type];
  const expected = weightsOffset + 4 * count * (1 + stateVectors) + 4;
  if (bytes.length < expected) throw new RangeError(`model file is truncated: expected ${expected} bytes, got ${bytes.length}`);
  if (bytes.length > expected) throw corrupt(`expected ${expected} bytes, got ${bytes.length} (trailing data)`);
  const stored = view.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) throw corrupt(`checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)})`);

  const readVector = (k: number, what: string): Float32Array => {
    const vector = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      vector[i] = view.getFloat32(weightsOffset + 4 * (k * count + i), true);
      if (!Number.isFinite(vector[i]!)) throw corrupt(`${what} ${i} is ${vector[i]}`);
    }
    return vector;
  };
  const params = readVector(0, 'parameter');
  let training: TrainingRecord | undefined;
  if (m.training !== undefined) {
    const t = checkOptions<NonNullable<Manifest['training']>>('model file training', m.training);
    const { counters, epochsTrained, learningRateScale } = t;
    if (
      !Array.isArray(counters) ||
      counters.length !== COUNTER_FIELDS.length ||
      !counters.every((c) => typeof c === 'number' && Number.isFinite(c))
    ) {
      throw corrupt(`its training counters are ${describe(counters)}, expected ${COUNTER_FIELDS.length} finite numbers`);
    }
    if (typeof epochsTrained !== 'number' || !Number.isInteger(epochsTrained) || epochsTrained < 0)
      throw corrupt(`epochs trained is ${describe(epochsTrained)}`);
    if (typeof learningRateScale !== 'number' || !(learningRateScale > 0 && learningRateScale <= 1)) {
      throw corrupt(`the learning-rate scale is ${describe(learningRateScale)}`);
    }
    const vectors = Array.from({ length: stateVectors }, (_, k) => readVector(k + 1, 'optimizer state value'));
    training = { vectors, counters, epochsTrained, learningRateScale };
  }
  if (typeof m.standardize !== 'boolean') throw corrupt(`standardize is ${describe(m.standardize)}`);
  if (m.scaler !== undefined) {
    if (m.scaler === null || typeof m.scaler !== 'object') throw corrupt(`its scaler is ${describe(m.scaler)}, expected { mean, scale }`);
    const { mean, scale } = m.scaler;
    if (!Array.isArray(mean) || mean.length !== spec.inputs || !Array.isArray(scale) || scale.length !== spec.inputs) {
      throw corrupt(`its scaler does not have ${spec.inputs} features`);
    }
  }
  if (m.estimator !== undefined) {
    const e = checkOptions<EstimatorRecord>('model file estimator', m.estimator);
    if (e.type !== 'MLPClassifier' && e.type !== 'MLPRegressor') throw corrupt(`unknown estimator type ${describe(e.type)}`);
    if (
      e.classes !== undefined &&
      (!Array.isArray(e.classes) || e.classes.some((c) => !['string', 'number', 'boolean'].includes(typeof c)))
    ) {
      throw corrupt('its class labels are not a list of strings, numbers or booleans');
    }
  }
  const metadata = m.metadata === undefined ? undefined : metadataProblem(m.metadata);
  if (metadata) throw corrupt(`its metadata cannot be used: ${metadata}`);
  return {
    spec,
    params,
    standardize: m.standardize,
    scaler: m.scaler,
    estimator: m.estimator,
    metadata: m.metadata,
    ...(training ? { training } : {}),
  };
}
