/**
 * `npm run bench`: mlpkit's backends and the peer libraries side by side.
 *
 *   1. SGEMM GFLOP/s at the MLP shapes: native on 1 and 2 threads against the measured FMA
 *      peak, and both WebAssembly builds;
 *   2. W1/W2/W3 training and W2 inference on every mlpkit backend and every peer library,
 *      each checked before timing, with ratios to mlpkit native and to the fastest peer;
 *   3. event-loop delay during asynchronous training;
 *   4. scaling with batch size and width, and memory across 50 epochs (in fresh processes);
 *   5. model selection: a grid search in one thread, on every core and through Redis.
 *
 * Writes bench/results/<date>.json, <date>.md, <date>.svg (log-scale bars) and
 * <date>-scaling.svg.
 *
 *   npm run bench                 everything (about 15 minutes on 2 cores)
 *   npm run bench -- --quick      one shape, fewer contenders, no scaling (a smoke run)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { nativeBinding } from '../dist/backends/native.js';
import { listBackends } from '../dist/node.js';
import { barChart, xyChart } from '../dist/cli/plot.js';
import { banner, markdown, measure, ratioMarkdown, ratios, type Case } from './common.js';
import { GEMM_SHAPES, gemmCases } from './gemm.js';
import { searchBench } from './search.js';
import { PEERS, peerCases, type PeerData, type Workload } from './peers.js';
import { batchScaling, widthScaling, type MemoryCheck } from './scaling.js';
import { pytorchResults } from './pytorch.js';
import { eventLoopDelayDuringTraining, GROUPS, syntheticClasses, trainingCases, WORKLOADS, type Contender, type GroupId } from './train.js';
import { wasmGemmCases } from './wasm.js';

const quick = process.argv.includes('--quick');
const date = new Date().toISOString().slice(0, 10);
console.log(banner());
const missing = listBackends().filter((b) => b.name !== 'js' && !b.available);
if (missing.length) throw new Error(`backends unavailable: ${missing.map((b) => `${b.name} (${b.reason})`).join('; ')}; run npm install`);

// 1. SGEMM
const peak = nativeBinding().fmaPeak(1, 'auto');
console.log(`\nSGEMM (FMA peak of one core, measured: ${peak.toFixed(1)} GFLOP/s)`);
const shapes = quick ? GEMM_SHAPES.slice(0, 1) : GEMM_SHAPES;
const gemm = await measure([...gemmCases(quick ? [1] : [1, 2], peak, shapes), ...wasmGemmCases(quick ? shapes : GEMM_SHAPES.slice(0, 6))], {
  maxTime: 1,
});

// 2. The workloads, on mlpkit's backends and on the peers
const contenders: Contender[] = [
  { label: 'native 1 thread', backend: 'native', threads: 1 },
  ...(quick ? [] : [{ label: 'native 2 threads', backend: 'native', threads: 2 } as Contender]),
  { label: 'wasm simd', backend: 'wasm', wasmBuild: 'simd' },
  ...(quick ? [] : [{ label: 'wasm scalar', backend: 'wasm', wasmBuild: 'scalar' } as Contender]),
  { label: 'js', backend: 'js' },
];
const targets = {
  'W1-native 1 thread': 8_000_000,
  'W1-wasm simd': 8_000_000,
  'W2-native 1 thread': 30_000,
  'W2-native 2 threads': 50_000,
  'W3-native 1 thread': 9_500,
  'W2-infer-1-native 1 thread': 25_000,
  'W2-infer-256-native 1 thread': 90_000,
  'W2-wasm simd': 8_000,
  'W3-wasm simd': 2_500,
  'W2-infer-1-wasm simd': 15_000,
};
const peerData = (workload: Workload): PeerData => {
  if (workload === 'W1')
    return {
      x: Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1),
      y: Float32Array.of(0, 1, 1, 0),
      rows: 4,
      inputs: 2,
      classes: 2,
      batchSize: 4,
      learningRate: 0.5,
    };
  const inputs = WORKLOADS[workload].inputs;
  const { x, y } = syntheticClasses(256, inputs, 10, 3);
  return { x, y, rows: 256, inputs, classes: 10, batchSize: workload === 'W2' ? 64 : 256, learningRate: 0.01 };
};
// The 2-thread figures depend on how far apart the two cores are: measured before and after.
const handoff = { before: nativeBinding().handoffRoundTrip(0.5), after: 0 };
console.log('\nTraining and inference, mlpkit and the peer libraries');
const peers = await peerCases(quick ? PEERS.slice(0, 1) : PEERS, GROUPS, peerData);
const order = Object.values(GROUPS) as string[];
const cases: Case[] = [...trainingCases(contenders, { targets }), ...peers.cases].sort(
  (a, b) => order.indexOf(a.group!) - order.indexOf(b.group!),
);
const workloads = await measure(cases, { maxTime: 2, minSamples: 5 });
for (const s of peers.skipped) console.log(`  ${s.group}, ${s.contender}: not run (${s.reason})`);
// PyTorch (CPU) in a subprocess that times itself, when a Python here imports torch.
const torch = quick ? { reason: 'not in --quick runs' } : pytorchResults(Object.keys(GROUPS) as GroupId[], [1, 2]);
if ('reason' in torch) console.log(`  PyTorch: not run (${torch.reason})`);
else {
  for (const r of torch.results) console.log(`  ${r.name}: ${Math.round(r.median).toLocaleString('en')} samples/s (${r.note})`);
  workloads.push(...torch.results);
}
const table = ratios(workloads);
handoff.after = nativeBinding().handoffRoundTrip(0.5);
console.log(
  `  a cache line from one core to the other and back: ${handoff.before.toFixed(0)} ns before these, ${handoff.after.toFixed(0)} ns after`,
);

// 3. Event-loop delay
const delays = [];
for (const c of [
  { label: 'native', backend: 'native' },
  { label: 'wasm simd', backend: 'wasm', wasmBuild: 'simd' },
] as Contender[]) {
  const d = await eventLoopDelayDuringTraining(c, quick ? 1 : 4);
  delays.push({ contender: c.label, ...d });
  console.log(
    `event-loop delay while W2 trains with fit() on ${c.label}: p99 ${d.p99.toFixed(2)} ms, max ${d.max.toFixed(2)} ms (${d.seconds.toFixed(1)} s of training)`,
  );
}

// 4. Scaling and memory
const scaled: Contender[] = [
  { label: 'native 1 thread', backend: 'native', threads: 1 },
  { label: 'wasm simd', backend: 'wasm', wasmBuild: 'simd' },
];
let batch: ReturnType<typeof batchScaling> = [];
let width: ReturnType<typeof widthScaling> = [];
const memory: MemoryCheck[] = [];
if (!quick) {
  console.log('\nScaling with batch size (W2) and width (784-w-w-10, batch 64)');
  batch = batchScaling(scaled);
  width = widthScaling(scaled);
  console.log('\nMemory after epoch 1 and epoch 50 of one fit (fresh process, after a full GC)');
  for (const [backend, threads] of [
    ['native', '1'],
    ['native', '2'],
    ['wasm', ''],
  ]) {
    const output = execFileSync(
      process.execPath,
      ['--import', 'tsx', new URL('./memory-check.ts', import.meta.url).pathname, backend!, ...(threads ? [threads] : [])],
      { encoding: 'utf8' },
    );
    const check = JSON.parse(output.trim().split('\n').pop()!) as MemoryCheck;
    memory.push(check);
    console.log(
      `  ${check.contender.padEnd(18)} heap ${(check.heapEpoch1 / 2 ** 20).toFixed(2)} → ${(check.heapEpoch50 / 2 ** 20).toFixed(2)} MiB, RSS ${(check.rssEpoch1 / 2 ** 20).toFixed(1)} → ${(check.rssEpoch50 / 2 ** 20).toFixed(1)} MiB, growth ${(check.growth * 100).toFixed(2)} %`,
    );
  }
}

// 5. Model selection on every core and through Redis
let search: Awaited<ReturnType<typeof searchBench>> | undefined;
if (!quick) {
  console.log('\nModel selection: a 16 × 5-fold grid search of MLPClassifier on digits');
  search = await searchBench();
  for (const [what, value] of Object.entries(search.speedups)) console.log(`  ${what}: ${value.toFixed(2)}×`);
}

// 6. Outputs
const directory = new URL('./results/', import.meta.url);
mkdirSync(directory, { recursive: true });
const report = {
  date,
  banner: banner(),
  fmaPeakGflops: peak,
  handoffRoundTripNs: handoff,
  gemm,
  workloads: table,
  skipped: peers.skipped,
  eventLoopDelayMs: delays,
  scaling: { batch, width },
  memory,
  search,
};
writeFileSync(new URL(`${date}.json`, directory), JSON.stringify(report, null, 2) + '\n');
const scalingTable = (points: typeof batch, what: string) =>
  [
    `| ${what} | ${scaled.map((c) => `${c.label} samples/s (GFLOP/s)`).join(' | ')} |`,
    `|---:|${scaled.map(() => '---:').join('|')}|`,
    ...[...new Set(points.map((p) => p.x))].map(
      (x) =>
        `| ${x} | ${scaled
          .map((c) => {
            const p = points.find((q) => q.x === x && q.contender === c.label);
            return p ? `${Math.round(p.samplesPerSecond).toLocaleString('en')} (${p.gflops.toFixed(1)})` : '';
          })
          .join(' | ')} |`,
    ),
  ].join('\n');
const md = [
  `# mlpkit benchmark results, ${date}`,
  '',
  '```',
  banner(),
  `FMA peak of one core: ${peak.toFixed(1)} GFLOP/s`,
  `A cache line from one core to the other and back: ${handoff.before.toFixed(0)} ns before the workloads, ${handoff.after.toFixed(0)} ns after`,
  '```',
  '',
  '## SGEMM',
  '',
  markdown(gemm),
  '',
  '## Training and inference (samples/s; ratios to mlpkit native on 1 thread and to the fastest peer library)',
  '',
  ratioMarkdown(table),
  '',
  ...(peers.skipped.length ? ['Not run:', '', ...peers.skipped.map((s) => `- ${s.contender}, ${s.group}: ${s.reason}`), ''] : []),
  '## Event-loop delay during asynchronous W2 training',
  '',
  ...delays.map((d) => `- ${d.contender}: p99 ${d.p99.toFixed(2)} ms, max ${d.max.toFixed(2)} ms`),
  '',
  ...(batch.length
    ? [
        '## Scaling',
        '',
        scalingTable(batch, 'batch'),
        '',
        scalingTable(width, 'width'),
        '',
        '## Memory across epochs',
        '',
        '| contender | heap epoch 1 → 50 | RSS epoch 1 → 50 | growth |',
        '|---|---:|---:|---:|',
        ...memory.map(
          (m) =>
            `| ${m.contender} | ${(m.heapEpoch1 / 2 ** 20).toFixed(2)} → ${(m.heapEpoch50 / 2 ** 20).toFixed(2)} MiB | ${(m.rssEpoch1 / 2 ** 20).toFixed(1)} → ${(m.rssEpoch50 / 2 ** 20).toFixed(1)} MiB | ${(m.growth * 100).toFixed(2)} % |`,
        ),
        '',
      ]
    : []),
  ...(search
    ? [
        '## Model selection (a 16-parameter-set × 5-fold grid search of MLPClassifier on digits)',
        '',
        markdown(search.results),
        '',
        ...Object.entries(search.speedups).map(([what, value]) => `- ${what}: ${value.toFixed(2)}×`),
        '',
      ]
    : []),
].join('\n');
writeFileSync(new URL(`${date}.md`, directory), md);
writeFileSync(
  new URL(`${date}.svg`, directory),
  barChart(
    order
      .filter((g) => table.some((r) => r.group === g))
      .map((g) => ({ name: g, bars: table.filter((r) => r.group === g).map((r) => ({ name: r.contender, value: r.median })) })),
    { title: `mlpkit and peer libraries: samples/s (medians), ${date}`, valueLabel: 'samples/s' },
  ),
);
if (batch.length) {
  writeFileSync(
    new URL(`${date}-scaling.svg`, directory),
    xyChart(
      [
        ...scaled.map((c) => ({
          name: `${c.label}, by batch`,
          points: batch.filter((p) => p.contender === c.label).map((p) => [p.x, p.gflops] as const),
        })),
        ...scaled.map((c) => ({
          name: `${c.label}, by width`,
          points: width.filter((p) => p.contender === c.label).map((p) => [p.x, p.gflops] as const),
        })),
      ],
      {
        title: 'Training GFLOP/s against batch size (W2) and hidden width (batch 64)',
        xLabel: 'batch size or width',
        yLabel: 'GFLOP/s',
        logX: true,
      },
    ),
  );
}
console.log('\n' + ratioMarkdown(table));
console.log(`\nwrote ${new URL(`${date}.json`, directory).pathname} and the .md and .svg beside it`);
