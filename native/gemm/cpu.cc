// CPU feature detection. __builtin_cpu_supports() consults CPUID and XCR0
// (so a kernel that disabled AVX state reports "no"), and is safe to call
// from a baseline x86-64 translation unit.
#include "cpu.h"

namespace mlpkit {

static CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  f.avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  // Every AVX-512F part also has AVX2+FMA; requiring both keeps the AVX-512
  // config free to reuse AVX2 helpers (packing, direct path).
  f.avx512f = f.avx2_fma && __builtin_cpu_supports("avx512f");
#endif
  return f;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();  // thread-safe, once
  return features;
}

}  // namespace mlpkit
