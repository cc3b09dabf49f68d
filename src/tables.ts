/**
 * The model as the compiled backends receive it: numbers only, computed once here.
 *
 *   layers       Int32Array, one row of LAYER_FIELDS per layer: fan-in, units, activation
 *                code, bias (0/1), and the offsets of W and b in the flat parameter vector
 *                (layout.ts) — the backends read the offsets, they never recompute them
 *   layerValues  Float64Array, one row of LAYER_VALUES per layer: α, dropout rate
 *   hyper        Float64Array of HYPER_FIELDS: the optimizer's constants and the L2 factor
 *   counters     Float64Array of COUNTER_FIELDS, owned by the caller and updated by each step
 *
 * These field lists, the codes of spec.ts and the random streams of rng.ts are the single
 * source of the compiled backends' tables: `npm run generate` writes them into
 * native/generated/tables.h and assembly/generated/tables.ts, and a test fails when those
 * files are stale.
 */
import type { ParamLayout } from './layout.js';
import { seedKey } from './rng.js';
import { ACTIVATION_CODE, LOSS_CODE, OPTIMIZER_CODE, type ModelSpec } from './spec.js';

export const LAYER_FIELDS = ['inputs', 'units', 'activation', 'bias', 'weightOffset', 'biasOffset'] as const;
export const LAYER_VALUES = ['alpha', 'dropout'] as const;
export const HYPER_FIELDS = ['momentum', 'beta1', 'beta2', 'epsilon', 'l2'] as const;
/** The update step t, and β1^t, β2^t as running products (so every backend gets the same bits). */
export const COUNTER_FIELDS = ['step', 'beta1Power', 'beta2Power'] as const;
/** The optimizer state is four vectors of the parameter count, one after the other. */
export const STATE_VECTORS = ['params', 'grads', 'moment1', 'moment2'] as const;

const field = <T extends string>(names: readonly T[]): Readonly<Record<T, number>> =>
  Object.fromEntries(names.map((name, i) => [name, i])) as Record<T, number>;
export const LAYER_FIELD = field(LAYER_FIELDS);
export const LAYER_VALUE = field(LAYER_VALUES);
export const HYPER_FIELD = field(HYPER_FIELDS);
export const COUNTER_FIELD = field(COUNTER_FIELDS);

/** A model in the compiled backends' terms (and, for the reference, its spec and layout). */
export interface ModelTables {
  readonly spec: ModelSpec;
  readonly layout: ParamLayout;
  /** Parameters in the flat vector. */
  readonly parameters: number;
  readonly inputs: number;
  readonly outputs: number;
  /** LAYER_FIELDS × layers. */
  readonly layers: Int32Array;
  /** LAYER_VALUES × layers. */
  readonly layerValues: Float64Array;
  readonly hyper: Float64Array;
  readonly loss: number;
  readonly optimizer: number;
  /** The seed as the two 32-bit words of the random key. */
  readonly seed: readonly [number, number];
}

/** A fresh counters array: no update yet, β^0 = 1. */
export function initialCounters(): Float64Array {
  const counters = new Float64Array(COUNTER_FIELDS.length);
  counters[COUNTER_FIELD.beta1Power] = 1;
  counters[COUNTER_FIELD.beta2Power] = 1;
  return counters;
}

export function modelTables(spec: ModelSpec, layout: ParamLayout): ModelTables {
  const layers = new Int32Array(LAYER_FIELDS.length * spec.layers.length);
  const layerValues = new Float64Array(LAYER_VALUES.length * spec.layers.length);
  spec.layers.forEach((layer, l) => {
    const { inputs, units, weightOffset, biasOffset } = layout.layers[l]!;
    const row: Record<(typeof LAYER_FIELDS)[number], number> = {
      inputs,
      units,
      activation: ACTIVATION_CODE[layer.activation],
      bias: layer.bias ? 1 : 0,
      weightOffset,
      biasOffset,
    };
    LAYER_FIELDS.forEach((name, i) => {
      layers[l * LAYER_FIELDS.length + i] = row[name];
    });
    layerValues[l * LAYER_VALUES.length + LAYER_VALUE.alpha] = layer.alpha;
    layerValues[l * LAYER_VALUES.length + LAYER_VALUE.dropout] = spec.dropout[l]!;
  });
  const { momentum, beta1, beta2, epsilon } = spec.optimizer;
  const hyperValues: Record<(typeof HYPER_FIELDS)[number], number> = { momentum, beta1, beta2, epsilon, l2: spec.l2 };
  return {
    spec,
    layout,
    parameters: layout.size,
    inputs: spec.inputs,
    outputs: spec.layers[spec.layers.length - 1]!.units,
    layers,
    layerValues,
    hyper: Float64Array.from(HYPER_FIELDS, (name) => hyperValues[name]),
    loss: LOSS_CODE[spec.loss],
    optimizer: OPTIMIZER_CODE[spec.optimizer.type],
    seed: seedKey(spec.seed),
  };
}
