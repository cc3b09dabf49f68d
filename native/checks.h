// Argument checking at the N-API boundary. Every exported function checks its argument
// count, types, exact lengths and ranges here and throws a TypeError or RangeError naming the
// argument, what was expected and what was received; the kernels behind it check nothing.
#ifndef MLPKIT_NATIVE_CHECKS_H_
#define MLPKIT_NATIVE_CHECKS_H_

#include <napi.h>

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <sstream>
#include <string>

namespace mlpkit {

inline std::string describe(const Napi::Value& value) {
  if (value.IsUndefined()) return "undefined";
  if (value.IsNull()) return "null";
  if (value.IsNumber()) {
    const double v = value.As<Napi::Number>().DoubleValue();
    if (std::isnan(v)) return "NaN";
    return value.ToString().Utf8Value();
  }
  if (value.IsBoolean()) return value.As<Napi::Boolean>().Value() ? "true" : "false";
  if (value.IsString()) return "\"" + value.As<Napi::String>().Utf8Value() + "\"";
  if (value.IsTypedArray()) {
    static const char* names[] = {"Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
                                  "Int32Array", "Uint32Array", "Float32Array", "Float64Array", "BigInt64Array",
                                  "BigUint64Array"};
    const Napi::TypedArray array = value.As<Napi::TypedArray>();
    const int type = static_cast<int>(array.TypedArrayType());
    const std::string name = type >= 0 && type < 11 ? names[type] : "typed array";
    if (array.ArrayBuffer().IsDetached()) return "a " + name + " with a detached buffer";
    return "a " + name + " of length " + std::to_string(array.ElementLength());
  }
  if (value.IsArray()) return "an array of length " + std::to_string(value.As<Napi::Array>().Length());
  if (value.IsFunction()) return "a function";
  if (value.IsObject()) return "an object";
  return "a value";
}

[[noreturn]] inline void throw_type(const Napi::Env& env, const std::string& name, const std::string& expected,
                                    const Napi::Value& got) {
  throw Napi::TypeError::New(env, name + " must be " + expected + ", got " + describe(got));
}

[[noreturn]] inline void throw_range(const Napi::Env& env, const std::string& name, const std::string& expected,
                                     const Napi::Value& got) {
  throw Napi::RangeError::New(env, name + " must be " + expected + ", got " + describe(got));
}

inline void check_count(const Napi::CallbackInfo& info, size_t count, const char* function) {
  if (info.Length() != count) {
    throw Napi::TypeError::New(info.Env(), std::string(function) + " takes " + std::to_string(count) +
                                               " arguments, got " + std::to_string(info.Length()));
  }
}

// A bound as JavaScript would print it (0.01, not 0.010000).
inline std::string number_text(double d) {
  std::ostringstream text;
  text << std::setprecision(15) << d;
  return text.str();
}

inline double get_number(const Napi::CallbackInfo& info, size_t i, const std::string& name, double min, double max) {
  const Napi::Value v = info[i];
  if (!v.IsNumber()) throw_type(info.Env(), name, "a number", v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d < min || d > max) {
    throw_range(info.Env(), name, "a finite number between " + number_text(min) + " and " + number_text(max), v);
  }
  return d;
}

inline int64_t get_integer(const Napi::CallbackInfo& info, size_t i, const std::string& name, int64_t min, int64_t max) {
  const Napi::Value v = info[i];
  if (!v.IsNumber()) throw_type(info.Env(), name, "an integer", v);
  const double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d) || d != std::floor(d) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    throw_range(info.Env(), name, "an integer between " + std::to_string(min) + " and " + std::to_string(max), v);
  }
  return static_cast<int64_t>(d);
}

inline bool get_boolean(const Napi::CallbackInfo& info, size_t i, const std::string& name) {
  const Napi::Value v = info[i];
  if (!v.IsBoolean()) throw_type(info.Env(), name, "a boolean", v);
  return v.As<Napi::Boolean>().Value();
}

// A typed array of element type T whose length is exactly `length` (or at least it, when
// `at_least`); a detached buffer never passes.
template <typename Array>
Array get_array(const Napi::CallbackInfo& info, size_t i, const std::string& name, napi_typedarray_type type,
                const char* type_name, int64_t length, bool at_least = false) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) throw_type(info.Env(), name, std::string("a ") + type_name, v);
  Array array = v.As<Array>();
  // Written out only for an error: a prediction of one row makes this check twice per call.
  const auto expected = [&] { return std::string("a ") + type_name + " of length " + (at_least ? "at least " : "") + std::to_string(length); };
  if (array.ArrayBuffer().IsDetached()) throw_type(info.Env(), name, expected(), v);
  const int64_t got = static_cast<int64_t>(array.ElementLength());
  if (at_least ? got < length : got != length) throw_range(info.Env(), name, expected(), v);
  return array;
}

inline Napi::Float32Array get_f32(const Napi::CallbackInfo& info, size_t i, const std::string& name, int64_t length,
                                  bool at_least = false) {
  return get_array<Napi::Float32Array>(info, i, name, napi_float32_array, "Float32Array", length, at_least);
}
inline Napi::Float64Array get_f64(const Napi::CallbackInfo& info, size_t i, const std::string& name, int64_t length,
                                  bool at_least = false) {
  return get_array<Napi::Float64Array>(info, i, name, napi_float64_array, "Float64Array", length, at_least);
}
inline Napi::Uint8Array get_u8(const Napi::CallbackInfo& info, size_t i, const std::string& name, int64_t length,
                               bool at_least = false) {
  return get_array<Napi::Uint8Array>(info, i, name, napi_uint8_array, "Uint8Array", length, at_least);
}
inline Napi::Int32Array get_i32(const Napi::CallbackInfo& info, size_t i, const std::string& name, int64_t length,
                                bool at_least = false) {
  return get_array<Napi::Int32Array>(info, i, name, napi_int32_array, "Int32Array", length, at_least);
}

// Length of a typed array argument of the given type, for arrays whose length defines a size.
inline int64_t typed_length(const Napi::CallbackInfo& info, size_t i, const std::string& name, napi_typedarray_type type,
                            const char* type_name) {
  const Napi::Value v = info[i];
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) throw_type(info.Env(), name, std::string("a ") + type_name, v);
  if (v.As<Napi::TypedArray>().ArrayBuffer().IsDetached()) throw_type(info.Env(), name, std::string("a ") + type_name + " with a live buffer", v);
  return static_cast<int64_t>(v.As<Napi::TypedArray>().ElementLength());
}

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_CHECKS_H_
