/**
 * The peer libraries, driven through one small interface so the benchmark can time them
 * beside mlpkit on the same data, architecture and optimizer. Where a library cannot do
 * what the workload asks (brain.js has no softmax and trains one row at a time; ml-fnn
 * only trains full-batch), it runs its closest equivalent and the note says so.
 *
 *   @tensorflow/tfjs (cpu backend), @tensorflow/tfjs-backend-wasm, brain.js 1.6.1, ml-fnn,
 *   synaptic (W1 only: building W2 alone takes it over a minute)
 */
import { createRequire } from 'node:module';
import type { Case } from './common.js';
import type { WORKLOADS } from './train.js';

const require = createRequire(import.meta.url);
const versionOf = (name: string) => (require(`${name}/package.json`) as { version: string }).version;

export type Workload = keyof typeof WORKLOADS;

/** One peer model, set up on a data set: a timed training call, and a loss to check it learns. */
export interface PeerSession {
  /** Rows trained per call of `train`. */
  readonly samplesPerCall: number;
  train(): Promise<void> | void;
  /** Mean training loss on the data: it must fall over a few calls of `train` before timing. */
  loss(): Promise<number> | number;
  /** A check of its own that the library learns, for libraries whose `train` restarts (replaces the loss check). */
  validate?(): Promise<void> | void;
  /** A prediction of `rows` rows (inference timing), when supported. */
  predict?(rows: number): Promise<void> | void;
  dispose?(): void;
  /** How this run differs from the workload's definition. */
  readonly note?: string;
}

export interface Peer {
  readonly label: string;
  readonly version: string;
  /** A session for the workload, or a reason it is not run. */
  session(workload: Workload, data: PeerData): Promise<PeerSession | string>;
}

export interface PeerData {
  x: Float32Array;
  /** Class indices (W2, W3) or 0/1 targets (W1). */
  y: Float32Array | Int32Array;
  rows: number;
  inputs: number;
  classes: number;
  batchSize: number;
  learningRate: number;
}

const layersOf = (workload: Workload): { hidden: number[]; activation: 'sigmoid' | 'relu' } =>
  workload === 'W1'
    ? { hidden: [4], activation: 'sigmoid' }
    : workload === 'W2'
      ? { hidden: [512, 512], activation: 'relu' }
      : { hidden: [1024, 1024], activation: 'relu' };

type Tf = typeof import('@tensorflow/tfjs');
let tfModule: Tf | undefined;

async function tensorflow(backend: 'cpu' | 'wasm'): Promise<Tf> {
  if (!tfModule) {
    const log = console.log; // tfjs greets Node users on import; the benchmark table does not need it
    console.log = () => {};
    try {
      tfModule = await import('@tensorflow/tfjs');
      await import('@tensorflow/tfjs-backend-wasm');
      tfModule.enableProdMode(); // no debug checks: how it would run in production
    } finally {
      console.log = log;
    }
  }
  if (tfModule.getBackend() !== backend) {
    await tfModule.setBackend(backend);
    await tfModule.ready();
  }
  return tfModule;
}

function tfjs(backend: 'cpu' | 'wasm'): Peer {
  return {
    label: backend === 'cpu' ? 'tfjs (cpu)' : 'tfjs-backend-wasm',
    version: versionOf(backend === 'cpu' ? '@tensorflow/tfjs' : '@tensorflow/tfjs-backend-wasm'),
    async session(workload, d) {
      const tf = await tensorflow(backend);
      const { hidden, activation } = layersOf(workload);
      const model = tf.sequential();
      hidden.forEach((units, i) => model.add(tf.layers.dense({ units, activation, ...(i === 0 ? { inputShape: [d.inputs] } : {}) })));
      const binary = workload === 'W1';
      model.add(tf.layers.dense({ units: binary ? 1 : d.classes, activation: binary ? 'sigmoid' : 'softmax' }));
      model.compile({ optimizer: tf.train.sgd(d.learningRate), loss: binary ? 'binaryCrossentropy' : 'categoricalCrossentropy' });
      const xs = tf.tensor2d(d.x, [d.rows, d.inputs]);
      const ys = binary ? tf.tensor2d(d.y, [d.rows, 1]) : tf.oneHot(tf.tensor1d(d.y, 'int32'), d.classes).toFloat();
      const epochs = binary ? 50 : 1;
      // tfjs has one global backend, and sessions of both tfjs peers exist at once: each call
      // selects its own first (free when it is already the active one).
      const use = () => tensorflow(backend);
      return {
        samplesPerCall: d.rows * epochs,
        train: async () => {
          await use();
          await model.fit(xs, ys, { batchSize: d.batchSize, epochs, shuffle: false, verbose: 0 });
        },
        loss: async () => {
          await use();
          return tf.tidy(() => (model.evaluate(xs, ys) as import('@tensorflow/tfjs').Scalar).dataSync()[0]!);
        },
        predict: async (rows) => {
          await use();
          tf.tidy(() => {
            (model.predict(xs.slice([0, 0], [rows, d.inputs])) as import('@tensorflow/tfjs').Tensor).dataSync();
          });
        },
        dispose: () => {
          xs.dispose();
          ys.dispose();
          model.dispose();
        },
      };
    },
  };
}

type BrainNet = { train(data: { input: number[]; output: number[] }[], options: object): unknown; run(input: number[]): unknown };

const brainjs: Peer = {
  label: 'brain.js',
  version: versionOf('brain.js'),
  async session(workload, d) {
    const brain = require('brain.js') as { NeuralNetwork: new (options: object) => BrainNet };
    const { hidden } = layersOf(workload);
    // One activation for every layer, the output included: relu outputs die under MSE, so sigmoid.
    const net = new brain.NeuralNetwork({ hiddenLayers: hidden, activation: 'sigmoid' });
    const rows = workload === 'W1' ? d.rows : Math.min(d.rows, 64); // brain.js is slow on wide layers
    const data = Array.from({ length: rows }, (_, r) => ({
      input: Array.from(d.x.subarray(r * d.inputs, (r + 1) * d.inputs)),
      output: workload === 'W1' ? [d.y[r]!] : Array.from({ length: d.classes }, (_, k) => (k === d.y[r] ? 1 : 0)),
    }));
    const iterations = workload === 'W1' ? 50 : 1;
    const options = { iterations, learningRate: d.learningRate, momentum: 1e-9, errorThresh: 1e-9, log: false, keepNetworkIntact: true };
    net.train(data, { ...options, iterations: 1 });
    const mse = () => {
      let sum = 0;
      for (const { input, output } of data) {
        const out = Object.values(net.run(input) as ArrayLike<number>) as number[];
        output.forEach((t, k) => {
          sum += (out[k]! - t) ** 2;
        });
      }
      return sum / data.length;
    };
    return {
      samplesPerCall: rows * iterations,
      train: () => {
        net.train(data, options);
      },
      loss: mse,
      predict: (n) => {
        for (let r = 0; r < n; r++) net.run(data[r % data.length]!.input);
      },
      note:
        workload === 'W1'
          ? 'one row per update (no mini-batches), MSE, momentum 1e-9 (0 is refused)'
          : 'one row per update, sigmoid on every layer and MSE (no softmax), 64 rows, momentum 1e-9 (0 is refused)',
    };
  },
};

type Fnn = { train(features: number[][], labels: number[]): void; predict(features: number[][]): number[] };

const mlFnn: Peer = {
  label: 'ml-fnn',
  version: versionOf('ml-fnn'),
  async session(workload, d) {
    if (workload === 'W1') return 'classification with a softmax output only; W1 has one sigmoid output';
    const FeedForward = ((await import('ml-fnn')) as { default: new (options: object) => Fnn }).default;
    const { hidden } = layersOf(workload);
    const rows = Math.min(d.rows, 256);
    const features = Array.from({ length: rows }, (_, r) => Array.from(d.x.subarray(r * d.inputs, (r + 1) * d.inputs)));
    const labels = Array.from(d.y.subarray(0, rows));
    const iterations = 2;
    let net: Fnn | undefined;
    const build = (n: number) => {
      net = new FeedForward({ hiddenLayers: hidden, iterations: n, learningRate: d.learningRate, regularization: 0, activation: 'relu' });
      net.train(features, labels);
    };
    const error = () => 1 - net!.predict(features).filter((p, i) => p === labels[i]).length / rows;
    return {
      samplesPerCall: rows * iterations,
      train: () => build(iterations),
      loss: () => {
        if (!net) build(iterations);
        return error();
      },
      validate: () => {
        // every train() starts over: more iterations must classify more rows right
        build(1);
        const few = error();
        build(20);
        if (!(error() < few)) throw new Error(`ml-fnn ${workload}: 20 iterations did not beat 1 (error ${error()} vs ${few})`);
      },
      predict: (n) => {
        if (!net) build(iterations);
        net!.predict(features.slice(0, n));
      },
      note: 'full-batch updates only, 256 rows; every train() starts from new weights',
    };
  },
};

type SynapticNet = object;

const synaptic: Peer = {
  label: 'synaptic',
  version: versionOf('synaptic'),
  async session(workload, d) {
    if (workload !== 'W1') return 'W1 only: building a W2 network alone takes synaptic over a minute';
    const { Architect, Trainer } = require('synaptic') as {
      Architect: { Perceptron: new (...sizes: number[]) => SynapticNet };
      Trainer: (new (net: SynapticNet) => {
        train(set: object[], options: object): unknown;
        test(set: object[], options: object): { error: number };
      }) & { cost: { CROSS_ENTROPY: unknown } };
    };
    const net = new Architect.Perceptron(d.inputs, 4, 1);
    const trainer = new Trainer(net);
    const set = Array.from({ length: d.rows }, (_, r) => ({
      input: Array.from(d.x.subarray(r * d.inputs, (r + 1) * d.inputs)),
      output: [d.y[r]!],
    }));
    const iterations = 50;
    const cost = Trainer.cost.CROSS_ENTROPY;
    return {
      samplesPerCall: d.rows * iterations,
      // error: -1, never reached: synaptic replaces a threshold of 0 (falsy) with 0.005 and would
      // then stop after one iteration once the network has learnt.
      train: () => {
        trainer.train(set, { rate: d.learningRate, iterations, error: -1, shuffle: false, cost });
      },
      loss: () => trainer.test(set, { cost }).error,
      note: 'one row per update (no mini-batches)',
    };
  },
};

export const PEERS: Peer[] = [tfjs('cpu'), tfjs('wasm'), brainjs, mlFnn, synaptic];

/** A peer that does not run a workload, and why. */
export interface Skipped {
  group: string;
  contender: string;
  reason: string;
}

/** Trains until the loss has clearly fallen (some libraries need a few hundred updates), or throws. */
async function learns(label: string, session: PeerSession, maxCalls: number): Promise<void> {
  if (session.validate) return session.validate();
  const before = await session.loss();
  for (let call = 0; call < maxCalls; call++) {
    await session.train();
    const now = await session.loss();
    if (now < 0.98 * before) return;
  }
  throw new Error(`${label}: the loss did not fall from ${before} in ${maxCalls} training calls`);
}

/**
 * The peers' timed cases on the workloads of train.ts, on the same synthetic data; each peer
 * must learn before it is timed. `tiny` shrinks everything for the smoke test.
 */
export async function peerCases(
  peers: Peer[],
  groups: Record<'W1' | 'W2' | 'W3' | 'W2-infer-1' | 'W2-infer-256', string>,
  data: (workload: Workload) => PeerData,
  { tiny = false, workloads = Object.keys(groups) } = {},
): Promise<{ cases: Case[]; skipped: Skipped[] }> {
  const cases: Case[] = [];
  const skipped: Skipped[] = [];
  for (const peer of peers) {
    const contender = `${peer.label} ${peer.version}`;
    for (const workload of ['W1', 'W2', 'W3'] as const) {
      if (!workloads.includes(workload)) continue;
      const session = await peer.session(workload, data(workload));
      if (typeof session === 'string') {
        skipped.push({ group: groups[workload], contender, reason: session });
        continue;
      }
      cases.push({
        name: `${groups[workload]}, ${contender}`,
        group: groups[workload],
        contender,
        mlpkit: false,
        work: session.samplesPerCall,
        unit: 'samples/s',
        run: () => session.train(),
        validate: () => learns(`${contender} on ${workload}`, session, tiny ? 10 : 40),
        ...(session.note ? { note: session.note } : {}),
      });
    }
    for (const [id, rows] of [
      ['W2-infer-1', 1],
      ['W2-infer-256', 256],
    ] as const) {
      if (!workloads.includes(id)) continue;
      const session = await peer.session('W2', data('W2'));
      if (typeof session === 'string' || !session.predict) {
        skipped.push({ group: groups[id], contender, reason: typeof session === 'string' ? session : 'no batch prediction' });
        continue;
      }
      const calls = rows === 1 && !tiny ? 16 : 1;
      cases.push({
        name: `${groups[id]}, ${contender}`,
        group: groups[id],
        contender,
        mlpkit: false,
        work: rows * calls,
        unit: 'samples/s',
        run: async () => {
          for (let i = 0; i < calls; i++) await session.predict!(rows);
        },
        ...(session.note ? { note: session.note } : {}),
      });
    }
  }
  return { cases, skipped };
}
