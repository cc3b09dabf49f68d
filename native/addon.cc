// The N-API surface of the native backend (declared for TypeScript in
// src/backends/native-binding.ts): info(), philox(), sgemm() and the Model class. JavaScript
// allocates every buffer; a Model borrows the pointers and holds references to the arrays so
// that they stay alive while it uses them, also during asynchronous training.
#include <napi.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <memory>
#include <new>
#include <system_error>
#include <thread>

#include "checks.h"
#include "finite.h"
#include "gemm/gemm.h"
#include "moments.h"
#include "mlp.h"
#include "peak.h"
#include "rng.h"
#include "team.h"
#include "thread_pool.h"

namespace mlpkit {
namespace {

constexpr int64_t kMaxInt = 2147483647;
constexpr int64_t kMaxTypedArrayLength = 4294967295;  // the longest Float32Array JavaScript can allocate

// One thread per CPU this process may run on (its affinity mask, capped by a cgroup quota).
int default_threads() { return available_cpus(); }

Napi::Object config_object(Napi::Env env, const GemmConfig& config) {
  Napi::Object result = Napi::Object::New(env);
  result.Set("isa", config.name);
  result.Set("mr", config.mr);
  result.Set("nr", config.nr);
  result.Set("kc", config.kc);
  result.Set("mc", config.mc);
  result.Set("nc", config.nc);
  return result;
}

// [sync] info() → { isa, mr, nr, kc, mc, nc, threads, configs: [{ isa, mr, nr, kc, mc, nc }, …] }:
// the chosen GEMM configuration, then every one this CPU runs, widest first.
Napi::Value Info(const Napi::CallbackInfo& info) {
  check_count(info, 0, "info");
  const Napi::Env env = info.Env();
  const GemmConfig& chosen = gemm_config();
  Napi::Object result = config_object(env, chosen);
  result.Set("threads", default_threads());
  Napi::Array configs = Napi::Array::New(env);
  uint32_t count = 0;
  configs.Set(count++, config_object(env, chosen));
  for (const Isa isa : {Isa::Avx512, Isa::Avx2, Isa::Scalar}) {  // the chosen one (MLPKIT_ISA may cap it) and below
    const GemmConfig& config = gemm_config(isa);
    if (&config != &chosen && isa < chosen.isa && (isa == Isa::Scalar || cpu_supports(isa))) configs.Set(count++, config_object(env, config));
  }
  result.Set("configs", configs);
  return result;
}

// [sync] philox(key0, key1, c0, c1, c2, c3) → Uint32Array(4), for the bit-exactness tests.
Napi::Value Philox(const Napi::CallbackInfo& info) {
  check_count(info, 6, "philox");
  uint32_t w[6];
  static const char* names[] = {"key0", "key1", "c0", "c1", "c2", "c3"};
  for (size_t i = 0; i < 6; ++i) w[i] = static_cast<uint32_t>(get_integer(info, i, names[i], 0, 4294967295LL));
  const PhiloxBlock block = philox4x32(w[0], w[1], w[2], w[3], w[4], w[5]);
  Napi::Uint32Array out = Napi::Uint32Array::New(info.Env(), 4);
  for (size_t i = 0; i < 4; ++i) out[i] = block.v[i];
  return out;
}

// [sync] columnMoments(x: Float32Array | Uint8Array, cols, rows: Int32Array | undefined,
//                     mean: Float64Array(cols), squares: Float64Array(cols))
// StandardScaler's sums over the given rows of x (all when undefined), to its bits (moments.h).
Napi::Value ColumnMoments(const Napi::CallbackInfo& info) {
  check_count(info, 5, "columnMoments");
  const Napi::Env env = info.Env();
  const Napi::Value xv = info[0];
  const bool bytes = xv.IsTypedArray() && xv.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
  const int64_t length = typed_length(info, 0, "x", bytes ? napi_uint8_array : napi_float32_array, bytes ? "Uint8Array" : "Float32Array");
  const int64_t cols = get_integer(info, 1, "cols", 1, kMaxInt);
  if (length % cols != 0 || length == 0) throw_range(env, "x", "a non-empty matrix of whole rows of " + std::to_string(cols), xv);
  const int64_t total = length / cols;
  Napi::Int32Array rows;
  int64_t count = total;
  if (!info[2].IsUndefined()) {
    count = typed_length(info, 2, "rows", napi_int32_array, "Int32Array");
    rows = get_i32(info, 2, "rows", count);
    if (count < 1) throw_range(env, "rows", "at least one row index", info[2]);
    const int32_t* index = rows.Data();
    for (int64_t i = 0; i < count; ++i) {
      if (index[i] < 0 || index[i] >= total) {
        throw Napi::RangeError::New(env, "rows[" + std::to_string(i) + "] must be a row index between 0 and " + std::to_string(total - 1) +
                                             ", got " + std::to_string(index[i]));
      }
    }
  }
  Napi::Float64Array mean = get_f64(info, 3, "mean", cols);
  Napi::Float64Array squares = get_f64(info, 4, "squares", cols);
  const int32_t* order = rows.IsEmpty() ? nullptr : rows.Data();
  if (bytes) {
    column_moments(xv.As<Napi::Uint8Array>().Data(), cols, order, count, mean.Data(), squares.Data());
  } else {
    column_moments(xv.As<Napi::Float32Array>().Data(), cols, order, count, mean.Data(), squares.Data());
  }
  return env.Undefined();
}

// Elements a row-major matrix of `rows` × `cols` with leading dimension `ld` spans.
int64_t span(int64_t rows, int64_t cols, int64_t ld) { return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols; }

// [sync] sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads, isa)
// C = alpha·op(A)·op(B) + beta·C; for parity tests and benchmarks (training never calls it).
Napi::Value Sgemm(const Napi::CallbackInfo& info) {
  check_count(info, 15, "sgemm");
  const Napi::Env env = info.Env();
  const bool ta = get_boolean(info, 0, "transA");
  const bool tb = get_boolean(info, 1, "transB");
  const int64_t m = get_integer(info, 2, "m", 0, kMaxInt);
  const int64_t n = get_integer(info, 3, "n", 0, kMaxInt);
  const int64_t k = get_integer(info, 4, "k", 0, kMaxInt);
  const double alpha = get_number(info, 5, "alpha", -3.4e38, 3.4e38);
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n;
  const int64_t lda = get_integer(info, 7, "lda", std::max<int64_t>(1, a_cols), kMaxInt);
  const int64_t ldb = get_integer(info, 9, "ldb", std::max<int64_t>(1, b_cols), kMaxInt);
  const double beta = get_number(info, 10, "beta", -3.4e38, 3.4e38);
  const int64_t ldc = get_integer(info, 12, "ldc", std::max<int64_t>(1, n), kMaxInt);
  Napi::Float32Array a = get_f32(info, 6, "a", span(a_rows, a_cols, lda), true);
  Napi::Float32Array b = get_f32(info, 8, "b", span(b_rows, b_cols, ldb), true);
  Napi::Float32Array c = get_f32(info, 11, "c", span(m, n, ldc), true);
  const int threads = static_cast<int>(get_integer(info, 13, "threads", 1, 256));
  if (!info[14].IsString()) throw_type(env, "isa", "a string", info[14]);
  const std::string isa = info[14].As<Napi::String>().Utf8Value();
  const GemmConfig* config = &gemm_config();
  if (isa == "scalar") config = &gemm_config(Isa::Scalar);
  else if (isa == "avx2+fma" || isa == "avx512") {
    const Isa wanted = isa == "avx512" ? Isa::Avx512 : Isa::Avx2;
    if (!cpu_supports(wanted)) throw_range(env, "isa", "an instruction set this CPU supports ('" + std::string(config->name) + "' or lower)", info[14]);
    config = &gemm_config(wanted);
  } else if (isa != "auto") {
    throw_range(env, "isa", "one of 'auto', 'avx512', 'avx2+fma', 'scalar'", info[14]);
  }
  thread_local GemmWorkspace workspace;  // calls come from one JavaScript thread at a time per isolate
  ThreadPool::shared().ensure(threads);
  GemmContext ctx;
  ctx.num_threads = threads;
  ctx.parallel_for = threads > 1 ? &ThreadPool::run : nullptr;
  ctx.pool = &ThreadPool::shared();
  ctx.workspace = &workspace;
  ctx.config = config;
  sgemm(ta ? Trans::Yes : Trans::No, tb ? Trans::Yes : Trans::No, static_cast<int>(m), static_cast<int>(n),
        static_cast<int>(k), static_cast<float>(alpha), a.Data(), static_cast<int>(lda), b.Data(), static_cast<int>(ldb),
        static_cast<float>(beta), c.Data(), static_cast<int>(ldc), ctx);
  return env.Undefined();
}

// [sync] fmaPeak(seconds, isa) → GFLOP/s of one core running only the vector FMAs of `isa`'s
// kernels ('auto': the chosen ones), the yardstick of the benchmarks
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  check_count(info, 2, "fmaPeak");
  const double seconds = get_number(info, 0, "seconds", 0.01, 10);
  if (!info[1].IsString()) throw_type(info.Env(), "isa", "a string", info[1]);
  const std::string name = info[1].As<Napi::String>().Utf8Value();
  Isa isa = gemm_config().isa;
  if (name != "auto" && !isa_from_name(name.c_str(), &isa)) throw_range(info.Env(), "isa", "one of 'auto', 'avx512', 'avx2', 'scalar'", info[1]);
  return Napi::Number::New(info.Env(), measure_fma_peak_gflops(seconds, isa));
}

// [sync] readBandwidth(bytes, seconds) → GB/s at which one core reads a block of `bytes` over
// and over with the chosen kernels' vector loads (best pass of about `seconds`).
Napi::Value ReadBandwidth(const Napi::CallbackInfo& info) {
  check_count(info, 2, "readBandwidth");
  const int64_t bytes = get_integer(info, 0, "bytes", 1, int64_t{1} << 32);
  const double seconds = get_number(info, 1, "seconds", 0.01, 10);
  try {
    return Napi::Number::New(info.Env(), measure_read_gbs(static_cast<std::size_t>(bytes), seconds, gemm_config().isa));
  } catch (const std::bad_alloc&) {
    throw Napi::RangeError::New(info.Env(), "readBandwidth: no memory for a block of " + std::to_string(bytes) + " bytes");
  }
}

// [sync] handoffRoundTrip(seconds) → nanoseconds for a cache line to go from one thread to
// another and back (median of passes over about `seconds`; 0 with one CPU): what each line a
// training step hands between its threads costs, the yardstick of the 2-thread speed-ups.
Napi::Value HandoffRoundTrip(const Napi::CallbackInfo& info) {
  check_count(info, 1, "handoffRoundTrip");
  const double seconds = get_number(info, 0, "seconds", 0.01, 10);
  try {
    return Napi::Number::New(info.Env(), measure_handoff_round_trip_ns(seconds));
  } catch (const std::system_error& error) {
    throw Napi::Error::New(info.Env(), std::string("handoffRoundTrip: the system would not start a second thread: ") + error.what());
  }
}

// [sync] allFinite(data: Float32Array) → whether no value is NaN or ±Infinity; the input and
// weight checks of the JavaScript side use it for large arrays.
Napi::Value AllFinite(const Napi::CallbackInfo& info) {
  check_count(info, 1, "allFinite");
  const int64_t length = typed_length(info, 0, "data", napi_float32_array, "Float32Array");
  return Napi::Boolean::New(info.Env(), all_finite(info[0].As<Napi::Float32Array>().Data(), length));
}

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Model", {
      InstanceMethod<&ModelWrap::StateFloats>("stateFloats"),
      InstanceMethod<&ModelWrap::ScratchFloats>("scratchFloats"),
      InstanceMethod<&ModelWrap::Bind>("bind"),
      InstanceMethod<&ModelWrap::SetThreads>("setThreads"),
      InstanceMethod<&ModelWrap::SetData>("setData"),
      InstanceMethod<&ModelWrap::Train>("train"),
      InstanceMethod<&ModelWrap::TrainAsync>("trainAsync"),
      InstanceMethod<&ModelWrap::RequestStop>("requestStop"),
      InstanceMethod<&ModelWrap::TrainStep>("trainStep"),
      InstanceMethod<&ModelWrap::LossAndGradient>("lossAndGradient"),
      InstanceMethod<&ModelWrap::Evaluate>("evaluate"),
      InstanceMethod<&ModelWrap::Penalty>("penalty"),
      InstanceMethod<&ModelWrap::WeightsChanged>("weightsChanged"),
      InstanceMethod<&ModelWrap::LastThreads>("lastThreads"),
      InstanceMethod<&ModelWrap::Predict>("predict"),
      InstanceMethod<&ModelWrap::Dispose>("dispose"),
    });
  }

  // new Model(parameters, layers: Int32Array(kLayerFieldCount·L), layerValues: Float64Array(kLayerValueCount·L),
  //           hyper: Float64Array(kHyperFieldCount), loss, optimizer, seedLo, seedHi): the tables of src/tables.ts
  explicit ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
    check_count(info, 8, "Model");
    const Napi::Env env = info.Env();
    const int64_t parameters = get_integer(info, 0, "parameters", 1, kMaxInt);
    const int64_t layer_ints = typed_length(info, 1, "layers", napi_int32_array, "Int32Array");
    if (layer_ints == 0 || layer_ints % kLayerFieldCount != 0) {
      throw_range(env, "layers", "an Int32Array of " + std::to_string(kLayerFieldCount) + " fields per layer", info[1]);
    }
    const int64_t count = layer_ints / kLayerFieldCount;
    Napi::Int32Array layers = get_i32(info, 1, "layers", kLayerFieldCount * count);
    Napi::Float64Array values = get_f64(info, 2, "layerValues", kLayerValueCount * count);
    Napi::Float64Array hyper = get_f64(info, 3, "hyper", kHyperFieldCount);
    const int64_t loss = get_integer(info, 4, "loss", 0, kLossCount - 1);
    const int64_t optimizer = get_integer(info, 5, "optimizer", 0, kOptimizerCount - 1);
    const uint32_t seed_lo = static_cast<uint32_t>(get_integer(info, 6, "seedLo", 0, 4294967295LL));
    const uint32_t seed_hi = static_cast<uint32_t>(get_integer(info, 7, "seedHi", 0, 4294967295LL));
    ModelSpec spec;
    const std::string error = read_tables(parameters, layers.Data(), count, values.Data(), hyper.Data(), loss, optimizer, seed_lo, seed_hi, &spec);
    if (!error.empty()) throw Napi::RangeError::New(env, error);
    mlp_ = std::make_unique<Mlp>(std::move(spec));
    mlp_->set_threads(default_threads());
  }

 private:
  void check_usable(const Napi::Env& env) const {
    if (!mlp_) throw Napi::Error::New(env, "mlpkit: this native model has been disposed");
    if (busy_) throw Napi::Error::New(env, "mlpkit: model is busy training (trainAsync in flight)");
  }
  // Usable and bound: what every call that computes needs.
  void check_ready(const Napi::Env& env) const {
    check_usable(env);
    if (mlp_->capacity() == 0) throw Napi::Error::New(env, "mlpkit: bind(state, counters, scratch, capacity) must come first");
  }

  // [sync] stateFloats() → floats of the state array bind() takes
  Napi::Value StateFloats(const Napi::CallbackInfo& info) {
    check_count(info, 0, "stateFloats");
    check_usable(info.Env());
    return Napi::Number::New(info.Env(), static_cast<double>(mlp_->state_floats()));
  }

  // [sync] scratchFloats(capacity) → floats of the scratch array for batches of `capacity` rows
  Napi::Value ScratchFloats(const Napi::CallbackInfo& info) {
    check_count(info, 1, "scratchFloats");
    check_usable(info.Env());
    const int64_t capacity = get_integer(info, 0, "capacity", 1, kMaxInt);
    const int64_t floats = mlp_->scratch_floats(static_cast<int>(capacity));
    if (floats > kMaxTypedArrayLength) throw_range(info.Env(), "capacity", "small enough for the scratch memory to be addressable", info[0]);
    return Napi::Number::New(info.Env(), static_cast<double>(floats));
  }

  // [sync] bind(state: Float32Array, counters: Float64Array(kCounterCount), scratch: Float32Array, capacity)
  Napi::Value Bind(const Napi::CallbackInfo& info) {
    check_count(info, 4, "bind");
    const Napi::Env env = info.Env();
    check_usable(env);
    const int64_t capacity = get_integer(info, 3, "capacity", 1, kMaxInt);
    Napi::Float32Array state = get_f32(info, 0, "state", mlp_->state_floats());
    Napi::Float64Array counters = get_f64(info, 1, "counters", kCounterCount);
    Napi::Float32Array scratch = get_f32(info, 2, "scratch", mlp_->scratch_floats(static_cast<int>(capacity)));
    try {
      mlp_->bind(state.Data(), counters.Data(), scratch.Data(), static_cast<int>(capacity));
    } catch (const std::bad_alloc&) {  // the model is as it was (Mlp::bind allocates first)
      throw_range(env, "capacity", "small enough for the workspace of the model's threads to be allocated", info[3]);
    }
    state_ref_ = Napi::Persistent(state);
    counters_ref_ = Napi::Persistent(counters);
    scratch_ref_ = Napi::Persistent(scratch);
    return env.Undefined();
  }

  // [sync] setThreads(threads)
  Napi::Value SetThreads(const Napi::CallbackInfo& info) {
    check_count(info, 1, "setThreads");
    check_usable(info.Env());
    try {
      mlp_->set_threads(static_cast<int>(get_integer(info, 0, "threads", 1, 256)));
    } catch (const std::bad_alloc&) {  // the model keeps its team (Mlp::set_threads)
      throw_range(info.Env(), "threads", "few enough for their workspace to be allocated", info[0]);
    } catch (const std::system_error&) {
      throw_range(info.Env(), "threads", "few enough for the system to start them", info[0]);
    }
    return info.Env().Undefined();
  }

  // [sync] setData(x: Float32Array | Uint8Array (rows·inputs), y: Float32Array(rows·outputs), rows,
  //                scaling: Float64Array(2·inputs) | undefined): mean then scale, applied as rows are gathered
  Napi::Value SetData(const Napi::CallbackInfo& info) {
    check_count(info, 4, "setData");
    const Napi::Env env = info.Env();
    check_usable(env);
    const int64_t rows = get_integer(info, 2, "rows", 1, kMaxInt);
    const ModelSpec& spec = mlp_->spec();
    const bool bytes = info[0].IsTypedArray() && info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array;
    Napi::TypedArray x = bytes ? static_cast<Napi::TypedArray>(get_u8(info, 0, "x", rows * spec.inputs))
                               : static_cast<Napi::TypedArray>(get_f32(info, 0, "x", rows * spec.inputs));
    Napi::Float32Array y = get_f32(info, 1, "y", rows * spec.outputs());
    const bool scaled = !info[3].IsUndefined();
    Napi::Float64Array scaling = scaled ? get_f64(info, 3, "scaling", 2 * static_cast<int64_t>(spec.inputs)) : Napi::Float64Array();
    x_ref_ = Napi::Persistent(static_cast<Napi::Object>(x));
    y_ref_ = Napi::Persistent(y);
    scaling_ref_ = scaled ? Napi::Persistent(scaling) : Napi::Reference<Napi::Float64Array>();
    uint8_t* base = static_cast<uint8_t*>(x.ArrayBuffer().Data()) + x.ByteOffset();
    mlp_->bind_data(bytes ? nullptr : reinterpret_cast<const float*>(base), bytes ? base : nullptr, scaled ? scaling.Data() : nullptr,
                    y.Data(), static_cast<int>(rows));
    data_rows_ = rows;
    return env.Undefined();
  }

  struct TrainArgs {
    Napi::Int32Array order;
    Napi::Int32Array bounds;
    int first;
    int count;
    Napi::Float64Array learning_rates;
    Napi::Float64Array losses;
  };

  // Checks train()/trainAsync() arguments: (order, bounds, first, count, learningRates, losses).
  // Batch b is order[bounds[b] … bounds[b+1]); every batch of the call must be non-empty, fit
  // the capacity and index rows of the data set, so that the step never reads outside memory.
  TrainArgs train_args(const Napi::CallbackInfo& info, const char* function) {
    check_count(info, 6, function);
    const Napi::Env env = info.Env();
    check_ready(env);
    if (data_rows_ == 0) throw Napi::Error::New(env, "mlpkit: setData(x, y, rows) must come before training");
    const int64_t length = typed_length(info, 0, "order", napi_int32_array, "Int32Array");
    Napi::Int32Array order = get_i32(info, 0, "order", length);
    const int64_t batches = typed_length(info, 1, "bounds", napi_int32_array, "Int32Array") - 1;
    if (batches < 1) throw_range(env, "bounds", "an Int32Array of at least 2 batch boundaries", info[1]);
    Napi::Int32Array bounds = get_i32(info, 1, "bounds", batches + 1);
    const int64_t first = get_integer(info, 2, "first", 0, batches - 1);
    const int64_t count = get_integer(info, 3, "count", 1, batches - first);
    Napi::Float64Array rates = get_f64(info, 4, "learningRates", first + count, true);
    Napi::Float64Array losses = get_f64(info, 5, "losses", first + count, true);
    const int32_t* b = bounds.Data();
    for (int64_t i = first; i < first + count; ++i) {
      if (b[i] < 0 || b[i + 1] > length || b[i + 1] - b[i] < 1 || b[i + 1] - b[i] > mlp_->capacity()) {
        throw Napi::RangeError::New(env, "bounds[" + std::to_string(i) + "…" + std::to_string(i + 1) + "] must delimit 1 to " +
                                             std::to_string(mlp_->capacity()) + " rows of order (length " + std::to_string(length) +
                                             "), got " + std::to_string(b[i]) + "…" + std::to_string(b[i + 1]));
      }
    }
    const int32_t* rows = order.Data();
    for (int64_t i = b[first]; i < b[first + count]; ++i) {
      if (rows[i] < 0 || rows[i] >= data_rows_) {
        throw Napi::RangeError::New(env, "order[" + std::to_string(i) + "] must be a row index between 0 and " +
                                             std::to_string(data_rows_ - 1) + ", got " + std::to_string(rows[i]));
      }
    }
    const double* lr = rates.Data();
    for (int64_t i = first; i < first + count; ++i) {
      if (!std::isfinite(lr[i]) || lr[i] < 0) {
        throw Napi::RangeError::New(env, "learningRates[" + std::to_string(i) + "] must be a finite number >= 0, got " + std::to_string(lr[i]));
      }
    }
    return TrainArgs{order, bounds, static_cast<int>(first), static_cast<int>(count), rates, losses};
  }

  // [sync] train(order, bounds, first, count, learningRates, losses) → batches done
  Napi::Value Train(const Napi::CallbackInfo& info) {
    TrainArgs args = train_args(info, "train");
    stop_.store(false);
    const int done = mlp_->train(args.order.Data(), args.bounds.Data(), args.first, args.count, args.learning_rates.Data(),
                                 args.losses.Data(), stop_);
    return Napi::Number::New(info.Env(), done);
  }

  class TrainWorker : public Napi::AsyncWorker {
   public:
    TrainWorker(Napi::Env env, ModelWrap* model, Napi::Object self, TrainArgs& args)
        : Napi::AsyncWorker(env, "mlpkit.train"),
          deferred_(env),
          model_(model),
          order_(args.order.Data()),
          bounds_(args.bounds.Data()),
          first_(args.first),
          count_(args.count),
          rates_(args.learning_rates.Data()),
          losses_(args.losses.Data()),
          // The model object and every array the work reads or writes stay referenced until
          // the worker is deleted (on the main thread, after OnOK/OnError); Execute() itself
          // only sees the raw pointers taken here, on the main thread.
          references_{Napi::Persistent(self), Napi::Persistent(args.order.As<Napi::Object>()),
                      Napi::Persistent(args.bounds.As<Napi::Object>()), Napi::Persistent(args.learning_rates.As<Napi::Object>()),
                      Napi::Persistent(args.losses.As<Napi::Object>())} {}
    Napi::Promise promise() { return deferred_.Promise(); }

   protected:
    void Execute() override {
      try {
        done_ = model_->mlp_->train(order_, bounds_, first_, count_, rates_, losses_, model_->stop_);
      } catch (const std::exception& e) {
        SetError(std::string("mlpkit: native training failed: ") + e.what());
      }
    }
    void OnOK() override {
      model_->busy_ = false;
      deferred_.Resolve(Napi::Number::New(Env(), done_));
    }
    void OnError(const Napi::Error& error) override {
      model_->busy_ = false;
      deferred_.Reject(error.Value());
    }

   private:
    Napi::Promise::Deferred deferred_;
    ModelWrap* model_;
    const int32_t* order_;
    const int32_t* bounds_;
    int first_;
    int count_;
    const double* rates_;
    double* losses_;
    Napi::ObjectReference references_[5];
    int done_ = 0;
  };

  // [async] trainAsync(order, bounds, first, count, learningRates, losses) → Promise<batches done>
  Napi::Value TrainAsync(const Napi::CallbackInfo& info) {
    TrainArgs args = train_args(info, "trainAsync");
    stop_.store(false);
    auto* worker = new TrainWorker(info.Env(), this, info.This().As<Napi::Object>(), args);
    Napi::Promise promise = worker->promise();
    busy_ = true;
    worker->Queue();
    return promise;
  }

  // [sync] requestStop(): a running train/trainAsync returns after its current batch
  Napi::Value RequestStop(const Napi::CallbackInfo& info) {
    check_count(info, 0, "requestStop");
    stop_.store(true);
    return info.Env().Undefined();
  }

  struct Rows {
    const float* x;  // (n, inputs)
    const float* y;  // (n, outputs)
    int n;
  };

  // Checks the arguments (x, y, n ≤ capacity, …) of a call on rows given directly.
  Rows rows_args(const Napi::CallbackInfo& info, size_t count, const char* function) {
    check_count(info, count, function);
    check_ready(info.Env());
    const ModelSpec& spec = mlp_->spec();
    const int64_t n = get_integer(info, 2, "n", 1, mlp_->capacity());
    return Rows{get_f32(info, 0, "x", n * spec.inputs, true).Data(), get_f32(info, 1, "y", n * spec.outputs(), true).Data(),
                static_cast<int>(n)};
  }

  // [sync] trainStep(x: Float32Array(n·inputs), y: Float32Array(n·outputs), n ≤ capacity, learningRate) → loss
  Napi::Value TrainStep(const Napi::CallbackInfo& info) {
    const Rows rows = rows_args(info, 4, "trainStep");
    const double lr = get_number(info, 3, "learningRate", 0, 1e300);
    return Napi::Number::New(info.Env(), mlp_->train_step(rows.x, rows.y, rows.n, lr));
  }

  // [sync] lossAndGradient(x, y, n ≤ capacity) → mean loss + L2 penalty; the gradient goes to the state's grads
  Napi::Value LossAndGradient(const Napi::CallbackInfo& info) {
    const Rows rows = rows_args(info, 3, "lossAndGradient");
    return Napi::Number::New(info.Env(), mlp_->loss_and_gradient(rows.x, rows.y, rows.n));
  }

  // [sync] evaluate(x, y, n ≤ capacity, out: Float32Array(n·outputs) | null) → Σ of the loss over the rows
  Napi::Value Evaluate(const Napi::CallbackInfo& info) {
    const Rows rows = rows_args(info, 4, "evaluate");
    float* out = nullptr;
    if (!info[3].IsNull()) out = get_f32(info, 3, "out", static_cast<int64_t>(rows.n) * mlp_->spec().outputs(), true).Data();
    return Napi::Number::New(info.Env(), mlp_->evaluate(rows.x, rows.y, rows.n, out));
  }

  // [sync] penalty() → l2 · ‖W‖²
  Napi::Value Penalty(const Napi::CallbackInfo& info) {
    check_count(info, 0, "penalty");
    check_ready(info.Env());
    return Napi::Number::New(info.Env(), mlp_->penalty());
  }

  // [sync] weightsChanged(): the state was written from JavaScript, so copies the addon keeps
  // of the weights (packed for predictions) are stale
  Napi::Value WeightsChanged(const Napi::CallbackInfo& info) {
    check_count(info, 0, "weightsChanged");
    check_usable(info.Env());
    mlp_->weights_changed();
    return info.Env().Undefined();
  }

  // [sync] lastThreads() → the threads the latest call ran on (its work sets them: mlp.cc)
  Napi::Value LastThreads(const Napi::CallbackInfo& info) {
    check_count(info, 0, "lastThreads");
    check_usable(info.Env());
    return Napi::Number::New(info.Env(), mlp_->last_parts());
  }

  // [sync] predict(x, n ≤ capacity, out: Float32Array(n·outputs))
  Napi::Value Predict(const Napi::CallbackInfo& info) {
    check_count(info, 3, "predict");
    const Napi::Env env = info.Env();
    check_ready(env);
    const ModelSpec& spec = mlp_->spec();
    const int64_t n = get_integer(info, 1, "n", 1, mlp_->capacity());
    Napi::Float32Array x = get_f32(info, 0, "x", n * spec.inputs, true);
    Napi::Float32Array out = get_f32(info, 2, "out", n * spec.outputs(), true);
    mlp_->predict(x.Data(), static_cast<int>(n), out.Data());
    return env.Undefined();
  }

  // [sync] dispose(): releases the model and its references; idempotent; refused while busy
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    check_count(info, 0, "dispose");
    if (busy_) throw Napi::Error::New(info.Env(), "mlpkit: model is busy training (trainAsync in flight); it cannot be disposed now");
    mlp_.reset();
    state_ref_.Reset();
    counters_ref_.Reset();
    scratch_ref_.Reset();
    x_ref_.Reset();
    y_ref_.Reset();
    scaling_ref_.Reset();
    data_rows_ = 0;
    return info.Env().Undefined();
  }

  std::unique_ptr<Mlp> mlp_;
  Napi::Reference<Napi::Float32Array> state_ref_, scratch_ref_, y_ref_;
  Napi::Reference<Napi::Object> x_ref_;  // a Float32Array or a Uint8Array
  Napi::Reference<Napi::Float64Array> scaling_ref_;
  Napi::Reference<Napi::Float64Array> counters_ref_;
  int64_t data_rows_ = 0;
  bool busy_ = false;
  std::atomic<bool> stop_{false};
};

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  const char* requested = std::getenv("MLPKIT_ISA");
  Isa isa;
  if (requested != nullptr && *requested != 0 && !isa_from_name(requested, &isa)) {
    throw Napi::RangeError::New(env, std::string("the MLPKIT_ISA environment variable must be one of 'avx512', 'avx2', 'scalar', got \"") +
                                         requested + "\"");
  }
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("philox", Napi::Function::New(env, Philox, "philox"));
  exports.Set("sgemm", Napi::Function::New(env, Sgemm, "sgemm"));
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak, "fmaPeak"));
  exports.Set("readBandwidth", Napi::Function::New(env, ReadBandwidth, "readBandwidth"));
  exports.Set("handoffRoundTrip", Napi::Function::New(env, HandoffRoundTrip, "handoffRoundTrip"));
  exports.Set("columnMoments", Napi::Function::New(env, ColumnMoments, "columnMoments"));
  exports.Set("allFinite", Napi::Function::New(env, AllFinite, "allFinite"));
  exports.Set("Model", ModelWrap::Define(env));
  return exports;
}

}  // namespace
}  // namespace mlpkit

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return mlpkit::Init(env, exports); }

NODE_API_MODULE(NODE_GYP_MODULE_NAME, InitAddon)
