// The finiteness scan of inputs and weights, in plain C++ (no N-API).
#ifndef MLPKIT_NATIVE_FINITE_H_
#define MLPKIT_NATIVE_FINITE_H_

#include <cstdint>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace mlpkit {

// Whether no float of data[0 … count) is NaN or ±Infinity: a float is not finite exactly when
// its eight exponent bits are all ones. Four vectors of x86 compares at once keep the scan at
// memory speed (the compiler's own loop kept one vector chain and spilled); elsewhere the plain
// loop, which compilers vectorize as it is.
inline bool all_finite(const float* data, int64_t count) {
  constexpr uint32_t kExponent = 0x7f800000u;
  int64_t i = 0;
  uint32_t non_finite = 0;
#if defined(__SSE2__)
  const __m128i exponent = _mm_set1_epi32(static_cast<int>(kExponent));
  __m128i any[4] = {_mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128(), _mm_setzero_si128()};
  for (; i + 16 <= count; i += 16) {
    for (int v = 0; v < 4; ++v) {
      const __m128i bits = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 4 * v));
      any[v] = _mm_or_si128(any[v], _mm_cmpeq_epi32(_mm_and_si128(bits, exponent), exponent));
    }
  }
  non_finite = static_cast<uint32_t>(_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(any[0], any[1]), _mm_or_si128(any[2], any[3]))));
#endif
  for (; i < count; ++i) {
    uint32_t bits;
    std::memcpy(&bits, data + i, sizeof bits);
    non_finite |= (bits & kExponent) == kExponent;
  }
  return non_finite == 0;
}

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_FINITE_H_
