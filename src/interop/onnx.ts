/**
 * ONNX models of dense networks: an MLP written as an `onnx.ModelProto` graph, and such a graph
 * read back. This module builds and reads the messages; onnx-proto.ts encodes them. Neither is
 * part of the universal entry (see formats.ts).
 *
 * Written (opset 13 by default, IR version to match; a symbolic batch dimension "batch"):
 *
 *   input "input" float32 [batch, inputs]
 *   scaler (if stored)  Cast(double) → Sub(mean) → Div(scale) → Cast(float): mlpkit scales in
 *                       float64 and rounds once to float32, so this computes the same bits
 *   each layer          Gemm(transB = 1; W is units × inputs) and its activation:
 *     identity          no node            relu, sigmoid, tanh   Relu, Sigmoid, Tanh
 *     leaky-relu        LeakyRelu(alpha)   elu                   Elu(alpha)
 *     softmax           Softmax(axis = -1) silu                  Sigmoid, Mul (x·σ(x))
 *     gelu              the tanh approximation as Mul, Add and Tanh nodes, in the form
 *                       torch.onnx writes it: ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x·x·x)));
 *                       onnx's Gelu op needs opset 20, which many runtimes and checkers lack
 *   output "output" float32 [batch, outputs]; a classifier instead has "probabilities" float32
 *   [batch, classes] (for two classes [1 − p, p] from the sigmoid unit) and "label" int64 [batch],
 *   the index of the most probable class (ArgMax, the first on a tie).
 *   metadata_props: "mlpkit" (JSON: estimator, networkOutput), "mlpkit.classes" (JSON array of
 *   the class labels, in output order), "mlpkit.metadata" (the model's metadata, JSON).
 *
 * Read: the chain of nodes from the single graph input to the first graph output (or the tensor
 * "mlpkit" names); nodes that only compute other outputs are not read. Supported on that chain:
 * a leading Flatten (axis 1), Cast to float or double, Sub/Div/Mul/Add with constants in front of
 * the first layer (an input scaling: it becomes the model's scaler, or is folded into the first
 * layer when a factor is negative); Gemm (transA = 0, transB 0 or 1, alpha, beta) or MatMul with
 * a constant right operand, each optionally followed by Add of a constant bias; the activations
 * above, also as Gelu(approximate = 'tanh') of opset 20, with Identity anywhere; Softmax last.
 * Constants come from initializers or Constant nodes, as raw_data or float_data/double_data.
 */
import type { LayerWeights } from '../layout.js';
import type { Label } from '../model-file.js';
import type { Activation, LayerOptions } from '../spec.js';
import { foldScaler, type DenseLayer } from './dense.js';

// ------------------------------------------------------------------ messages (onnx.proto subset)

export interface OnnxTensor {
  dims?: number[];
  dataType?: number;
  floatData?: number[];
  int32Data?: number[];
  int64Data?: number[];
  name?: string;
  rawData?: Uint8Array;
  doubleData?: number[];
  externalData?: OnnxStringEntry[];
  dataLocation?: number;
}
export interface OnnxAttribute {
  name?: string;
  type?: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: OnnxTensor;
  floats?: number[];
  ints?: number[];
}
export interface OnnxNode {
  input?: string[];
  output?: string[];
  name?: string;
  opType?: string;
  domain?: string;
  attribute?: OnnxAttribute[];
}
export interface OnnxValueInfo {
  name?: string;
  type?: { tensorType?: { elemType?: number; shape?: { dim?: { dimValue?: number; dimParam?: string }[] } } };
}
export interface OnnxGraph {
  node?: OnnxNode[];
  name?: string;
  initializer?: OnnxTensor[];
  docString?: string;
  input?: OnnxValueInfo[];
  output?: OnnxValueInfo[];
  sparseInitializer?: Uint8Array[];
}
export interface OnnxStringEntry {
  key?: string;
  value?: string;
}
export interface OnnxModel {
  irVersion?: number;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  graph?: OnnxGraph;
  opsetImport?: { domain?: string; version?: number }[];
  metadataProps?: OnnxStringEntry[];
}

// TensorProto.DataType and AttributeProto.AttributeType values used here.
const FLOAT = 1;
const INT64 = 7;
const DOUBLE = 11;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;

// ------------------------------------------------------------------ writing

/** The IR version that goes with an opset (onnx's versioning table). */
const irVersionOf = (opset: number): number => (opset <= 13 ? 7 : opset <= 17 ? 8 : opset <= 20 ? 9 : 10);

export interface OnnxExport {
  readonly layers: readonly DenseLayer[];
  readonly scaler?: { readonly mean: readonly number[]; readonly scale: readonly number[] } | undefined;
  /** A classifier's labels, in output order: adds the "probabilities" and "label" outputs. */
  readonly classes?: readonly Label[] | undefined;
  readonly estimator?: 'MLPClassifier' | 'MLPRegressor' | undefined;
  readonly metadata?: Record<string, unknown> | undefined;
  readonly producerVersion: string;
  readonly opset: number;
}

const GELU_BETA = Math.sqrt(2 / Math.PI);
const GELU_KAPPA = 0.044715;

/** Little-endian IEEE bytes of a float32 or float64 tensor. */
function tensor(name: string, dims: number[], values: ArrayLike<number>, dataType: typeof FLOAT | typeof DOUBLE): OnnxTensor {
  const width = dataType === FLOAT ? 4 : 8;
  const raw = new Uint8Array(values.length * width);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < values.length; i++) {
    if (dataType === FLOAT) view.setFloat32(i * 4, values[i]!, true);
    else view.setFloat64(i * 8, values[i]!, true);
  }
  return { name, dims, dataType, rawData: raw };
}

const intAttribute = (name: string, i: number): OnnxAttribute => ({ name, type: ATTR_INT, i });
const floatAttribute = (name: string, f: number): OnnxAttribute => ({ name, type: ATTR_FLOAT, f });

const valueInfo = (name: string, elemType: number, dims: (number | string)[]): OnnxValueInfo => ({
  name,
  type: {
    tensorType: {
      elemType,
      shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
    },
  },
});

/** The ONNX model of a sequence of dense layers (see the header for the graph). */
export function denseToOnnx(spec: OnnxExport): OnnxModel {
  const { layers, scaler, classes } = spec;
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const emit = (opType: string, input: string[], output: string, attribute: OnnxAttribute[] = []): string => {
    nodes.push({ input, output: [output], name: output, opType, ...(attribute.length ? { attribute } : {}) });
    return output;
  };
  const constants = new Set<string>();
  const scalar = (name: string, value: number): string => {
    if (!constants.has(name)) initializers.push(tensor(name, [], [value], FLOAT));
    constants.add(name);
    return name;
  };

  const inputs = layers[0]!.inputs;
  const outputs = layers.at(-1)!.units;
  const binary = classes !== undefined && outputs === 1;
  const networkOutput = classes === undefined ? 'output' : binary ? 'probability' : 'probabilities';

  let x = 'input';
  if (scaler) {
    initializers.push(tensor('scaler.mean', [inputs], scaler.mean, DOUBLE), tensor('scaler.scale', [inputs], scaler.scale, DOUBLE));
    x = emit('Cast', [x], 'scaler/double', [intAttribute('to', DOUBLE)]);
    x = emit('Sub', [x, 'scaler.mean'], 'scaler/centered');
    x = emit('Div', [x, 'scaler.scale'], 'scaler/scaled');
    x = emit('Cast', [x], 'scaler/output', [intAttribute('to', FLOAT)]);
  }
  layers.forEach((layer, l) => {
    const at = `layer${l}`;
    const out = l === layers.length - 1 ? networkOutput : `${at}/output`;
    initializers.push(tensor(`${at}.weight`, [layer.units, layer.inputs], layer.weights, FLOAT));
    if (layer.bias) initializers.push(tensor(`${at}.bias`, [layer.units], layer.bias, FLOAT));
    const z = emit(
      'Gemm',
      [x, `${at}.weight`, ...(layer.bias ? [`${at}.bias`] : [])],
      layer.activation === 'identity' ? out : `${at}/gemm`,
      [intAttribute('transB', 1)],
    );
    switch (layer.activation) {
      case 'identity':
        x = z;
        break;
      case 'relu':
      case 'sigmoid':
      case 'tanh':
        x = emit({ relu: 'Relu', sigmoid: 'Sigmoid', tanh: 'Tanh' }[layer.activation], [z], out);
        break;
      case 'leaky-relu':
        x = emit('LeakyRelu', [z], out, [floatAttribute('alpha', layer.alpha)]);
        break;
      case 'elu':
        x = emit('Elu', [z], out, [floatAttribute('alpha', layer.alpha)]);
        break;
      case 'softmax':
        x = emit('Softmax', [z], out, [intAttribute('axis', -1)]);
        break;
      case 'silu':
        x = emit('Mul', [z, emit('Sigmoid', [z], `${at}/sigmoid`)], out);
        break;
      case 'gelu': {
        const cube = emit('Mul', [z, emit('Mul', [z, z], `${at}/square`)], `${at}/cube`);
        const inner = emit('Add', [z, emit('Mul', [scalar('gelu.kappa', GELU_KAPPA), cube], `${at}/cubic_term`)], `${at}/inner`);
        const tanh = emit('Tanh', [emit('Mul', [scalar('gelu.beta', GELU_BETA), inner], `${at}/tanh_argument`)], `${at}/tanh`);
        const gate = emit('Mul', [z, emit('Add', [scalar('gelu.one', 1), tanh], `${at}/one_plus_tanh`)], `${at}/gated`);
        x = emit('Mul', [scalar('gelu.half', 0.5), gate], out);
        break;
      }
      default: {
        // A new activation must say here how ONNX computes it (and in activationOf how to read it back).
        const unwritten: never = layer.activation;
        throw new Error(`no ONNX form for activation '${String(unwritten)}'`);
      }
    }
  });

  const graphOutputs = [valueInfo(networkOutput, FLOAT, ['batch', outputs])];
  if (classes !== undefined) {
    let probabilities = networkOutput;
    if (binary) {
      const complement = emit('Sub', [scalar('classifier.one', 1), networkOutput], 'classifier/complement');
      probabilities = emit('Concat', [complement, networkOutput], 'probabilities', [intAttribute('axis', 1)]);
    }
    emit('ArgMax', [probabilities], 'label', [intAttribute('axis', 1), intAttribute('keepdims', 0)]);
    graphOutputs.length = 0;
    graphOutputs.push(valueInfo('probabilities', FLOAT, ['batch', classes.length]), valueInfo('label', INT64, ['batch']));
  }

  const props: OnnxStringEntry[] = [
    { key: 'mlpkit', value: JSON.stringify({ ...(spec.estimator ? { estimator: spec.estimator } : {}), networkOutput }) },
  ];
  if (classes) props.push({ key: 'mlpkit.classes', value: JSON.stringify(classes) });
  if (spec.metadata) props.push({ key: 'mlpkit.metadata', value: JSON.stringify(spec.metadata) });
  const outputNames = graphOutputs.map((o) => `"${o.name}"`).join(', ');
  return {
    irVersion: irVersionOf(spec.opset),
    producerName: 'mlpkit',
    producerVersion: spec.producerVersion,
    docString: `A multi-layer perceptron written by mlpkit ${spec.producerVersion}: input "input" [batch, ${inputs}], outputs ${outputNames}.`,
    opsetImport: [{ domain: '', version: spec.opset }],
    graph: {
      name: 'mlpkit',
      node: nodes,
      initializer: initializers,
      input: [valueInfo('input', FLOAT, ['batch', inputs])],
      output: graphOutputs,
    },
    metadataProps: props,
  };
}

// ------------------------------------------------------------------ reading

/** What `MLP.fromONNX` builds: layers, their weights, and the input scaling if there was one. */
export interface OnnxNetwork {
  inputs: number;
  layers: LayerOptions[];
  weights: LayerWeights[];
  scaler?: { mean: number[]; scale: number[] };
  metadata?: Record<string, unknown>;
}

const LINEAR_OPS = ['Gemm', 'MatMul'];
const SCALING_OPS = ['Flatten', 'Cast', 'Sub', 'Div', 'Mul', 'Add', 'Identity'];
const ACTIVATION_OPS = ['Relu', 'Sigmoid', 'Tanh', 'LeakyRelu', 'Elu', 'Softmax', 'Gelu', 'Mul', 'Add', 'Identity'];
const SUPPORTED =
  'supported: Gemm (transA = 0) or MatMul with constant weights, Add of a constant bias, Relu, Sigmoid, Tanh, LeakyRelu, Elu, ' +
  "Softmax (last), silu as Sigmoid + Mul, gelu's tanh approximation (Gelu or its Mul/Add/Tanh form), Identity, and in front of " +
  'the first layer Flatten, Cast and Sub/Div/Mul/Add with constants';

/** An expression over the tensor a stretch of the graph starts from ('x'), constants and nodes. */
type Expr = { kind: 'x' } | { kind: 'const'; name: string; tensor: OnnxTensor } | { kind: 'op'; node: OnnxNode; args: Expr[] };

/** A template: 'x', a scalar constant, or [op, ...operands] (Mul and Add commute). */
type Pattern = 'x' | number | readonly [string, ...Pattern[]];
const SILU: Pattern = ['Mul', 'x', ['Sigmoid', 'x']];
const GELU_TANH: Pattern = [
  'Mul',
  0.5,
  ['Mul', 'x', ['Add', 1, ['Tanh', ['Mul', GELU_BETA, ['Add', 'x', ['Mul', GELU_KAPPA, ['Mul', 'x', ['Mul', 'x', 'x']]]]]]]],
];

const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/** A tensor's values as float64 (exact for float32 and float64 data). */
function tensorValues(t: OnnxTensor, what: string): Float64Array {
  const dims = t.dims ?? [];
  const count = product(dims);
  if (t.dataLocation === 1 || (t.externalData?.length ?? 0) > 0) {
    throw new RangeError(`${what} keeps its data in an external file; only tensors stored in the model are read`);
  }
  const width = t.dataType === FLOAT ? 4 : t.dataType === DOUBLE ? 8 : 0;
  if (width === 0) throw new RangeError(`${what} has data type ${t.dataType ?? 'undefined'}; supported: float (1) and double (11)`);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new RangeError(`${what} has dims [${dims.join(', ')}]; dims must be integers >= 0`);
  }
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * width) {
      throw new RangeError(`${what} has ${t.rawData.length} bytes of raw_data for dims [${dims.join(', ')}], expected ${count * width}`);
    }
    const values = new Float64Array(count);
    // A DataView reads little-endian at any alignment, without touching the caller's bytes.
    const view = new DataView(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
    for (let i = 0; i < count; i++) values[i] = width === 4 ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);
    return values;
  }
  const data = (width === 4 ? t.floatData : t.doubleData) ?? [];
  if (data.length !== count) throw new RangeError(`${what} has ${data.length} values for dims [${dims.join(', ')}], expected ${count}`);
  return Float64Array.from(data);
}

/** Reads the dense network computed by an ONNX model (see the header for what is supported). */
export function denseFromOnnx(model: OnnxModel): OnnxNetwork {
  const graph = model.graph;
  if (!graph) throw new RangeError('bytes must be an ONNX model with a graph, got a ModelProto without one');
  if ((graph.sparseInitializer?.length ?? 0) > 0)
    throw new RangeError('the ONNX graph has sparse initializers, which mlpkit does not read');
  const opset = model.opsetImport?.find((o) => !o.domain || o.domain === 'ai.onnx')?.version;
  if (opset === undefined) throw new RangeError('bytes must be an ONNX model that imports the default operator set, got one without');
  const nodes = graph.node ?? [];
  const nameOf = (node: OnnxNode) => `ONNX node '${node.name || `#${nodes.indexOf(node)}`}' (${node.opType ?? '?'})`;
  const unsupported = (node: OnnxNode, what: string) => new RangeError(`${nameOf(node)}: ${what}; ${SUPPORTED}`);
  const attribute = (node: OnnxNode, name: string) => node.attribute?.find((a) => a.name === name);
  const intOf = (node: OnnxNode, name: string, fallback: number) => attribute(node, name)?.i ?? fallback;
  const floatOf = (node: OnnxNode, name: string, fallback: number) => attribute(node, name)?.f ?? fallback;

  const initializers = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const producer = new Map<string, number>();
  const consumers = new Map<string, number[]>();
  nodes.forEach((node, index) => {
    for (const out of node.output ?? []) if (out) producer.set(out, index);
    for (const input of node.input ?? []) {
      if (!input) continue;
      const list = consumers.get(input);
      if (list) list.push(index);
      else consumers.set(input, [index]);
    }
  });

  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ''));
  if (inputs.length !== 1) {
    throw new RangeError(
      `the ONNX graph must have exactly one input besides its initializers, got ${inputs.length}${inputs.length ? `: ${inputs.map((i) => i.name).join(', ')}` : ''}`,
    );
  }
  const input = inputs[0]!;
  const inputType = input.type?.tensorType;
  if (inputType?.elemType !== undefined && inputType.elemType !== FLOAT) {
    throw new RangeError(`the ONNX graph's input '${input.name}' must be float32 (elem_type 1), got elem_type ${inputType.elemType}`);
  }

  // Which output to follow: the one a file written by mlpkit names, else the first.
  const props = new Map((model.metadataProps ?? []).map((p) => [p.key ?? '', p.value ?? '']));
  const json = (key: string): unknown => {
    const text = props.get(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new RangeError(`the ONNX model's metadata_props '${key}' must be JSON, got ${JSON.stringify(text.slice(0, 40))}`, {
        cause: error,
      });
    }
  };
  const named = (json('mlpkit') as { networkOutput?: unknown } | undefined)?.networkOutput;
  const target = typeof named === 'string' && producer.has(named) ? named : graph.output?.[0]?.name;
  if (!target) throw new RangeError('the ONNX graph must have an output, got none');

  // The nodes the target depends on; the others compute other outputs and are not read.
  const needed = new Set<number>();
  const stack = [target];
  while (stack.length > 0) {
    const index = producer.get(stack.pop()!);
    if (index === undefined || needed.has(index)) continue;
    needed.add(index);
    stack.push(...(nodes[index]!.input ?? []).filter(Boolean));
  }
  const used = new Set<number>();

  const constant = (name: string, depth = 0): OnnxTensor | undefined => {
    const init = initializers.get(name);
    if (init) return init;
    const index = producer.get(name);
    if (index === undefined || depth > nodes.length) return undefined; // (a cycle of Identity nodes)
    const node = nodes[index]!;
    if (node.opType === 'Identity') {
      const inner = constant(node.input?.[0] ?? '', depth + 1);
      if (inner) used.add(index);
      return inner;
    }
    if (node.opType !== 'Constant') return undefined;
    used.add(index);
    const [a] = node.attribute ?? [];
    if (a?.t && a.name === 'value') return a.t;
    if (a?.name === 'value_float') return { dims: [], dataType: DOUBLE, doubleData: [a.f ?? 0] };
    if (a?.name === 'value_floats') return { dims: [a.floats?.length ?? 0], dataType: DOUBLE, doubleData: a.floats ?? [] };
    throw unsupported(node, `a Constant with attribute '${a?.name}' (a float tensor: value, value_float or value_floats)`);
  };
  const values = (node: OnnxNode, name: string) => {
    const t = constant(name)!;
    return tensorValues(t, `${nameOf(node)}: tensor '${name}'`);
  };
  /** A per-feature vector of length n from a constant of n values or one value (broadcast). */
  const vector = (node: OnnxNode, name: string, n: number): Float64Array => {
    const v = values(node, name);
    const dims = constant(name)!.dims ?? [];
    if (v.length === 1) return new Float64Array(n).fill(v[0]!);
    if (v.length === n && dims.filter((d) => d !== 1).length === 1) return v;
    throw unsupported(node, `the constant '${name}' has dims [${dims.join(', ')}], expected ${n} values (or one)`);
  };

  /** The stretch of graph from `from` to the next Gemm/MatMul (or the target): its expression and that node. */
  const stretch = (from: string): { expr: Expr; next: OnnxNode | undefined; nextIndex: number } => {
    const inside = new Set<number>();
    const linear = new Set<number>();
    const queue = [from];
    while (queue.length > 0) {
      for (const c of consumers.get(queue.pop()!) ?? []) {
        if (!needed.has(c) || inside.has(c) || linear.has(c)) continue;
        if (LINEAR_OPS.includes(nodes[c]!.opType ?? '')) {
          linear.add(c);
          continue;
        }
        inside.add(c);
        queue.push(...(nodes[c]!.output ?? []).filter(Boolean));
      }
    }
    if (linear.size > 1) {
      const [a, b] = [...linear].map((i) => nameOf(nodes[i]!));
      throw new RangeError(`${a} and ${b} both read the same stretch of the graph: mlpkit reads a chain of layers, not branches`);
    }
    const nextIndex = linear.size === 1 ? [...linear][0]! : -1;
    const next = nodes[nextIndex];
    let end = target;
    if (next) {
      const [a, ...rest] = (next.input ?? []).filter(Boolean);
      for (const name of rest)
        if (!constant(name)) throw unsupported(next, `its input '${name}' is not a constant (weights and bias must be)`);
      if (!a || constant(a)) throw unsupported(next, 'its first input must be the layer input, not a constant');
      end = a;
    }
    // Memoized: a stretch is a DAG, and its tensors may be read many times (x in gelu's form).
    const built = new Map<string, Expr>();
    const building = new Set<string>();
    const build = (name: string): Expr => {
      const done = built.get(name);
      if (done) return done;
      const expr = buildOnce(name);
      built.set(name, expr);
      return expr;
    };
    const buildOnce = (name: string): Expr => {
      if (name === from) return { kind: 'x' };
      const t = constant(name);
      if (t) return { kind: 'const', name, tensor: t };
      const index = producer.get(name);
      if (index === undefined || !inside.has(index)) {
        const reader = [...inside].map((i) => nodes[i]!).find((n) => n.input?.includes(name)) ?? next;
        throw reader
          ? unsupported(reader, `its input '${name}' comes neither from the previous layer nor from a constant`)
          : new RangeError(`the ONNX graph's output '${name}' is not computed from its input '${from}'`);
      }
      used.add(index);
      const node = nodes[index]!;
      if (node.domain && node.domain !== 'ai.onnx') throw unsupported(node, `domain '${node.domain}' is not the default operator set`);
      if (building.has(name)) throw unsupported(node, `its output '${name}' feeds back into its own inputs (a cycle)`);
      building.add(name);
      if (node.opType === 'Identity') return build(node.input?.[0] ?? '');
      return { kind: 'op', node, args: (node.input ?? []).filter(Boolean).map(build) };
    };
    return { expr: build(end), next, nextIndex };
  };

  // In front of the first layer: Flatten, Cast and an elementwise affine map of the features.
  let at = stretch(input.name ?? '');
  const scaling: { op: 'Sub' | 'Add' | 'Mul' | 'Div'; node: OnnxNode; name: string }[] = [];
  let flattened = false;
  for (let e = at.expr; e.kind !== 'x';) {
    if (e.kind === 'const') throw new RangeError(`the ONNX graph's output is a constant, not computed from its input`);
    const { node, args } = e;
    const op = node.opType ?? '';
    if (!SCALING_OPS.includes(op)) throw unsupported(node, 'not supported in front of the first layer');
    if (op === 'Flatten') {
      if (intOf(node, 'axis', 1) !== 1) throw unsupported(node, `axis ${intOf(node, 'axis', 1)} (only axis 1 keeps the batch rows)`);
      flattened = true;
      e = args[0]!;
    } else if (op === 'Cast') {
      const to = intOf(node, 'to', 0);
      if (to !== FLOAT && to !== DOUBLE) throw unsupported(node, `a Cast to type ${to} (only float (1) and double (11))`);
      e = args[0]!;
    } else {
      const [a, b] = args;
      const constantAt = a?.kind === 'const' && (op === 'Add' || op === 'Mul') ? 0 : b?.kind === 'const' ? 1 : -1;
      const c = args[constantAt];
      if (args.length !== 2 || !c || c.kind !== 'const' || args[1 - constantAt]!.kind === 'const') {
        throw unsupported(node, `a ${op} of the input and a constant${op === 'Sub' || op === 'Div' ? ' (in that order)' : ''}`);
      }
      scaling.unshift({ op: op as 'Sub', node, name: c.name });
      e = args[1 - constantAt]!;
    }
  }

  const layers: LayerOptions[] = [];
  const weights: LayerWeights[] = [];
  let features = 0; // what the first layer takes
  while (at.next) {
    const node = at.next;
    used.add(at.nextIndex);
    const [, bName, cName] = node.input ?? [];
    const b = values(node, bName!);
    const bDims = constant(bName!)!.dims ?? [];
    if (bDims.length !== 2) throw unsupported(node, `its weights '${bName}' have dims [${bDims.join(', ')}], expected a matrix`);
    let transposed: boolean;
    let alpha = 1;
    let beta = 1;
    if (node.opType === 'Gemm') {
      if (intOf(node, 'transA', 0) !== 0) throw unsupported(node, 'transA = 1 (the batch must be the rows of A)');
      transposed = intOf(node, 'transB', 0) !== 0;
      alpha = floatOf(node, 'alpha', 1);
      beta = floatOf(node, 'beta', 1);
    } else {
      if ((node.input ?? []).filter(Boolean).length !== 2) throw unsupported(node, 'a MatMul of the layer input and a constant matrix');
      transposed = false;
    }
    const [units, fanIn] = transposed ? [bDims[0]!, bDims[1]!] : [bDims[1]!, bDims[0]!];
    const previous = layers.at(-1)?.units;
    if (previous === undefined) features = fanIn;
    else if (fanIn !== previous) {
      throw unsupported(node, `its weights '${bName}' take ${fanIn} inputs, but the previous layer has ${previous} units`);
    }
    const w = new Float32Array(units * fanIn);
    for (let j = 0; j < units; j++)
      for (let i = 0; i < fanIn; i++) w[j * fanIn + i] = alpha * b[transposed ? j * fanIn + i : i * units + j]!;
    let bias: Float64Array | null = cName ? vector(node, cName, units).map((v) => beta * v) : null;

    // An Add of a constant right after the product is (more) bias.
    let out = node.output?.[0] ?? '';
    for (;;) {
      const next = (consumers.get(out) ?? []).filter((c) => needed.has(c));
      const add = next.length === 1 ? nodes[next[0]!]! : undefined;
      if (add?.opType !== 'Add' || (add.domain && add.domain !== 'ai.onnx')) break;
      const other = (add.input ?? []).find((name) => name !== out);
      const t = other === undefined ? undefined : constant(other);
      if (!t || (t.dims ?? []).filter((d) => d !== 1).length > 1) break;
      const v = vector(add, other!, units);
      bias = bias ? bias.map((x, j) => x + v[j]!) : v;
      used.add(next[0]!);
      out = add.output?.[0] ?? '';
    }

    at = stretch(out);
    const { activation, alpha: slope } = activationOf(at.expr, opset, nameOf, unsupported);
    if (activation === 'softmax' && at.next) {
      const softmax = (at.expr as { node: OnnxNode }).node;
      throw unsupported(softmax, 'Softmax must end the network (mlpkit applies it to the output layer only)');
    }
    layers.push({ units, activation, ...(slope !== undefined ? { alpha: slope } : {}), bias: bias !== null });
    weights.push({ weights: w, bias: bias && Float32Array.from(bias) });
  }
  if (layers.length === 0) throw new RangeError('the ONNX graph has no Gemm or MatMul layer between its input and output');
  const unread = nodes.findIndex((_, i) => needed.has(i) && !used.has(i));
  if (unread >= 0) throw unsupported(nodes[unread]!, 'it is not on the chain of layers from the input to the output');

  const dims = inputType?.shape?.dim ?? [];
  const known = dims.slice(1).map((d) => d.dimValue);
  if (dims.length > 2 && !flattened) {
    throw new RangeError(
      `the ONNX graph's input '${input.name}' has ${dims.length} dimensions; mlpkit reads rows (2) or a Flatten in front`,
    );
  }
  if (known.every((d) => d !== undefined && d > 0) && dims.length >= 2 && product(known as number[]) !== features) {
    throw new RangeError(
      `the ONNX graph's input '${input.name}' has ${product(known as number[])} features, but its first layer takes ${features}`,
    );
  }

  const network: OnnxNetwork = { inputs: features, layers, weights };
  if (scaling.length > 0) {
    // x ↦ (x − mean) / scale, composed step by step in float64: Sub m then Div s give exactly m and s.
    const mean = new Float64Array(features);
    const scale = new Float64Array(features).fill(1);
    for (const { op, node, name } of scaling) {
      const c = vector(node, name, features);
      for (let i = 0; i < features; i++) {
        if (op === 'Sub') mean[i] = mean[i]! + c[i]! * scale[i]!;
        else if (op === 'Add') mean[i] = mean[i]! - c[i]! * scale[i]!;
        else if (op === 'Div') scale[i] = scale[i]! * c[i]!;
        else scale[i] = scale[i]! / c[i]!;
      }
      const bad = scale.findIndex((s, i) => !Number.isFinite(s) || s === 0 || !Number.isFinite(mean[i]!));
      if (bad >= 0) throw unsupported(node, `the input scaling of feature ${bad} is not finite and invertible`);
    }
    if (scale.every((s) => s > 0)) {
      network.scaler = { mean: Array.from(mean), scale: Array.from(scale) };
    } else {
      // A negative factor is no standard scaler: fold the map into the first layer instead.
      const first = layers[0]!;
      const layer: DenseLayer = {
        inputs: features,
        units: first.units,
        weights: weights[0]!.weights,
        bias: weights[0]!.bias as Float32Array | null,
        activation: first.activation ?? 'identity',
        alpha: first.alpha ?? 0,
      };
      const folded = foldScaler(layer, mean, scale);
      weights[0] = { weights: folded.weights, bias: folded.bias };
      first.bias = true;
    }
  }
  const metadata = json('mlpkit.metadata');
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new RangeError(`the ONNX model's metadata_props 'mlpkit.metadata' must be a JSON object, got ${JSON.stringify(metadata)}`);
    }
    network.metadata = metadata as Record<string, unknown>;
  }
  return network;
}

/** The activation a stretch of graph after a layer computes, by template. */
function activationOf(
  e: Expr,
  opset: number,
  nameOf: (node: OnnxNode) => string,
  unsupported: (node: OnnxNode, what: string) => RangeError,
): { activation: Activation; alpha?: number } {
  if (e.kind === 'x') return { activation: 'identity' };
  if (e.kind === 'const') throw new RangeError('a layer is followed by a constant, not by an activation of its output');
  const { node, args } = e;
  const attribute = (name: string) => node.attribute?.find((a) => a.name === name);
  const single = args.length === 1 && args[0]!.kind === 'x';
  switch (single ? node.opType : '') {
    case 'Relu':
      return { activation: 'relu' };
    case 'Sigmoid':
      return { activation: 'sigmoid' };
    case 'Tanh':
      return { activation: 'tanh' };
    case 'LeakyRelu':
      return { activation: 'leaky-relu', alpha: shortestFloat32(attribute('alpha')?.f ?? 0.01) };
    case 'Elu':
      return { activation: 'elu', alpha: shortestFloat32(attribute('alpha')?.f ?? 1) };
    case 'Softmax': {
      // Before opset 13 Softmax flattens from `axis` (default 1), which for rows is the same.
      const axis = attribute('axis')?.i ?? (opset >= 13 ? -1 : 1);
      if (axis !== -1 && axis !== 1)
        throw unsupported(node, `Softmax over axis ${axis} (mlpkit's is over the units of a row: axis 1 or -1)`);
      return { activation: 'softmax' };
    }
    case 'Gelu': {
      const a = attribute('approximate');
      const approximate = a?.s ? new TextDecoder().decode(a.s) : 'none';
      if (approximate !== 'tanh')
        throw unsupported(node, `Gelu with approximate '${approximate}' (mlpkit's gelu is the 'tanh' approximation)`);
      return { activation: 'gelu' };
    }
  }
  if (matches(e, SILU)) return { activation: 'silu' };
  if (matches(e, GELU_TANH)) return { activation: 'gelu' };
  const foreign = findNode(e, (n) => !ACTIVATION_OPS.includes(n.opType ?? ''));
  if (foreign) throw unsupported(foreign, 'not supported');
  throw new RangeError(`${nameOf(node)}: this subgraph after a layer is not one of mlpkit's activations; ${SUPPORTED}`);
}

/** The shortest decimal with the same float32 (float attributes hold 0.2 as 0.20000000298…). */
function shortestFloat32(value: number): number {
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === Math.fround(value)) return candidate;
  }
  return value;
}

/** The first node (inputs first) that passes `test`; each shared subexpression is visited once. */
function findNode(e: Expr, test: (node: OnnxNode) => boolean, seen = new Set<Expr>()): OnnxNode | undefined {
  if (e.kind !== 'op' || seen.has(e)) return undefined;
  seen.add(e);
  for (const arg of e.args) {
    const found = findNode(arg, test, seen);
    if (found) return found;
  }
  return test(e.node) ? e.node : undefined;
}

function matches(e: Expr, p: Pattern): boolean {
  if (p === 'x') return e.kind === 'x';
  if (typeof p === 'number') {
    if (e.kind !== 'const') return false;
    let v: Float64Array;
    try {
      v = tensorValues(e.tensor, e.name);
    } catch {
      return false;
    }
    return v.length === 1 && Math.abs(v[0]! - p) <= 1e-6 * Math.abs(p); // p as float32 or float64
  }
  if (e.kind !== 'op' || e.node.opType !== p[0] || e.args.length !== p.length - 1) return false;
  const [, ...operands] = p;
  if ((p[0] === 'Mul' || p[0] === 'Add') && operands.length === 2) {
    const [a, b] = e.args as [Expr, Expr];
    return (matches(a, operands[0]!) && matches(b, operands[1]!)) || (matches(a, operands[1]!) && matches(b, operands[0]!));
  }
  return operands.every((q, i) => matches(e.args[i]!, q));
}
