// Activations of the native backend and their derivatives. Derivatives are taken from the
// activation's *output* a = φ(z), which is what the forward pass keeps:
//   sigmoid φ' = a(1 − a),  tanh φ' = 1 − a²,  relu φ' = [a > 0],  leaky-relu φ' = a > 0 ? 1 : α,
//   elu φ' = a > 0 ? 1 : a + α  (a > 0 exactly when z > 0 for every one of them).
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

// φ(z) for every activation but softmax (applied per row).
inline float activation_forward(Activation kind, float alpha, float z) {
  switch (kind) {
    case Activation::Sigmoid: return sigmoid(z);
    case Activation::Tanh: return std::tanh(z);
    case Activation::Relu: return z > 0.0f ? z : 0.0f;
    case Activation::LeakyRelu: return z > 0.0f ? z : alpha * z;
    case Activation::Elu: return z > 0.0f ? z : alpha * std::expm1(z);
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

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_ACTIVATIONS_H_
