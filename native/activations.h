// Activations of the native backend and their derivatives. Most derivatives are taken from the
// activation's *output* a = φ(z), which is what the forward pass keeps:
//   sigmoid φ' = a(1 − a),  tanh φ' = 1 − a²,  relu φ' = [a > 0],  leaky-relu φ' = a > 0 ? 1 : α,
//   elu φ' = a > 0 ? 1 : a + α  (a > 0 exactly when z > 0 for every one of them).
// silu and gelu are not invertible from a, so their layers also keep z and take φ'(z)
// (activation_derivative_from_input, generated from src/spec.ts).
// The codes (Activation, Loss, Optimizer) are generated from src/spec.ts into generated/tables.h.
#ifndef MLPKIT_NATIVE_ACTIVATIONS_H_
#define MLPKIT_NATIVE_ACTIVATIONS_H_

#include <cmath>
#include <cstdint>

#include "generated/tables.h"

namespace mlpkit {

inline float sigmoid(float z) {
  // Never overflows: exp of a non-positive number only.
  if (z >= 0.0f) return 1.0f / (1.0f + std::exp(-z));
  const float e = std::exp(z);
  return e / (1.0f + e);
}

// GELU's tanh approximation: ½z(1 + tanh(u)), u = √(2/π)(z + 0.044715z³).
constexpr float kGeluScale = 0.7978845608028654f;
constexpr float kGeluCubic = 0.044715f;

// φ(z) for every activation but softmax (applied per row).
inline float activation_forward(Activation kind, float alpha, float z) {
  switch (kind) {
    case Activation::Sigmoid: return sigmoid(z);
    case Activation::Tanh: return std::tanh(z);
    case Activation::Relu: return z > 0.0f ? z : 0.0f;
    case Activation::LeakyRelu: return z > 0.0f ? z : alpha * z;
    case Activation::Elu: return z > 0.0f ? z : alpha * std::expm1(z);
    case Activation::Silu: return z * sigmoid(z);
    case Activation::Gelu: return 0.5f * z * (1.0f + std::tanh(kGeluScale * (z + kGeluCubic * z * z * z)));
    default: return z;
  }
}

// φ'(z) expressed through a = φ(z).
inline float activation_backward(Activation kind, float alpha, float a) {
  switch (kind) {
    case Activation::Sigmoid: return a * (1.0f - a);
    case Activation::Tanh: return 1.0f - a * a;
    case Activation::Relu: return a > 0.0f ? 1.0f : 0.0f;
    case Activation::LeakyRelu: return a > 0.0f ? 1.0f : alpha;
    case Activation::Elu: return a > 0.0f ? 1.0f : a + alpha;
    default: return 1.0f;
  }
}

// φ'(z) of the activations whose derivative needs z.
inline float activation_backward_from_input(Activation kind, float alpha, float z) {
  switch (kind) {
    case Activation::Silu: {
      const float s = sigmoid(z);
      return s * (1.0f + z * (1.0f - s));
    }
    case Activation::Gelu: {
      const float t = std::tanh(kGeluScale * (z + kGeluCubic * z * z * z));
      return 0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * kGeluScale * (1.0f + 3.0f * kGeluCubic * z * z);
    }
    default: return 1.0f;
  }
}

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_ACTIVATIONS_H_
