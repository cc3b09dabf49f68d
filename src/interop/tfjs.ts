/**
 * TensorFlow.js layers models (the `layers-model` format of `model.json` plus a weights file):
 * an MLP written as a `Sequential` model of `Dense` layers, and such a model read back.
 *
 *   activation        Dense activation   else
 *   identity          linear
 *   sigmoid, tanh, relu, softmax          the same name
 *   silu              swish              (x·σ(x))
 *   elu               elu                α = 1 only: TensorFlow.js's ELU layer refuses others
 *   leaky-relu        linear + a LeakyReLU layer
 *   gelu              not written: TensorFlow.js 4 names its tanh approximation 'gelu_new'
 *                     but cannot load it (read back, 'gelu_new' becomes gelu)
 *
 * Kernels are stored [inputs, units] (mlpkit keeps W as units × inputs). A model's stored
 * scaler becomes part of the first layer: W' = W / scale column by column and
 * b' = b − W'·mean, the same map up to float32 rounding.
 */
import { rangeError, typeError } from '../errors.js';
import type { LayerWeights } from '../layout.js';
import type { Activation, LayerOptions } from '../spec.js';
import type { DenseLayer } from './dense.js';

/** The `model.json` of a layers model (what `tf.loadLayersModel` reads). */
export interface TfjsModelJson {
  format: 'layers-model';
  generatedBy: string;
  convertedBy: null;
  modelTopology: {
    class_name: 'Sequential';
    config: { name: string; layers: TfjsLayer[] };
    keras_version: string;
    backend: string;
  };
  weightsManifest: { paths: string[]; weights: TfjsWeightSpec[] }[];
}

export interface TfjsLayer {
  class_name: string;
  config: Record<string, unknown>;
}

export interface TfjsWeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32';
}

const SAME_NAME: readonly Activation[] = ['sigmoid', 'tanh', 'relu', 'softmax'];
const TO_TFJS: Partial<Record<Activation, string>> = { identity: 'linear', silu: 'swish', gelu: 'gelu_new' };
const FROM_TFJS: Record<string, Activation> = { linear: 'identity', swish: 'silu', gelu_new: 'gelu', elu: 'elu' };
for (const name of SAME_NAME) FROM_TFJS[name] = name;

/** The layers-model JSON and weight bytes of a sequence of dense layers. */
export function denseToTfjs(layers: readonly DenseLayer[], generatedBy: string): { modelJson: TfjsModelJson; weights: Uint8Array } {
  const topology: TfjsLayer[] = [];
  const specs: TfjsWeightSpec[] = [];
  const arrays: Float32Array[] = [];
  layers.forEach((layer, l) => {
    const name = `dense_${l + 1}`;
    if (layer.activation === 'gelu') {
      throw new RangeError(
        `layers[${l}].activation 'gelu' cannot be written for TensorFlow.js: its tanh approximation ('gelu_new') does not load in tf.loadLayersModel`,
      );
    }
    if (layer.activation === 'elu' && layer.alpha !== 1) {
      throw new RangeError(
        `layers[${l}].alpha of 'elu' must be 1 for TensorFlow.js, whose ELU layer supports no other, got ${layer.alpha}`,
      );
    }
    const separate = layer.activation === 'leaky-relu';
    const activation = separate ? 'linear' : (TO_TFJS[layer.activation] ?? layer.activation);
    topology.push({
      class_name: 'Dense',
      config: {
        name,
        units: layer.units,
        activation,
        use_bias: layer.bias !== null,
        trainable: true,
        dtype: 'float32',
        ...(l === 0 ? { batch_input_shape: [null, layer.inputs] } : {}),
      },
    });
    if (separate) {
      topology.push({
        class_name: 'LeakyReLU',
        config: { name: `leaky_re_lu_${l + 1}`, alpha: layer.alpha, trainable: true, dtype: 'float32' },
      });
    }
    const kernel = new Float32Array(layer.inputs * layer.units); // [inputs, units]
    for (let j = 0; j < layer.units; j++)
      for (let i = 0; i < layer.inputs; i++) kernel[i * layer.units + j] = layer.weights[j * layer.inputs + i]!;
    specs.push({ name: `${name}/kernel`, shape: [layer.inputs, layer.units], dtype: 'float32' });
    arrays.push(kernel);
    if (layer.bias) {
      specs.push({ name: `${name}/bias`, shape: [layer.units], dtype: 'float32' });
      arrays.push(layer.bias);
    }
  });
  const weights = new Uint8Array(arrays.reduce((bytes, a) => bytes + a.byteLength, 0));
  let at = 0;
  for (const a of arrays) {
    weights.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += a.byteLength;
  }
  return {
    modelJson: {
      format: 'layers-model',
      generatedBy,
      convertedBy: null,
      modelTopology: {
        class_name: 'Sequential',
        config: { name: 'sequential', layers: topology },
        keras_version: 'tfjs-layers',
        backend: 'tensor_flow.js',
      },
      weightsManifest: [{ paths: ['weights.bin'], weights: specs }],
    },
    weights,
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The dense layers of a layers-model `Sequential` model: Dense layers with their activations,
 * LeakyReLU and ELU after a linear Dense, InputLayer and Dropout (skipped at inference).
 * Anything else is rejected with the layer's name and class.
 */
export function denseFromTfjs(
  modelJson: unknown,
  weightBytes: unknown,
): { inputs: number; layers: LayerOptions[]; weights: LayerWeights[] } {
  if (!isObject(modelJson)) throw typeError('modelJson', 'the model.json object of a TensorFlow.js layers model', modelJson);
  const topology = isObject(modelJson.modelTopology) ? modelJson.modelTopology : modelJson;
  const modelConfig = isObject(topology.model_config) ? topology.model_config : topology;
  if (modelConfig.class_name !== 'Sequential' || !isObject(modelConfig.config) || !Array.isArray(modelConfig.config.layers)) {
    throw rangeError('modelJson', "a layers model whose topology is a 'Sequential' model", modelConfig.class_name);
  }
  let bytes: Uint8Array;
  if (weightBytes instanceof Uint8Array) bytes = weightBytes;
  else if (weightBytes instanceof ArrayBuffer) bytes = new Uint8Array(weightBytes);
  else throw typeError('weights', 'the bytes of the weights file (Uint8Array or ArrayBuffer)', weightBytes);
  const manifest = Array.isArray(modelJson.weightsManifest) ? (modelJson.weightsManifest as { weights?: unknown }[]) : [];
  const specs = manifest.flatMap((group) => (Array.isArray(group.weights) ? (group.weights as TfjsWeightSpec[]) : []));
  // The weights file is the concatenation of every spec's values, in manifest order.
  const values = new Map<string, Float32Array>();
  let at = 0;
  for (const spec of specs) {
    if (spec.dtype !== 'float32') throw rangeError(`weight ${spec.name}`, "of dtype 'float32'", spec.dtype);
    const count = spec.shape.reduce((a, b) => a * b, 1);
    if (at + 4 * count > bytes.length) throw rangeError('weights', `at least ${at + 4 * count} bytes (the manifest's weights)`, bytes);
    values.set(spec.name, new Float32Array(bytes.slice(at, at + 4 * count).buffer));
    at += 4 * count;
  }
  if (at !== bytes.length) throw rangeError('weights', `exactly ${at} bytes (the manifest's weights)`, bytes);

  let inputs = 0;
  const layers: LayerOptions[] = [];
  const weights: LayerWeights[] = [];
  for (const [index, layer] of (modelConfig.config.layers as TfjsLayer[]).entries()) {
    const config = isObject(layer?.config) ? layer.config : {};
    const name = String(config.name ?? `layer ${index}`);
    const unsupported = (what: string) =>
      new RangeError(
        `layer '${name}' (${String(layer?.class_name)}): ${what}; supported: Dense (${Object.keys(FROM_TFJS).join(', ')}), LeakyReLU or ELU after a linear Dense, Dropout, InputLayer`,
      );
    const shape = (config.batch_input_shape ?? config.batchInputShape) as unknown;
    if (Array.isArray(shape) && inputs === 0) inputs = Number(shape.at(-1));
    switch (layer?.class_name) {
      case 'InputLayer':
      case 'Dropout':
        continue;
      case 'Dense': {
        const units = Number(config.units);
        const activation = FROM_TFJS[String(config.activation ?? 'linear')];
        if (!activation) throw unsupported(`activation '${String(config.activation)}' has no mlpkit equivalent`);
        const fanIn = layers.length === 0 ? inputs : layers.at(-1)!.units;
        if (!(fanIn > 0)) throw unsupported('the input size is unknown (no batch_input_shape on the first layer)');
        const kernel = [...values.entries()].find(([key]) => key.startsWith(`${name}/`) && key.endsWith('kernel'))?.[1];
        const bias =
          config.use_bias === false
            ? null
            : ([...values.entries()].find(([key]) => key.startsWith(`${name}/`) && key.endsWith('bias'))?.[1] ?? null);
        if (!kernel || kernel.length !== fanIn * units) throw unsupported(`its kernel is missing or not [${fanIn}, ${units}]`);
        if (config.use_bias !== false && (!bias || bias.length !== units)) throw unsupported(`its bias is missing or not [${units}]`);
        const w = new Float32Array(units * fanIn);
        for (let j = 0; j < units; j++) for (let i = 0; i < fanIn; i++) w[j * fanIn + i] = kernel[i * units + j]!;
        layers.push({ units, activation, ...(activation === 'elu' ? { alpha: 1 } : {}), bias: bias !== null });
        weights.push({ weights: w, bias });
        continue;
      }
      case 'LeakyReLU':
      case 'ELU': {
        const previous = layers.at(-1);
        if (!previous || previous.activation !== 'identity') throw unsupported('it must follow a Dense layer with a linear activation');
        previous.activation = layer.class_name === 'LeakyReLU' ? 'leaky-relu' : 'elu';
        previous.alpha = Number(config.alpha ?? (layer.class_name === 'LeakyReLU' ? 0.3 : 1));
        continue;
      }
      default:
        throw unsupported('this layer has no mlpkit equivalent');
    }
  }
  if (layers.length === 0) throw rangeError('modelJson', 'a model with at least one Dense layer', modelJson);
  return { inputs, layers, weights };
}
