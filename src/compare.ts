/**
 * compareBackends(): the whole backend comparison for one model and data set in one call —
 * each backend's training speed, how far its weights drift from the reference after the
 * same steps, how much it delays the event loop while training asynchronously, and its
 * peak memory. Node only (it reads perf_hooks and process.memoryUsage).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { checkInteger, checkKnownKeys, checkOptions, typeError } from './errors.js';
import { isNested, toMatrix, type MatrixInput, type TargetInput } from './data.js';
import { MLP } from './mlp.js';
import { listBackends } from './registry.js';
import { BACKEND_NAMES, type BackendName, type MLPOptions } from './spec.js';

export interface CompareOptions {
  /** The model to build on every backend (its `seed` is fixed to `seed` if absent, `backend` is ignored). */
  model: MLPOptions;
  x: MatrixInput;
  y: TargetInput;
  /** Backends to compare. Default: every available one. */
  backends?: BackendName[];
  /** Epochs timed per backend. Default 2. */
  epochs?: number;
  /** Default 32. */
  batchSize?: number;
  /** Updates replayed on every backend and on the reference to measure weight drift. Default 10. */
  paritySteps?: number;
  /** Seed of the model when `model.seed` is absent. Default 1. */
  seed?: number;
}

/** One backend's row of the comparison. */
export interface BackendComparison {
  backend: BackendName;
  available: boolean;
  /** Why the backend was not measured. */
  reason?: string;
  isa?: string;
  threads?: number;
  /** Training throughput through `fit` (asynchronous), in rows per second. */
  samplesPerSecond?: number;
  /** Largest |w − w_ref| after `paritySteps` identical updates, against the js reference. */
  maxWeightDifference?: number;
  /** 99th percentile of the event-loop delay during asynchronous training, in milliseconds. */
  eventLoopDelayP99Ms?: number;
  /** Peak growth of the process's resident memory during training, in bytes. */
  peakMemoryBytes?: number;
}

export interface Comparison {
  rows: BackendComparison[];
  /** The rows as an aligned text table. */
  table(): string;
  toJSON(): BackendComparison[];
}

function flatWeights(net: MLP): Float32Array {
  const layers = net.getWeights();
  const out = new Float32Array(net.parameterCount);
  let at = 0;
  for (const { weights, bias } of layers) {
    out.set(weights, at);
    at += weights.length;
    if (bias) {
      out.set(bias, at);
      at += bias.length;
    }
  }
  return out;
}

function format(rows: BackendComparison[]): string {
  const header = ['backend', 'isa', 'threads', 'samples/s', 'max |Δw| vs js', 'loop p99 ms', 'peak memory'];
  const measured = rows
    .filter((r) => r.available)
    .map((r) => [
      r.backend,
      r.isa ?? '',
      String(r.threads ?? ''),
      Math.round(r.samplesPerSecond!).toLocaleString('en'),
      r.maxWeightDifference!.toExponential(2),
      r.eventLoopDelayP99Ms!.toFixed(2),
      `${(r.peakMemoryBytes! / 2 ** 20).toFixed(1)} MiB`,
    ]);
  const widths = header.map((h, j) => Math.max(h.length, ...measured.map((row) => row[j]!.length)));
  const lines = [header, ...measured].map((row) => row.map((c, j) => (j < 2 ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  '));
  for (const r of rows.filter((row) => !row.available)) lines.push(`${r.backend.padEnd(widths[0]!)}  unavailable: ${r.reason}`);
  return lines.join('\n');
}

/**
 * Trains the same model on each backend and measures speed, agreement with the reference,
 * event-loop delay and memory.
 * @example
 * ```ts
 * import { compareBackends } from 'mlpkit';
 * const comparison = await compareBackends({
 *   model: { inputs: 784, layers: [{ units: 256 }, { units: 10, activation: 'softmax' }] },
 *   x, y, epochs: 2, batchSize: 64,
 * });
 * console.log(comparison.table());
 * ```
 */
export async function compareBackends(options: CompareOptions): Promise<Comparison> {
  const o = checkOptions<CompareOptions>('options', options);
  checkKnownKeys('options', o, ['model', 'x', 'y', 'backends', 'epochs', 'batchSize', 'paritySteps', 'seed']);
  if (!o.model || typeof o.model !== 'object') throw typeError('model', 'the options of an MLP', o.model);
  if (o.x === undefined) throw typeError('x', 'the training inputs', o.x);
  if (o.y === undefined) throw typeError('y', 'the training targets', o.y);
  const { x, y } = o as CompareOptions;
  const epochs = o.epochs === undefined ? 2 : checkInteger('epochs', o.epochs, 1);
  const batchSize = o.batchSize === undefined ? 32 : checkInteger('batchSize', o.batchSize, 1);
  const paritySteps = o.paritySteps === undefined ? 10 : checkInteger('paritySteps', o.paritySteps, 1);
  const model: MLPOptions = { ...o.model, seed: o.model.seed ?? o.seed ?? 1 };
  delete (model as { backend?: unknown }).backend;
  const statuses = listBackends();
  const wanted = o.backends ?? statuses.filter((s) => s.available).map((s) => s.name);
  wanted.forEach((name, i) => {
    if (!BACKEND_NAMES.includes(name)) throw typeError(`backends[${i}]`, `one of ${BACKEND_NAMES.join(', ')}`, name);
  });

  // Parity: the first paritySteps batches, trained on the reference and on each backend.
  const rows = isNested(x) ? x.length : toMatrix('x', x, model.inputs).rows;
  const parityRows = Math.min(rows, paritySteps * batchSize);
  const slice = <T>(v: T): T =>
    (isNested(v) || Array.isArray(v)
      ? (v as unknown as unknown[]).slice(0, parityRows)
      : (v as unknown as Float32Array).subarray(0, parityRows * ((v as unknown as Float32Array).length / rows))) as T;
  const parityX = slice(x);
  const parityY = slice(y);
  const parityFit = { epochs: 1, batchSize, shuffle: false };
  const reference = new MLP({ ...model, backend: 'js' });
  reference.fitSync(parityX, parityY, parityFit);
  const referenceWeights = flatWeights(reference);
  reference.dispose();

  const results: BackendComparison[] = [];
  for (const backend of wanted) {
    const status = statuses.find((s) => s.name === backend)!;
    if (!status.available) {
      results.push({ backend, available: false, reason: status.reason ?? 'unavailable' });
      continue;
    }
    const drift = new MLP({ ...model, backend });
    drift.fitSync(parityX, parityY, parityFit);
    const weights = flatWeights(drift);
    drift.dispose();
    let maxWeightDifference = 0;
    for (let i = 0; i < weights.length; i++)
      maxWeightDifference = Math.max(maxWeightDifference, Math.abs(weights[i]! - referenceWeights[i]!));

    const net = new MLP({ ...model, backend });
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 5);
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const started = performance.now();
    await net.fit(x, y, { epochs, batchSize });
    const seconds = (performance.now() - started) / 1000;
    histogram.disable();
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);
    results.push({
      backend,
      available: true,
      isa: status.isa!,
      threads: status.threads!,
      samplesPerSecond: (rows * epochs) / seconds,
      maxWeightDifference,
      eventLoopDelayP99Ms: histogram.percentile(99) / 1e6,
      peakMemoryBytes: peak - baseline,
    });
    net.dispose();
  }
  return { rows: results, table: () => format(results), toJSON: () => results };
}
