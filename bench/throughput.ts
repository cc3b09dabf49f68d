/**
 * Native training and inference throughput as a share of the core's measured FMA peak, on 1
 * and 2 threads: the figures of the native backend's targets. Inference of one row, which
 * reads every weight once, is also set against the core's measured read bandwidth.
 *
 *   npm run bench:native                    the ISA the CPU offers
 *   MLPKIT_ISA=avx2 npm run bench:native    the AVX2 path on an AVX-512 machine
 *   npm run bench:native -- --runs 5 --seconds 2
 *
 * Each figure is the median of `runs` runs of at least `seconds` each, after a warm-up run; what
 * is compared (1 and 2 threads, 2 and 8, one model and two) runs in turns, run by run.
 * The time a cache line takes from one core to the other and back is printed before and after:
 * every line a step hands between its threads pays it, so the 2-thread speed-ups depend on it
 * (cores on one die, or on two; virtual CPUs that the host moves).
 * GFLOP counts are the multiply-adds of the GEMMs (2 per MAC): forward for inference; forward,
 * weight gradient and delta (every layer but the first) for training.
 */
import { existsSync } from 'node:fs';
import { nativeBinding } from '../dist/backends/native.js';
import { readTable } from '../dist/cli/data.js';
import { MLP, type MLPOptions } from '../dist/node.js';
import { pytorchResults } from './pytorch.js';
import { GROUPS, syntheticClasses, WORKLOADS, type GroupId } from './train.js';

const arg = (name: string, fallback: number): number => {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
};
const runs = arg('runs', 3);
const seconds = arg('seconds', 2);

const addon = nativeBinding();
const info = addon.info();
const peak = addon.fmaPeak(1, 'auto');

/** Multiply-adds of one sample through the layers: forward, and the training extras. */
function macs(options: MLPOptions): { forward: number; training: number } {
  let forward = 0;
  let deltas = 0;
  let fanIn = options.inputs;
  options.layers.forEach((layer, l) => {
    forward += fanIn * layer.units;
    if (l > 0) deltas += fanIn * layer.units;
    fanIn = layer.units;
  });
  return { forward, training: 2 * forward + deltas };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/**
 * Samples per second of each step (each processes `samples` samples), run in turns: run r of
 * every step before run r + 1 of any, so that a machine whose speed drifts (a shared host, an
 * uneven virtual CPU) slows them alike. Returns each step's median and the median of each
 * step's run-by-run ratio to the first step.
 */
function ratesInTurns(samples: number, steps: (() => void)[]): { medians: number[]; ratios: number[] } {
  steps.forEach((step) => step());
  const rates: number[][] = steps.map(() => []);
  for (let r = 0; r < runs; r++) {
    steps.forEach((step, s) => {
      let done = 0;
      const start = performance.now();
      let elapsed = 0;
      while (elapsed < seconds * 1000) {
        step();
        done += samples;
        elapsed = performance.now() - start;
      }
      rates[s]!.push(done / (elapsed / 1000));
    });
  }
  return {
    medians: rates.map(median),
    ratios: rates.map((own) => median(own.map((rate, r) => rate / rates[0]![r]!))),
  };
}

type Row = {
  group: GroupId;
  workload: string;
  threads: number;
  samplesPerSecond: number;
  gflops: number;
  /** Median ratio to the 1-thread rate of the runs taken in turns with it. */
  speedUp: number;
};
const rows: Row[] = [];

/** W2 or W3 training on each of `threadCounts`, in turns; a row per count. */
function measureTraining(name: 'W2' | 'W3', batch: number, threadCounts: number[]): Row[] {
  const options = WORKLOADS[name] as MLPOptions;
  const nets = threadCounts.map((threads) => new MLP({ ...options, seed: 1, backend: 'native', threads }));
  const n = 2048;
  const { x, y } = syntheticClasses(n, options.inputs, 10, 3);
  const { medians, ratios } = ratesInTurns(
    n,
    nets.map((net) => () => net.fitSync(x, y, { epochs: 1, batchSize: batch })),
  );
  return threadCounts.map((threads, i) => ({
    group: name,
    workload: `${name} train, batch ${batch}`,
    threads,
    samplesPerSecond: medians[i]!,
    gflops: (medians[i]! * 2 * macs(options).training) / 1e9,
    speedUp: ratios[i]!,
  }));
}

/** W2 inference at a batch size on each of `threadCounts`, in turns; a row per count. */
function measureInference(batch: number, threadCounts: number[]): Row[] {
  const options = WORKLOADS.W2 as MLPOptions;
  const nets = threadCounts.map((threads) => new MLP({ ...options, seed: 1, backend: 'native', threads }));
  const { x } = syntheticClasses(batch, options.inputs, 10, 4);
  const calls = batch === 1 ? 256 : 8;
  const { medians, ratios } = ratesInTurns(
    batch * calls,
    nets.map((net) => () => {
      for (let c = 0; c < calls; c++) net.predict(x);
    }),
  );
  return threadCounts.map((threads, i) => ({
    group: batch === 1 ? 'W2-infer-1' : 'W2-infer-256',
    workload: `W2 inference, batch ${batch}`,
    threads,
    samplesPerSecond: medians[i]!,
    gflops: (medians[i]! * 2 * macs(options).forward) / 1e9,
    speedUp: ratios[i]!,
  }));
}

/**
 * Two models of a workload training at once (fit, asynchronously), each on `threads`, in turns
 * with one of them alone: the median of the pair's summed rate, and of its ratio to the rate of
 * the model alone in the run before.
 */
async function measureConcurrent(name: 'W2' | 'W3', batch: number, threads: number): Promise<{ both: number; ratio: number }> {
  const options = WORKLOADS[name] as MLPOptions;
  const nets = [1, 2].map((seed) => new MLP({ ...options, seed, backend: 'native', threads }));
  const n = 2048;
  const { x, y } = syntheticClasses(n, options.inputs, 10, 3);
  const train = async (models: MLP[]): Promise<number> => {
    const start = performance.now();
    let done = 0;
    await Promise.all(
      models.map(async (net) => {
        while (performance.now() - start < seconds * 1000) {
          await net.fit(x, y, { epochs: 1, batchSize: batch });
          done += n;
        }
      }),
    );
    return done / ((performance.now() - start) / 1000);
  };
  await Promise.all(nets.map((net) => net.fit(x, y, { epochs: 1, batchSize: batch })));
  const both: number[] = [];
  const ratios: number[] = [];
  for (let r = 0; r < runs; r++) {
    const alone = await train(nets.slice(0, 1));
    both.push(await train(nets));
    ratios.push(both[r]! / alone);
  }
  return { both: median(both), ratio: median(ratios) };
}

const handoffBefore = addon.handoffRoundTrip(0.5);
console.log(
  `native ${info.isa}, FMA peak of one core ${peak.toFixed(1)} GFLOP/s; medians of ${runs} runs of ≥ ${seconds} s, ` +
    '1 and 2 threads in turns (the speed-up is the median of the ratios of runs taken together)',
);
const measured = [
  measureTraining('W2', 64, [1, 2]),
  measureTraining('W3', 256, [1, 2]),
  measureInference(256, [1, 2]),
  measureInference(1, [1, 2]),
];
for (const threads of [1, 2]) rows.push(...measured.map((pair) => pair.find((r) => r.threads === threads)!));
console.log(
  `a cache line from one core to the other and back: ${handoffBefore.toFixed(0)} ns before these runs, ` +
    `${addon.handoffRoundTrip(0.5).toFixed(0)} ns after\n`,
);
const torch = pytorchResults(['W2', 'W3', 'W2-infer-256', 'W2-infer-1'], [1, 2], { seconds, runs });
if ('reason' in torch) console.log(`PyTorch: not run (${torch.reason})\n`);
const torchRate = (group: GroupId, threads: number): string => {
  if ('reason' in torch) return '';
  const r = torch.results.find(
    (t) => t.group === GROUPS[group] && t.contender?.endsWith(threads === 1 ? '1 thread' : `${threads} threads`),
  );
  return r ? Math.round(r.median).toLocaleString('en') : '';
};
const torchLabel = 'reason' in torch ? 'PyTorch' : `PyTorch ${torch.version} (${torch.blas})`;
console.log(`| workload | threads | samples/s | GFLOP/s | % of 1-core peak | speed-up over 1 thread | ${torchLabel}, samples/s |`);
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) {
  const share =
    r.threads === 1
      ? `${((100 * r.gflops) / peak).toFixed(0)} %`
      : `${((100 * r.gflops) / (r.threads * peak)).toFixed(0)} % of ${r.threads} cores`;
  const speedUp = r.threads === 1 ? '' : `${r.speedUp.toFixed(2)}×`;
  console.log(
    `| ${r.workload} | ${r.threads} | ${Math.round(r.samplesPerSecond).toLocaleString('en')} | ${r.gflops.toFixed(1)} | ${share} | ${speedUp} | ${torchRate(r.group, r.threads)} |`,
  );
}

// Batch 1 reads every weight once per row, so its yardstick is the read bandwidth of one core
// at the size of the weights (they live in L3 between calls), and for two threads at half the
// size each (each core reads its half of every layer).
const weightBytes = 4 * (macs(WORKLOADS.W2 as MLPOptions).forward + WORKLOADS.W2!.layers.reduce((sum, layer) => sum + layer.units, 0));
console.log(`\nW2 inference at batch 1 reads ${(weightBytes / 1e6).toFixed(2)} MB of weights per row:`);
for (const threads of [1, 2]) {
  const gbs = addon.readBandwidth(weightBytes / threads, 1);
  const bound = (threads * gbs * 1e9) / weightBytes;
  const measured = rows.find((r) => r.group === 'W2-infer-1' && r.threads === threads)!.samplesPerSecond;
  console.log(
    `- ${threads} thread${threads > 1 ? 's' : ''}: one core reads ${(weightBytes / threads / 1e6).toFixed(2)} MB at ${gbs.toFixed(1)} GB/s (best pass), ` +
      `so at most ${Math.round(bound).toLocaleString('en')} samples/s; measured ${Math.round(measured).toLocaleString('en')} (${((100 * measured) / bound).toFixed(0)} %)`,
  );
}

const cpus = info.threads;
console.log(`\nMore threads than CPUs, and two models at once (${cpus} CPUs available; each in turns with what it is set against)\n`);
console.log('| case | samples/s | against |');
console.log('|---|---|---|');
for (const [name, batch] of [
  ['W2', 64],
  ['W3', 256],
] as const) {
  const over = measureTraining(name, batch, [cpus, 4 * cpus])[1]!;
  console.log(
    `| ${name} train, ${4 * cpus} threads asked for | ${Math.round(over.samplesPerSecond).toLocaleString('en')} | ${over.speedUp.toFixed(2)}× of ${cpus} threads |`,
  );
  const { both, ratio } = await measureConcurrent(name, batch, 1);
  console.log(
    `| two ${name} models at once, 1 thread each | ${Math.round(both).toLocaleString('en')} | ${ratio.toFixed(2)}× of one model on 1 thread |`,
  );
}

// The data path: Fashion-MNIST from its IDX files to the first batch, when Debian's
// dataset-fashion-mnist is installed (60,000 images of 784 pixels, standardized, 10 % held out).
const fashion = '/usr/share/datasets/fashion-mnist';
if (existsSync(`${fashion}/train-images-idx3-ubyte.gz`)) {
  const times: number[][] = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    const data = readTable(`${fashion}/train-images-idx3-ubyte.gz`, { labels: `${fashion}/train-labels-idx1-ubyte.gz` });
    const read = performance.now();
    const net = new MLP({
      inputs: 784,
      layers: [{ units: 256 }, { units: 128 }, { units: 10, activation: 'softmax' }],
      standardize: true,
      seed: 1,
      backend: 'native',
    });
    let first = 0;
    net.fitSync(data.x, Int32Array.from(data.target!, Number), {
      epochs: 1,
      batchSize: 64,
      validationSplit: 0.1,
      onBatchEnd: () => {
        if (!first) first = performance.now();
        return false; // the preparation is timed, not the training
      },
    });
    times.push([read - started, first - read]);
  }
  const [read, prepare] = [0, 1].map((i) => median(times.map((t) => t[i]!)));
  console.log(
    `\nFashion-MNIST to the first batch: reading ${read!.toFixed(0)} ms, fit's preparation ${prepare!.toFixed(0)} ms (median of ${runs})`,
  );
} else {
  console.log('\nFashion-MNIST data path: not run (install dataset-fashion-mnist)');
}
