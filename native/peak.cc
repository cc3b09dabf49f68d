#include "peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gemm/cpu.h"
#include "gemm/gemm.h"
#include "team.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace mlpkit {
namespace {

#if defined(__x86_64__) || defined(__i386__)
// 12 independent accumulator chains hide the FMA latency (4–5 cycles) on two FMA pipes. The
// loops are written out per width so each runs entirely inside its target-specific function,
// and each chain starts from its own value: identical chains would be merged by the compiler.
__attribute__((target("avx2,fma"))) double flops_avx2(long iterations) {
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  __m256 c0 = _mm256_set1_ps(1), c1 = _mm256_set1_ps(2), c2 = _mm256_set1_ps(3), c3 = _mm256_set1_ps(4);
  __m256 c4 = _mm256_set1_ps(5), c5 = _mm256_set1_ps(6), c6 = _mm256_set1_ps(7), c7 = _mm256_set1_ps(8);
  __m256 c8 = _mm256_set1_ps(9), c9 = _mm256_set1_ps(10), c10 = _mm256_set1_ps(11), c11 = _mm256_set1_ps(12);
  for (long it = 0; it < iterations; ++it) {
    c0 = _mm256_fmadd_ps(a, c0, b); c1 = _mm256_fmadd_ps(a, c1, b); c2 = _mm256_fmadd_ps(a, c2, b);
    c3 = _mm256_fmadd_ps(a, c3, b); c4 = _mm256_fmadd_ps(a, c4, b); c5 = _mm256_fmadd_ps(a, c5, b);
    c6 = _mm256_fmadd_ps(a, c6, b); c7 = _mm256_fmadd_ps(a, c7, b); c8 = _mm256_fmadd_ps(a, c8, b);
    c9 = _mm256_fmadd_ps(a, c9, b); c10 = _mm256_fmadd_ps(a, c10, b); c11 = _mm256_fmadd_ps(a, c11, b);
  }
  const __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                                   _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)),
                                                 _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11))));
  volatile float keep = _mm256_cvtss_f32(sum);
  (void)keep;
  return 2.0 * 8 * 12 * iterations;
}

__attribute__((target("avx512f"))) double flops_avx512(long iterations) {
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  __m512 c0 = _mm512_set1_ps(1), c1 = _mm512_set1_ps(2), c2 = _mm512_set1_ps(3), c3 = _mm512_set1_ps(4);
  __m512 c4 = _mm512_set1_ps(5), c5 = _mm512_set1_ps(6), c6 = _mm512_set1_ps(7), c7 = _mm512_set1_ps(8);
  __m512 c8 = _mm512_set1_ps(9), c9 = _mm512_set1_ps(10), c10 = _mm512_set1_ps(11), c11 = _mm512_set1_ps(12);
  for (long it = 0; it < iterations; ++it) {
    c0 = _mm512_fmadd_ps(a, c0, b); c1 = _mm512_fmadd_ps(a, c1, b); c2 = _mm512_fmadd_ps(a, c2, b);
    c3 = _mm512_fmadd_ps(a, c3, b); c4 = _mm512_fmadd_ps(a, c4, b); c5 = _mm512_fmadd_ps(a, c5, b);
    c6 = _mm512_fmadd_ps(a, c6, b); c7 = _mm512_fmadd_ps(a, c7, b); c8 = _mm512_fmadd_ps(a, c8, b);
    c9 = _mm512_fmadd_ps(a, c9, b); c10 = _mm512_fmadd_ps(a, c10, b); c11 = _mm512_fmadd_ps(a, c11, b);
  }
  const __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                                   _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)),
                                                 _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11))));
  volatile float keep = _mm512_cvtss_f32(sum);
  (void)keep;
  return 2.0 * 16 * 12 * iterations;
}

// One pass over `floats` (a multiple of 64, 64-byte aligned) with four independent sums, so that
// the loads, not the additions, set the pace; written out per width, as the FMA loops above.
__attribute__((target("avx2"))) float read_avx2(const float* data, std::size_t floats) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (std::size_t i = 0; i < floats; i += 32) {
    s0 = _mm256_add_ps(s0, _mm256_load_ps(data + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(data + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(data + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(data + i + 24));
  }
  return _mm256_cvtss_f32(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

__attribute__((target("avx512f"))) float read_avx512(const float* data, std::size_t floats) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (std::size_t i = 0; i < floats; i += 64) {
    s0 = _mm512_add_ps(s0, _mm512_load_ps(data + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(data + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(data + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(data + i + 48));
  }
  return _mm512_cvtss_f32(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
#endif

float read_scalar(const float* data, std::size_t floats) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::size_t i = 0; i < floats; i += 8)
    for (int j = 0; j < 8; ++j) s[j] += data[i + j];
  return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

}  // namespace

double measure_read_gbs(std::size_t bytes, double seconds, Isa isa) {
  const std::size_t floats = std::max<std::size_t>(64, (bytes / sizeof(float) + 63) / 64 * 64);
  GemmWorkspace block;  // 64-byte aligned
  block.reserve(floats * sizeof(float));
  float* data = static_cast<float*>(block.data());
  for (std::size_t i = 0; i < floats; ++i) data[i] = 1.0f / static_cast<float>(1 + (i & 255));
  float (*pass)(const float*, std::size_t) = read_scalar;
#if defined(__x86_64__) || defined(__i386__)
  if (isa == Isa::Avx512 && cpu_supports(Isa::Avx512)) {
    pass = read_avx512;
  } else if (isa != Isa::Scalar && cpu_supports(Isa::Avx2)) {
    pass = read_avx2;
  }
#else
  (void)isa;
#endif
  using clock = std::chrono::steady_clock;
  double best = 0.0;
  volatile float keep = 0.0f;
  const auto end = clock::now() + std::chrono::duration<double>(seconds);
  keep = keep + pass(data, floats);  // the first pass brings the block into the caches it fits
  while (clock::now() < end) {
    const int passes = 16;
    const auto start = clock::now();
    for (int p = 0; p < passes; ++p) keep = keep + pass(data, floats);
    const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    best = std::max(best, passes * floats * sizeof(float) / elapsed);
  }
  return best / 1e9;
}

double measure_fma_peak_gflops(double seconds, Isa isa) {
#if defined(__x86_64__) || defined(__i386__)
  const bool wide = isa == Isa::Avx512 && cpu_supports(Isa::Avx512);
  if (!wide && (isa == Isa::Scalar || !cpu_supports(Isa::Avx2))) return 0.0;
  using clock = std::chrono::steady_clock;
  double best = 0.0;
  const auto end = clock::now() + std::chrono::duration<double>(seconds);
  while (clock::now() < end) {
    const auto start = clock::now();
    const double flops = wide ? flops_avx512(2000000) : flops_avx2(2000000);
    const double elapsed = std::chrono::duration<double>(clock::now() - start).count();
    if (flops / elapsed > best) best = flops / elapsed;
  }
  return best / 1e9;
#else
  (void)seconds;
  (void)isa;
  return 0.0;
#endif
}

double measure_handoff_round_trip_ns(double seconds) {
  if (available_cpus() < 2) return 0.0;
  // The flag counts hand-offs: the caller moves it from even to odd, the partner from odd to
  // even; one pass is `trips` round trips. A flag of its own cache line, so nothing else moves.
  struct alignas(64) Flag {
    std::atomic<uint32_t> value{0};
  };
  Flag flag;
  std::atomic<bool> done{false};
  // Spins, then yields: on a machine busy with other work the partner may be off its CPU, and a
  // pass must still end.
  const auto wait_for = [&](uint32_t expected) {
    for (int spin = 0; flag.value.load(std::memory_order_acquire) != expected && !done.load(std::memory_order_relaxed); ++spin) {
      if (spin < 4096) {
        relax_cpu();
      } else {
        std::this_thread::yield();
      }
    }
  };
  std::thread partner([&] {
    for (uint32_t next = 1; !done.load(std::memory_order_relaxed); next += 2) {
      wait_for(next);
      flag.value.store(next + 1, std::memory_order_release);
    }
  });
  using clock = std::chrono::steady_clock;
  const int trips = 2000;
  std::vector<double> passes;
  uint32_t at = 0;
  const auto end = clock::now() + std::chrono::duration<double>(seconds);
  for (int pass = 0; pass < 2 || clock::now() < end; ++pass) {
    const auto start = clock::now();
    for (int i = 0; i < trips; ++i, at += 2) {
      flag.value.store(at + 1, std::memory_order_release);
      wait_for(at + 2);
    }
    if (pass > 0) passes.push_back(std::chrono::duration<double, std::nano>(clock::now() - start).count() / trips);  // pass 0 warms up
  }
  done.store(true, std::memory_order_relaxed);
  partner.join();
  std::nth_element(passes.begin(), passes.begin() + passes.size() / 2, passes.end());
  return passes[passes.size() / 2];
}

}  // namespace mlpkit
