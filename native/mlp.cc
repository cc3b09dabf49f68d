#include "mlp.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>

#include "gemm/cpu.h"
#include "rng.h"

namespace mlpkit {

std::string read_tables(int64_t parameters, const int32_t* layers, int64_t layer_count, const double* values,
                        const double* hyper, int64_t loss, int64_t optimizer, uint32_t seed_lo, uint32_t seed_hi,
                        ModelSpec* out) {
  if (layer_count < 1) return "a model needs at least one layer";
  if (parameters < 1 || parameters > std::numeric_limits<int32_t>::max()) return "the parameter count must be between 1 and 2^31 - 1";
  if (loss < 0 || loss >= kLossCount) return "loss must be a code between 0 and " + std::to_string(kLossCount - 1);
  if (optimizer < 0 || optimizer >= kOptimizerCount) return "optimizer must be a code between 0 and " + std::to_string(kOptimizerCount - 1);
  ModelSpec spec;
  for (int64_t l = 0; l < layer_count; ++l) {
    const int32_t* row = layers + l * kLayerFieldCount;
    const double* value = values + l * kLayerValueCount;
    const std::string name = "layers[" + std::to_string(l) + "]";
    const bool output = l == layer_count - 1;
    LayerSpec layer;
    layer.inputs = row[kLayerFieldInputs];
    layer.units = row[kLayerFieldUnits];
    layer.bias = row[kLayerFieldBias] != 0;
    layer.weight_offset = row[kLayerFieldWeightOffset];
    layer.bias_offset = row[kLayerFieldBiasOffset];
    layer.alpha = static_cast<float>(value[kLayerValueAlpha]);
    layer.dropout = value[kLayerValueDropout];
    const int32_t activation = row[kLayerFieldActivation];
    if (layer.units < 1 || layer.units > (1 << 24)) return name + ".units must be between 1 and 2^24, got " + std::to_string(layer.units);
    if (layer.inputs != (l == 0 ? layer.inputs : spec.layers.back().units) || layer.inputs < 1 || layer.inputs > (1 << 24)) {
      return name + ".inputs must be the units of the layer below (between 1 and 2^24), got " + std::to_string(layer.inputs);
    }
    if (activation < 0 || activation >= kActivationCount) {
      return name + ".activation must be a code between 0 and " + std::to_string(kActivationCount - 1) + ", got " + std::to_string(activation);
    }
    layer.activation = static_cast<Activation>(activation);
    if (layer.activation == Activation::Softmax && !output) return name + ".activation softmax is only allowed on the output layer";
    const int64_t weights = static_cast<int64_t>(layer.units) * layer.inputs;
    if (layer.weight_offset < 0 || layer.weight_offset + weights > parameters ||
        (layer.bias && (layer.bias_offset < 0 || layer.bias_offset + layer.units > parameters)) || (!layer.bias && layer.bias_offset != -1)) {
      return name + ": W or b lies outside the " + std::to_string(parameters) + " parameters";
    }
    if (!std::isfinite(value[kLayerValueAlpha]) || value[kLayerValueAlpha] < 0) return name + ".alpha must be a finite number >= 0";
    if (!(layer.dropout >= 0 && layer.dropout < 1) || (output && layer.dropout != 0)) {
      return name + ".dropout must be in [0, 1) on hidden layers and 0 on the output layer";
    }
    spec.layers.push_back(layer);
  }
  for (int i = 0; i < kHyperFieldCount; ++i) {
    const double v = hyper[i];
    const bool fraction = i == kHyperFieldMomentum || i == kHyperFieldBeta1 || i == kHyperFieldBeta2;
    if (!std::isfinite(v) || v < 0 || (fraction && v >= 1) || (i == kHyperFieldEpsilon && v == 0)) {
      return "hyper[" + std::to_string(i) + "] is out of range: " + std::to_string(v);
    }
  }
  spec.inputs = spec.layers.front().inputs;
  spec.loss = static_cast<Loss>(loss);
  spec.optimizer = static_cast<Optimizer>(optimizer);
  spec.momentum = hyper[kHyperFieldMomentum];
  spec.beta1 = hyper[kHyperFieldBeta1];
  spec.beta2 = hyper[kHyperFieldBeta2];
  spec.epsilon = hyper[kHyperFieldEpsilon];
  spec.l2 = hyper[kHyperFieldL2];
  spec.seed_lo = seed_lo;
  spec.seed_hi = seed_hi;
  spec.param_count = parameters;
  *out = std::move(spec);
  return "";
}

namespace {

// Workspace per part for shared products: W2 needs 1.6 MB (its first W packed whole), W3 4 MB.
constexpr std::size_t kSharedPartBytes = std::size_t{8} << 20;

}  // namespace

Mlp::Mlp(ModelSpec spec) : spec_(std::move(spec)) {
  for (size_t l = 0; l < spec_.layers.size(); ++l) {
    const double products = 2.0 * spec_.layers[l].inputs * spec_.layers[l].units;  // flops of one row through W_l
    forward_flops_ += products;
    training_flops_ += (l > 0 ? 3 : 2) * products;  // forward, dW, and δ below it (none below the first)
  }
}

int64_t Mlp::scratch_floats(int capacity) const {
  int64_t total = 0;
  for (const LayerSpec& layer : spec_.layers) {
    total += static_cast<int64_t>(capacity) * layer.units * (2 + (layer.dropout > 0) + activation_derivative_from_input(layer.activation));
  }
  return total + static_cast<int64_t>(capacity) * (spec_.inputs + spec_.outputs());
}

void Mlp::bind(float* state, double* counters, float* scratch, int capacity) {
  // What may fail (memory) comes first, so that a bind that throws leaves the model as it was.
  reserve_workspace(capacity, threads());
  std::vector<double> row_loss(capacity, 0.0);
  int64_t rows = 0;
  for (const LayerSpec& layer : spec_.layers) rows += layer.units;
  std::vector<double> row_penalty(spec_.l2 != 0 ? rows : 0, 0.0);
  std::vector<float*> out(spec_.layers.size(), nullptr), delta(out), keep(out), pre(out);
  out_.swap(out);
  delta_.swap(delta);
  keep_.swap(keep);
  pre_.swap(pre);
  row_loss_.swap(row_loss);
  row_penalty_.swap(row_penalty);
  const int64_t p = spec_.param_count;
  params_ = state + kStateVectorParams * p;
  grads_ = state + kStateVectorGrads * p;
  moment1_ = state + kStateVectorMoment1 * p;
  moment2_ = state + kStateVectorMoment2 * p;
  counters_ = counters;
  float* next = scratch;
  for (size_t l = 0; l < spec_.layers.size(); ++l) {
    const int64_t size = static_cast<int64_t>(capacity) * spec_.layers[l].units;
    out_[l] = next;
    delta_[l] = next + size;
    next += 2 * size;
    if (spec_.layers[l].dropout > 0) {
      keep_[l] = next;
      next += size;
    }
    if (activation_derivative_from_input(spec_.layers[l].activation)) {
      pre_[l] = next;
      next += size;
    }
  }
  batch_x_ = next;
  batch_y_ = next + static_cast<int64_t>(capacity) * spec_.inputs;
  capacity_ = capacity;
  weight_copies_stale();
}

void Mlp::bind_data(const float* x, const uint8_t* x_bytes, const double* scaling, const float* y, int rows) {
  data_x_ = x;
  data_x_bytes_ = x_bytes;
  data_scaling_ = scaling;
  data_y_ = y;
  data_rows_ = rows;
}

void Mlp::set_threads(int threads) {
  // Threads beyond the CPUs this process may use could only wait for each other (each part of
  // a GEMM packs its own operands, so more parts are more work): they are not started. Results
  // do not depend on the count. MLPKIT_FORCE_THREADS=1 lifts this cap and the work grain of
  // run_region, for tests of the splits.
  const char* force = std::getenv("MLPKIT_FORCE_THREADS");
  exact_threads_ = force != nullptr && std::string(force) == "1";
  if (!exact_threads_) threads = std::min(threads, available_cpus());
  threads = std::max(1, threads);
  if (team_ && team_->size() == threads) return;
  // The new team and its workspace first: if either fails, the model keeps its team.
  std::unique_ptr<Team> team = std::make_unique<Team>(threads);
  if (capacity_ > 0) reserve_workspace(capacity_, threads);
  team_ = std::move(team);
  share_.spins = team_->spins();
}

void Mlp::reserve_workspace(int capacity, int threads) {
  int widest = spec_.inputs;
  for (const LayerSpec& layer : spec_.layers) widest = std::max(widest, layer.units);
  const int rows = std::max(capacity, widest);
  std::size_t bytes = gemm_workspace_bytes(gemm_config(), rows, widest, rows, threads);
  // Room for shared parts (share_gemm) in the products of a step, where each part packs a whole
  // operand, within a budget per part: larger products (full-batch L-BFGS on wide layers) keep
  // their static parts rather than make the workspace grow with threads × rows × width.
  const int sharing = std::min(threads, kMaxSharingParts);
  if (sharing > 1) {
    std::size_t per_part = 0;
    for (const LayerSpec& layer : spec_.layers) {
      for (const std::size_t need : {gemm_shared_workspace_bytes(gemm_config(), capacity, layer.units, layer.inputs, 1),
                                     gemm_shared_workspace_bytes(gemm_config(), capacity, layer.inputs, layer.units, 1),
                                     gemm_shared_workspace_bytes(gemm_config(), layer.units, layer.inputs, capacity, 1)}) {
        if (need <= kSharedPartBytes) per_part = std::max(per_part, need);
      }
    }
    // A plan's parts divide the whole workspace between them, so it holds `sharing` parts.
    bytes = std::max(bytes, per_part * static_cast<std::size_t>(sharing));
  }
  workspace_.reserve(bytes);
}

namespace {

// Forward epilogue of a hidden layer: z kept where φ' needs it, φ, then inverted dropout, on a
// finished block of out.
struct ForwardEpilogue {
  Activation activation;
  float alpha;
  int units;
  float* pre;           // (n, units): z, or null when φ' comes from the output
  float* keep;          // (n, units) or null without dropout
  uint32_t threshold;   // dropout_threshold(rate)
  float scale;          // 1 / (1 - rate)
  uint32_t key0, key1, step, layer;
};

// The elementwise loops below are compiled twice (MLPKIT_ELEMENTWISE); the switch on the
// activation sits outside each loop so that the loops vectorize.

template <Activation kind>
inline void activate_rows(float* c, int ldc, int rows, int cols, float alpha) {
  for (int r = 0; r < rows; ++r) {
    float* row = c + static_cast<int64_t>(r) * ldc;
    for (int j = 0; j < cols; ++j) row[j] = activation_forward(kind, alpha, row[j]);
  }
}

MLPKIT_ELEMENTWISE void activate_block(Activation kind, float alpha, float* c, int ldc, int rows, int cols) {
  switch (kind) {
#define MLPKIT_CASE(name) \
  case Activation::name: activate_rows<Activation::name>(c, ldc, rows, cols, alpha); break;
    MLPKIT_ACTIVATIONS(MLPKIT_CASE)
#undef MLPKIT_CASE
  }
}

void forward_post(void* user, float* c, int ldc, int row0, int col0, int rows, int cols) {
  const ForwardEpilogue& e = *static_cast<const ForwardEpilogue*>(user);
  if (e.pre) {
    for (int r = 0; r < rows; ++r) {
      std::memcpy(e.pre + static_cast<int64_t>(row0 + r) * e.units + col0, c + static_cast<int64_t>(r) * ldc, sizeof(float) * cols);
    }
  }
  if (e.activation != Activation::Identity) activate_block(e.activation, e.alpha, c, ldc, rows, cols);
  if (!e.keep) return;
  for (int r = 0; r < rows; ++r) {
    float* row = c + static_cast<int64_t>(r) * ldc;
    const int64_t first = static_cast<int64_t>(row0 + r) * e.units + col0;
    PhiloxBlock block{};
    for (int j = 0; j < cols; ++j) {
      const uint32_t i = static_cast<uint32_t>(first + j);
      if (j == 0 || (i & 3u) == 0) block = philox4x32(e.key0, e.key1, i >> 2, e.step, e.layer, static_cast<uint32_t>(Stream::Dropout));
      const float keep = (block.v[i & 3u] >> 8) >= e.threshold ? e.scale : 0.0f;
      e.keep[first + j] = keep;
      row[j] *= keep;
    }
  }
}

// Backward epilogue: δ_{l-1} ⊙= φ'(a_{l-1}) ⊙ keep, where a is the layer's output before dropout
// (or φ'(z_{l-1}) where φ' needs z).
struct BackwardEpilogue {
  Activation activation;
  float alpha;
  int units;
  const float* out;   // (n, units): φ(z) ⊙ keep
  const float* pre;   // (n, units): z, or null when φ' comes from the output
  const float* keep;  // (n, units) or null
  float keep_rate;    // 1 - rate: recovers φ(z) from a kept output
};

template <Activation kind>
inline void derive_rows(float* c, int ldc, int rows, int cols, float alpha, const float* out, int units) {
  for (int r = 0; r < rows; ++r) {
    float* row = c + static_cast<int64_t>(r) * ldc;
    const float* a = out + static_cast<int64_t>(r) * units;
    for (int j = 0; j < cols; ++j) row[j] *= activation_backward(kind, alpha, a[j]);
  }
}

// δ ⊙= φ'(a) on a block, where `out` points at the block's first output.
MLPKIT_ELEMENTWISE void derive_block(Activation kind, float alpha, float* c, int ldc, int rows, int cols, const float* out, int units) {
  switch (kind) {
#define MLPKIT_CASE(name) \
  case Activation::name: derive_rows<Activation::name>(c, ldc, rows, cols, alpha, out, units); break;
    MLPKIT_ACTIVATIONS(MLPKIT_CASE)
#undef MLPKIT_CASE
  }
}

template <Activation kind>
inline void derive_rows_from_input(float* c, int ldc, int rows, int cols, float alpha, const float* pre, int units) {
  for (int r = 0; r < rows; ++r) {
    float* row = c + static_cast<int64_t>(r) * ldc;
    const float* z = pre + static_cast<int64_t>(r) * units;
    for (int j = 0; j < cols; ++j) row[j] *= activation_backward_from_input(kind, alpha, z[j]);
  }
}

// δ ⊙= φ'(z) on a block, where `pre` points at the block's first z.
MLPKIT_ELEMENTWISE void derive_block_from_input(Activation kind, float alpha, float* c, int ldc, int rows, int cols, const float* pre, int units) {
  switch (kind) {
#define MLPKIT_CASE(name) \
  case Activation::name: derive_rows_from_input<Activation::name>(c, ldc, rows, cols, alpha, pre, units); break;
    MLPKIT_ACTIVATIONS(MLPKIT_CASE)
#undef MLPKIT_CASE
  }
}

void backward_post(void* user, float* c, int ldc, int row0, int col0, int rows, int cols) {
  const BackwardEpilogue& e = *static_cast<const BackwardEpilogue*>(user);
  const int64_t origin = static_cast<int64_t>(row0) * e.units + col0;
  if (e.pre) {
    derive_block_from_input(e.activation, e.alpha, c, ldc, rows, cols, e.pre + origin, e.units);
    if (!e.keep) return;
    for (int r = 0; r < rows; ++r) {
      float* row = c + static_cast<int64_t>(r) * ldc;
      const float* keep = e.keep + origin + static_cast<int64_t>(r) * e.units;
      for (int j = 0; j < cols; ++j) row[j] *= keep[j];
    }
    return;
  }
  if (!e.keep) {
    derive_block(e.activation, e.alpha, c, ldc, rows, cols, e.out + static_cast<int64_t>(row0) * e.units + col0, e.units);
    return;
  }
  for (int r = 0; r < rows; ++r) {
    float* row = c + static_cast<int64_t>(r) * ldc;
    const int64_t first = static_cast<int64_t>(row0 + r) * e.units + col0;
    for (int j = 0; j < cols; ++j) {
      const float keep = e.keep[first + j];
      row[j] = keep == 0.0f ? 0.0f : row[j] * keep * activation_backward(e.activation, e.alpha, e.out[first + j] * e.keep_rate);
    }
  }
}

// Gradient epilogue: on a finished block of dW (row-major like W), adds 2·l2·W and, when
// training, applies the optimizer to that block of W at once, while dW is still in L1: the
// gradients never make a second trip through memory.
struct GradientEpilogue {
  float* weights;  // (units, inputs), updated in place
  float* moment1;  // the optimizer's moments at the same offsets (unused ones may be null)
  float* moment2;
  float l2;        // 2·l2
  const UpdateRule* update;  // null: the gradient only
};

// Asks for the cache lines of row[0, count) in the exclusive state ahead of their update. With
// several threads the backward product has just read these weights on another core, so each
// line's write would otherwise wait for that core's copy to be invalidated. (prefetchw; a
// no-op on x86 CPUs that predate it.)
inline void prefetch_for_write(const float* row, int count) {
#if defined(__x86_64__) && defined(__GNUC__)
  for (int j = 0; j < count; j += 16) asm volatile("prefetchw %0" : : "m"(row[j]));
#else
  (void)row;
  (void)count;
#endif
}

// g += l2·w, then the optimizer's update of w, on a (rows, cols) block with row stride ld; every
// element alone, so any split gives the same bits. Adam's coefficients come rounded once from
// double (1 − 0.999f alone would be off by 1e-5 relative). One call per block keeps the
// dispatch of the AVX2 clone out of the rows.
template <Optimizer kind>
inline void update_rows(const UpdateRule& u, float l2, int rows, int cols, int ld, float* p, float* g, float* m, float* v) {
  for (int r = 0; r < rows; ++r, p += ld, g += ld, m += ld, v += ld) {
    if (r + 2 < rows) prefetch_for_write(p + 2 * static_cast<int64_t>(ld), cols);
    if (l2 != 0.0f)
      for (int j = 0; j < cols; ++j) g[j] += l2 * p[j];
    for (int j = 0; j < cols; ++j) {
      if (kind == Optimizer::Sgd) {
        p[j] -= u.lr * g[j];
      } else if (kind == Optimizer::Momentum || kind == Optimizer::Nesterov) {
        // Δw_t = −η·g + μ·Δw_{t−1}; plain momentum adds Δw_t, Nesterov's look-ahead form μ·Δw_t − η·g.
        m[j] = u.mu * m[j] - u.lr * g[j];
        p[j] += kind == Optimizer::Nesterov ? u.mu * m[j] - u.lr * g[j] : m[j];
      } else {
        m[j] = u.b1 * m[j] + u.one_minus_b1 * g[j];
        v[j] = u.b2 * v[j] + u.one_minus_b2 * g[j] * g[j];
        p[j] -= u.lr * (m[j] * u.c1) / (std::sqrt(v[j] * u.c2) + u.eps);
      }
    }
  }
}

MLPKIT_ELEMENTWISE void update_block(const UpdateRule* u, float l2, int rows, int cols, int ld, float* p, float* g, float* m, float* v) {
  if (u == nullptr) {
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < cols; ++j) g[static_cast<int64_t>(r) * ld + j] += l2 * p[static_cast<int64_t>(r) * ld + j];
    return;
  }
  switch (u->kind) {
    case Optimizer::Sgd: update_rows<Optimizer::Sgd>(*u, l2, rows, cols, ld, p, g, m, v); break;
    case Optimizer::Momentum: update_rows<Optimizer::Momentum>(*u, l2, rows, cols, ld, p, g, m, v); break;
    case Optimizer::Nesterov: update_rows<Optimizer::Nesterov>(*u, l2, rows, cols, ld, p, g, m, v); break;
    case Optimizer::Adam: update_rows<Optimizer::Adam>(*u, l2, rows, cols, ld, p, g, m, v); break;
  }
}

void gradient_post(void* user, float* c, int ldc, int row0, int col0, int rows, int cols) {
  const GradientEpilogue& e = *static_cast<const GradientEpilogue*>(user);
  const int64_t at = static_cast<int64_t>(row0) * ldc + col0;
  update_block(e.update, e.l2, rows, cols, ldc, e.weights + at, c, e.moment1 + at, e.moment2 + at);
}

// [begin, end) of `total` items for part t of `parts`.
inline int64_t part_begin(int64_t total, int t, int parts) { return total * t / parts; }

}  // namespace

bool Mlp::gemm(Trans ta, Trans tb, int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc,
               const GemmEpilogue& epilogue, int t, const float* packed_b, bool row_wise, const float* dots) {
  // One thread and a small product: run at once, its epilogue on all of C (whole rows).
  if (parts_ == 1 && packed_b == nullptr &&
      run_if_whole_and_direct(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc, &epilogue, gemm_config(), dots))
    return true;
  GemmPlan plan = plan_gemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc, &epilogue, gemm_config(), parts_, &workspace_,
                            GemmSplit::Auto, packed_b, dots);
  // The plan depends on the shape and the parts only, so every thread takes the same branch.
  const bool post = !row_wise || epilogue_sees_whole_rows(plan);
  GemmEpilogue bias_only;
  if (!post) {
    bias_only.kind = epilogue.kind;
    bias_only.bias = epilogue.bias;
    plan.epilogue = &bias_only;
  }
  if (parts_ <= kMaxSharingParts) share_gemm(&plan, &share_, ++share_tags_[t]);
  run_gemm_part(plan, t);
  team_->barrier();
  return post;
}

// The loss of the rows of the last layer's finished logits, in its GEMM's epilogue: the rows are
// still in L1, and the barrier that ends the product is the one the loss needed.
void Mlp::loss_post(void* user, float* /*c*/, int /*ldc*/, int row0, int /*col0*/, int rows, int /*cols*/) {
  const LossEpilogue& e = *static_cast<const LossEpilogue*>(user);
  e.mlp->loss_rows(e.y, e.n, row0, row0 + rows);
}

Mlp::WeightCopy* Mlp::weights_for(int n) {
  const GemmConfig& config = gemm_config();
  // Rows the direct path takes even from packed weights: dot products, on their own layout
  // where the ISA has one, else on W in place. The same bits either way, so the first such call
  // after the weights change reads W in place and the next makes the layout: a model that
  // alternates training and a prediction never pays for a copy it reads once.
  const bool few = n <= config.direct_max_m_prepacked;
  if (few && config.direct_dots == nullptr) return nullptr;
  WeightCopy& copy = few ? dots_ : panels_;
  if (copy.valid) return &copy;
  if (few && !copy.wanted) {
    copy.wanted = true;
    return nullptr;
  }
  copy.at.assign(spec_.layers.size(), 0);
  std::size_t total = 0;
  for (size_t l = 0; l < spec_.layers.size(); ++l) {
    const LayerSpec& layer = spec_.layers[l];
    copy.at[l] = static_cast<int64_t>(total);
    const std::size_t floats = copy.dots ? dot_panel_floats(config, layer.inputs, layer.units)
                                         : packed_b_floats(config, layer.inputs, layer.units);
    total += (floats + 15) / 16 * 16;  // 64-byte aligned
  }
  try {
    copy.data.reserve(total * sizeof(float));
  } catch (const std::bad_alloc&) {
    return nullptr;  // no room for another copy: W as training reads it
  }
  return &copy;
}

void Mlp::lay_out_weights(WeightCopy& copy, int t) {
  const GemmConfig& config = gemm_config();
  for (size_t l = 0; l < spec_.layers.size(); ++l) {
    const LayerSpec& layer = spec_.layers[l];
    const float* w = params_ + layer.weight_offset;
    float* out = static_cast<float*>(copy.data.data()) + copy.at[l];
    const int units = copy.dots ? dot_tile_count(layer.units) : packed_b_panel_count(config, layer.units);
    const int u0 = static_cast<int>(part_begin(units, t, parts_)), u1 = static_cast<int>(part_begin(units, t + 1, parts_));
    if (copy.dots) {
      pack_dot_panels(config, layer.inputs, layer.units, w, layer.inputs, out, u0, u1);
    } else {
      pack_b_panels(config, Trans::Yes, layer.inputs, layer.units, w, layer.inputs, out, u0, u1);
    }
  }
  team_->barrier();
}

bool Mlp::forward(int t, const float* x, int n, bool training, const WeightCopy* copy, const float* y) {
  bool loss_done = false;
  LossEpilogue le{this, y, n};
  const float* input = x;
  const size_t last = spec_.layers.size() - 1;
  for (size_t l = 0; l <= last; ++l) {
    const LayerSpec& layer = spec_.layers[l];
    const bool dropout = training && layer.dropout > 0;
    ForwardEpilogue fe{layer.activation, layer.alpha, layer.units, pre_[l], dropout ? keep_[l] : nullptr,
                       dropout_threshold(layer.dropout), static_cast<float>(1.0 / (1.0 - layer.dropout)),
                       spec_.seed_lo, spec_.seed_hi, static_cast<uint32_t>(counters_[kCounterStep]), static_cast<uint32_t>(l)};
    GemmEpilogue epilogue;
    epilogue.kind = layer.bias ? EpilogueKind::Bias : EpilogueKind::None;
    epilogue.bias = layer.bias ? params_ + layer.bias_offset : nullptr;
    if (l < last && (layer.activation != Activation::Identity || dropout)) {
      epilogue.post = &forward_post;
      epilogue.user = &fe;
    }
    const bool loss_here = l == last && y != nullptr;
    if (loss_here) {
      epilogue.post = &Mlp::loss_post;
      epilogue.user = &le;
      epilogue.panels = true;
    }
    const float* laid_out = copy != nullptr ? static_cast<const float*>(copy->data.data()) + copy->at[l] : nullptr;
    const bool dots = copy != nullptr && copy->dots;
    const bool post = gemm(Trans::No, Trans::Yes, n, layer.units, layer.inputs, input, layer.inputs, params_ + layer.weight_offset,
                           layer.inputs, out_[l], layer.units, epilogue, t, dots ? nullptr : laid_out, loss_here,
                           dots ? laid_out : nullptr);
    loss_done = loss_here && post;
    input = out_[l];
  }
  return loss_done;
}

namespace {

// A softmax row of up to this many outputs keeps its exponentials on the stack between the sum
// and the probabilities: each computed once (the same values as computing them again, at half
// the calls: in a small classifier they were most of a step).
constexpr int kKeptExps = 256;

// Σ_j exp(z_j − max) over a row of k, each term kept in kept[j] when k <= kKeptExps.
inline double sum_of_exps(const float* z, int k, double max, double* kept) {
  double sum = 0.0;
  for (int j = 0; j < k; ++j) {
    const double e = std::exp(z[j] - max);
    if (k <= kKeptExps) kept[j] = e;
    sum += e;
  }
  return sum;
}

// exp(z_j − max), as sum_of_exps kept it or computed again.
inline double exp_term(const float* z, int k, int j, double max, const double* kept) {
  return k <= kKeptExps ? kept[j] : std::exp(z[j] - max);
}

}  // namespace

void Mlp::output_activation(int r0, int r1) {
  const LayerSpec& layer = spec_.layers.back();
  const int k = layer.units;
  float* out = out_.back();
  if (layer.activation == Activation::Softmax) {
    for (int r = r0; r < r1; ++r) {
      float* row = out + static_cast<int64_t>(r) * k;
      const double max = *std::max_element(row, row + k);
      double kept[kKeptExps];
      const double sum = sum_of_exps(row, k, max, kept);
      for (int j = 0; j < k; ++j) row[j] = static_cast<float>(exp_term(row, k, j, max, kept) / sum);
    }
  } else if (layer.activation != Activation::Identity) {
    const int64_t begin = static_cast<int64_t>(r0) * k, end = static_cast<int64_t>(r1) * k;
    if (pre_.back()) std::memcpy(pre_.back() + begin, out + begin, sizeof(float) * (end - begin));  // z, for φ'(z) in loss_rows
    for (int64_t i = begin; i < end; ++i) out[i] = activation_forward(layer.activation, layer.alpha, out[i]);
  }
}

void Mlp::loss_rows(const float* y, int n, int r0, int r1) {
  const LayerSpec& layer = spec_.layers.back();
  const int k = layer.units;
  float* out = out_.back();      // logits in, ŷ out
  float* delta = delta_.back();  // ∂(mean loss)/∂z
  const double inv_n = 1.0 / n;
  if (spec_.loss == Loss::CrossEntropy) {  // softmax output, from the logits: logΣexp(z) − Σ y·z
    for (int r = r0; r < r1; ++r) {
      float* z = out + static_cast<int64_t>(r) * k;
      const float* t = y + static_cast<int64_t>(r) * k;
      float* d = delta + static_cast<int64_t>(r) * k;
      const double max = *std::max_element(z, z + k);
      double kept[kKeptExps];
      const double sum = sum_of_exps(z, k, max, kept);
      const double log_sum_exp = max + std::log(sum);
      double total = 0.0;
      for (int j = 0; j < k; ++j) {
        total += t[j] * (log_sum_exp - z[j]);
        const float p = static_cast<float>(exp_term(z, k, j, max, kept) / sum);
        z[j] = p;
        d[j] = static_cast<float>((p - t[j]) * inv_n);
      }
      row_loss_[r] = total;
    }
    return;
  }
  if (spec_.loss == Loss::BinaryCrossEntropy) {  // sigmoid output, from the logits
    for (int r = r0; r < r1; ++r) {
      double total = 0.0;
      for (int64_t i = static_cast<int64_t>(r) * k; i < static_cast<int64_t>(r + 1) * k; ++i) {
        const double z = out[i];
        total += std::max(z, 0.0) - z * y[i] + std::log1p(std::exp(-std::fabs(z)));
        out[i] = sigmoid(out[i]);
        delta[i] = static_cast<float>((out[i] - y[i]) * inv_n);
      }
      row_loss_[r] = total;
    }
    return;
  }
  output_activation(r0, r1);
  for (int r = r0; r < r1; ++r) {
    const float* a = out + static_cast<int64_t>(r) * k;
    const float* t = y + static_cast<int64_t>(r) * k;
    float* d = delta + static_cast<int64_t>(r) * k;
    double total = 0.0;
    for (int j = 0; j < k; ++j) {  // d = ∂loss/∂ŷ first
      const double e = static_cast<double>(a[j]) - t[j];
      switch (spec_.loss) {
        case Loss::Mse: total += e * e; d[j] = static_cast<float>(2 * e); break;
        case Loss::HalfMse: total += 0.5 * e * e; d[j] = static_cast<float>(e); break;
        default: total += std::fabs(e); d[j] = static_cast<float>((e > 0) - (e < 0)); break;
      }
    }
    if (layer.activation == Activation::Softmax) {  // δ = p ⊙ (g − p·g)
      double dot = 0.0;
      for (int j = 0; j < k; ++j) dot += static_cast<double>(a[j]) * d[j];
      for (int j = 0; j < k; ++j) d[j] = static_cast<float>(a[j] * (d[j] - dot) * inv_n);
    } else if (pre_.back()) {
      const float* z = pre_.back() + static_cast<int64_t>(r) * k;
      for (int j = 0; j < k; ++j) d[j] = static_cast<float>(d[j] * activation_backward_from_input(layer.activation, layer.alpha, z[j]) * inv_n);
    } else {
      for (int j = 0; j < k; ++j) d[j] = static_cast<float>(d[j] * activation_backward(layer.activation, layer.alpha, a[j]) * inv_n);
    }
    row_loss_[r] = total;
  }
}

double Mlp::loss_forward(int t, const float* y, int n, bool rows_done) {
  if (!rows_done) {
    const int parts = parts_;
    loss_rows(y, n, static_cast<int>(part_begin(n, t, parts)), static_cast<int>(part_begin(n, t + 1, parts)));
    team_->barrier();
  }
  double total = 0.0;  // summed in row order by every thread: the same bits for any split
  for (int r = 0; r < n; ++r) total += row_loss_[r];
  return total / n;
}

namespace {

// Σ w² of one row of W in double: element j goes to lane j mod 8 and the lanes are added in a
// fixed order, so the loop keeps eight sums in vector registers (one chain would wait on every
// addition) and a row sums to the same bits whichever thread sums it.
MLPKIT_ELEMENTWISE double row_sum_of_squares(const float* w, int n) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lane[k] += static_cast<double>(w[j + k]) * w[j + k];
  for (; j < n; ++j) lane[j & 7] += static_cast<double>(w[j]) * w[j];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

}  // namespace

// The penalty is l2 · Σ over the rows of every W (layer by layer, unit by unit) of the row's
// sum of squares: rows can be summed by any thread in parallel (penalty_rows) and the total
// taken in row order (summed_penalty) to the bits this sequential version gives.
double Mlp::penalty() const {
  if (spec_.l2 == 0) return 0.0;
  double sum = 0.0;
  for (const LayerSpec& layer : spec_.layers) {
    for (int u = 0; u < layer.units; ++u) sum += row_sum_of_squares(params_ + layer.weight_offset + static_cast<int64_t>(u) * layer.inputs, layer.inputs);
  }
  return spec_.l2 * sum;
}

void Mlp::penalty_rows(int t) {
  const int64_t total = static_cast<int64_t>(row_penalty_.size());
  int64_t row = part_begin(total, t, parts_);
  const int64_t end = part_begin(total, t + 1, parts_);
  int64_t first = 0;  // of the layer's rows in row_penalty_
  for (const LayerSpec& layer : spec_.layers) {
    for (; row < end && row < first + layer.units; ++row) {
      row_penalty_[row] = row_sum_of_squares(params_ + layer.weight_offset + (row - first) * layer.inputs, layer.inputs);
    }
    first += layer.units;
  }
}

double Mlp::summed_penalty() const {
  double sum = 0.0;
  for (const double row : row_penalty_) sum += row;
  return spec_.l2 * sum;
}

void Mlp::backward(int t, const float* x, int n, const UpdateRule* update) {
  const int parts = parts_;
  for (size_t l = spec_.layers.size(); l-- > 0;) {
    const LayerSpec& layer = spec_.layers[l];
    const float* input = l == 0 ? x : out_[l - 1];
    const float* delta = delta_[l];
    // δ_{l-1} = (δ_l·W_l) ⊙ φ' first: it reads W_l, which the gradient epilogue then updates.
    if (l > 0) {
      const LayerSpec& below = spec_.layers[l - 1];
      BackwardEpilogue be{below.activation, below.alpha, below.units, out_[l - 1], pre_[l - 1],
                          below.dropout > 0 ? keep_[l - 1] : nullptr, static_cast<float>(1.0 - below.dropout)};
      GemmEpilogue delta_epilogue;
      delta_epilogue.post = &backward_post;
      delta_epilogue.user = &be;
      gemm(Trans::No, Trans::No, n, layer.inputs, layer.units, delta, layer.units, params_ + layer.weight_offset, layer.inputs,
           delta_[l - 1], layer.inputs, delta_epilogue, t);
    }
    // db = Σ_rows δ, each column summed in row order by the part that owns it, then updated.
    if (layer.bias) {
      const int j0 = static_cast<int>(part_begin(layer.units, t, parts)), j1 = static_cast<int>(part_begin(layer.units, t + 1, parts));
      float* dbias = grads_ + layer.bias_offset;
      std::fill(dbias + j0, dbias + j1, 0.0f);
      for (int r = 0; r < n; ++r) {
        const float* row = delta + static_cast<int64_t>(r) * layer.units;
        for (int j = j0; j < j1; ++j) dbias[j] += row[j];
      }
      if (update && j1 > j0) {
        const int64_t at = layer.bias_offset + j0;
        update_block(update, 0.0f, 1, j1 - j0, 0, params_ + at, grads_ + at, moment1_ + at, moment2_ + at);
      }
    }
    // dW = δᵀ·A (+ 2·l2·W), with the update of W fused into the epilogue. No barrier needed
    // before the next layer: it reads δ_{l-1} and W_{l-1}, which this product does not touch.
    GradientEpilogue ge{params_ + layer.weight_offset, moment1_ + layer.weight_offset, moment2_ + layer.weight_offset,
                        static_cast<float>(2 * spec_.l2), update};
    GemmEpilogue gradient_epilogue;
    if (spec_.l2 > 0 || update) {
      gradient_epilogue.post = &gradient_post;
      gradient_epilogue.user = &ge;
      gradient_epilogue.panels = true;
    }
    float* dw = grads_ + layer.weight_offset;
    if (parts == 1 && run_if_whole_and_direct(Trans::Yes, Trans::No, layer.units, layer.inputs, n, 1.0f, delta, layer.units, input,
                                              layer.inputs, 0.0f, dw, layer.inputs, &gradient_epilogue, gemm_config()))
      continue;
    GemmPlan plan = plan_gemm(Trans::Yes, Trans::No, layer.units, layer.inputs, n, 1.0f, delta, layer.units, input, layer.inputs, 0.0f,
                              dw, layer.inputs, &gradient_epilogue, gemm_config(), parts, &workspace_, GemmSplit::Rows);
    // A part that finishes early takes rows from another's range instead of waiting at the
    // step's final barrier.
    if (parts <= kMaxSharingParts) share_gemm(&plan, &share_, ++share_tags_[t]);
    run_gemm_part(plan, t);
  }
}

// β^t as running products, as every backend computes them.
UpdateRule Mlp::next_update(double learning_rate) const {
  const bool adam = spec_.optimizer == Optimizer::Adam;
  const double beta1_power = adam ? counters_[kCounterBeta1Power] * spec_.beta1 : counters_[kCounterBeta1Power];
  const double beta2_power = adam ? counters_[kCounterBeta2Power] * spec_.beta2 : counters_[kCounterBeta2Power];
  // Coefficients in double, rounded once: 1 − 0.999f alone would be off by 1e-5 relative.
  return UpdateRule{spec_.optimizer, static_cast<float>(learning_rate), static_cast<float>(spec_.momentum),
                    static_cast<float>(spec_.beta1), static_cast<float>(spec_.beta2), static_cast<float>(1.0 - spec_.beta1),
                    static_cast<float>(1.0 - spec_.beta2), static_cast<float>(1.0 / (1.0 - beta1_power)),
                    static_cast<float>(1.0 / (1.0 - beta2_power)), static_cast<float>(spec_.epsilon)};
}

void Mlp::advance_counters() {
  counters_[kCounterStep] += 1;
  if (spec_.optimizer == Optimizer::Adam) {
    counters_[kCounterBeta1Power] *= spec_.beta1;
    counters_[kCounterBeta2Power] *= spec_.beta2;
  }
}

double Mlp::step(int t, const float* x, const float* y, int n, double learning_rate) {
  // Every thread takes its own copy of the update from the counters as they stand, first: past
  // the forward pass's last barrier no thread reads them again in this step (its dropout masks
  // read the step), so thread 0 may move them at its end.
  const UpdateRule update = next_update(learning_rate);
  // The loss is computed in the last layer's epilogue when its parts hold whole rows.
  const bool loss_done = forward(t, x, n, true, nullptr, y);
  // Every thread computes the same loss and so takes the same branch.
  const double loss = loss_forward(t, y, n, loss_done) + penalty_;
  if (!std::isfinite(loss)) return loss;
  backward(t, x, n, &update);
  if (t == 0) advance_counters();  // published by the barrier that ends the step
  return loss;
}

namespace {

// Work per thread and batch below which a further thread costs more than it brings. A training
// batch crosses about ten barriers, and its phases hand activations, deltas and weights from
// one core to the other. Measured on 2 cores (flops of the products per batch): a second
// thread made training slower at 17.7 MFLOP (256-256-10, batch 64: 0.87×) and 26 MFLOP
// (784-128-10, batch 64: 0.92×), faster from 37 MFLOP (128-128-10, batch 512: 1.18×;
// 784-256-256-10, batch 32: 1.07×; W2: 1.25–1.5×). Predictions split the rows and share only
// the weights: two threads paid from 0.57 MFLOP a call (128-128-10, 16 rows: 1.17×) and broke
// even at 0.15 MFLOP.
constexpr double kTrainingFlopsPerPart = 15e6;
constexpr double kForwardFlopsPerPart = 0.25e6;

}  // namespace

// The function every thread of the region runs is body(t); the shared ranges and the product
// numbers start again from zero, as every thread's count of products does.
template <typename Body>
void Mlp::run_region(double flops, double flops_per_part, Body& body) {
  const int team = threads();
  parts_ = exact_threads_ ? team : static_cast<int>(std::clamp(std::floor(flops / flops_per_part), 1.0, static_cast<double>(team)));
  for (GemmShare::Range& range : share_.ranges) range.word.store(0, std::memory_order_relaxed);
  std::fill(std::begin(share_tags_), std::end(share_tags_), 0);
  team_->run([](void* arg, int t) { (*static_cast<Body*>(arg))(t); }, &body, parts_);
}

double Mlp::train_step(const float* x, const float* y, int n, double learning_rate) {
  weight_copies_stale();
  penalty_ = penalty();
  double loss = 0.0;
  auto body = [&](int t) {  // the region's end ends the step
    const double value = step(t, x, y, n, learning_rate);
    if (t == 0) loss = value;
  };
  run_region(training_flops_ * n, kTrainingFlopsPerPart, body);
  return loss;
}

namespace {

// (x − mean) / scale in double, rounded once to float: the scaler's own arithmetic, so a row
// standardized here has the bits of one standardized in JavaScript.
template <typename T>
inline void standardize(const T* in, const double* mean, const double* scale, int n, float* out) {
  for (int c = 0; c < n; ++c) out[c] = static_cast<float>((static_cast<double>(in[c]) - mean[c]) / scale[c]);
}

// The divisions in vectors of four rather than two where the CPU has AVX2: gathering a
// standardized batch of a small network was 6 % of its training.
MLPKIT_ELEMENTWISE void standardize_floats(const float* in, const double* mean, const double* scale, int n, float* out) {
  standardize(in, mean, scale, n, out);
}

MLPKIT_ELEMENTWISE void standardize_bytes(const uint8_t* in, const double* mean, const double* scale, int n, float* out) {
  standardize(in, mean, scale, n, out);
}

}  // namespace

// One row of the training set into the batch: copied, or converted from bytes, and
// standardized when the set is bound with its scaling.
void Mlp::gather_row(float* out, int64_t row) const {
  const int inputs = spec_.inputs;
  const double* mean = data_scaling_;
  const double* scale = data_scaling_ ? data_scaling_ + inputs : nullptr;
  if (data_x_bytes_) {
    const uint8_t* in = data_x_bytes_ + row * inputs;
    if (mean) {
      standardize_bytes(in, mean, scale, inputs, out);
    } else {
      for (int c = 0; c < inputs; ++c) out[c] = static_cast<float>(in[c]);
    }
    return;
  }
  const float* in = data_x_ + row * inputs;
  if (mean) {
    standardize_floats(in, mean, scale, inputs, out);
  } else {
    std::memcpy(out, in, sizeof(float) * inputs);
  }
}

int Mlp::train(const int32_t* order, const int32_t* bounds, int first, int count, const double* learning_rates,
               double* losses, const std::atomic<bool>& stop) {
  const int inputs = spec_.inputs, outputs = spec_.outputs();
  weight_copies_stale();
  int done = count;
  bool stopping = false;
  int widest = 0;  // the largest batch of the chunk sets its thread count
  for (int b = first; b < first + count; ++b) widest = std::max(widest, bounds[b + 1] - bounds[b]);
  auto body = [&](int t) {
    const int parts = parts_;
    for (int b = first; b < first + count; ++b) {
      const int rows = bounds[b + 1] - bounds[b];
      for (int r = static_cast<int>(part_begin(rows, t, parts)); r < part_begin(rows, t + 1, parts); ++r) {
        const int64_t row = order[bounds[b] + r];
        gather_row(batch_x_ + static_cast<int64_t>(r) * inputs, row);
        std::memcpy(batch_y_ + static_cast<int64_t>(r) * outputs, data_y_ + row * outputs, sizeof(float) * outputs);
      }
      if (spec_.l2 != 0) penalty_rows(t);  // the penalty of the weights this batch starts from
      team_->barrier();
      if (t == 0) penalty_ = spec_.l2 != 0 ? summed_penalty() : 0.0;  // read after loss_forward's barrier
      const double loss = step(t, batch_x_, batch_y_, rows, learning_rates[b]);
      if (t == 0) {
        losses[b] = loss;
        stopping = stop.load(std::memory_order_relaxed);
      }
      if (!std::isfinite(loss)) {  // the same on every thread, which all stop here
        if (t == 0) done = b - first + 1;
        return;
      }
      // The end of the step: every update and the counters are in before the next batch is
      // gathered over this one, and every thread sees `stopping`.
      team_->barrier();
      if (stopping) {
        if (t == 0) done = b - first + 1;
        return;
      }
    }
  };
  run_region(training_flops_ * widest, kTrainingFlopsPerPart, body);
  return done;
}

double Mlp::loss_and_gradient(const float* x, const float* y, int n) {
  penalty_ = penalty();
  double loss = 0.0;
  auto body = [&](int t) {  // the region's end waits for every gradient
    forward(t, x, n, false);
    const double value = loss_forward(t, y, n) + penalty_;
    backward(t, x, n, nullptr);
    if (t == 0) loss = value;
  };
  run_region(training_flops_ * n, kTrainingFlopsPerPart, body);
  return loss;
}

double Mlp::evaluate(const float* x, const float* y, int n, float* out) {
  double total = 0.0;
  WeightCopy* copy = weights_for(n);
  const bool lay_out = copy != nullptr && !copy->valid;
  auto body = [&](int t) {
    if (lay_out) lay_out_weights(*copy, t);
    forward(t, x, n, false, copy);
    const double value = n * loss_forward(t, y, n);
    if (t == 0) {
      total = value;
      if (out) std::memcpy(out, out_.back(), sizeof(float) * n * spec_.outputs());
    }
  };
  run_region(forward_flops_ * n, kForwardFlopsPerPart, body);
  if (copy != nullptr) copy->valid = true;
  return total;
}

void Mlp::predict(const float* x, int n, float* out) {
  const int k = spec_.outputs();
  WeightCopy* copy = weights_for(n);
  const bool lay_out = copy != nullptr && !copy->valid;
  auto body = [&](int t) {
    if (lay_out) lay_out_weights(*copy, t);
    forward(t, x, n, false, copy);
    const int r0 = static_cast<int>(part_begin(n, t, parts_)), r1 = static_cast<int>(part_begin(n, t + 1, parts_));
    output_activation(r0, r1);
    std::memcpy(out + static_cast<int64_t>(r0) * k, out_.back() + static_cast<int64_t>(r0) * k, sizeof(float) * (r1 - r0) * k);
  };
  run_region(forward_flops_ * n, kForwardFlopsPerPart, body);
  if (copy != nullptr) copy->valid = true;
}

}  // namespace mlpkit
