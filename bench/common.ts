/**
 * Shared pieces of the benchmarks: the machine banner, medians over benchmark.js samples
 * (sync or async cases), and the tables with ratios. Every case is checked before it is timed.
 */
import Benchmark from 'benchmark';
import { cpus } from 'node:os';
import { listBackends, VERSION } from '../dist/node.js';

/** A tiny module using f32x4 instructions: whether this runtime's WebAssembly has 128-bit SIMD. */
const SIMD_PROBE = Uint8Array.from(atob('AGFzbQEAAAABBwFgAn19AX0DAgEABwgBBHNpbWQAAAoSARAAIAD9EyAB/RP95AH9HwAL'), (c) => c.charCodeAt(0));

export function banner(): string {
  const backends = listBackends().map(
    (b) => `${b.name} ${b.available ? `(${b.isa}, ${b.threads} thread${b.threads === 1 ? '' : 's'})` : '(unavailable)'}`,
  );
  return [
    `mlpkit ${VERSION} benchmarks, ${new Date().toISOString().slice(0, 10)}`,
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; Node ${process.versions.node} (V8 ${process.versions.v8}); wasm SIMD ${WebAssembly.validate(SIMD_PROBE) ? 'yes' : 'no'}`,
    `backends: ${backends.join(', ')}`,
  ].join('\n');
}

export interface Case {
  name: string;
  /** The workload a case belongs to (for the side-by-side tables), e.g. 'W2 train (batch 64)'. */
  group?: string;
  /** Who runs it, e.g. 'mlpkit native 1 thread' or 'tfjs (cpu)'. */
  contender?: string;
  /** Whether the contender is mlpkit (else a peer library). */
  mlpkit?: boolean;
  /** Work done by one call, in `unit`s (FLOPs, samples). */
  work: number;
  unit: 'GFLOP/s' | 'samples/s';
  /** One timed call. */
  run: () => void | Promise<void>;
  /** Checked once before timing; throws when the case computes something wrong or does not learn. */
  validate?: () => void | Promise<void>;
  /** A reference rate to compare with (a target or a peak), shown as a percentage. */
  reference?: { label: string; rate: number };
  /** How this case departs from the workload's definition. */
  note?: string;
}

export interface Result {
  name: string;
  group?: string;
  contender?: string;
  mlpkit?: boolean;
  unit: Case['unit'];
  /** Rates at the median, fastest and slowest sample. */
  median: number;
  min: number;
  max: number;
  samples: number;
  reference?: Case['reference'];
  note?: string;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function run(bench: Benchmark): Promise<void> {
  return new Promise((resolve, reject) => {
    bench.on('complete', () => (bench.error ? reject(bench.error) : resolve()));
    bench.run({ async: true });
  });
}

/** Times each case with benchmark.js (async cases with `defer`) and returns rates at the median sample time. */
export async function measure(cases: Case[], { maxTime = 2, minSamples = 8 } = {}): Promise<Result[]> {
  const results: Result[] = [];
  for (const c of cases) {
    await c.validate?.();
    const probe = c.run(); // one untimed call: warms up, and tells sync from async
    const isAsync = probe instanceof Promise;
    await probe;
    const bench = isAsync
      ? new Benchmark(c.name, {
          defer: true,
          fn: (deferred: { resolve(): void }) => {
            void (c.run() as Promise<void>).then(() => deferred.resolve());
          },
          maxTime,
          minSamples,
        })
      : new Benchmark(c.name, c.run as () => void, { maxTime, minSamples, initCount: 1 });
    await run(bench);
    const seconds = bench.stats.sample; // seconds per call, one entry per sample
    const scale = c.unit === 'GFLOP/s' ? c.work / 1e9 : c.work;
    const result: Result = {
      name: c.name,
      unit: c.unit,
      median: scale / median(seconds),
      min: scale / Math.max(...seconds),
      max: scale / Math.min(...seconds),
      samples: seconds.length,
      ...(c.group ? { group: c.group, contender: c.contender ?? c.name, mlpkit: c.mlpkit ?? false } : {}),
      ...(c.reference ? { reference: c.reference } : {}),
      ...(c.note ? { note: c.note } : {}),
    };
    console.log(`  ${format(result)}`);
    results.push(result);
  }
  return results;
}

const number = (v: number) => (v >= 100 ? Math.round(v).toLocaleString('en') : v.toPrecision(3));

export function format(r: Result): string {
  const versus = r.reference ? `  ${((100 * r.median) / r.reference.rate).toFixed(0)} % of ${r.reference.label}` : '';
  return `${r.name.padEnd(58)} ${number(r.median).padStart(12)} ${r.unit}  (${number(r.min)}–${number(r.max)}, ${r.samples} samples)${versus}`;
}

/** A markdown table of results (kernel figures). */
export function markdown(results: Result[]): string {
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${number(r.median)} ${r.unit} | ${number(r.min)}–${number(r.max)} | ${r.reference ? `${((100 * r.median) / r.reference.rate).toFixed(0)} % of ${r.reference.label}` : ''} |`,
  );
  return ['| case | median | min–max | vs |', '|---|---|---|---|', ...rows].join('\n');
}

export interface Ratio {
  group: string;
  contender: string;
  median: number;
  min: number;
  max: number;
  /** median / mlpkit native's median on the same workload. */
  vsNative?: number;
  /** median / the fastest peer library's median on the same workload. */
  vsFastestPeer?: number;
  note?: string;
}

/** Side-by-side rows per workload, with ratios to mlpkit native (1 thread) and to the fastest peer. */
export function ratios(results: Result[], nativeLabel = 'mlpkit native 1 thread'): Ratio[] {
  const groups = [...new Set(results.filter((r) => r.group).map((r) => r.group!))];
  return groups.flatMap((group) => {
    const rows = results.filter((r) => r.group === group);
    const native = rows.find((r) => r.contender === nativeLabel)?.median;
    const fastestPeer = Math.max(...rows.filter((r) => !r.mlpkit).map((r) => r.median), -Infinity);
    return rows.map((r) => ({
      group,
      contender: r.contender!,
      median: r.median,
      min: r.min,
      max: r.max,
      ...(native ? { vsNative: r.median / native } : {}),
      ...(Number.isFinite(fastestPeer) ? { vsFastestPeer: r.median / fastestPeer } : {}),
      ...(r.note ? { note: r.note } : {}),
    }));
  });
}

const times = (v: number | undefined) => (v === undefined ? '' : v >= 10 ? `${Math.round(v)}×` : `${v.toPrecision(2)}×`);

/** The side-by-side tables as markdown, one per workload. */
export function ratioMarkdown(rows: Ratio[]): string {
  const groups = [...new Set(rows.map((r) => r.group))];
  return groups
    .map((group) =>
      [
        `**${group}**`,
        '',
        '| contender | samples/s (median) | min–max | vs mlpkit native | vs fastest peer | notes |',
        '|---|---:|---:|---:|---:|---|',
        ...rows
          .filter((r) => r.group === group)
          .map(
            (r) =>
              `| ${r.contender} | ${number(r.median)} | ${number(r.min)}–${number(r.max)} | ${times(r.vsNative)} | ${times(r.vsFastestPeer)} | ${r.note ?? ''} |`,
          ),
      ].join('\n'),
    )
    .join('\n\n');
}
