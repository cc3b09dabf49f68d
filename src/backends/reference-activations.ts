/**
 * The activations of the reference, element by element: φ(z) and φ'(z) in float64, straight
 * from their definitions (softmax, applied to whole rows, is in reference.ts).
 */
import type { Activation } from '../spec.js';

const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
/** GELU's tanh approximation: ½z(1 + tanh(u)) with u = √(2/π)(z + 0.044715z³). */
const GELU_SCALE = Math.sqrt(2 / Math.PI);
const GELU_CUBIC = 0.044715;

/** φ(z) of every activation but softmax (which is applied per row). */
export function activationForward(kind: Activation, alpha: number, z: number): number {
  switch (kind) {
    case 'identity':
      return z;
    case 'sigmoid':
      return sigmoid(z);
    case 'tanh':
      return Math.tanh(z);
    case 'relu':
      return z > 0 ? z : 0;
    case 'leaky-relu':
      return z > 0 ? z : alpha * z;
    case 'elu':
      return z > 0 ? z : alpha * Math.expm1(z);
    case 'softmax':
      throw new Error('softmax is applied per row, not per element');
    case 'silu':
      return z * sigmoid(z);
    case 'gelu':
      return 0.5 * z * (1 + Math.tanh(GELU_SCALE * (z + GELU_CUBIC * z * z * z)));
  }
}

/** φ'(z). */
export function activationBackward(kind: Activation, alpha: number, z: number): number {
  switch (kind) {
    case 'identity':
      return 1;
    case 'sigmoid': {
      const s = sigmoid(z);
      return s * (1 - s);
    }
    case 'tanh': {
      const t = Math.tanh(z);
      return 1 - t * t;
    }
    case 'relu':
      return z > 0 ? 1 : 0;
    case 'leaky-relu':
      return z > 0 ? 1 : alpha;
    case 'elu':
      return z > 0 ? 1 : alpha * Math.exp(z);
    case 'softmax':
      throw new Error('the softmax derivative is a Jacobian, applied per row');
    case 'silu': {
      const s = sigmoid(z);
      return s * (1 + z * (1 - s));
    }
    case 'gelu': {
      const t = Math.tanh(GELU_SCALE * (z + GELU_CUBIC * z * z * z));
      return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * GELU_SCALE * (1 + 3 * GELU_CUBIC * z * z);
    }
  }
}
