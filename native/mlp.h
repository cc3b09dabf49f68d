// The training step of the native backend, in plain C++ (no N-API): the same order and the
// same names as the TypeScript reference and the AssemblyScript build.
//
//   for l in 0..L-1:  out_l = A_{l-1} · W_lᵀ  + b_l, then φ_l and the dropout mask, fused in
//                     the GEMM epilogue (the output layer keeps its logits for the loss)
//   loss:             per row, the loss, ŷ and δ_L (softmax+CE and sigmoid+BCE fused: ŷ − y),
//                     in the output layer's epilogue when its parts own whole rows (loss_post),
//                     else as a pass of its own (loss_forward); then the mean in row order
//   for l in L-1..0:  δ_{l-1} = (δ_l · W_l) ⊙ φ'_{l-1} ⊙ keep_{l-1}   (GEMM "NN", fused epilogue),
//                     first, since it reads W_l before the update
//                     db_l = Σ_rows δ_l, and b_l's update
//                     dW_l = δ_lᵀ · A_{l-1} + 2·l2·W_l   (GEMM "TN"), with L2 and W_l's
//                     optimizer update fused in the epilogue, while dW_l is still in cache
//
// Threads: a call (a chunk of batches, a prediction) is one parallel region of the model's own
// team (team.h), on as many of its threads as the call's work keeps busy. Every thread runs the
// same loop on its part of each phase — a share of each GEMM (gemm.h: plan_gemm / run_gemm_part;
// the parts share out their units at run time, share_gemm), of the rows (gather, loss), of the
// columns (bias gradients) — with a barrier between dependent phases. Each element is computed
// by the same operations whatever the split, and reductions (the loss) run in row order, so
// results are bit-identical for any thread count.
//
// The model arrives as the tables of src/tables.ts (read_tables), offsets included: nothing
// about the layout is recomputed here. Memory is owned by JavaScript and borrowed (see bind()):
//   state    (kStateVectorCount·P floats)  params | grads | moment1 | moment2, each in the layout of src/layout.ts
//   counters (kCounterCount doubles)   update step t, β1^t, β2^t
//   scratch  (scratch_floats(capacity))  per layer: out, delta (capacity × units each), keep
//            for layers with dropout and pre (z) for activations whose φ' needs z; then the
//            gathered batch x and y
// Allocated here, never inside a step: the GEMM packing workspace (reserve()), the per-row
// penalty sums (bind()) and, on the first prediction after the weights change, a copy of the
// weights laid out for predictions of that size.
#ifndef MLPKIT_NATIVE_MLP_H_
#define MLPKIT_NATIVE_MLP_H_

#include <atomic>
#include <memory>
#include <cstdint>
#include <string>
#include <vector>

#include "activations.h"
#include "gemm/gemm.h"
#include "team.h"

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

// One optimizer update's constants: the rule, this batch's learning rate and, for Adam, the
// bias corrections 1/(1 − β^t).
struct UpdateRule {
  Optimizer kind;
  float lr, mu, b1, b2, one_minus_b1, one_minus_b2, c1, c2, eps;
};

class Mlp {
 public:
  explicit Mlp(ModelSpec spec);

  const ModelSpec& spec() const { return spec_; }
  int64_t state_floats() const { return kStateVectorCount * spec_.param_count; }
  int64_t scratch_floats(int capacity) const;
  int capacity() const { return capacity_; }
  int threads() const { return team_ ? team_->size() : 1; }  // the team: the most a call may use
  int last_parts() const { return parts_; }                   // the threads the latest call ran on

  // Points the model at JavaScript-owned memory, sized by state_floats and scratch_floats.
  void bind(float* state, double* counters, float* scratch, int capacity);
  // The training set the batches are gathered from, borrowed: x as float32 or as bytes (pixel
  // data read in place), optionally standardized as it is gathered, x' = (x − mean) / scale in
  // double rounded once to float (scaling: mean[inputs] then scale[inputs]), the same bits as
  // a scaled copy made in JavaScript.
  void bind_data(const float* x, const uint8_t* x_bytes, const double* scaling, const float* y, int rows);
  // A team of `threads` for this model alone (at most the CPUs available: see mlp.cc).
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
  // The weights were written from outside (JavaScript owns the state): the copies that
  // predictions read are stale.
  void weights_changed() { weight_copies_stale(); }
  // l2 · ‖W‖² (biases are not penalized).
  double penalty() const;

 private:
  // The phases of a step, each run by every thread t of the team on its part; the GEMMs end in
  // a barrier.
  // row_wise: the epilogue's post works on whole rows; when the plan's parts split the columns
  // it is left out (the bias is still added) and gemm returns false.
  // packed_b and dots: op(B) as plan_gemm takes them.
  bool gemm(Trans ta, Trans tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
            const GemmEpilogue& epilogue, int t, const float* packed_b = nullptr, bool row_wise = false,
            const float* dots = nullptr);
  // A copy of every layer's W laid out for the forward products of predictions, made on the
  // first prediction after the weights change, instead of reading or packing W in every call:
  // as the packed path's B panels (pack_b_panels) for batches past the direct path, or for the
  // direct path's dot products (pack_dot_panels) for a few rows. Each costs one more copy of
  // the weights; training leaves both stale (the weights change every step).
  struct WeightCopy {
    explicit WeightCopy(bool dot_layout) : dots(dot_layout) {}
    bool dots;                // the layout: dot products, or B panels
    GemmWorkspace data;
    std::vector<int64_t> at;  // floats to layer l's copy, 64-byte aligned
    bool valid = false;       // made since the weights last changed
    bool wanted = false;      // a call since then read W in place instead (the dot layout only)
  };
  // W from `copy` when not null. With targets y (a training step), the last layer's epilogue
  // computes the loss rows too when it can; returns whether it did.
  bool forward(int t, const float* x, int n, bool training, const WeightCopy* copy = nullptr, const float* y = nullptr);
  // Before a region that predicts n rows: the copy that serves it, its memory reserved, or null
  // (W read in place; or no memory for a copy, and W packed per call as training does).
  WeightCopy* weights_for(int n);
  void lay_out_weights(WeightCopy& copy, int t);  // inside that region, when the copy is not valid
  void weight_copies_stale() { panels_.valid = dots_.valid = dots_.wanted = false; }
  void output_activation(int r0, int r1);                  // ŷ = φ_L(logits) of rows [r0, r1)
  void loss_rows(const float* y, int n, int r0, int r1);   // per-row loss, ŷ and δ_L of rows [r0, r1)
  // The mean data loss, the same on every thread; rows_done: loss_rows already ran on every row
  // (in the output layer's epilogue, whose barrier ended the product).
  double loss_forward(int t, const float* y, int n, bool rows_done = false);
  struct LossEpilogue {
    Mlp* mlp;
    const float* y;
    int n;
  };
  static void loss_post(void* user, float* c, int ldc, int row0, int col0, int rows, int cols);  // GemmEpilogue::post
  // null update: gradients only. Ends without a barrier: the caller's (or the region's end)
  // ends the step.
  void backward(int t, const float* x, int n, const UpdateRule* update);
  double step(int t, const float* x, const float* y, int n, double learning_rate);  // ends like backward
  UpdateRule next_update(double learning_rate) const;     // from the counters as they stand
  void advance_counters();                                // once per step, by thread 0
  void penalty_rows(int t);        // row_penalty_ of thread t's share of the rows of every W
  double summed_penalty() const;   // l2 · Σ row_penalty_ in row order: penalty()'s bits
  void reserve_workspace(int capacity, int threads);  // grows workspace_ (may throw std::bad_alloc)
  // Runs body(t) as one parallel region on the threads that `flops` of work per batch keeps
  // busy (see mlp.cc), setting parts_ for the phases inside.
  template <typename Body>
  void run_region(double flops, double flops_per_part, Body& body);

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
  void gather_row(float* out, int64_t row) const;
  const float* data_x_ = nullptr;
  const uint8_t* data_x_bytes_ = nullptr;
  const double* data_scaling_ = nullptr;
  const float* data_y_ = nullptr;
  int data_rows_ = 0;
  std::unique_ptr<Team> team_;
  bool exact_threads_ = false;  // MLPKIT_FORCE_THREADS=1: every call on the whole team, however small
  int parts_ = 1;               // threads of the region under way; its phases split their work by it
  // The parts of every product share out their units (see GemmShare), each thread numbering
  // the products it runs in a region the same way.
  GemmShare share_;
  uint16_t share_tags_[kMaxSharingParts] = {};
  double forward_flops_ = 0;    // per row: the forward products
  double training_flops_ = 0;   // per row: forward, weight gradients and deltas
  GemmWorkspace workspace_;
  WeightCopy panels_{false}, dots_{true};
  std::vector<double> row_loss_;  // (capacity): the loss of each row of a batch
  double penalty_ = 0.0;          // l2·‖W‖² of the step under way
  std::vector<double> row_penalty_;  // Σ w² of each row of every W (layer by layer), when l2 > 0
};

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_MLP_H_
