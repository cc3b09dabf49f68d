// CPU feature detection for the GEMM dispatcher, queried once (the answers include the OS check,
// XSAVE state enabled for YMM/ZMM, not only CPUID); elementwise loops for the CPU at hand; the
// pause of a spin-wait loop.
#ifndef MLPKIT_NATIVE_GEMM_CPU_H_
#define MLPKIT_NATIVE_GEMM_CPU_H_

namespace mlpkit {

struct CpuFeatures {
  bool avx2_fma = false;  // AVX2 and FMA3 both present and usable
  bool avx512f = false;   // AVX-512 Foundation present and usable
};

const CpuFeatures& cpu_features();

// An elementwise loop compiled twice, for AVX2 and for baseline x86-64, the better one picked
// when the addon loads. Each element alone, so either gives the same bits.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define MLPKIT_ELEMENTWISE __attribute__((target_clones("avx2", "default")))
#else
#define MLPKIT_ELEMENTWISE
#endif

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
