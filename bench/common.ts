/**
 * Shared pieces of the benchmarks: the machine banner, medians over benchmark.js samples,
 * and a table printer. Every case is checked against the reference before it is timed.
 */
import Benchmark from 'benchmark';
import { cpus } from 'node:os';
import { listBackends, VERSION } from '../dist/node.js';

/** A tiny module using f32x4 instructions: whether this runtime's WebAssembly has 128-bit SIMD. */
const SIMD_PROBE = Uint8Array.from(atob('AGFzbQEAAAABBwFgAn19AX0DAgEABwgBBHNpbWQAAAoSARAAIAD9EyAB/RP95AH9HwAL'), (c) => c.charCodeAt(0));

export function banner(): string {
  const backends = listBackends().map((b) => `${b.name} ${b.available ? `(${b.isa}, ${b.threads} thread${b.threads === 1 ? '' : 's'})` : '(unavailable)'}`);
  return [
    `mlpkit ${VERSION} benchmarks, ${new Date().toISOString().slice(0, 10)}`,
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; Node ${process.versions.node} (V8 ${process.versions.v8}); wasm SIMD ${WebAssembly.validate(SIMD_PROBE) ? 'yes' : 'no'}`,
    `backends: ${backends.join(', ')}`,
  ].join('\n');
}

export interface Case {
  name: string;
  /** Work done by one call, in `unit`s (FLOPs, samples). */
  work: number;
  unit: 'GFLOP/s' | 'samples/s';
  /** One timed call. */
  run: () => void;
  /** Checked once before timing; throws when the case computes something wrong. */
  validate?: () => void;
  /** A reference rate to compare with (a target or a peak), shown as a percentage. */
  reference?: { label: string; rate: number };
}

export interface Result {
  name: string;
  unit: Case['unit'];
  /** Rates at the median, fastest and slowest sample. */
  median: number;
  min: number;
  max: number;
  samples: number;
  reference?: Case['reference'];
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Times each case with benchmark.js and returns rates at the median sample time. */
export function measure(cases: Case[], { maxTime = 2, minSamples = 8 } = {}): Result[] {
  return cases.map((c) => {
    c.validate?.();
    const bench = new Benchmark(c.name, c.run, { maxTime, minSamples, initCount: 1 });
    bench.run({ async: false });
    if (bench.error) throw bench.error;
    const seconds = bench.stats.sample; // seconds per call, one entry per sample
    const scale = c.unit === 'GFLOP/s' ? c.work / 1e9 : c.work;
    const result: Result = {
      name: c.name,
      unit: c.unit,
      median: scale / median(seconds),
      min: scale / Math.max(...seconds),
      max: scale / Math.min(...seconds),
      samples: seconds.length,
    };
    if (c.reference) result.reference = c.reference;
    console.log(`  ${format(result)}`);
    return result;
  });
}

const number = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en') : v.toPrecision(3));

export function format(r: Result): string {
  const versus = r.reference ? `  ${((100 * r.median) / r.reference.rate).toFixed(0)} % of ${r.reference.label}` : '';
  return `${r.name.padEnd(52)} ${number(r.median).padStart(12)} ${r.unit}  (${number(r.min)}–${number(r.max)}, ${r.samples} samples)${versus}`;
}

/** A markdown table of results. */
export function markdown(results: Result[]): string {
  const rows = results.map((r) =>
    `| ${r.name} | ${number(r.median)} ${r.unit} | ${number(r.min)}–${number(r.max)} | ${r.reference ? `${((100 * r.median) / r.reference.rate).toFixed(0)} % of ${r.reference.label}` : ''} |`);
  return ['| case | median | min–max | vs |', '|---|---|---|---|', ...rows].join('\n');
}
