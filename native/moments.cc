#include "moments.h"

namespace mlpkit {
namespace {

// Loop structure: for each row (in the given order), for each column: one accumulator per
// column, so the inner loop runs across a row with every column's additions still in row
// order — the compiler may use vectors across columns, never reorder within one. A fused
// multiply-add would round (x − mean)² + s once instead of twice and differ from JavaScript's
// arithmetic, so contraction is off here.
#if defined(__clang__)
#define MLPKIT_EXACT
#elif defined(__GNUC__)
#define MLPKIT_EXACT __attribute__((optimize("fp-contract=off")))
#else
#define MLPKIT_EXACT
#endif

template <typename T>
MLPKIT_EXACT void moments(const T* x, int64_t cols, const int32_t* rows, int64_t count, double* mean, double* squares) {
#if defined(__clang__)
#pragma clang fp contract(off)
#endif
  for (int64_t c = 0; c < cols; ++c) mean[c] = squares[c] = 0.0;
  for (int64_t r = 0; r < count; ++r) {
    const T* row = x + (rows ? rows[r] : r) * cols;
    for (int64_t c = 0; c < cols; ++c) mean[c] += static_cast<double>(row[c]);
  }
  for (int64_t c = 0; c < cols; ++c) mean[c] /= static_cast<double>(count);
  for (int64_t r = 0; r < count; ++r) {
    const T* row = x + (rows ? rows[r] : r) * cols;
    for (int64_t c = 0; c < cols; ++c) {
      const double d = static_cast<double>(row[c]) - mean[c];
      squares[c] += d * d;
    }
  }
}

}  // namespace

void column_moments(const float* x, int64_t cols, const int32_t* rows, int64_t count, double* mean, double* squares) {
  moments(x, cols, rows, count, mean, squares);
}

void column_moments(const uint8_t* x, int64_t cols, const int32_t* rows, int64_t count, double* mean, double* squares) {
  moments(x, cols, rows, count, mean, squares);
}

}  // namespace mlpkit
