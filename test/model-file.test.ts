import { describe, expect, it } from 'vitest';
import { FORMAT_VERSION, MLP, MLPClassifier, MLPRegressor, StandardScaler, type MLPOptions } from '../src/node.js';
import { crc32, decodeModel, encodeModel } from '../src/model-file.js';
import { BACKENDS } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';

const X = Array.from({ length: 30 }, (_, i) => [Math.sin(i) * 50 + 100, Math.cos(i * 0.7) * 3, i % 5]);
const labels = X.map(([a, b]) => (a! > 100 ? (b! > 0 ? 'high+' : 'high-') : 'low'));

function trained(backend: string): MLP {
  const net = new MLP({
    backend: backend as 'js',
    inputs: 3,
    layers: [
      { units: 6, activation: 'elu', alpha: 0.5 },
      { units: 4, activation: 'leaky-relu', bias: false },
      { units: 3, activation: 'softmax' },
    ],
    optimizer: { type: 'nesterov', learningRate: 0.05, momentum: 0.8, schedule: { type: 'inverse-time', decayRate: 0.01 } },
    l2: 1e-3,
    dropout: [0.1, 0.2],
    seed: 5,
    standardize: true,
  });
  net.fitSync(
    X,
    labels.map((l) => ['low', 'high-', 'high+'].indexOf(l)),
    { epochs: 5, batchSize: 8 },
  );
  return net;
}

/** Rewrites the CRC so that a deliberately edited file passes the checksum. */
function resealed(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(copy.length - 4, crc32(copy.subarray(0, copy.length - 4)), true);
  return copy;
}

describe.each(BACKENDS)('model files on %s', (backend) => {
  it('save → load gives bit-identical predictions, the same options and the scaler', () => {
    const net = trained(backend);
    net.metadata = { features: ['a', 'b', 'c'], target: 'label', nested: { units: 'cm' } };
    const bytes = net.save();
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe('MLPK');
    expect(MLP.load(bytes, { backend: backend as 'js' }).metadata).toEqual(net.metadata);
    expect(() => {
      net.metadata = [] as never;
    }).toThrow(/metadata must be a plain object or undefined, got an array of length 0/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => {
      net.metadata = cyclic;
    }).toThrow(/metadata must be JSON-serializable/);
    // What save() would write but load() could not read back is refused when it is set.
    const kept = net.metadata;
    for (const [value, message] of [
      [new Date(0), /metadata must be a plain object of JSON data: as JSON it is "1970-01-01T00:00:00\.000Z", not a plain object/],
      [new Number(3), /metadata must be a plain object of JSON data: as JSON it is 3, not a plain object/],
      [{ toJSON: () => [1, 2] }, /as JSON it is an array of length 2, not a plain object/],
      [
        JSON.parse('{"a":'.repeat(200) + '1' + '}'.repeat(200)) as object,
        /metadata must be a plain object of JSON data: it nests deeper than 64 levels/,
      ],
    ] as const) {
      expect(() => {
        net.metadata = value as never;
      }).toThrow(message);
    }
    expect(net.metadata).toEqual(kept);
    // …and a file that holds such metadata anyway is refused, by the same rule.
    const deep = JSON.parse('{"a":'.repeat(100) + '1' + '}'.repeat(100)) as Record<string, unknown>;
    const forged = encodeModel({ ...decodeModel(bytes), metadata: deep });
    expect(() => MLP.load(forged)).toThrow(/model file is corrupt: its metadata cannot be used: it nests deeper than 64 levels/);
    for (const target of BACKENDS) {
      const again = MLP.load(bytes, { backend: target });
      expect(again.backend).toBe(target);
      expect(again.spec).toEqual(net.spec);
      expect(again.scaler!.mean).toEqual(net.scaler!.mean);
      expect(again.save()).toEqual(bytes);
      if (target === backend)
        expect(again.predict(X)).toEqual(net.predict(X)); // bit-identical on the same backend
      else
        expectClose((again.predict(X) as number[][]).flat(), (net.predict(X) as number[][]).flat(), {
          atol: 1e-5,
          label: `${target} vs ${backend}`,
        });
    }
  });

  it('estimators keep their classes and options', async () => {
    const clf = await new MLPClassifier({ hiddenLayerSizes: [8], maxIter: 20, randomState: 1, backend: backend as 'js' }).fit(X, labels);
    const loaded = MLPClassifier.load(clf.save(), { backend: backend as 'js' });
    expect(loaded.classes).toEqual(['high+', 'high-', 'low']);
    expect(loaded.predict(X)).toEqual(clf.predict(X));
    expect(loaded.predictProba(X)).toEqual(clf.predictProba(X));
    expect(() => MLPRegressor.load(clf.save())).toThrow(/not an MLPRegressor/);
    const reg = await new MLPRegressor({ hiddenLayerSizes: [4], maxIter: 10, randomState: 1, backend: backend as 'js' }).fit(
      X,
      X.map(([a]) => a!),
    );
    expect(MLPRegressor.load(reg.save(), { backend: backend as 'js' }).predict(X)).toEqual(reg.predict(X));
    expect(MLP.load(clf.save(), { backend: backend as 'js' }).predict(X)).toEqual(clf.model.predict(X)); // a plain MLP reads it too
  });

  it('rejects truncated, corrupt, foreign and newer files with a readable RangeError', () => {
    const bytes = trained(backend).save();
    expect(() => MLP.load(bytes.subarray(0, 5))).toThrow(/truncated: 5 bytes is shorter than the 12-byte header/);
    expect(() => MLP.load(bytes.subarray(0, 40))).toThrow(/truncated: its manifest needs \d+ bytes, the file has 40/);
    expect(() => MLP.load(bytes.subarray(0, bytes.length - 10))).toThrow(/truncated: expected \d+ bytes, got \d+/);
    const flipped = bytes.slice();
    flipped[bytes.length - 20]! ^= 0x40;
    expect(() => MLP.load(flipped)).toThrow(/corrupt: checksum mismatch/);
    expect(() => MLP.load(new TextEncoder().encode('PK\x03\x04 this is a zip file'))).toThrow(/not an mlpkit model/);
    const newer = bytes.slice();
    new DataView(newer.buffer).setUint32(4, FORMAT_VERSION + 1, true);
    expect(() => MLP.load(resealed(newer))).toThrow(new RegExp(`format version ${FORMAT_VERSION + 1} is newer .*upgrade mlpkit`));
    const badJson = bytes.slice();
    badJson[12] = 0x3a; // ':' instead of the manifest's opening '{'
    expect(() => MLP.load(resealed(badJson))).toThrow(/corrupt: its manifest is not valid JSON/);
    const nanWeight = bytes.slice();
    new DataView(nanWeight.buffer).setFloat32(nanWeight.length - 8, NaN, true);
    expect(() => MLP.load(resealed(nanWeight))).toThrow(/corrupt: parameter \d+ is NaN/);
    for (const e of [() => MLP.load(bytes.subarray(0, 5)), () => MLP.load(flipped)]) expect(e).toThrow(RangeError);
    expect(() => MLP.load('model.mlpkit' as never)).toThrow(TypeError);
  });

  it('rejects a manifest that describes an impossible model', () => {
    const bytes = trained(backend).save();
    const length = new DataView(bytes.buffer).getUint32(8, true);
    const manifest = new TextDecoder().decode(bytes.subarray(12, 12 + length));
    const edited = manifest.replace('"units":6', '"units":0');
    expect(edited.length).toBe(manifest.length);
    const copy = bytes.slice();
    copy.set(new TextEncoder().encode(edited), 12);
    expect(() => MLP.load(resealed(copy))).toThrow(/corrupt: its model description is invalid \(layers\[0\]\.units must be an integer/);
  });

  it('rejects a manifest whose scaler is null', () => {
    const bytes = trained(backend).save();
    const length = new DataView(bytes.buffer).getUint32(8, true);
    const manifest = new TextDecoder().decode(bytes.subarray(12, 12 + length));
    const scaler = /"scaler":\{[^}]*\}/.exec(manifest)![0];
    const edited = manifest.replace(scaler, '"scaler":null'.padEnd(scaler.length, ' '));
    const copy = bytes.slice();
    copy.set(new TextEncoder().encode(edited), 12);
    expect(() => MLP.load(resealed(copy))).toThrow(/corrupt: its scaler is null, expected \{ mean, scale \}/);
  });

  it('a scaler round-trips through JSON', () => {
    const scaler = new StandardScaler().fit(X);
    const again = StandardScaler.fromJSON(JSON.parse(JSON.stringify(scaler)));
    expect(again.transform(X)).toEqual(scaler.transform(X));
    expectClose((again.inverseTransform(again.transform(X)) as number[][]).flat(), X.flat(), { rtol: 1e-6, atol: 1e-5, label: 'x' });
  });
});

describe.each(BACKENDS)('training checkpoints on %s', (backend) => {
  const x = Array.from({ length: 48 }, (_, i) => [Math.sin(i), Math.cos(1.3 * i), (i % 7) / 7]);
  const y = x.map(([a, b]) => (a! + b! > 0.3 ? 0 : a! > b! ? 1 : 2));
  const build = (optimizer: MLPOptions['optimizer']) =>
    new MLP({
      inputs: 3,
      layers: [
        { units: 16, activation: 'relu' },
        { units: 3, activation: 'softmax' },
      ],
      optimizer,
      dropout: 0.2,
      seed: 12,
      backend,
    });

  it.each([
    ['adam with a step schedule', { type: 'adam', learningRate: 0.01, schedule: { type: 'step', factor: 0.5, stepSize: 7 } }],
    ['nesterov', { type: 'nesterov', learningRate: 0.05 }],
    ['sgd', { type: 'sgd', learningRate: 0.1 }],
  ] as const)('%s: 5 epochs, save, load and resume at epoch 5 give the bits of 10 epochs in one go', (_name, optimizer) => {
    const whole = build(optimizer);
    const history = whole.fitSync(x, y, { epochs: 10, batchSize: 8 });
    const first = build(optimizer);
    first.fitSync(x, y, { epochs: 5, batchSize: 8 });
    const resumed = MLP.load(first.save({ training: true }), { backend });
    const rest = resumed.fitSync(x, y, { epochs: 10, initialEpoch: 5, batchSize: 8 });
    expect(rest.loss).toEqual(history.loss.slice(5));
    expect(resumed.step).toBe(whole.step);
    expect(resumed.getWeights()).toEqual(whole.getWeights());
    // Without the checkpoint, the optimizer starts afresh: the runs part.
    const fresh = MLP.load(first.save(), { backend });
    fresh.fitSync(x, y, { epochs: 10, initialEpoch: 5, batchSize: 8 });
    expect(fresh.getWeights()).not.toEqual(whole.getWeights());
  });

  it('a checkpoint is a version 2 file; version 1 files still load; initialEpoch must come before epochs', () => {
    const net = build('adam');
    net.fitSync(x, y, { epochs: 1 });
    const bytes = net.save();
    expect(new DataView(bytes.buffer).getUint32(4, true)).toBe(2);
    const v1 = bytes.slice();
    const view = new DataView(v1.buffer);
    view.setUint32(4, 1, true);
    view.setUint32(v1.length - 4, crc32(v1.subarray(0, v1.length - 4)), true);
    expect(MLP.load(v1).getWeights()).toEqual(net.getWeights());
    const checkpoint = net.save({ training: true });
    expect(checkpoint.length - bytes.length).toBeGreaterThanOrEqual(2 * 4 * net.parameterCount); // both of Adam's moments
    expect(() => net.fitSync(x, y, { epochs: 3, initialEpoch: 3 })).toThrow(/initialEpoch must be an epoch before epochs = 3/);
    expect(() => net.save({ training: 'yes' } as never)).toThrow(/options.training must be a boolean/);
  });
});
