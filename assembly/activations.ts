// Activations and their derivatives, as in native/activations.h. Most derivatives are taken
// from the activation's output a = φ(z), which is what the forward pass keeps:
//   sigmoid φ' = a(1 − a),  tanh φ' = 1 − a²,  relu φ' = [a > 0],  leaky-relu φ' = a > 0 ? 1 : α,
//   elu φ' = a > 0 ? 1 : a + α.
// silu and gelu are not invertible from a, so their layers also keep z and take φ'(z)
// (activation_derivative_from_input, generated from src/spec.ts).
// The block loops apply them to a (rows, cols) block of a row-major matrix, the shape a GEMM
// epilogue hands over. Where the SIMD form rounds exactly like the scalar one (relu, leaky-relu,
// every derivative) it has a v128 body; sigmoid, tanh and elu go through Mathf per element, so
// both builds give the same bits.
// The codes are generated from src/spec.ts into generated/tables.ts.

import { Activation } from './generated/tables';

/** σ(z), never overflowing: exp of a non-positive number only. */
// @ts-ignore: decorator
@inline export function sigmoid(z: f32): f32 {
  if (z >= 0) return 1 / (1 + Mathf.exp(-z));
  const e = Mathf.exp(z);
  return e / (1 + e);
}

// GELU's tanh approximation: ½z(1 + tanh(u)), u = √(2/π)(z + 0.044715z³).
const GELU_SCALE: f32 = 0.7978845608028654;
const GELU_CUBIC: f32 = 0.044715;

// @ts-ignore: decorator
@inline function gelu(z: f32): f32 {
  return 0.5 * z * (1 + Mathf.tanh(GELU_SCALE * (z + GELU_CUBIC * z * z * z)));
}

/** φ(z) for every activation but softmax (applied per row). */
export function activation_forward(kind: i32, alpha: f32, z: f32): f32 {
  switch (kind) {
    case Activation.Sigmoid: return sigmoid(z);
    case Activation.Tanh: return Mathf.tanh(z);
    case Activation.Relu: return z > 0 ? z : 0;
    case Activation.LeakyRelu: return z > 0 ? z : alpha * z;
    case Activation.Elu: return z > 0 ? z : alpha * Mathf.expm1(z);
    case Activation.Silu: return z * sigmoid(z);
    case Activation.Gelu: return gelu(z);
    default: return z;
  }
}

/** φ'(z) expressed through a = φ(z). */
export function activation_backward(kind: i32, alpha: f32, a: f32): f32 {
  switch (kind) {
    case Activation.Sigmoid: return a * (1 - a);
    case Activation.Tanh: return 1 - a * a;
    case Activation.Relu: return a > 0 ? 1 : 0;
    case Activation.LeakyRelu: return a > 0 ? 1 : alpha;
    case Activation.Elu: return a > 0 ? 1 : a + alpha;
    default: return 1;
  }
}

/** φ'(z) of the activations whose derivative needs z. */
export function activation_backward_from_input(kind: i32, alpha: f32, z: f32): f32 {
  switch (kind) {
    case Activation.Silu: {
      const s = sigmoid(z);
      return s * (1 + z * (1 - s));
    }
    case Activation.Gelu: {
      const t = Mathf.tanh(GELU_SCALE * (z + GELU_CUBIC * z * z * z));
      return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * GELU_SCALE * (1 + 3 * GELU_CUBIC * z * z);
    }
    default: return 1;
  }
}

/** c ← φ(c) on a block; the switch sits outside the loops. */
export function activation_forward_block(
  kind: i32, alpha: f32,
  c: usize, // (rows, cols), row stride ldc
  ldc: i32, rows: i32, cols: i32,
): void {
  if (kind == Activation.Identity || kind == Activation.Softmax) return;
  const stride = <usize>ldc << 2;
  for (let r = 0; r < rows; ++r, c += stride) {
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      if (kind == Activation.Relu) {
        // pmax(0, z) = 0 < z ? z : 0, which is z > 0 ? z : 0 for NaN and −0 as well.
        const zero = f32x4.splat(0);
        for (; j + 4 <= cols; j += 4) {
          const p = c + (<usize>j << 2);
          v128.store(p, f32x4.pmax(zero, v128.load(p)));
        }
      } else if (kind == Activation.LeakyRelu) {
        const zero = f32x4.splat(0);
        const slope = f32x4.splat(alpha);
        for (; j + 4 <= cols; j += 4) {
          const p = c + (<usize>j << 2);
          const z = v128.load(p);
          v128.store(p, v128.bitselect(z, f32x4.mul(slope, z), f32x4.gt(z, zero)));
        }
      }
    }
    switch (kind) {
      case Activation.Sigmoid: for (; j < cols; ++j) { const p = c + (<usize>j << 2); store<f32>(p, sigmoid(load<f32>(p))); } break;
      case Activation.Tanh: for (; j < cols; ++j) { const p = c + (<usize>j << 2); store<f32>(p, Mathf.tanh(load<f32>(p))); } break;
      case Activation.Relu: for (; j < cols; ++j) { const p = c + (<usize>j << 2); const z = load<f32>(p); store<f32>(p, z > 0 ? z : 0); } break;
      case Activation.LeakyRelu: for (; j < cols; ++j) { const p = c + (<usize>j << 2); const z = load<f32>(p); store<f32>(p, z > 0 ? z : alpha * z); } break;
      case Activation.Elu: for (; j < cols; ++j) { const p = c + (<usize>j << 2); const z = load<f32>(p); store<f32>(p, z > 0 ? z : alpha * Mathf.expm1(z)); } break;
      case Activation.Silu: for (; j < cols; ++j) { const p = c + (<usize>j << 2); const z = load<f32>(p); store<f32>(p, z * sigmoid(z)); } break;
      case Activation.Gelu: for (; j < cols; ++j) { const p = c + (<usize>j << 2); store<f32>(p, gelu(load<f32>(p))); } break;
      default: break;
    }
  }
}

/** c ← c ⊙ φ'(a) on a block, where `a` holds the outputs at the block's position. */
export function activation_backward_block(
  kind: i32, alpha: f32,
  c: usize, // (rows, cols), row stride ldc
  ldc: i32, rows: i32, cols: i32,
  a: usize, // (rows, cols), row stride lda: φ(z)
  lda: i32,
): void {
  if (kind == Activation.Identity || kind == Activation.Softmax) return;
  const c_stride = <usize>ldc << 2;
  const a_stride = <usize>lda << 2;
  for (let r = 0; r < rows; ++r, c += c_stride, a += a_stride) {
    let j = 0;
    if (ASC_FEATURE_SIMD) {
      const zero = f32x4.splat(0);
      const one = f32x4.splat(1);
      const slope = f32x4.splat(alpha);
      for (; j + 4 <= cols; j += 4) {
        const p = c + (<usize>j << 2);
        const y = v128.load(a + (<usize>j << 2));
        let d: v128;
        switch (kind) {
          case Activation.Sigmoid: d = f32x4.mul(y, f32x4.sub(one, y)); break;
          case Activation.Tanh: d = f32x4.sub(one, f32x4.mul(y, y)); break;
          case Activation.Relu: d = v128.and(f32x4.gt(y, zero), one); break;
          case Activation.LeakyRelu: d = v128.bitselect(one, slope, f32x4.gt(y, zero)); break;
          default: d = v128.bitselect(one, f32x4.add(y, slope), f32x4.gt(y, zero)); break;
        }
        v128.store(p, f32x4.mul(v128.load(p), d));
      }
    }
    for (; j < cols; ++j) {
      const p = c + (<usize>j << 2);
      store<f32>(p, load<f32>(p) * activation_backward(kind, alpha, load<f32>(a + (<usize>j << 2))));
    }
  }
}

/** c ← c ⊙ φ'(z) on a block, for the activations whose derivative needs z; `z` holds it at the block's position. */
export function activation_backward_from_input_block(
  kind: i32, alpha: f32,
  c: usize, // (rows, cols), row stride ldc
  ldc: i32, rows: i32, cols: i32,
  z: usize, // (rows, cols), row stride ldz
  ldz: i32,
): void {
  const c_stride = <usize>ldc << 2;
  const z_stride = <usize>ldz << 2;
  for (let r = 0; r < rows; ++r, c += c_stride, z += z_stride) {
    for (let j = 0; j < cols; ++j) {
      const p = c + (<usize>j << 2);
      store<f32>(p, load<f32>(p) * activation_backward_from_input(kind, alpha, load<f32>(z + (<usize>j << 2))));
    }
  }
}
