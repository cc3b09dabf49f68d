// The FMA peak of one core, measured: the yardstick the benchmarks report GEMM speed against.
#ifndef MLPKIT_NATIVE_PEAK_H_
#define MLPKIT_NATIVE_PEAK_H_

#include "gemm/gemm.h"

namespace mlpkit {

// GFLOP/s of one core running a loop of independent vector FMAs on registers of the width the
// kernels of `isa` use (512-bit for avx512, 256-bit for avx2; 0 for scalar, which has no
// vector peak), for about `seconds`: the yardstick speeds are reported against.
double measure_fma_peak_gflops(double seconds, Isa isa);

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_PEAK_H_
