// CPU feature detection for the GEMM dispatcher. Queried once; the answers
// include the OS check (XSAVE state enabled for YMM/ZMM), not only CPUID.
#ifndef MLPKIT_NATIVE_GEMM_CPU_H_
#define MLPKIT_NATIVE_GEMM_CPU_H_

namespace mlpkit {

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 and FMA3 both present and usable
  bool avx512f = false;   // AVX-512 Foundation present and usable
};

const CpuFeatures& cpu_features();

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_GEMM_CPU_H_
