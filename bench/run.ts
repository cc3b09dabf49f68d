/**
 * `npm run bench`: the GEMM and the training/inference workloads on every backend, with
 * medians, min–max and the machine they ran on. Writes bench/results/<date>.json.
 *
 *   npm run bench                 everything
 *   npm run bench -- --quick      fewer shapes and contenders (a smoke run)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { listBackends } from '../dist/node.js';
import { banner, markdown, type Result } from './common.js';
import { GEMM_SHAPES, runGemm } from './gemm.js';
import { eventLoopDelayDuringTraining, runTraining, type Contender } from './train.js';
import { runWasmGemm } from './wasm.js';

const quick = process.argv.includes('--quick');
console.log(banner());
const available = new Set(listBackends().filter((b) => b.available).map((b) => b.name));
if (!available.has('native')) throw new Error('the native backend is not available; build it with npm run build:native');

const results: Result[] = [];
const { peak, results: gemm } = runGemm(quick ? [1] : [1, 2], quick ? GEMM_SHAPES.slice(0, 1) : GEMM_SHAPES);
results.push(...gemm);
results.push(...runWasmGemm(quick ? GEMM_SHAPES.slice(0, 1) : undefined));

const contenders: Contender[] = [
  { label: 'native 1 thread', backend: 'native', threads: 1 },
  ...(quick ? [] : [{ label: 'native 2 threads', backend: 'native', threads: 2 } as Contender]),
  { label: 'wasm simd', backend: 'wasm', wasmBuild: 'simd' },
  ...(quick ? [] : [{ label: 'wasm scalar', backend: 'wasm', wasmBuild: 'scalar' } as Contender]),
  { label: 'js', backend: 'js' },
];
results.push(...runTraining(contenders, {
  W1: 8_000_000,
  'W2-native 1 thread': 30_000, 'W2-native 2 threads': 50_000, 'W3-native 1 thread': 9_500,
  'W2-infer-1-native 1 thread': 25_000, 'W2-infer-256-native 1 thread': 90_000,
  'W2-wasm simd': 8_000, 'W3-wasm simd': 2_500, 'W2-infer-1-wasm simd': 15_000,
}));

const delay = await eventLoopDelayDuringTraining({ label: 'native', backend: 'native' }, quick ? 1 : 4);
console.log(`\nevent-loop delay while W2 trains with fit() on native: p99 ${delay.p99.toFixed(2)} ms, max ${delay.max.toFixed(2)} ms (${delay.seconds.toFixed(1)} s of training)`);
const wasmDelay = await eventLoopDelayDuringTraining({ label: 'wasm simd', backend: 'wasm', wasmBuild: 'simd' }, quick ? 1 : 4);
console.log(`event-loop delay while W2 trains with fit() on wasm: p99 ${wasmDelay.p99.toFixed(2)} ms, max ${wasmDelay.max.toFixed(2)} ms (${wasmDelay.seconds.toFixed(1)} s of training)`);

console.log('\n' + markdown(results));
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const file = new URL(`./results/${new Date().toISOString().slice(0, 10)}.json`, import.meta.url);
writeFileSync(file, JSON.stringify({ banner: banner(), fmaPeakGflops: peak, eventLoopDelayMs: delay, wasmEventLoopDelayMs: wasmDelay, results }, null, 2));
console.log(`\nwrote ${file.pathname}`);
