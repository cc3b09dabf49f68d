/**
 * What every interchange format sees of an MLP: a sequence of dense layers. Shared by the
 * TensorFlow.js and ONNX readers and writers.
 */
import type { Activation } from '../spec.js';

/** One dense layer as both sides see it: W (units × inputs, row-major), b or null, and φ. */
export interface DenseLayer {
  readonly inputs: number;
  readonly units: number;
  readonly weights: Float32Array;
  readonly bias: Float32Array | null;
  readonly activation: Activation;
  readonly alpha: number;
}

/**
 * Folds a standard scaler into the first layer: x ↦ (x − mean) / scale, then W·x + b becomes
 * W'·x + b' with W' = W / scale column by column and b' = b − W'·mean (the same map up to
 * float32 rounding). A negative scale folds too.
 */
export function foldScaler(layer: DenseLayer, mean: ArrayLike<number>, scale: ArrayLike<number>): DenseLayer {
  const weights = new Float32Array(layer.weights.length);
  const bias = new Float32Array(layer.units);
  for (let j = 0; j < layer.units; j++) {
    let shift = layer.bias ? layer.bias[j]! : 0;
    for (let i = 0; i < layer.inputs; i++) {
      const w = layer.weights[j * layer.inputs + i]! / scale[i]!;
      weights[j * layer.inputs + i] = w;
      shift -= w * mean[i]!;
    }
    bias[j] = shift;
  }
  return { ...layer, weights, bias };
}
