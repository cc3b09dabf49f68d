// The FMA peak of one core, measured: the yardstick the benchmarks report GEMM speed against.
#ifndef MLPKIT_NATIVE_PEAK_H_
#define MLPKIT_NATIVE_PEAK_H_

namespace mlpkit {

// GFLOP/s of a loop of independent vector FMAs on registers (the widest this CPU runs:
// 512-bit with AVX-512F, else 256-bit with AVX2+FMA; 0 without FMA), run for about `seconds`.
double measure_fma_peak_gflops(double seconds);

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_PEAK_H_
