/**
 * TensorFlow.js layers models, with the real @tensorflow/tfjs: a model written by toTfjs loads
 * with tf.loadLayersModel and predicts what mlpkit predicts (every activation, with and without
 * a stored scaler), and a Sequential model built and saved by tfjs loads with MLP.fromTfjs on
 * every backend with tfjs's predictions; layers mlpkit has no equivalent for are refused by name.
 */
import { execFileSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { MLP, type Activation } from '../src/node.js';
import { BACKENDS } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';

const x = Array.from({ length: 12 }, (_, i) => [Math.sin(i) * 3, Math.cos(1.7 * i) + 2, (i % 5) - 2]);

async function loadInTfjs(net: MLP): Promise<tf.LayersModel> {
  const { modelJson, weights } = net.toTfjs();
  const json = JSON.parse(JSON.stringify(modelJson)) as typeof modelJson; // as written to model.json
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest[0]!.weights,
      weightData: weights.slice().buffer,
    }),
  );
}

describe('toTfjs: tf.loadLayersModel predicts what mlpkit predicts', () => {
  const hidden: [Activation, number?][] = [['relu'], ['tanh'], ['sigmoid'], ['silu'], ['elu'], ['leaky-relu', 0.2], ['identity']];
  it.each(hidden)('hidden %s (α %s), softmax output', async (activation, alpha) => {
    const net = new MLP({
      inputs: 3,
      layers: [
        { units: 7, activation, ...(alpha !== undefined ? { alpha } : {}) },
        { units: 4, activation: 'softmax' },
      ],
      seed: 3,
      backend: 'js',
    });
    const model = await loadInTfjs(net);
    const got = (model.predict(tf.tensor2d(x)) as tf.Tensor).dataSync();
    expectClose(got, (net.predict(x) as number[][]).flat(), { atol: 1e-6, rtol: 1e-5, label: `tfjs vs mlpkit, ${activation}` });
  });

  it('gelu, and elu with α ≠ 1, which TensorFlow.js cannot load, are refused by name', () => {
    const build = (activation: Activation, alpha?: number) =>
      new MLP({ inputs: 3, layers: [{ units: 4, activation, ...(alpha !== undefined ? { alpha } : {}) }, { units: 2 }], backend: 'js' });
    expect(() => build('gelu').toTfjs()).toThrow(/layers\[0\]\.activation 'gelu' cannot be written for TensorFlow\.js/);
    expect(() => build('elu', 0.5).toTfjs()).toThrow(
      /layers\[0\]\.alpha of 'elu' must be 1 for TensorFlow\.js, whose ELU layer supports no other, got 0\.5/,
    );
  });

  it('a stored scaler is folded into the first layer; a regression output', async () => {
    const net = new MLP({ inputs: 3, layers: [{ units: 6, activation: 'tanh' }, { units: 2 }], standardize: true, seed: 4, backend: 'js' });
    net.fitSync(
      x,
      x.map(([a, b]) => [a! - b!, a! * 0.1]),
      { epochs: 3 },
    );
    const model = await loadInTfjs(net);
    const got = (model.predict(tf.tensor2d(x)) as tf.Tensor).dataSync();
    expectClose(got, (net.predict(x) as number[][]).flat(), { atol: 1e-5, rtol: 1e-5, label: 'tfjs vs mlpkit with a scaler' });
  });
});

describe.each(BACKENDS)('fromTfjs on %s', (backend) => {
  async function saved(model: tf.Sequential): Promise<{ modelJson: unknown; weights: Uint8Array }> {
    let artifacts: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })),
    );
    const modelJson = {
      format: 'layers-model',
      modelTopology: artifacts!.modelTopology,
      weightsManifest: [{ paths: ['weights.bin'], weights: artifacts!.weightSpecs }],
    };
    return { modelJson: JSON.parse(JSON.stringify(modelJson)), weights: new Uint8Array(artifacts!.weightData as ArrayBuffer) };
  }

  it('a Sequential of Dense layers (with Dropout and LeakyReLU) predicts as in tfjs', async () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ units: 8, activation: 'relu', inputShape: [3] }));
    model.add(tf.layers.dropout({ rate: 0.3 }));
    model.add(tf.layers.dense({ units: 5 }));
    model.add(tf.layers.leakyReLU({ alpha: 0.15 }));
    model.add(tf.layers.dense({ units: 3, activation: 'softmax' }));
    const { modelJson, weights } = await saved(model);
    const net = MLP.fromTfjs(modelJson, weights, { backend });
    expect(net.layers.map((l) => [l.units, l.activation])).toEqual([
      [8, 'relu'],
      [5, 'leaky-relu'],
      [3, 'softmax'],
    ]);
    expectClose((net.predict(x) as number[][]).flat(), (model.predict(tf.tensor2d(x)) as tf.Tensor).dataSync(), {
      atol: 1e-6,
      rtol: 1e-5,
      label: `${backend} vs tfjs`,
    });
  });

  it('a layer without an mlpkit equivalent is refused by name and class', async () => {
    const model = tf.sequential();
    model.add(tf.layers.dense({ units: 4, inputShape: [3], name: 'first' }));
    model.add(tf.layers.batchNormalization({ name: 'norm' }));
    const { modelJson, weights } = await saved(model);
    expect(() => MLP.fromTfjs(modelJson, weights, { backend })).toThrow(
      /layer 'norm' \(BatchNormalization\): this layer has no mlpkit equivalent; supported: Dense/,
    );
  });
});

describe("the universal entry and 'mlpkit/tfjs'", () => {
  it('leaves the converter out until mlpkit/tfjs is imported, and says so', () => {
    const dist = new URL('../dist/', import.meta.url).href;
    const program = `
      const { MLP } = await import('${dist}index.js');
      const net = new MLP({ inputs: 2, layers: [{ units: 1 }], seed: 1, backend: 'js' });
      let before;
      try { net.toTfjs(); } catch (error) { before = error.message; }
      await import('${dist}tfjs.js');
      const { modelJson } = net.toTfjs();
      console.log(JSON.stringify({ before, layers: modelJson.modelTopology.config.layers.length }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8' });
    const result = JSON.parse(out.trim().split('\n').pop()!) as { before: string; layers: number };
    expect(result.before).toMatch(/TensorFlow\.js support is not loaded: .* import 'mlpkit\/tfjs' once/);
    expect(result.layers).toBe(1);
  });
});
