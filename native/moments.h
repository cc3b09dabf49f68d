// Column statistics for the standard scaler, in plain C++ (no N-API).
#ifndef MLPKIT_NATIVE_MOMENTS_H_
#define MLPKIT_NATIVE_MOMENTS_H_

#include <cstdint>

namespace mlpkit {

// Over the rows `rows[0 … count)` of a row-major matrix x (cols per row; all rows when `rows` is
// null): mean[c] = Σ x / count, then squares[c] = Σ (x − mean[c])², both in double, each column
// summed in row order — the arithmetic of StandardScaler in src/scaler.ts, to its bits.
void column_moments(const float* x, int64_t cols, const int32_t* rows, int64_t count, double* mean, double* squares);
void column_moments(const uint8_t* x, int64_t cols, const int32_t* rows, int64_t count, double* mean, double* squares);

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_MOMENTS_H_
