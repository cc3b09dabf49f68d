/**
 * ONNX, with the real onnxruntime-node: a model written by toONNX (MLP with every activation,
 * with and without a stored scaler; MLPClassifier with two and three classes; MLPRegressor)
 * runs in onnxruntime with mlpkit's predictions on every backend; files exported by PyTorch,
 * written with onnx.helper and written by mlpkit (test/fixtures/onnx, with the scripts that
 * made them) load with MLP.fromONNX and predict what their source computed; everything else is
 * refused by name. Where the onnx Python package is installed, onnx.checker accepts what
 * toONNX writes and its onnx.proto confirms every field number mlpkit uses.
 *
 * Tolerance against onnxruntime: |Δ| ≤ max(1e-6, 1e-6·|want|), 1e-6 relative or 1e-6 absolute
 * below 1 (for regression outputs, 1e-6 of the largest output); both sides compute in float32
 * but sum in different orders. Against PyTorch's outputs (JSON): 1e-5.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { describe, expect, it, vi } from 'vitest';
import { decodeOnnx, encodeOnnx, ONNX_SCHEMA } from '../src/interop/onnx-proto.js';
import type { OnnxModel, OnnxNode } from '../src/interop/onnx.js';
import { MLP, MLPClassifier, MLPRegressor, NotFittedError, type Activation } from '../src/node.js';
import { BACKENDS } from './helpers/backends.js';
import { expectClose } from './helpers/close.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'onnx');
const ORT_TOLERANCE = { atol: 1e-6, rtol: 1e-6 };

const x = Array.from({ length: 12 }, (_, i) => [Math.sin(i) * 3, Math.cos(1.7 * i) + 2, (i % 5) - 2]);
const classes3 = x.map((_, i) => i % 3);

async function runOrt(bytes: Uint8Array, rows: number[][]): Promise<ort.InferenceSession.OnnxValueMapType> {
  const session = await ort.InferenceSession.create(bytes);
  return session.run({ input: new ort.Tensor('float32', Float32Array.from(rows.flat()), [rows.length, rows[0]!.length]) });
}

const floats = (t: ort.Tensor | undefined) => Array.from(t!.data as Float32Array);
const labelsOf = (t: ort.Tensor | undefined) => Array.from(t!.data as BigInt64Array, Number);

/** A Python with the onnx package (Debian's python3-onnx), if this machine has one. */
const python = ['python3', '/usr/bin/python3'].find((exe) => spawnSync(exe, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0);
const onnxProto =
  python &&
  spawnSync(python, ['-c', 'import onnx, os; print(os.path.join(os.path.dirname(onnx.__file__), "onnx.proto"))'], {
    encoding: 'utf8',
  }).stdout.trim();

const HIDDEN: [Activation, number?][] = [
  ['relu'],
  ['tanh'],
  ['sigmoid'],
  ['silu'],
  ['gelu'],
  ['elu', 0.7],
  ['leaky-relu', 0.2],
  ['identity'],
];

function network(backend: MLP['backend'], activation: Activation, alpha: number | undefined, standardize: boolean): MLP {
  const net = new MLP({
    inputs: 3,
    layers: [
      { units: 7, activation, ...(alpha !== undefined ? { alpha } : {}) },
      { units: 5, activation, ...(alpha !== undefined ? { alpha } : {}) },
      { units: 3, activation: 'softmax' },
    ],
    seed: 3,
    standardize,
    backend,
  });
  net.fitSync(x, classes3, { epochs: 2 });
  return net;
}

describe.each(BACKENDS)('toONNX on %s: onnxruntime computes what predict computes', (backend) => {
  it.each(HIDDEN)('MLP, hidden %s (α %s), softmax output, with and without a stored scaler', async (activation, alpha) => {
    for (const standardize of [false, true]) {
      const net = network(backend, activation, alpha, standardize);
      expect(net.scaler !== undefined).toBe(standardize);
      const out = await runOrt(net.toONNX(), x);
      expect(Object.keys(out)).toEqual(['output']);
      expect(out.output!.dims).toEqual([12, 3]);
      expectClose(floats(out.output), (net.predict(x) as number[][]).flat(), {
        ...ORT_TOLERANCE,
        label: `${backend} ${activation} scaler ${standardize}`,
      });
    }
  });

  it('an identity output without bias, a sigmoid output, any batch size (the batch dimension is symbolic)', async () => {
    for (const output of [
      { units: 2, activation: 'identity' as const, bias: false },
      { units: 1, activation: 'sigmoid' as const },
    ]) {
      const net = new MLP({ inputs: 3, layers: [{ units: 4, activation: 'tanh', bias: false }, output], seed: 5, backend });
      const bytes = net.toONNX();
      for (const rows of [x.slice(0, 1), Array.from({ length: 300 }, (_, i) => x[i % 12]!.map((v) => v * (1 + i / 300)))]) {
        const out = await runOrt(bytes, rows);
        expectClose(floats(out.output), (net.predict(rows) as number[][]).flat(), {
          ...ORT_TOLERANCE,
          label: `${backend} ${rows.length} rows`,
        });
      }
    }
  });

  it('MLPClassifier, three classes, with its scaler: probabilities and the int64 label', async () => {
    const clf = new MLPClassifier({ hiddenLayerSizes: [6], activation: 'relu', maxIter: 20, randomState: 1, backend });
    const labels = x.map((_, i) => ['setosa', 'versicolor', 'virginica'][i % 3]!);
    await clf.fit(x, labels);
    const out = await runOrt(clf.toONNX(), x);
    expect(Object.keys(out).sort()).toEqual(['label', 'probabilities']);
    expect(out.label!.type).toBe('int64');
    expectClose(floats(out.probabilities), clf.predictProba(x).flat(), { ...ORT_TOLERANCE, label: `${backend} probabilities` });
    expect(labelsOf(out.label).map((i) => clf.classes[i])).toEqual(clf.predict(x));
  });

  it('MLPClassifier, two classes (one sigmoid unit), no scaler: probabilities [1 − p, p] and the label', async () => {
    const clf = new MLPClassifier({ hiddenLayerSizes: [5], activation: 'gelu', standardize: false, maxIter: 20, randomState: 2, backend });
    await clf.fit(
      x,
      x.map(([a]) => a! > 0),
    );
    const out = await runOrt(clf.toONNX(), x);
    expect(out.probabilities!.dims).toEqual([12, 2]);
    expectClose(floats(out.probabilities), clf.predictProba(x).flat(), { ...ORT_TOLERANCE, label: `${backend} probabilities` });
    expect(labelsOf(out.label).map((i) => clf.classes[i])).toEqual(clf.predict(x));
  });

  it('MLPRegressor with two targets and its scaler, and with one target and none', async () => {
    for (const [standardize, targets] of [
      [true, x.map(([a, b]) => [a! * 3 - b!, a! * b!])],
      [false, x.map(([a, , c]) => a! + 10 * c!)],
    ] as const) {
      const reg = new MLPRegressor({ hiddenLayerSizes: [8], activation: 'silu', standardize, maxIter: 20, randomState: 3, backend });
      await reg.fit(x, targets as number[][]);
      const out = await runOrt(reg.toONNX(), x);
      const want = (reg.predict(x) as (number | number[])[]).flat();
      // A target near 0 is a difference of terms as large as the others: 1e-6 of the largest.
      const atol = 1e-6 * Math.max(1, ...want.map(Math.abs));
      expectClose(floats(out.output), want, { ...ORT_TOLERANCE, atol, label: `${backend} regression` });
    }
  });
});

describe('what toONNX writes', () => {
  const net = network('js', 'leaky-relu', 0.2, true);
  net.metadata = { features: ['a', 'b', 'c'] };
  const model = decodeOnnx(net.toONNX());

  it('weights and biases as float32 raw_data bit for bit, the scaler as float64, a symbolic batch dimension', () => {
    const init = new Map(model.graph!.initializer!.map((t) => [t.name, t]));
    net.getWeights().forEach(({ weights, bias }, l) => {
      const w = init.get(`layer${l}.weight`)!;
      expect(w.dims).toEqual([net.layers[l]!.units, l === 0 ? 3 : net.layers[l - 1]!.units]);
      expect(w.dataType).toBe(1);
      expect(Array.from(w.rawData!)).toEqual(Array.from(new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength)));
      expect(Array.from(init.get(`layer${l}.bias`)!.rawData!)).toEqual(
        Array.from(new Uint8Array(bias!.buffer, bias!.byteOffset, bias!.byteLength)),
      );
    });
    const mean = init.get('scaler.mean')!;
    expect(mean.dataType).toBe(11);
    expect(Array.from(new Float64Array(mean.rawData!.slice().buffer))).toEqual(net.scaler!.mean);
    expect(model.graph!.input).toEqual([
      { name: 'input', type: { tensorType: { elemType: 1, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] } } } },
    ]);
    expect(model.opsetImport).toEqual([{ domain: '', version: 13 }]);
    expect(model.irVersion).toBe(7);
  });

  it("onnxruntime scales the inputs to exactly mlpkit's float32 values (the scaler runs in float64, rounded once)", async () => {
    const copy = decodeOnnx(net.toONNX());
    copy.graph!.output!.push({ name: 'scaler/output', type: { tensorType: { elemType: 1 } } });
    const rows = x.map((row, i) => row.map((v) => v * 1.37 ** i + 0.1));
    const scaled = floats((await runOrt(encodeOnnx(copy), rows))['scaler/output']);
    expect(scaled).toEqual(Array.from(net.scaler!.transform(Float32Array.from(rows.flat())) as Float32Array));
  });

  it('the nodes: Cast/Sub/Div/Cast for the scaler, Gemm (transB = 1) and the activation per layer', () => {
    const nodes = model.graph!.node!;
    expect(nodes.map((n) => n.opType)).toEqual(['Cast', 'Sub', 'Div', 'Cast', 'Gemm', 'LeakyRelu', 'Gemm', 'LeakyRelu', 'Gemm', 'Softmax']);
    expect(nodes[4]!.attribute).toEqual([{ name: 'transB', type: 2, i: 1 }]);
    expect(nodes[5]!.attribute![0]!.f).toBe(Math.fround(0.2));
    expect(nodes[9]!.attribute).toEqual([{ name: 'axis', type: 2, i: -1 }]);
    expect(nodes.at(-1)!.output).toEqual(['output']);
  });

  it('metadata_props: the network output, the model metadata; for a classifier the class labels', async () => {
    expect(model.metadataProps).toEqual([
      { key: 'mlpkit', value: '{"networkOutput":"output"}' },
      { key: 'mlpkit.metadata', value: '{"features":["a","b","c"]}' },
    ]);
    const clf = new MLPClassifier({ hiddenLayerSizes: [3], maxIter: 2, randomState: 1, backend: 'js' });
    await clf.fit(x, [...x.map((_, i) => (i % 2 ? 'cat' : 7))]);
    expect(decodeOnnx(clf.toONNX()).metadataProps).toEqual([
      { key: 'mlpkit', value: '{"estimator":"MLPClassifier","networkOutput":"probability"}' },
      { key: 'mlpkit.classes', value: '[7,"cat"]' },
    ]);
  });

  it('options.opset declares 13 to 21 (with the IR version that goes with it); onnxruntime runs both ends', async () => {
    for (const [opset, ir] of [
      [13, 7],
      [17, 8],
      [21, 10],
    ]) {
      const bytes = net.toONNX({ opset });
      expect(decodeOnnx(bytes).opsetImport).toEqual([{ domain: '', version: opset }]);
      expect(decodeOnnx(bytes).irVersion).toBe(ir);
      expectClose(floats((await runOrt(bytes, x)).output), (net.predict(x) as number[][]).flat(), ORT_TOLERANCE);
    }
  });

  it.skipIf(!python && !process.env.CI)('onnx.checker.check_model (full_check) accepts every kind of model toONNX writes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlpkit-onnx-'));
    const files = HIDDEN.map(([activation, alpha], i) => {
      const file = join(dir, `net${i}.onnx`);
      writeFileSync(file, network('js', activation, alpha, i % 2 === 0).toONNX());
      return file;
    });
    const clf = new MLPClassifier({ hiddenLayerSizes: [4], maxIter: 2, randomState: 1, backend: 'js' });
    for (const labels of [x.map((_, i) => i % 2), classes3]) {
      await clf.fit(x, labels);
      files.push(join(dir, `clf${files.length}.onnx`));
      writeFileSync(files.at(-1)!, clf.toONNX());
    }
    files.push(join(dir, 'opset17.onnx'));
    writeFileSync(files.at(-1)!, net.toONNX({ opset: 17 }));
    const check = spawnSync(
      python!,
      [
        '-c',
        'import onnx, sys\nfor p in sys.argv[1:]: onnx.checker.check_model(onnx.load(p), full_check=True)\nprint(len(sys.argv) - 1)',
        ...files,
      ],
      { encoding: 'utf8' },
    );
    expect(check.stderr).toBe('');
    expect(check.stdout.trim()).toBe(String(files.length));
  });

  it.skipIf(!python && !process.env.CI)(
    "every field mlpkit writes or reads has onnx.proto's number and type, and onnx.proto decodes its files",
    () => {
      const root = protobuf.parse(readFileSync(onnxProto!, 'utf8')).root.resolveAll();
      let checked = 0;
      for (const [message, fields] of Object.entries(ONNX_SCHEMA)) {
        const type = root.lookupType(`onnx.${message}`);
        for (const field of fields) {
          const real = type.fields[field.name];
          expect(real, `onnx.${message}.${field.name}`).toBeDefined();
          expect([real!.id, real!.repeated, real!.repeated && real!.packed], `onnx.${message}.${field.name}`).toEqual([
            field.id,
            field.repeated === true,
            field.packed === true,
          ]);
          const resolved = real!.resolvedType;
          // Enums travel as int32 varints; subgraphs and sparse tensors are skipped over as bytes
          // (a message and bytes share the length-delimited wire type).
          const realType = resolved instanceof protobuf.Enum ? 'int32' : resolved ? resolved.fullName.replace(/^\.onnx\./, '') : real!.type;
          const skipped = { g: 'GraphProto', sparseInitializer: 'SparseTensorProto' }[field.name];
          expect(realType, `onnx.${message}.${field.name}`).toBe(skipped ?? field.type);
          if (skipped) expect(field.type).toBe('bytes');
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(50);
      const decoded = root.lookupType('onnx.ModelProto').decode(net.toONNX()).toJSON();
      expect(decoded.graph.input[0].type.tensorType.shape.dim).toEqual([{ dimParam: 'batch' }, { dimValue: '3' }]);
      expect(decoded.graph.node.map((n: { opType: string }) => n.opType)).toEqual(model.graph!.node!.map((n) => n.opType));
      expect(decoded.metadataProps).toEqual(model.metadataProps);
    },
  );
});

interface Fixture {
  inputs: number[][];
  outputs: number[][];
}
const fixture = (name: string): [Uint8Array, Fixture] => [
  readFileSync(join(FIXTURES, `${name}.onnx`)),
  JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')) as Fixture,
];

describe.each(BACKENDS)('fromONNX on %s', (backend) => {
  it.each([
    ['torch-scaled-relu-tanh-softmax', 'relu tanh softmax', { mean: [1, -2, 0.5, 3], scale: [2, 0.5, 1.5, 4] }],
    ['torch-flatten-silu-gelu', 'silu gelu identity', undefined],
    ['torch-opset11-leaky-elu-nobias-softmax', 'leaky-relu elu softmax', undefined],
    ['torch-affine-matmul', 'sigmoid softmax', undefined],
    ['helper-gelu20-constants', 'gelu identity', undefined],
  ] as const)('%s predicts what PyTorch computed (%s)', (name, activations, scaler) => {
    const [bytes, { inputs, outputs }] = fixture(name);
    const copy = bytes.slice();
    const net = MLP.fromONNX(bytes, { backend });
    expect(net.backend).toBe(backend);
    expect(net.layers.map((l) => l.activation).join(' ')).toBe(activations);
    expect(net.scaler?.toJSON()).toEqual(scaler);
    expectClose((net.predict(inputs) as number[][]).flat(), outputs.flat(), { atol: 1e-5, rtol: 1e-5, label: `${backend} ${name}` });
    expect(bytes).toEqual(copy); // read, never written to
  });

  it('the details PyTorch wrote: float32 attributes read as their shortest decimal, a layer without bias', () => {
    const net = MLP.fromONNX(fixture('torch-opset11-leaky-elu-nobias-softmax')[0], { backend });
    expect(net.layers.map((l) => [l.units, l.activation, l.alpha, l.bias])).toEqual([
      [6, 'leaky-relu', 0.2, true],
      [5, 'elu', 0.7, false],
      [3, 'softmax', expect.anything(), true],
    ]);
    expect(net.inputs).toBe(3);
    // A negative input factor (x·a + c with a < 0) is no standard scaler: folded into the first layer.
    expect(MLP.fromONNX(fixture('torch-affine-matmul')[0], { backend }).scaler).toBeUndefined();
  });

  it('a file written by toONNX loads back with the same layers, weights (bit for bit), scaler and metadata', () => {
    for (const [activation, alpha] of HIDDEN) {
      const net = network(backend, activation, alpha, activation !== 'relu');
      net.metadata = { activation };
      const back = MLP.fromONNX(net.toONNX(), { backend });
      expect(back.layers).toEqual(net.layers);
      expect(back.getWeights()).toEqual(net.getWeights());
      expect(back.scaler?.toJSON()).toEqual(net.scaler?.toJSON());
      expect(back.metadata).toEqual({ activation });
      expect(back.predict(x)).toEqual(net.predict(x));
    }
  });

  it('the committed mlpkit classifier file: its network on every backend, its probabilities and labels in onnxruntime', async () => {
    const [bytes, data] = fixture('mlpkit-binary-classifier') as [
      Uint8Array,
      Fixture & { probabilities: number[][]; labels: string[]; classes: string[] },
    ];
    const net = MLP.fromONNX(bytes, { backend });
    expect(net.layers.map((l) => l.activation)).toEqual(['gelu', 'sigmoid']);
    expect(net.scaler).toBeDefined();
    expectClose((net.predict(data.inputs) as number[][]).flat(), data.outputs.flat(), { atol: 1e-6, rtol: 1e-6, label: backend });
    const out = await runOrt(bytes, data.inputs);
    expectClose(floats(out.probabilities), data.probabilities.flat(), ORT_TOLERANCE);
    expect(labelsOf(out.label).map((i) => data.classes[i])).toEqual(data.labels);
  });
});

/** Our own file for a small network, decoded, changed by `edit` and encoded again. */
function edited(
  edit: (model: OnnxModel, nodes: OnnxNode[]) => void,
  layers = [{ units: 4, activation: 'relu' as Activation }, { units: 2 }],
) {
  const model = decodeOnnx(new MLP({ inputs: 3, layers, seed: 1, backend: 'js' }).toONNX());
  edit(model, model.graph!.node!);
  return encodeOnnx(model);
}

describe('fromONNX refuses what it cannot represent, by node, op type and what is supported', () => {
  it('a Conv (PyTorch): the node, its op type, and the supported list', () => {
    expect(() => MLP.fromONNX(fixture('torch-conv')[0], { backend: 'js' })).toThrow(
      /^ONNX node '\/0\/Conv' \(Conv\): not supported in front of the first layer; supported: Gemm \(transA = 0\) or MatMul with constant weights, .*Relu, Sigmoid, Tanh, LeakyRelu, Elu, Softmax \(last\)/,
    );
  });

  it.each([
    [
      'an op after a layer',
      (_: OnnxModel, nodes: OnnxNode[]) => Object.assign(nodes[1]!, { opType: 'HardSigmoid' }),
      /ONNX node 'layer0\/output' \(HardSigmoid\): not supported; supported:/,
    ],
    [
      'Gemm with transA = 1',
      (_: OnnxModel, nodes: OnnxNode[]) => nodes[0]!.attribute!.push({ name: 'transA', type: 2, i: 1 }),
      /ONNX node 'layer0\/gemm' \(Gemm\): transA = 1 \(the batch must be the rows of A\); supported:/,
    ],
    [
      'Softmax before the last layer',
      (_: OnnxModel, nodes: OnnxNode[]) => Object.assign(nodes[1]!, { opType: 'Softmax', attribute: [] }),
      /ONNX node 'layer0\/output' \(Softmax\): Softmax must end the network/,
    ],
    [
      'a Gelu without the tanh approximation',
      (_: OnnxModel, nodes: OnnxNode[]) => Object.assign(nodes[1]!, { opType: 'Gelu' }),
      /ONNX node 'layer0\/output' \(Gelu\): Gelu with approximate 'none' \(mlpkit's gelu is the 'tanh' approximation\)/,
    ],
    [
      'a skip connection',
      (model: OnnxModel, nodes: OnnxNode[]) => {
        nodes.push({ input: ['output', 'skip'], output: ['sum'], name: 'residual', opType: 'Add' });
        model.graph!.output![0]!.name = 'sum';
        model.metadataProps = [];
        nodes[1]!.output = ['skip'];
        nodes[2]!.input![0] = 'skip';
      },
      /ONNX node 'residual' \(Add\): its input 'skip' comes neither from the previous layer nor from a constant/,
    ],
    [
      'a second input',
      (model: OnnxModel) => model.graph!.input!.push({ name: 'mask' }),
      /the ONNX graph must have exactly one input besides its initializers, got 2: input, mask/,
    ],
    [
      'weights computed by a node',
      (_: OnnxModel, nodes: OnnxNode[]) => {
        nodes.unshift({ input: ['layer1.weight'], output: ['relu_weights'], name: 'weights', opType: 'Relu' });
        nodes[3]!.input![1] = 'relu_weights';
      },
      /ONNX node 'output' \(Gemm\): its input 'relu_weights' is not a constant \(weights and bias must be\)/,
    ],
    [
      'two layers reading one tensor',
      (_: OnnxModel, nodes: OnnxNode[]) => (nodes[2]!.input![1] = 'input'),
      /ONNX node 'layer0\/gemm' \(Gemm\) and ONNX node 'output' \(Gemm\) both read the same stretch of the graph: mlpkit reads a chain of layers, not branches/,
    ],
    [
      'a cycle',
      (_: OnnxModel, nodes: OnnxNode[]) => {
        Object.assign(nodes[1]!, { opType: 'Add', input: ['layer0/gemm', 'loop'] });
        nodes.push({ input: ['layer0/output', 'layer0/output'], output: ['loop'], name: 'loop', opType: 'Mul' });
      },
      /ONNX node 'layer0\/output' \(Add\): its output 'layer0\/output' feeds back into its own inputs \(a cycle\)/,
    ],
    [
      'forty squarings in a row (read once each, not 2^40 times)',
      (_: OnnxModel, nodes: OnnxNode[]) => {
        const squares = Array.from({ length: 40 }, (_, i) => ({
          input: [i === 0 ? 'layer0/gemm' : `square${i - 1}`, i === 0 ? 'layer0/gemm' : `square${i - 1}`],
          output: [i === 39 ? 'layer0/output' : `square${i}`],
          name: `square${i}`,
          opType: 'Mul',
        }));
        nodes.splice(1, 1, ...squares);
      },
      /ONNX node 'square39' \(Mul\): this subgraph after a layer is not one of mlpkit's activations/,
    ],
    [
      'negative dims',
      (model: OnnxModel) => Object.assign(model.graph!.initializer![0]!, { dims: [-4, -3] }),
      /tensor 'layer0.weight' has dims \[-4, -3\]; dims must be integers >= 0/,
    ],
    [
      'an op of another domain',
      (_: OnnxModel, nodes: OnnxNode[]) => Object.assign(nodes[1]!, { domain: 'com.microsoft', opType: 'FastGelu' }),
      /ONNX node 'layer0\/output' \(FastGelu\): domain 'com.microsoft' is not the default operator set/,
    ],
    [
      'weights stored in an external file',
      (model: OnnxModel) =>
        Object.assign(model.graph!.initializer![0]!, {
          rawData: undefined,
          dataLocation: 1,
          externalData: [{ key: 'location', value: 'w.bin' }],
        }),
      /ONNX node 'layer0\/gemm' \(Gemm\): tensor 'layer0.weight' keeps its data in an external file/,
    ],
    [
      'float16 weights',
      (model: OnnxModel) => Object.assign(model.graph!.initializer![0]!, { dataType: 10 }),
      /tensor 'layer0.weight' has data type 10; supported: float \(1\) and double \(11\)/,
    ],
    [
      'raw_data of the wrong length',
      (model: OnnxModel) => Object.assign(model.graph!.initializer![0]!, { rawData: new Uint8Array(7) }),
      /tensor 'layer0.weight' has 7 bytes of raw_data for dims \[4, 3\], expected 48/,
    ],
  ])('%s', (_, edit, message) => {
    const bytes = edited(edit);
    const copy = bytes.slice();
    expect(() => MLP.fromONNX(bytes, { backend: 'js' })).toThrow(message);
    expect(bytes).toEqual(copy);
  });

  it('bytes that are no ONNX model, and bytes of the wrong type, are named', () => {
    const good = new MLP({ inputs: 3, layers: [{ units: 2 }], backend: 'js' }).toONNX();
    expect(() => MLP.fromONNX(good.subarray(0, good.length - 9))).toThrow(
      /^bytes must be an ONNX model \(a serialized onnx\.ModelProto\): /,
    );
    expect(() => MLP.fromONNX(new TextEncoder().encode('{"format":"layers-model"}'))).toThrow(/^bytes must be an ONNX model/);
    expect(() => MLP.fromONNX(new Uint8Array(0))).toThrow(/^bytes must be an ONNX model with a graph, got a ModelProto without one/);
    expect(() => MLP.fromONNX('model.onnx' as never)).toThrow(
      new TypeError('bytes must be the bytes of an .onnx file (Uint8Array or ArrayBuffer), got "model.onnx"'),
    );
    expect(() => MLP.fromONNX([8, 7] as never)).toThrow(/bytes must be the bytes of an \.onnx file .*, got an array of length 2/);
    expect(MLP.fromONNX(good.slice().buffer, { backend: 'js' }).outputs).toBe(2);
  });

  it('bad options are named', () => {
    const good = new MLP({ inputs: 3, layers: [{ units: 2 }], backend: 'js' }).toONNX();
    expect(() => MLP.fromONNX(good, { backnd: 'js' } as never)).toThrow(
      /options has an unknown option 'backnd'; expected one of backend, threads/,
    );
    expect(() => MLP.fromONNX(good, { backend: 'gpu' } as never)).toThrow(
      /backend must be one of 'auto', 'native', 'wasm', 'js', got "gpu"/,
    );
    expect(() => MLP.fromONNX(good, null as never)).toThrow(new TypeError('options must be an options object, got null'));
  });
});

describe('toONNX refuses bad options and unfitted models, and changes nothing', () => {
  it('options.opset, unknown options, a scaler not fitted yet, an unfitted estimator', () => {
    const net = new MLP({ inputs: 3, layers: [{ units: 4, activation: 'tanh' }, { units: 1 }], seed: 2, backend: 'js' });
    const before = net.save();
    const predicted = net.predict(x);
    expect(() => net.toONNX({ opset: 12 })).toThrow(new RangeError('options.opset must be an integer between 13 and 21, got 12'));
    expect(() => net.toONNX({ opset: '13' } as never)).toThrow(new TypeError('options.opset must be an integer, got "13"'));
    expect(() => net.toONNX({ opst: 13 } as never)).toThrow(/options has an unknown option 'opst'; expected one of opset/);
    expect(() => net.toONNX(7 as never)).toThrow(new TypeError('options must be an options object, got 7'));
    expect(net.save()).toEqual(before);
    expect(net.predict(x)).toEqual(predicted);
    expect(() => new MLP({ inputs: 3, layers: [{ units: 1 }], standardize: true, backend: 'js' }).toONNX()).toThrow(NotFittedError);
    expect(() => new MLPClassifier({ backend: 'js' }).toONNX()).toThrow(NotFittedError);
    expect(() => new MLPRegressor({ backend: 'js' }).toONNX()).toThrow(NotFittedError);
    const disposed = new MLP({ inputs: 3, layers: [{ units: 1 }], backend: 'js' });
    disposed.dispose();
    expect(() => disposed.toONNX()).toThrow(/this MLP has been disposed/);
  });

  it("the universal entry says how to add ONNX ('mlpkit/onnx'), and works once it is imported", async () => {
    vi.resetModules();
    const universal = await import('../src/index.js');
    const net = new universal.MLP({ inputs: 3, layers: [{ units: 2 }], backend: 'js' });
    expect(() => net.toONNX()).toThrow(/ONNX support is not loaded: .*import 'mlpkit\/onnx' once \(the Node entry includes it\)/);
    expect(() => universal.MLP.fromONNX(new Uint8Array(0))).toThrow(/ONNX support is not loaded/);
    await import('../src/onnx.js');
    expect(universal.MLP.fromONNX(net.toONNX(), { backend: 'js' }).getWeights()).toEqual(net.getWeights());
    vi.resetModules();
  });
});
