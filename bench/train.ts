/**
 * Training and inference throughput of the workloads the project is measured on:
 *   W1  XOR, 2-4-1 sigmoid, batch 4, through fit
 *   W2  784-512-512-10 ReLU, softmax + cross-entropy, SGD lr 0.01, batch 64
 *   W3  1024-1024-1024-10 ReLU, softmax + cross-entropy, SGD, batch 256
 * and W2 inference at batch 1 and 256. Each case is validated before timing: its loss
 * falls, and its predictions match the reference backend on the same weights.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MLP, type MLPOptions } from '../dist/node.js';
import type { Case } from './common.js';
import { useWasmBuild, type WasmBuild } from './wasm.js';

export type Contender = { label: string; backend: 'native' | 'wasm' | 'js'; threads?: number; wasmBuild?: WasmBuild };

function random(length: number, seed: number): Float32Array {
  let s = seed;
  return Float32Array.from({ length }, () => ((s = (s * 1103515245 + 12345) >>> 0) / 4294967296) * 2 - 1);
}

/** n rows of `inputs` features with labels that depend on them (so there is something to learn). */
export function syntheticClasses(n: number, inputs: number, classes: number, seed: number): { x: Float32Array; y: Int32Array } {
  const x = random(n * inputs, seed);
  const y = Int32Array.from({ length: n }, (_, r) => {
    let s = 0;
    for (let i = 0; i < inputs; i += 7) s += x[r * inputs + i]!;
    return Math.min(classes - 1, Math.floor((Math.tanh(s) + 1) * 0.5 * classes));
  });
  return { x, y };
}

export const WORKLOADS = {
  W1: {
    inputs: 2,
    layers: [
      { units: 4, activation: 'sigmoid' },
      { units: 1, activation: 'sigmoid' },
    ],
    optimizer: { type: 'sgd', learningRate: 0.5 },
  },
  W2: {
    inputs: 784,
    layers: [
      { units: 512, activation: 'relu' },
      { units: 512, activation: 'relu' },
      { units: 10, activation: 'softmax' },
    ],
    optimizer: { type: 'sgd', learningRate: 0.01 },
  },
  W3: {
    inputs: 1024,
    layers: [
      { units: 1024, activation: 'relu' },
      { units: 1024, activation: 'relu' },
      { units: 10, activation: 'softmax' },
    ],
    optimizer: { type: 'sgd', learningRate: 0.01 },
  },
} satisfies Record<string, MLPOptions>;

function build(workload: keyof typeof WORKLOADS, contender: Contender): MLP {
  if (contender.wasmBuild) useWasmBuild(contender.wasmBuild);
  return new MLP({
    ...WORKLOADS[workload],
    seed: 1,
    backend: contender.backend,
    ...(contender.threads ? { threads: contender.threads } : {}),
  } as MLPOptions);
}

/** Predictions of `net` agree with the reference backend on the same weights. */
function checkAgainstReference(net: MLP, workload: keyof typeof WORKLOADS, x: Float32Array): void {
  if (net.backend === 'js') return;
  const reference = build(workload, { label: 'js', backend: 'js' });
  reference.setWeights(net.getWeights());
  const rows = x.subarray(0, 4 * net.inputs);
  const got = net.predict(rows) as Float32Array;
  const want = reference.predict(rows) as Float32Array;
  for (let i = 0; i < want.length; i++) {
    if (Math.abs(got[i]! - want[i]!) > 1e-4 + 1e-3 * Math.abs(want[i]!)) {
      throw new Error(`${workload} on ${net.backend}: prediction ${i} is ${got[i]}, the reference says ${want[i]}`);
    }
  }
}

/** The workloads' names in the tables, shared by mlpkit's and the peers' cases. */
export const GROUPS = {
  W1: 'W1 train: XOR 2-4-1 sigmoid, batch 4',
  W2: 'W2 train: 784-512-512-10 ReLU, softmax-CE, SGD, batch 64',
  W3: 'W3 train: 1024-1024-1024-10, batch 256',
  'W2-infer-1': 'W2 inference, batch 1',
  'W2-infer-256': 'W2 inference, batch 256',
} as const;
export type GroupId = keyof typeof GROUPS;

export interface CaseOptions {
  /** Which workloads to build. Default: all. */
  workloads?: GroupId[];
  /** Rates to show as a percentage ('W2-native 1 thread': 30000, …). */
  targets?: Partial<Record<string, number>>;
  /** Tiny data and epochs: the smoke test that keeps the bench code from rotting. */
  tiny?: boolean;
}

export function trainingCases(
  contenders: Contender[],
  { workloads = Object.keys(GROUPS) as GroupId[], targets = {}, tiny = false }: CaseOptions = {},
): Case[] {
  const cases: Case[] = [];
  const target = (key: string) => (targets[key] ? { reference: { label: 'the target', rate: targets[key]! } } : {});
  const tag = (group: GroupId, c: Contender) => ({
    group: GROUPS[group],
    contender: `mlpkit ${c.label}`,
    mlpkit: true,
    name: `${GROUPS[group]}, mlpkit ${c.label}`,
  });
  const xor = { x: Float32Array.of(0, 0, 0, 1, 1, 0, 1, 1), y: Float32Array.of(0, 1, 1, 0) };
  if (workloads.includes('W1')) {
    for (const c of contenders) {
      const net = build('W1', c);
      const epochs = tiny ? 10 : c.backend === 'js' ? 500 : 5000;
      cases.push({
        ...tag('W1', c),
        work: 4 * epochs,
        unit: 'samples/s',
        run: () => {
          net.fitSync(xor.x, xor.y, { epochs, batchSize: 4 });
        },
        validate: () => {
          const before = net.evaluate(xor.x, xor.y).loss;
          net.fitSync(xor.x, xor.y, { epochs: tiny ? 200 : 2000, batchSize: 4 });
          if (!(net.evaluate(xor.x, xor.y).loss < before)) throw new Error(`W1 on ${c.label}: the loss did not fall`);
          checkAgainstReference(net, 'W1', xor.x);
        },
        ...target(`W1-${c.label}`),
      });
    }
  }
  for (const [workload, batch, rows] of [
    ['W2', 64, 1024],
    ['W3', 256, 1024],
  ] as const) {
    if (!workloads.includes(workload)) continue;
    const data = syntheticClasses(rows, WORKLOADS[workload].inputs, 10, 3);
    for (const c of contenders) {
      const net = build(workload, c);
      const slice = tiny || c.backend === 'js' ? batch : rows; // the reference is slow: one batch per call
      const x = data.x.subarray(0, slice * net.inputs);
      const y = data.y.subarray(0, slice);
      cases.push({
        ...tag(workload, c),
        work: slice,
        unit: 'samples/s',
        run: () => {
          net.fitSync(x, y, { epochs: 1, batchSize: batch });
        },
        validate: () => {
          const before = net.evaluate(x, y).loss;
          net.fitSync(x, y, { epochs: 2, batchSize: batch });
          if (!(net.evaluate(x, y).loss < before)) throw new Error(`${workload} on ${c.label}: the loss did not fall`);
          checkAgainstReference(net, workload, x);
        },
        ...target(`${workload}-${c.label}`),
      });
    }
  }
  const w2 = syntheticClasses(256, 784, 10, 4);
  for (const batch of [1, 256] as const) {
    const group: GroupId = batch === 1 ? 'W2-infer-1' : 'W2-infer-256';
    if (!workloads.includes(group)) continue;
    for (const c of contenders) {
      const net = build('W2', c);
      const x = w2.x.subarray(0, batch * 784);
      const calls = tiny || c.backend === 'js' ? 1 : batch === 1 ? 64 : 4;
      cases.push({
        ...tag(group, c),
        work: batch * calls,
        unit: 'samples/s',
        run: () => {
          for (let i = 0; i < calls; i++) net.predict(x);
        },
        validate: () => checkAgainstReference(net, 'W2', w2.x),
        ...target(`${group}-${c.label}`),
      });
    }
  }
  return cases;
}

/**
 * Event-loop delay while W2 trains asynchronously: the p99 (ms) of the delay of a 1 ms timer
 * loop that runs beside `fit`.
 */
export async function eventLoopDelayDuringTraining(
  contender: Contender,
  epochs = 4,
): Promise<{ p99: number; max: number; seconds: number }> {
  const data = syntheticClasses(2048, 784, 10, 5);
  const net = build('W2', contender);
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  const timer = setInterval(() => {}, 1);
  histogram.enable();
  const started = performance.now();
  await net.fit(data.x, data.y, { epochs, batchSize: 64 });
  const seconds = (performance.now() - started) / 1000;
  histogram.disable();
  clearInterval(timer);
  net.dispose();
  return { p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, seconds };
}
