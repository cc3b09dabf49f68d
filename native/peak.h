// The FMA peak and the read bandwidth of one core, and the time a cache line takes between two
// cores, measured: the yardsticks the benchmarks report speed against.
#ifndef MLPKIT_NATIVE_PEAK_H_
#define MLPKIT_NATIVE_PEAK_H_

#include <cstddef>

#include "gemm/gemm.h"

namespace mlpkit {

// GFLOP/s of one core running a loop of independent vector FMAs on registers of the width the
// kernels of `isa` use (512-bit for avx512, 256-bit for avx2; 0 for scalar, which has no
// vector peak), for about `seconds`: the yardstick speeds are reported against.
double measure_fma_peak_gflops(double seconds, Isa isa);

// GB/s at which one core reads a block of `bytes` again and again (vector loads of the width the
// kernels of `isa` use, summed), best pass of about `seconds`: from L1, L2 or L3 depending on the
// size. The bound of work that streams its operands once per call, such as a prediction of one
// row, which reads every weight once.
double measure_read_gbs(std::size_t bytes, double seconds, Isa isa);

// Nanoseconds for a cache line to go from one thread to another and back, median of passes over
// about `seconds`: two threads placed by the OS, as a model's team is, flip a flag in turn. Every
// line one thread of a training step writes and another then reads or writes pays half of it, so
// a step on two threads gains less where this is long (cores on different dies, or virtual CPUs
// far apart on their host). 0 when this process may use only one CPU.
double measure_handoff_round_trip_ns(double seconds);

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_PEAK_H_
