/**
 * How cost grows with the work, and that memory does not grow with time:
 *   - samples/s against batch size (1 … 1024) on W2 (784-512-512-10);
 *   - samples/s and GFLOP/s against hidden width (64 … 2048) on 784-w-w-10 at batch 64
 *     (linear cost in the work means a flat GFLOP/s once the GEMMs are large enough);
 *   - heap and RSS after epoch 1 and after epoch 50 of one fit, after a full GC: a training
 *     step allocates nothing, so they must agree within 1 %.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { MLP, type MLPOptions } from '../dist/node.js';
import type { Contender } from './train.js';
import { syntheticClasses, WORKLOADS } from './train.js';
import { useWasmBuild } from './wasm.js';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

export interface ScalingPoint {
  contender: string;
  /** The swept value: the batch size or the hidden width. */
  x: number;
  samplesPerSecond: number;
  gflops: number;
  rssBytes: number;
}

export interface MemoryCheck {
  contender: string;
  heapEpoch1: number;
  heapEpoch50: number;
  rssEpoch1: number;
  rssEpoch50: number;
  /** Largest relative growth of heap or RSS from epoch 1 to epoch 50 (a fall counts as 0). */
  growth: number;
}

/** Training FLOPs per sample of an MLP: forward, weight gradients, and input gradients of all but the first layer. */
export function trainingFlops(inputs: number, units: readonly number[]): number {
  let forward = 0;
  let backward = 0;
  units.reduce((fanIn, u, l) => {
    forward += fanIn * u;
    if (l > 0) backward += fanIn * u;
    return u;
  }, inputs);
  return 2 * (2 * forward + backward);
}

function timeEpochs(net: MLP, x: Float32Array, y: Int32Array, batchSize: number, minSeconds: number): number {
  const rows = y.length;
  net.fitSync(x, y, { epochs: 1, batchSize }); // warm up: scratch sized, code compiled
  let epochs = 0;
  const started = performance.now();
  do {
    net.fitSync(x, y, { epochs: 1, batchSize });
    epochs++;
  } while ((performance.now() - started) / 1000 < minSeconds);
  return (rows * epochs) / ((performance.now() - started) / 1000);
}

function build(options: MLPOptions, c: Contender): MLP {
  if (c.wasmBuild) useWasmBuild(c.wasmBuild);
  return new MLP({ ...options, seed: 1, backend: c.backend, ...(c.threads ? { threads: c.threads } : {}) });
}

export function batchScaling(
  contenders: Contender[],
  batches = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
  minSeconds = 0.5,
): ScalingPoint[] {
  const { x, y } = syntheticClasses(2048, 784, 10, 7);
  const flops = trainingFlops(784, [512, 512, 10]);
  return contenders.flatMap((c) =>
    batches.map((batch) => {
      const rows = Math.min(2048, Math.max(batch * 4, 256));
      const net = build(WORKLOADS.W2 as MLPOptions, c);
      const rate = timeEpochs(net, x.subarray(0, rows * 784), y.subarray(0, rows), batch, minSeconds);
      const point = {
        contender: c.label,
        x: batch,
        samplesPerSecond: rate,
        gflops: (rate * flops) / 1e9,
        rssBytes: process.memoryUsage().rss,
      };
      net.dispose();
      console.log(
        `  batch ${String(batch).padStart(4)}  ${c.label.padEnd(20)} ${Math.round(rate).toLocaleString('en').padStart(9)} samples/s  ${point.gflops.toFixed(1)} GFLOP/s`,
      );
      return point;
    }),
  );
}

export function widthScaling(contenders: Contender[], widths = [64, 128, 256, 512, 1024, 2048], minSeconds = 0.5): ScalingPoint[] {
  const { x, y } = syntheticClasses(1024, 784, 10, 8);
  return contenders.flatMap((c) =>
    widths.map((width) => {
      const options: MLPOptions = {
        inputs: 784,
        layers: [
          { units: width, activation: 'relu' },
          { units: width, activation: 'relu' },
          { units: 10, activation: 'softmax' },
        ],
        optimizer: { type: 'sgd', learningRate: 0.01 },
      };
      const net = build(options, c);
      const rows = width >= 1024 ? 512 : 1024;
      const rate = timeEpochs(net, x.subarray(0, rows * 784), y.subarray(0, rows), 64, minSeconds);
      const flops = trainingFlops(784, [width, width, 10]);
      const point = {
        contender: c.label,
        x: width,
        samplesPerSecond: rate,
        gflops: (rate * flops) / 1e9,
        rssBytes: process.memoryUsage().rss,
      };
      net.dispose();
      console.log(
        `  width ${String(width).padStart(4)}  ${c.label.padEnd(20)} ${Math.round(rate).toLocaleString('en').padStart(9)} samples/s  ${point.gflops.toFixed(1)} GFLOP/s`,
      );
      return point;
    }),
  );
}

/**
 * Heap and RSS after a full GC at the end of epoch 1 and of epoch `epochs` of a single fit.
 * Run it in a fresh process (see memory-check.ts): memory freed by earlier models in the
 * same process is returned to the system at unpredictable times and would blur the reading.
 */
export function memoryAcrossEpochs(c: Contender, epochs = 50): MemoryCheck {
  const { x, y } = syntheticClasses(1024, 784, 10, 9);
  const net = build(WORKLOADS.W2 as MLPOptions, c);
  const samples: { heap: number; rss: number }[] = [];
  net.fitSync(x, y, {
    epochs,
    batchSize: 64,
    onEpochEnd: (epoch) => {
      if (epoch !== 0 && epoch !== epochs - 1) return;
      collectGarbage();
      collectGarbage(); // a second pass settles what the first one only unlinked
      const { heapUsed, rss } = process.memoryUsage();
      samples.push({ heap: heapUsed, rss });
    },
  });
  net.dispose();
  const [first, last] = samples as [{ heap: number; rss: number }, { heap: number; rss: number }];
  const growth = Math.max(0, (last.heap - first.heap) / first.heap, (last.rss - first.rss) / first.rss);
  return { contender: c.label, heapEpoch1: first.heap, heapEpoch50: last.heap, rssEpoch1: first.rss, rssEpoch50: last.rss, growth };
}
