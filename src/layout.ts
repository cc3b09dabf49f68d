/**
 * The canonical flat parameter layout, the same on every backend and in saved models:
 *
 *     [W0, b0, W1, b1, …]
 *
 * where W_l is (units_l × inputs_l), row-major — row j holds the incoming weights of unit j —
 * and b_l (units_l) is present only for layers built with a bias. Gradients and optimizer
 * state use the same layout, so an optimizer is one loop over a flat vector.
 */

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
