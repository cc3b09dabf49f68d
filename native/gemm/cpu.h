// CPU feature detection for the GEMM dispatcher, queried once (the answers include the OS check,
// XSAVE state enabled for YMM/ZMM, not only CPUID); and the pause of a spin-wait loop.
#ifndef MLPKIT_NATIVE_GEMM_CPU_H_
#define MLPKIT_NATIVE_GEMM_CPU_H_

namespace mlpkit {

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 and FMA3 both present and usable
  bool avx512f = false;   // AVX-512 Foundation present and usable
};

const CpuFeatures& cpu_features();

// A pause in a spin-wait loop: lets the other hyperthread of the core run and eases the memory
// traffic of the loop.
inline void relax_cpu() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_GEMM_CPU_H_
