/**
 * The canonical flat parameter layout, the same on every backend and in saved models:
 *
 *     [W0, b0, W1, b1, …]
 *
 * where W_l is (units_l × inputs_l), row-major — row j holds the incoming weights of unit j —
 * and b_l (units_l) is present only for layers built with a bias. Gradients and optimizer
 * state use the same layout, so an optimizer is one loop over a flat vector. The layout is
 * computed here once; the backends receive its offsets in the layer table of tables.ts.
 */
import { FLOAT32_RANGE, isFiniteFloat32, isNested, toMatrix } from './data.js';
import { checkKnownKeys, checkOptions, rangeError, typeError } from './errors.js';

export interface LayerLayout {
  readonly inputs: number;
  readonly units: number;
  /** Offset of W (units × inputs) in the flat vector. */
  readonly weightOffset: number;
  /** Offset of b (units), or -1 when the layer has no bias. */
  readonly biasOffset: number;
}

export interface ParamLayout {
  readonly layers: readonly LayerLayout[];
  /** Total number of parameters. */
  readonly size: number;
  /** Number of weights (the entries L2 applies to). */
  readonly weightCount: number;
}

export function paramLayout(inputs: number, layers: readonly { units: number; bias: boolean }[]): ParamLayout {
  const result: LayerLayout[] = [];
  let offset = 0;
  let weightCount = 0;
  let fanIn = inputs;
  for (const layer of layers) {
    const weightOffset = offset;
    offset += layer.units * fanIn;
    weightCount += layer.units * fanIn;
    const biasOffset = layer.bias ? offset : -1;
    if (layer.bias) offset += layer.units;
    result.push({ inputs: fanIn, units: layer.units, weightOffset, biasOffset });
    fanIn = layer.units;
  }
  return { layers: result, size: offset, weightCount };
}

/** Weights of one layer, as `MLP.getWeights` returns them and `MLP.setWeights` takes them. */
export interface LayerWeights {
  /** (units × inputs), row-major: row j holds the incoming weights of unit j. */
  weights: Float32Array;
  /** (units), or null for a layer without bias. */
  bias: Float32Array | null;
}

/** What `MLP.setWeights` accepts for one layer: `weights` flat (units × inputs) or as rows, one per unit. */
export interface LayerWeightsInput {
  weights: ArrayLike<number> | readonly (readonly number[])[];
  bias?: ArrayLike<number> | null;
}

/** The flat vector cut into per-layer copies of W and b. */
export function layersFromParams(layout: ParamLayout, params: Float32Array): LayerWeights[] {
  return layout.layers.map(({ inputs, units, weightOffset, biasOffset }) => ({
    weights: params.slice(weightOffset, weightOffset + units * inputs),
    bias: biasOffset >= 0 ? params.slice(biasOffset, biasOffset + units) : null,
  }));
}

/** Per-layer W and b, checked (shapes, finite values), as one flat vector. */
export function paramsFromLayers(layout: ParamLayout, layers: unknown): Float32Array {
  if (!Array.isArray(layers) || layers.length !== layout.layers.length) {
    throw rangeError('layers', `an array of ${layout.layers.length} { weights, bias } entries`, layers);
  }
  const params = new Float32Array(layout.size);
  layout.layers.forEach(({ inputs, units, weightOffset, biasOffset }, l) => {
    const entry = checkOptions<{ weights: unknown; bias: unknown }>(`layers[${l}]`, layers[l]);
    checkKnownKeys(`layers[${l}]`, entry, ['weights', 'bias']);
    const weights = isNested(entry.weights)
      ? toMatrix(`layers[${l}].weights`, entry.weights, inputs).data
      : readVector(`layers[${l}].weights`, entry.weights, units * inputs);
    if (weights.length !== units * inputs) throw rangeError(`layers[${l}].weights`, `${units} rows of ${inputs} weights`, entry.weights);
    params.set(weights, weightOffset);
    if (biasOffset >= 0) {
      params.set(readVector(`layers[${l}].bias`, entry.bias, units), biasOffset);
    } else if (entry.bias !== undefined && entry.bias !== null) {
      throw rangeError(`layers[${l}].bias`, 'null (the layer has no bias)', entry.bias);
    }
  });
  return params;
}

function readVector(name: string, value: unknown, length: number): Float32Array {
  if (!(Array.isArray(value) || value instanceof Float32Array || value instanceof Float64Array)) {
    throw typeError(name, `an array of ${length} numbers`, value);
  }
  if (value.length !== length) throw rangeError(name, `an array of ${length} numbers`, value);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    const v = value[i];
    if (typeof v !== 'number' || !isFiniteFloat32(v)) {
      throw rangeError(`${name}[${i}]`, typeof v === 'number' && Number.isFinite(v) ? FLOAT32_RANGE : 'a finite number', v);
    }
    out[i] = v;
  }
  return out;
}
