#include "mlp.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "rng.h"
#include "thread_pool.h"

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

Mlp::Mlp(ModelSpec spec) : spec_(std::move(spec)) {}

int64_t Mlp::scratch_floats(int capacity) const {
  int64_t total = 0;
  for (const LayerSpec& layer : spec_.layers) {
    total += static_cast<int64_t>(capacity) * layer.units * (2 + (layer.dropout > 0) + activation_derivative_from_input(layer.activation));
  }
  return total + static_cast<int64_t>(capacity) * (spec_.inputs + spec_.outputs());
}

void Mlp::bind(float* state, double* counters, float* scratch, int capacity) {
  const int64_t p = spec_.param_count;
  params_ = state + kStateVectorParams * p;
  grads_ = state + kStateVectorGrads * p;
  moment1_ = state + kStateVectorMoment1 * p;
  moment2_ = state + kStateVectorMoment2 * p;
  counters_ = counters;
  out_.assign(spec_.layers.size(), nullptr);
  delta_.assign(spec_.layers.size(), nullptr);
  keep_.assign(spec_.layers.size(), nullptr);
  pre_.assign(spec_.layers.size(), nullptr);
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
  int widest = spec_.inputs;
  for (const LayerSpec& layer : spec_.layers) widest = std::max(widest, layer.units);
  workspace_.reserve(gemm_workspace_bytes(std::max(capacity, widest), widest, std::max(capacity, widest), threads_));
}

void Mlp::bind_data(const float* x, const float* y, int rows) {
  data_x_ = x;
  data_y_ = y;
  data_rows_ = rows;
}

void Mlp::set_threads(int threads) {
  threads_ = std::max(1, threads);
  ThreadPool::shared().ensure(threads_);
  if (capacity_ > 0) {
    int widest = spec_.inputs;
    for (const LayerSpec& layer : spec_.layers) widest = std::max(widest, layer.units);
    workspace_.reserve(gemm_workspace_bytes(std::max(capacity_, widest), widest, std::max(capacity_, widest), threads_));
  }
}

GemmContext Mlp::context() {
  GemmContext ctx;
  ctx.num_threads = threads_;
  ctx.parallel_for = threads_ > 1 ? &ThreadPool::run : nullptr;
  ctx.pool = &ThreadPool::shared();
  ctx.workspace = &workspace_;
  return ctx;
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

// The elementwise loops below are compiled twice, for AVX2 and for baseline x86-64, and the
// better one is picked when the addon loads; the switch on the activation sits outside each
// loop so that the loops vectorize.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MLPKIT_ELEMENTWISE __attribute__((target_clones("avx2", "default")))
#else
#define MLPKIT_ELEMENTWISE
#endif

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

// Gradient epilogue: dW += 2·l2·W on a finished block of dW (row-major like W).
struct L2Epilogue {
  const float* weights;  // (units, inputs)
  float factor;          // 2·l2
};

void l2_post(void* user, float* c, int ldc, int row0, int col0, int rows, int cols) {
  const L2Epilogue& e = *static_cast<const L2Epilogue*>(user);
  for (int r = 0; r < rows; ++r) {
    float* row = c + static_cast<int64_t>(r) * ldc;
    const float* w = e.weights + static_cast<int64_t>(row0 + r) * ldc + col0;
    for (int j = 0; j < cols; ++j) row[j] += e.factor * w[j];
  }
}

}  // namespace

void Mlp::forward(const float* x, int n, bool training) {
  const GemmContext ctx = context();
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
    sgemm_epilogue(Trans::No, Trans::Yes, n, layer.units, layer.inputs, 1.0f, input, layer.inputs,
                   params_ + layer.weight_offset, layer.inputs, 0.0f, out_[l], layer.units, epilogue, ctx);
    input = out_[l];
  }
}

void Mlp::output_activation(int n) {
  const LayerSpec& layer = spec_.layers.back();
  float* out = out_.back();
  const int k = layer.units;
  if (layer.activation == Activation::Softmax) {
    for (int r = 0; r < n; ++r) {
      float* row = out + static_cast<int64_t>(r) * k;
      const float max = *std::max_element(row, row + k);
      double sum = 0.0;
      for (int j = 0; j < k; ++j) sum += std::exp(static_cast<double>(row[j]) - max);
      for (int j = 0; j < k; ++j) row[j] = static_cast<float>(std::exp(static_cast<double>(row[j]) - max) / sum);
    }
  } else if (layer.activation != Activation::Identity) {
    if (pre_.back()) std::memcpy(pre_.back(), out, sizeof(float) * n * k);  // z, for φ'(z) in loss_forward
    for (int64_t i = 0; i < static_cast<int64_t>(n) * k; ++i) out[i] = activation_forward(layer.activation, layer.alpha, out[i]);
  }
}

double Mlp::loss_forward(const float* y, int n) {
  const LayerSpec& layer = spec_.layers.back();
  const int k = layer.units;
  float* out = out_.back();      // logits in, ŷ out
  float* delta = delta_.back();  // ∂(mean loss)/∂z
  const double inv_n = 1.0 / n;
  double total = 0.0;
  if (spec_.loss == Loss::CrossEntropy) {  // softmax output, from the logits: logΣexp(z) − Σ y·z
    for (int r = 0; r < n; ++r) {
      float* z = out + static_cast<int64_t>(r) * k;
      const float* t = y + static_cast<int64_t>(r) * k;
      float* d = delta + static_cast<int64_t>(r) * k;
      const double max = *std::max_element(z, z + k);
      double sum = 0.0;
      for (int j = 0; j < k; ++j) sum += std::exp(z[j] - max);
      const double log_sum_exp = max + std::log(sum);
      for (int j = 0; j < k; ++j) {
        total += t[j] * (log_sum_exp - z[j]);
        const float p = static_cast<float>(std::exp(z[j] - max) / sum);
        z[j] = p;
        d[j] = static_cast<float>((p - t[j]) * inv_n);
      }
    }
    return total * inv_n;
  }
  if (spec_.loss == Loss::BinaryCrossEntropy) {  // sigmoid output, from the logits
    for (int64_t i = 0; i < static_cast<int64_t>(n) * k; ++i) {
      const double z = out[i];
      total += std::max(z, 0.0) - z * y[i] + std::log1p(std::exp(-std::fabs(z)));
      out[i] = sigmoid(out[i]);
      delta[i] = static_cast<float>((out[i] - y[i]) * inv_n);
    }
    return total * inv_n;
  }
  output_activation(n);
  for (int r = 0; r < n; ++r) {
    const float* a = out + static_cast<int64_t>(r) * k;
    const float* t = y + static_cast<int64_t>(r) * k;
    float* d = delta + static_cast<int64_t>(r) * k;
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
  }
  return total * inv_n;
}

void Mlp::backward(const float* x, int n) {
  const GemmContext ctx = context();
  for (size_t l = spec_.layers.size(); l-- > 0;) {
    const LayerSpec& layer = spec_.layers[l];
    const float* input = l == 0 ? x : out_[l - 1];
    const float* delta = delta_[l];
    float* dweights = grads_ + layer.weight_offset;
    L2Epilogue le{params_ + layer.weight_offset, static_cast<float>(2 * spec_.l2)};
    GemmEpilogue gradient_epilogue;
    if (spec_.l2 > 0) {
      gradient_epilogue.post = &l2_post;
      gradient_epilogue.user = &le;
    }
    sgemm_epilogue(Trans::Yes, Trans::No, layer.units, layer.inputs, n, 1.0f, delta, layer.units, input, layer.inputs,
                   0.0f, dweights, layer.inputs, gradient_epilogue, ctx);
    if (layer.bias) {
      float* dbias = grads_ + layer.bias_offset;
      std::fill(dbias, dbias + layer.units, 0.0f);
      for (int r = 0; r < n; ++r) {
        const float* row = delta + static_cast<int64_t>(r) * layer.units;
        for (int j = 0; j < layer.units; ++j) dbias[j] += row[j];
      }
    }
    if (l == 0) break;
    const LayerSpec& below = spec_.layers[l - 1];
    BackwardEpilogue be{below.activation, below.alpha, below.units, out_[l - 1], pre_[l - 1],
                        below.dropout > 0 ? keep_[l - 1] : nullptr, static_cast<float>(1.0 - below.dropout)};
    GemmEpilogue delta_epilogue;
    delta_epilogue.post = &backward_post;
    delta_epilogue.user = &be;
    sgemm_epilogue(Trans::No, Trans::No, n, layer.inputs, layer.units, 1.0f, delta, layer.units,
                   params_ + layer.weight_offset, layer.inputs, 0.0f, delta_[l - 1], layer.inputs, delta_epilogue, ctx);
  }
}

double Mlp::penalty() const {
  if (spec_.l2 == 0) return 0.0;
  double sum = 0.0;
  for (const LayerSpec& layer : spec_.layers) {
    const float* w = params_ + layer.weight_offset;
    for (int64_t i = 0; i < static_cast<int64_t>(layer.units) * layer.inputs; ++i) sum += static_cast<double>(w[i]) * w[i];
  }
  return spec_.l2 * sum;
}

namespace {

MLPKIT_ELEMENTWISE void sgd_update(int64_t n, float lr, float* p, const float* g) {
  for (int64_t i = 0; i < n; ++i) p[i] -= lr * g[i];
}

// Δw_t = −η·g + μ·Δw_{t−1}; plain momentum adds Δw_t, Nesterov's look-ahead form μ·Δw_t − η·g.
MLPKIT_ELEMENTWISE void momentum_update(int64_t n, float lr, float mu, bool nesterov, float* p, const float* g, float* m) {
  if (nesterov) {
    for (int64_t i = 0; i < n; ++i) {
      m[i] = mu * m[i] - lr * g[i];
      p[i] += mu * m[i] - lr * g[i];
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      m[i] = mu * m[i] - lr * g[i];
      p[i] += m[i];
    }
  }
}

MLPKIT_ELEMENTWISE void adam_update(int64_t n, float lr, float b1, float b2, float one_minus_b1, float one_minus_b2, float c1,
                                    float c2, float eps, float* p, const float* g, float* m, float* v) {
  for (int64_t i = 0; i < n; ++i) {
    m[i] = b1 * m[i] + one_minus_b1 * g[i];
    v[i] = b2 * v[i] + one_minus_b2 * g[i] * g[i];
    p[i] -= lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
  }
}

// One optimizer step over the parameter range [begin, end): every element is updated alone,
// so splitting the range across threads gives the same bits.
struct UpdateJob {
  const ModelSpec* spec;
  float* params;
  const float* grads;
  float* moment1;
  float* moment2;
  float lr;
  float bias_correction1, bias_correction2;  // 1/(1 − β^t), Adam only
  int64_t size;
  int parts;
};

void update_range(void* arg, int part) {
  const UpdateJob& j = *static_cast<const UpdateJob*>(arg);
  const int64_t begin = j.size * part / j.parts, end = j.size * (part + 1) / j.parts;
  const int64_t n = end - begin;
  float* p = j.params + begin;
  const float* g = j.grads + begin;
  switch (j.spec->optimizer) {
    case Optimizer::Sgd:
      sgd_update(n, j.lr, p, g);
      break;
    case Optimizer::Momentum:
    case Optimizer::Nesterov:
      momentum_update(n, j.lr, static_cast<float>(j.spec->momentum), j.spec->optimizer == Optimizer::Nesterov, p, g, j.moment1 + begin);
      break;
    case Optimizer::Adam:
      // Coefficients in double, rounded once: 1 − 0.999f alone would be off by 1e-5 relative.
      adam_update(n, j.lr, static_cast<float>(j.spec->beta1), static_cast<float>(j.spec->beta2),
                  static_cast<float>(1.0 - j.spec->beta1), static_cast<float>(1.0 - j.spec->beta2), j.bias_correction1,
                  j.bias_correction2, static_cast<float>(j.spec->epsilon), p, g, j.moment1 + begin, j.moment2 + begin);
      break;
  }
}

}  // namespace

void Mlp::optimizer_update(double learning_rate) {
  counters_[kCounterStep] += 1;
  if (spec_.optimizer == Optimizer::Adam) {
    counters_[kCounterBeta1Power] *= spec_.beta1;  // β^t as running products, as every backend computes them
    counters_[kCounterBeta2Power] *= spec_.beta2;
  }
  constexpr int64_t kMinPerThread = 1 << 16;  // below this, waking a thread costs more than it saves
  UpdateJob job{&spec_, params_, grads_, moment1_, moment2_, static_cast<float>(learning_rate),
                static_cast<float>(1.0 / (1.0 - counters_[kCounterBeta1Power])), static_cast<float>(1.0 / (1.0 - counters_[kCounterBeta2Power])),
                spec_.param_count, static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(threads_, spec_.param_count / kMinPerThread)))};
  ThreadPool::shared().parallel_for(job.parts, &update_range, &job);
}

double Mlp::train_step(const float* x, const float* y, int n, double learning_rate) {
  forward(x, n, true);
  const double loss = loss_forward(y, n) + penalty();
  if (!std::isfinite(loss)) return loss;
  backward(x, n);
  optimizer_update(learning_rate);
  return loss;
}

int Mlp::train(const int32_t* order, const int32_t* bounds, int first, int count, const double* learning_rates,
               double* losses, const std::atomic<bool>& stop) {
  const int inputs = spec_.inputs, outputs = spec_.outputs();
  for (int b = first; b < first + count; ++b) {
    const int rows = bounds[b + 1] - bounds[b];
    for (int r = 0; r < rows; ++r) {
      const int64_t row = order[bounds[b] + r];
      std::memcpy(batch_x_ + static_cast<int64_t>(r) * inputs, data_x_ + row * inputs, sizeof(float) * inputs);
      std::memcpy(batch_y_ + static_cast<int64_t>(r) * outputs, data_y_ + row * outputs, sizeof(float) * outputs);
    }
    losses[b] = train_step(batch_x_, batch_y_, rows, learning_rates[b]);
    if (!std::isfinite(losses[b]) || stop.load(std::memory_order_relaxed)) return b - first + 1;
  }
  return count;
}

double Mlp::loss_and_gradient(const float* x, const float* y, int n) {
  forward(x, n, false);
  const double loss = loss_forward(y, n) + penalty();
  backward(x, n);
  return loss;
}

double Mlp::evaluate(const float* x, const float* y, int n, float* out) {
  forward(x, n, false);
  const double total = n * loss_forward(y, n);
  if (out) std::memcpy(out, out_.back(), sizeof(float) * n * spec_.outputs());
  return total;
}

void Mlp::predict(const float* x, int n, float* out) {
  forward(x, n, false);
  output_activation(n);
  std::memcpy(out, out_.back(), sizeof(float) * n * spec_.outputs());
}

}  // namespace mlpkit
