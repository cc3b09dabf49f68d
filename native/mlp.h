// The training step of the native backend, in plain C++ (no N-API): the same order and the
// same names as the TypeScript reference and the AssemblyScript build.
//
//   for l in 0..L-1:  out_l = A_{l-1} · W_lᵀ  + b_l, then φ_l and the dropout mask, fused in
//                     the GEMM epilogue (the output layer keeps its logits for the loss)
//   loss_forward:     mean loss over the rows; fused δ_L (softmax+CE and sigmoid+BCE: ŷ − y)
//   for l in L-1..0:  dW_l = δ_lᵀ · A_{l-1} + 2·l2·W_l   (GEMM "TN", L2 fused in the epilogue)
//                     db_l = Σ_rows δ_l
//                     δ_{l-1} = (δ_l · W_l) ⊙ φ'_{l-1} ⊙ keep_{l-1}   (GEMM "NN", fused epilogue)
//   optimizer_update: one loop over the flat parameter vector
//
// The model arrives as the tables of src/tables.ts (read_tables), offsets included: nothing
// about the layout is recomputed here. Memory is owned by JavaScript and borrowed (see bind()):
//   state    (kStateVectorCount·P floats)  params | grads | moment1 | moment2, each in the layout of src/layout.ts
//   counters (kCounterCount doubles)   update step t, β1^t, β2^t
//   scratch  (scratch_floats(capacity))  per layer: out, delta (capacity × units each), keep
//            for layers with dropout and pre (z) for activations whose φ' needs z; then the
//            gathered batch x and y
// Only the GEMM packing workspace is allocated here, in reserve(), never inside a step.
#ifndef MLPKIT_NATIVE_MLP_H_
#define MLPKIT_NATIVE_MLP_H_

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "activations.h"
#include "gemm/gemm.h"

namespace mlpkit {

struct LayerSpec {
  int inputs = 0;
  int units = 0;
  Activation activation = Activation::Identity;
  float alpha = 0.0f;
  bool bias = true;
  double dropout = 0.0;
  int64_t weight_offset = 0;  // W (units, inputs) in the flat vector
  int64_t bias_offset = -1;   // b (units), or -1
};

struct ModelSpec {
  int inputs = 0;
  std::vector<LayerSpec> layers;
  Loss loss = Loss::Mse;
  Optimizer optimizer = Optimizer::Sgd;
  double momentum = 0.0, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, l2 = 0.0;
  uint32_t seed_lo = 0, seed_hi = 0;
  int64_t param_count = 0;

  int outputs() const { return layers.back().units; }
};

// The layer table (kLayerFieldCount int32 per layer), the layer values (kLayerValueCount
// doubles per layer) and the optimizer constants (kHyperFieldCount doubles), as src/tables.ts
// writes them. Checks every code, that each layer's fan-in is the units below it, and that W
// and b lie inside the `parameters` of the state, so that no later step can address outside
// it; returns an error message, or "" with `out` filled.
std::string read_tables(int64_t parameters, const int32_t* layers, int64_t layer_count, const double* values,
                        const double* hyper, int64_t loss, int64_t optimizer, uint32_t seed_lo, uint32_t seed_hi,
                        ModelSpec* out);

class Mlp {
 public:
  explicit Mlp(ModelSpec spec);

  const ModelSpec& spec() const { return spec_; }
  int64_t state_floats() const { return kStateVectorCount * spec_.param_count; }
  int64_t scratch_floats(int capacity) const;
  int capacity() const { return capacity_; }
  int threads() const { return threads_; }

  // Points the model at JavaScript-owned memory, sized by state_floats and scratch_floats.
  void bind(float* state, double* counters, float* scratch, int capacity);
  void bind_data(const float* x, const float* y, int rows);
  void set_threads(int threads);

  // One step on n rows (n ≤ capacity). Returns the mean loss + L2 penalty; when that is not
  // finite, the parameters are left untouched.
  double train_step(const float* x, const float* y, int n, double learning_rate);
  // Batches first … first+count−1 of the bound data set: batch b is the rows
  // order[bounds[b] … bounds[b+1]), trained with learning_rates[b], its loss written to
  // losses[b] (see RawModel.train in src/backend.ts). Stops after a loss that is not finite or
  // after `stop`; returns the number of batches whose loss was written.
  int train(const int32_t* order, const int32_t* bounds, int first, int count, const double* learning_rates,
            double* losses, const std::atomic<bool>& stop);
  // Mean loss + L2 penalty of n ≤ capacity rows without dropout, and its gradient in grads;
  // no update.
  double loss_and_gradient(const float* x, const float* y, int n);
  // Σ of the loss over n ≤ capacity rows, without dropout or penalty; ŷ into `out` (n, outputs)
  // unless it is null.
  double evaluate(const float* x, const float* y, int n, float* out);
  // ŷ for n ≤ capacity rows.
  void predict(const float* x, int n, float* out);
  // l2 · ‖W‖² (biases are not penalized).
  double penalty() const;

 private:
  void forward(const float* x, int n, bool training);
  double loss_forward(const float* y, int n);  // writes ŷ into the last out and δ_L
  void output_activation(int n);               // ŷ = φ_L(logits), for predictions
  void backward(const float* x, int n);
  void optimizer_update(double learning_rate);
  GemmContext context();

  ModelSpec spec_;
  float* params_ = nullptr;
  float* grads_ = nullptr;
  float* moment1_ = nullptr;
  float* moment2_ = nullptr;
  double* counters_ = nullptr;
  std::vector<float*> out_, delta_, keep_, pre_;
  float* batch_x_ = nullptr;
  float* batch_y_ = nullptr;
  int capacity_ = 0;
  const float* data_x_ = nullptr;
  const float* data_y_ = nullptr;
  int data_rows_ = 0;
  int threads_ = 1;
  GemmWorkspace workspace_;
};

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_MLP_H_
