// Throughput benchmark for the packed SGEMM.
//
//   bench_gemm [--quick] [--isa scalar|avx2|avx512] [--crossover] [--kernel]
//              [--blocks KC,MC,NC] [--runs N]
//
// Prints GFLOP/s (2*m*n*k / median time) on 1 and 2 threads for the MLP
// shapes (layer 784 -> 512 at batch 64, and 1024 -> 1024 at batch 256) in
// the three forms, plus square problems, each as % of the FMA peak measured
// with a register-only loop of independent FMAs as wide as the kernels' (peak.cc). Built with
// -DMLPKIT_WITH_OPENBLAS (and -lopenblas) it prints OpenBLAS side by side.
//   --crossover  times direct vs packed path for small m and small cubes
//   --kernel     times the micro-kernel alone on L1/L2-resident packed data
//   --blocks KC,MC,NC  overrides the cache blocksizes (for tuning)
//   --runs N     rounds per table cell (best of N medians; default 5)
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gemm.h"
#include "peak.h"

#ifdef MLPKIT_WITH_OPENBLAS
#include <cblas.h>
#endif

using namespace mlpkit;
using Clock = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------
// A small persistent pool: spawning threads per call would cost tens of
// microseconds, a visible share of a 64x512x784 product.
class SpinPool {
 public:
  explicit SpinPool(int workers) {
    for (int w = 0; w < workers; ++w) threads_.emplace_back([this, w] { loop(w + 1); });
  }
  ~SpinPool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  static void parallel_for(void* pool, int count, void (*fn)(void*, int), void* arg) {
    static_cast<SpinPool*>(pool)->run(count, fn, arg);
  }

 private:
  void run(int count, void (*fn)(void*, int), void* arg) {
    fn_ = fn;
    arg_ = arg;
    count_ = count;
    pending_.store(static_cast<int>(threads_.size()));
    {
      std::lock_guard<std::mutex> lock(mu_);
      generation_.fetch_add(1);
    }
    cv_.notify_all();
    fn(arg, 0);
    while (pending_.load() != 0) {
    }
  }
  void loop(int index) {
    unsigned seen = 0;
    for (;;) {
      // Spin briefly (benchmark calls come back to back), then sleep.
      int spins = 0;
      while (generation_.load() == seen && spins < 200000) ++spins;
      if (generation_.load() == seen) {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return generation_.load() != seen; });
      }
      seen = generation_.load();
      if (stop_) return;
      if (index < count_) fn_(arg_, index);
      pending_.fetch_sub(1);
    }
  }
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<unsigned> generation_{0};
  std::atomic<int> pending_{0};
  void (*fn_)(void*, int) = nullptr;
  void* arg_ = nullptr;
  int count_ = 0;
  bool stop_ = false;
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Median seconds of one call, over enough repetitions for ~budget seconds.
template <class F>
double median_time(F&& f, double budget = 0.25, int min_reps = 15) {
  for (int w = 0; w < 3; ++w) f();
  const auto t0 = Clock::now();
  f();
  const double once = std::max(seconds_since(t0), 1e-7);
  const int reps = std::max(min_reps, std::min(20000, static_cast<int>(budget / once)));
  std::vector<double> ts(reps);
  for (int r = 0; r < reps; ++r) {
    const auto s = Clock::now();
    f();
    ts[r] = seconds_since(s);
  }
  std::nth_element(ts.begin(), ts.begin() + reps / 2, ts.end());
  return ts[reps / 2];
}

// ---------------------------------------------------------------------------
// FMA peak of `threads` cores at the width of the kernels in use (the addon's probe, peak.cc:
// zmm FMAs for the AVX-512 kernels, ymm for AVX2), each core measuring at once: the sum.
double fma_peak_gflops(int threads, Isa isa) {
  std::vector<double> each(threads, 0.0);
  std::vector<std::thread> ts;
  for (int t = 1; t < threads; ++t) ts.emplace_back([&, t] { each[t] = measure_fma_peak_gflops(0.3, isa); });
  each[0] = measure_fma_peak_gflops(0.3, isa);
  for (auto& t : ts) t.join();
  double sum = 0;
  for (double g : each) sum += g;
  return sum;
}

// ---------------------------------------------------------------------------
struct Problem {
  const char* label;
  Trans ta, tb;
  int m, n, k;
};

const char* form(Trans ta, Trans tb) {
  if (ta == Trans::No) return tb == Trans::No ? "NN" : "NT";
  return tb == Trans::No ? "TN" : "TT";
}

struct Operands {
  std::vector<float> a, b, c;
  Operands(int m, int n, int k) : a(static_cast<size_t>(m) * k), b(static_cast<size_t>(k) * n), c(static_cast<size_t>(m) * n) {
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> d(-1.0f, 1.0f);
    for (auto& x : a) x = d(rng);
    for (auto& x : b) x = d(rng);
    for (auto& x : c) x = d(rng);
  }
};

double run_ours(const Problem& p, Operands& o, const GemmContext& ctx) {
  const int lda = p.ta == Trans::No ? p.k : p.m;
  const int ldb = p.tb == Trans::No ? p.n : p.k;
  const double t = median_time([&] {
    sgemm(p.ta, p.tb, p.m, p.n, p.k, 1.0f, o.a.data(), lda, o.b.data(), ldb, 0.0f, o.c.data(),
          p.n, ctx);
  });
  return 2.0 * p.m * p.n * p.k / t * 1e-9;
}

#ifdef MLPKIT_WITH_OPENBLAS
double run_openblas(const Problem& p, Operands& o, int threads) {
  openblas_set_num_threads(threads);
  const int lda = p.ta == Trans::No ? p.k : p.m;
  const int ldb = p.tb == Trans::No ? p.n : p.k;
  const auto ta = p.ta == Trans::No ? CblasNoTrans : CblasTrans;
  const auto tb = p.tb == Trans::No ? CblasNoTrans : CblasTrans;
  const double t = median_time([&] {
    cblas_sgemm(CblasRowMajor, ta, tb, p.m, p.n, p.k, 1.0f, o.a.data(), lda, o.b.data(), ldb,
                0.0f, o.c.data(), p.n);
  });
  return 2.0 * p.m * p.n * p.k / t * 1e-9;
}
#endif

// Each cell is the best, over `runs` rounds, of a median over many calls;
// rounds alternate between our code and OpenBLAS so both see the same
// machine conditions (this matters on a shared 2-vCPU machine, where a busy
// neighbour can halve a single measurement).
void main_table(const GemmConfig& cfg, bool quick, int runs, double peak1, double peak2,
                SpinPool& pool) {
  std::vector<Problem> problems = {
      {"mlp 784->512 b64 fwd", Trans::No, Trans::Yes, 64, 512, 784},
      {"mlp 784->512 b64 bwd", Trans::No, Trans::No, 64, 784, 512},
      {"mlp 784->512 b64 grad", Trans::Yes, Trans::No, 512, 784, 64},
      {"mlp 1024^2 b256 fwd", Trans::No, Trans::Yes, 256, 1024, 1024},
      {"mlp 1024^2 b256 bwd", Trans::No, Trans::No, 256, 1024, 1024},
      {"mlp 1024^2 b256 grad", Trans::Yes, Trans::No, 1024, 1024, 256},
  };
  if (!quick)
    for (int s : {256, 512, 1024})
      for (auto f : {std::make_pair(Trans::No, Trans::Yes), std::make_pair(Trans::No, Trans::No),
                     std::make_pair(Trans::Yes, Trans::No)})
        problems.push_back({"square", f.first, f.second, s, s, s});

  GemmWorkspace ws(gemm_workspace_bytes(cfg, 1024, 1024, 1024, 2));
  std::printf("\n%-22s %-4s %-16s | %8s %6s %8s %6s", "shape", "form", "m x n x k", "1T GF/s",
              "%peak", "2T GF/s", "%peak");
#ifdef MLPKIT_WITH_OPENBLAS
  std::printf(" | %8s %6s %8s %6s", "OB 1T", "%peak", "OB 2T", "%peak");
#endif
  std::printf("\n");
  for (const auto& p : problems) {
    Operands o(p.m, p.n, p.k);
    char dims[32];
    std::snprintf(dims, sizeof dims, "%dx%dx%d", p.m, p.n, p.k);
    GemmContext c1;
    c1.config = &cfg;
    c1.workspace = &ws;
    GemmContext c2 = c1;
    c2.num_threads = 2;
    c2.parallel_for = SpinPool::parallel_for;
    c2.pool = &pool;
    double g1 = 0, g2 = 0;
#ifdef MLPKIT_WITH_OPENBLAS
    double o1 = 0, o2 = 0;
#endif
    for (int r = 0; r < runs; ++r) {
      g1 = std::max(g1, run_ours(p, o, c1));
      g2 = std::max(g2, run_ours(p, o, c2));
#ifdef MLPKIT_WITH_OPENBLAS
      o1 = std::max(o1, run_openblas(p, o, 1));
      o2 = std::max(o2, run_openblas(p, o, 2));
#endif
    }
    std::printf("%-22s %-4s %-16s | %8.1f %5.1f%% %8.1f %5.1f%%", p.label, form(p.ta, p.tb), dims,
                g1, 100 * g1 / peak1, g2, 100 * g2 / peak2);
#ifdef MLPKIT_WITH_OPENBLAS
    std::printf(" | %8.1f %5.1f%% %8.1f %5.1f%%", o1, 100 * o1 / peak1, o2, 100 * o2 / peak2);
#endif
    std::printf("\n");
    std::fflush(stdout);
  }
}

// Direct vs packed path, 1 thread: where the small-problem path stops paying.
void crossover(const GemmConfig& cfg) {
  GemmConfig direct = cfg, packed = cfg;
  direct.direct_max_m = direct.direct_max_m_prepacked = 1 << 30;
  direct.direct_max_mnk = 1e30;
  direct.direct_max_mnk_bt = 1e30;
  direct.direct_max_n_bt = 1 << 30;
  packed.direct_max_m = packed.direct_max_m_prepacked = 0;
  packed.direct_max_mnk = 0;
  packed.direct_max_mnk_bt = 0;
  packed.direct_max_n_bt = 0;
  GemmWorkspace ws(gemm_workspace_bytes(cfg, 1024, 1024, 1024, 1));
  GemmContext cd, cp;
  cd.config = &direct;
  cp.config = &packed;
  cd.workspace = cp.workspace = &ws;
  std::printf("\ncrossover (%s, 1 thread): GFLOP/s direct vs packed\n", cfg.name);
  std::printf("%-4s %-14s %8s %8s\n", "form", "m x n x k", "direct", "packed");
  const std::pair<Trans, Trans> forms[] = {
      {Trans::No, Trans::Yes}, {Trans::No, Trans::No}, {Trans::Yes, Trans::No}};
  for (auto f : forms) {
    auto one = [&](int m, int n, int k) {
      Problem p{"", f.first, f.second, m, n, k};
      Operands o(m, n, k);
      const double gd = run_ours(p, o, cd), gp = run_ours(p, o, cp);
      char dims[32];
      std::snprintf(dims, sizeof dims, "%dx%dx%d", m, n, k);
      std::printf("%-4s %-14s %8.1f %8.1f %s\n", form(f.first, f.second), dims, gd, gp,
                  gd > gp ? "direct" : "packed");
    };
    for (int m : {1, 2, 3, 4, 6, 8, 12, 16}) one(m, 512, 784);
    for (int s : {8, 16, 24, 32, 48, 64}) one(s, s, s);
    std::fflush(stdout);
  }
}

// Micro-kernel alone on packed panels that stay in cache: the ceiling the
// driver can approach.
void kernel_only(const GemmConfig& cfg, double peak1) {
  const int kc = cfg.kc, mtiles = 24;
  GemmWorkspace buf(sizeof(float) * (static_cast<size_t>(kc) * (cfg.mr * mtiles + cfg.nr) + 64));
  float* a = static_cast<float*>(buf.data());
  float* b = a + static_cast<size_t>(kc) * cfg.mr * mtiles;
  for (size_t i = 0; i < static_cast<size_t>(kc) * (cfg.mr * mtiles + cfg.nr); ++i)
    a[i] = 0.001f * (i % 97);
  std::vector<float> c(static_cast<size_t>(cfg.mr) * mtiles * cfg.nr);
  const double t = median_time([&] {
    for (int it = 0; it < mtiles; ++it)
      cfg.ukernel(cfg.mr, cfg.nr, kc, 1.0f, a + static_cast<size_t>(it) * kc * cfg.mr, b, 1.0f,
                  c.data() + static_cast<size_t>(it) * cfg.mr * cfg.nr, cfg.nr);
  });
  const double g = 2.0 * cfg.mr * cfg.nr * kc * mtiles / t * 1e-9;
  std::printf("\nmicro-kernel %dx%d alone, kc=%d, A from L2/B in L1: %.1f GFLOP/s (%.1f%% of peak)\n",
              cfg.mr, cfg.nr, kc, g, 100 * g / peak1);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, cross = false, kernel = false;
  int kc = 0, mc = 0, nc = 0, runs = 5;
  Isa isa = gemm_config().isa;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--quick") quick = true;
    else if (arg == "--crossover") cross = true;
    else if (arg == "--kernel") kernel = true;
    else if (arg == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--blocks" && i + 1 < argc) {
      if (std::sscanf(argv[++i], "%d,%d,%d", &kc, &mc, &nc) != 3) return 2;
    }
    else if (arg == "--isa" && i + 1 < argc) {
      const std::string v = argv[++i];
      isa = v == "scalar" ? Isa::Scalar : v == "avx512" ? Isa::Avx512 : Isa::Avx2;
    } else {
      std::fprintf(stderr, "usage: %s [--quick] [--isa scalar|avx2|avx512] [--crossover] [--kernel] [--blocks KC,MC,NC] [--runs N]\n",
                   argv[0]);
      return 2;
    }
  }
  GemmConfig cfg = gemm_config(isa);
  if (kc > 0) {
    cfg.kc = kc;
    cfg.mc = mc / cfg.mr * cfg.mr;
    cfg.nc = nc / cfg.nr * cfg.nr;
  }
  std::printf("config: %s  MR=%d NR=%d KC=%d MC=%d NC=%d  direct: m<=%d or mnk<=%.0f (NT: %.0f, or n<=%d)\n",
              cfg.name, cfg.mr, cfg.nr, cfg.kc, cfg.mc, cfg.nc, cfg.direct_max_m, cfg.direct_max_mnk,
              cfg.direct_max_mnk_bt, cfg.direct_max_n_bt);
  // The scalar kernels have no vector peak of their own: they are shown against ymm's.
  const Isa yardstick = cfg.isa == Isa::Scalar ? Isa::Avx2 : cfg.isa;
  const double peak1 = fma_peak_gflops(1, yardstick);
  const double peak2 = fma_peak_gflops(2, yardstick);
  std::printf("FMA peak (%s FMAs, 12 chains): 1 core %.1f GFLOP/s, 2 cores %.1f GFLOP/s\n",
              yardstick == Isa::Avx512 ? "zmm" : "ymm", peak1, peak2);
  SpinPool pool(1);
  if (kernel) kernel_only(cfg, peak1);
  if (cross) crossover(cfg);
  if (!cross && !kernel) main_table(cfg, quick, runs, peak1, peak2, pool);
  return 0;
}
