// Correctness tests for the packed SGEMM.
//
// For every ISA this CPU can run, every form (NN, NT, TN, TT), the packed,
// direct and automatic paths, shapes on every micro-tile and cache-block
// edge, strided operands and general alpha/beta, the result is compared
// with a double-accumulation reference. beta == 0 runs start from a
// NaN-filled C (the kernels must not read it) and the padding between rows
// of C must stay untouched. Every case is re-run with 2 real threads and
// with 3 serial tasks and must match the 1-thread result bit for bit.
//
// Exit status: 0 when everything passes, 1 otherwise.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "gemm.h"
#include "ukernel.h"

using namespace mlpkit;

namespace {

int g_failures = 0;
long g_cases = 0;

const char* form_name(Trans ta, Trans tb) {
  if (ta == Trans::No) return tb == Trans::No ? "NN" : "NT";
  return tb == Trans::No ? "TN" : "TT";
}

// Minimal pool stand-in: one std::thread per task beyond the first.
void thread_parallel_for(void*, int count, void (*fn)(void*, int), void* arg) {
  std::vector<std::thread> workers;
  for (int i = 1; i < count; ++i) workers.emplace_back(fn, arg, i);
  fn(arg, 0);
  for (auto& w : workers) w.join();
}

struct Case {
  const GemmConfig* cfg;
  const char* path;
  Trans ta, tb;
  int m, n, k;
  float alpha, beta;
};

void report(const Case& t, const char* what, int i, int j, double expected, double got) {
  if (++g_failures <= 30)
    std::printf("FAIL isa=%s path=%s form=%s m=%d n=%d k=%d alpha=%g beta=%g: %s at (%d,%d) "
                "expected %.9g got %.9g\n",
                t.cfg->name, t.path, form_name(t.ta, t.tb), t.m, t.n, t.k, t.alpha, t.beta, what,
                i, j, expected, got);
}

bool same_bits(float x, float y) { return std::memcmp(&x, &y, sizeof x) == 0; }

void run_case(const Case& t, std::mt19937& rng) {
  ++g_cases;
  const int m = t.m, n = t.n, k = t.k;
  // Source shapes and strides: op(A) is (m, k); stored (m, k) or (k, m).
  const int a_rows = t.ta == Trans::No ? m : k, a_cols = t.ta == Trans::No ? k : m;
  const int b_rows = t.tb == Trans::No ? k : n, b_cols = t.tb == Trans::No ? n : k;
  const int lda = a_cols + 3, ldb = b_cols + 5, ldc = n + 7;
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> a(static_cast<size_t>(a_rows) * lda), b(static_cast<size_t>(b_rows) * ldb);
  for (auto& x : a) x = dist(rng);
  for (auto& x : b) x = dist(rng);
  const float sentinel = 12345.0f;
  std::vector<float> c0(static_cast<size_t>(m) * ldc, sentinel);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j)
      c0[static_cast<size_t>(i) * ldc + j] =
          t.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : dist(rng);

  auto A = [&](int i, int p) {
    return t.ta == Trans::No ? a[static_cast<size_t>(i) * lda + p] : a[static_cast<size_t>(p) * lda + i];
  };
  auto B = [&](int p, int j) {
    return t.tb == Trans::No ? b[static_cast<size_t>(p) * ldb + j] : b[static_cast<size_t>(j) * ldb + p];
  };

  GemmWorkspace ws;
  GemmContext ctx;
  ctx.config = t.cfg;
  ctx.workspace = &ws;
  std::vector<float> c1 = c0;
  sgemm(t.ta, t.tb, m, n, k, t.alpha, a.data(), lda, b.data(), ldb, t.beta, c1.data(), ldc, ctx);

  int bad = 0;
  for (int i = 0; i < m && bad < 3; ++i) {
    for (int j = 0; j < ldc && bad < 3; ++j) {
      const float got = c1[static_cast<size_t>(i) * ldc + j];
      if (j >= n) {
        if (!same_bits(got, sentinel)) {
          report(t, "wrote outside C", i, j, sentinel, got);
          ++bad;
        }
        continue;
      }
      double sum = 0.0, mag = 0.0;
      for (int p = 0; p < k; ++p) {
        const double x = static_cast<double>(A(i, p)) * B(p, j);
        sum += x;
        mag += std::fabs(x);
      }
      const double cin = c0[static_cast<size_t>(i) * ldc + j];
      double ref = t.alpha * sum, scale = std::fabs(t.alpha) * mag;
      if (t.beta != 0.0f) {
        ref += t.beta * cin;
        scale += std::fabs(t.beta * cin);
      }
      const double tol = std::max(1e-5 * std::sqrt(k + 1.0) * std::max(scale, 1e-3),
                                  1e-6 * std::fabs(ref));
      if (!(std::fabs(got - ref) <= tol)) {
        report(t, "value", i, j, ref, got);
        ++bad;
      }
    }
  }

  // The same product through a variant of the configuration that must give the same bits.
  const auto expect_same_bits = [&](const GemmConfig& variant, const char* what) {
    GemmWorkspace ws_variant;
    GemmContext ctx_variant = ctx;
    ctx_variant.config = &variant;
    ctx_variant.workspace = &ws_variant;
    std::vector<float> c_variant = c0;
    sgemm(t.ta, t.tb, m, n, k, t.alpha, a.data(), lda, b.data(), ldb, t.beta, c_variant.data(), ldc, ctx_variant);
    for (size_t e = 0; e < c_variant.size(); ++e) {
      if (!same_bits(c1[e], c_variant[e])) {
        report(t, what, static_cast<int>(e / ldc), static_cast<int>(e % ldc), c_variant[e], c1[e]);
        ++bad;
        return;
      }
    }
  };
  // A read in place (ukernel_rows_a) against A packed: the same products in the same order.
  if (bad == 0 && t.ta == Trans::No && t.cfg->ukernel_rows_a != nullptr) {
    GemmConfig packed_a = *t.cfg;
    packed_a.ukernel_rows_a = nullptr;
    expect_same_bits(packed_a, "A packed differs from A read in place");
  }
  // The usual form against a product computed as its transpose (GemmConfig::transposed_max_m):
  // the same products in the same order.
  if (bad == 0 && t.cfg->transposed_max_m > 0) {
    GemmConfig usual = *t.cfg;
    usual.transposed_max_m = 0;
    expect_same_bits(usual, "the usual form differs from the transposed one");
  }

  // Thread-count invariance: 2 real threads, then 3 tasks run serially.
  for (int variant = 0; variant < 2 && bad == 0; ++variant) {
    GemmContext ctx2 = ctx;
    GemmWorkspace ws2;
    ctx2.workspace = &ws2;
    ctx2.num_threads = variant == 0 ? 2 : 3;
    ctx2.parallel_for = variant == 0 ? thread_parallel_for : nullptr;
    std::vector<float> c2 = c0;
    sgemm(t.ta, t.tb, m, n, k, t.alpha, a.data(), lda, b.data(), ldb, t.beta, c2.data(), ldc,
          ctx2);
    for (size_t e = 0; e < c2.size(); ++e) {
      if (!same_bits(c1[e], c2[e])) {
        report(t, variant == 0 ? "2 threads differ from 1" : "3 tasks differ from 1",
               static_cast<int>(e / ldc), static_cast<int>(e % ldc), c1[e], c2[e]);
        break;
      }
    }
  }
}

GemmConfig forced(const GemmConfig& base, bool direct) {
  GemmConfig c = base;
  c.direct_max_m = c.direct_max_m_prepacked = direct ? 1 << 30 : 0;
  c.direct_max_mnk = direct ? 1e30 : 0.0;
  c.direct_max_mnk_bt = direct ? 1e30 : 0.0;
  c.direct_max_n_bt = direct ? 1 << 30 : 0;
  return c;
}

void test_isa(const GemmConfig& base) {
  std::mt19937 rng(1234);
  const GemmConfig packed = forced(base, false), direct = forced(base, true);
  const int MR = base.mr, NR = base.nr, KC = base.kc;
  std::vector<int> mdims = {1, 2, MR - 1, MR, MR + 1, 2 * MR + 1, NR - 1, NR, NR + 1, 3 * MR + 2, 2 * NR};
  std::vector<int> ndims = {1, 2, NR - 1, NR, NR + 1, 2 * NR + 3, MR + 1};
  std::vector<int> kdims_small = {1, 3, 8, 17};
  std::vector<int> kdims = {KC - 1, KC, KC + 1, 2 * KC + 5};
  const float ab[][2] = {{1.0f, 0.0f}, {0.5f, -1.25f}, {1.0f, 1.0f}, {-2.0f, 0.0f}};
  const Trans forms[][2] = {{Trans::No, Trans::Yes}, {Trans::No, Trans::No},
                            {Trans::Yes, Trans::No}, {Trans::Yes, Trans::Yes}};
  const struct {
    const GemmConfig* cfg;
    const char* name;
  } paths[] = {{&packed, "packed"}, {&direct, "direct"}, {&base, "auto"}};
  int idx = 0;
  auto run = [&](const GemmConfig* cfg, const char* path, Trans ta, Trans tb, int m, int n, int k) {
    if (m <= 0 || n <= 0 || k <= 0) return;
    const auto& s = ab[idx++ % 4];
    run_case(Case{cfg, path, ta, tb, m, n, k, s[0], s[1]}, rng);
  };
  for (const auto& f : forms) {
    for (const auto& p : paths) {
      // Micro-tile edges in m and n.
      for (int m : mdims)
        for (int n : ndims)
          for (int k : kdims_small) run(p.cfg, p.name, f[0], f[1], m, n, k);
      // KC edges, with m and n on and off the tile grid.
      for (int k : kdims)
        for (int mn : {1, MR + 1, NR + 1}) {
          run(p.cfg, p.name, f[0], f[1], mn, 2 * NR + 1, k);
          run(p.cfg, p.name, f[0], f[1], 2 * MR + 1, mn, k);
        }
    }
    // MC and NC edges (packed path; the blocking is what is under test).
    for (int m : {base.mc - 1, base.mc, base.mc + 1, 2 * base.mc + MR + 1})
      run(&packed, "packed", f[0], f[1], m, NR + 3, 9);
    for (int n : {base.nc - 1, base.nc + 1})
      run(&packed, "packed", f[0], f[1], MR + 1, n, 5);
    // MLP-like shapes through the automatic path (at m = 64 and 4·NR, NT and NN are transposed,
    // with several k blocks and a last take of fewer rows).
    run(&base, "auto", f[0], f[1], 64, 100, 84);
    run(&base, "auto", f[0], f[1], 4 * NR, 13 * MR + 5, 2 * KC + 7);
    run(&base, "auto", f[0], f[1], 4, 300, 300);
    run(&base, "auto", f[0], f[1], 37, 70, 300);
  }
}

// alpha == 0 and k == 0 must give beta*C without touching A/B; beta == 0 must
// give exact zeros even over NaN garbage.
void test_degenerate(const GemmConfig& cfg) {
  GemmWorkspace ws;
  GemmContext ctx;
  ctx.config = &cfg;
  ctx.workspace = &ws;
  const int m = 5, n = 9, ldc = 11;
  for (int variant = 0; variant < 4; ++variant) {
    const float beta = variant % 2 == 0 ? 0.0f : 2.0f;
    const int k = variant < 2 ? 0 : 3;
    const float alpha = variant < 2 ? 1.0f : 0.0f;
    std::vector<float> c(m * ldc, 3.0f);
    if (beta == 0.0f)
      for (auto& x : c) x = std::numeric_limits<float>::quiet_NaN();
    // A and B are NaN: they must not be read.
    std::vector<float> ab(64, std::numeric_limits<float>::quiet_NaN());
    sgemm(Trans::No, Trans::Yes, m, n, k, alpha, ab.data(), 8, ab.data(), 8, beta, c.data(), ldc,
          ctx);
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) {
        const float want = beta == 0.0f ? 0.0f : 6.0f;
        if (!(c[i * ldc + j] == want)) {
          Case t{&cfg, "degenerate", Trans::No, Trans::Yes, m, n, k, alpha, beta};
          report(t, "value", i, j, want, c[i * ldc + j]);
          return;
        }
      }
  }
}

// Bias + post hook: every element visited exactly once by `post`, after bias.
struct PostState {
  std::vector<int> visits;
  int n;
};
void relu_post(void* user, float* c, int ldc, int row0, int col0, int rows, int cols) {
  auto* s = static_cast<PostState*>(user);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      float& x = c[static_cast<long>(i) * ldc + j];
      x = x > 0.0f ? x : 0.0f;
      __atomic_add_fetch(&s->visits[static_cast<size_t>(row0 + i) * s->n + col0 + j], 1,
                         __ATOMIC_RELAXED);
    }
}

void test_epilogue(const GemmConfig& base) {
  std::mt19937 rng(99);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (bool direct : {false, true}) {
    const GemmConfig cfg = forced(base, direct);
    for (int threads : {1, 2}) {
      for (int shape = 0; shape < 3; ++shape) {
        const int m = shape == 0 ? 64 : shape == 1 ? 3 : 2 * base.mc + 5;
        const int n = shape == 0 ? 2 * base.nr + 5 : shape == 1 ? 300 : 40;
        const int k = shape == 2 ? base.kc + 7 : 33;
        std::vector<float> a(static_cast<size_t>(m) * k), w(static_cast<size_t>(n) * k), bias(n);
        for (auto& x : a) x = dist(rng);
        for (auto& x : w) x = dist(rng);
        for (auto& x : bias) x = dist(rng);
        std::vector<float> plain(static_cast<size_t>(m) * n), fused(plain.size());
        GemmWorkspace ws;
        GemmContext ctx;
        ctx.config = &cfg;
        ctx.workspace = &ws;
        ctx.num_threads = threads;
        ctx.parallel_for = thread_parallel_for;
        sgemm(Trans::No, Trans::Yes, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, plain.data(), n,
              ctx);
        PostState st{std::vector<int>(plain.size(), 0), n};
        GemmEpilogue ep;
        ep.kind = EpilogueKind::Bias;
        ep.bias = bias.data();
        ep.post = relu_post;
        ep.user = &st;
        sgemm_epilogue(Trans::No, Trans::Yes, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f,
                       fused.data(), n, ep, ctx);
        Case t{&cfg, direct ? "direct+epilogue" : "packed+epilogue", Trans::No, Trans::Yes, m, n, k,
               1.0f, 0.0f};
        ++g_cases;
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < n; ++j) {
            const size_t e = static_cast<size_t>(i) * n + j;
            const float want = std::max(plain[e] + bias[j], 0.0f);
            if (st.visits[e] != 1) {
              report(t, "post visits", i, j, 1, st.visits[e]);
              i = m;
              break;
            }
            if (!same_bits(fused[e], want)) {
              report(t, "bias+relu", i, j, want, fused[e]);
              i = m;
              break;
            }
          }
      }
    }
  }
}

// run_if_whole_and_direct runs exactly the products a one-thread plan runs whole on the direct
// path, to the same bits as sgemm with the same epilogue, and leaves every other product alone.
void test_whole_and_direct(const GemmConfig& cfg) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int shapes[][3] = {{4, 1, 2}, {8, 16, 5}, {64, 10, 32}, {1, 512, 784}, {3, 300, 33}, {64, 512, 784}, {256, 256, 256}, {5, 5, 0}};
  for (const auto& shape : shapes) {
    const int m = shape[0], n = shape[1], k = shape[2];
    for (Trans ta : {Trans::No, Trans::Yes})
      for (Trans tb : {Trans::No, Trans::Yes}) {
        const int lda = ta == Trans::No ? std::max(k, 1) : m, ldb = tb == Trans::No ? n : std::max(k, 1);
        std::vector<float> a(static_cast<size_t>(m) * std::max(k, 1)), b(static_cast<size_t>(n) * std::max(k, 1)), bias(n);
        for (auto& x : a) x = dist(rng);
        for (auto& x : b) x = dist(rng);
        for (auto& x : bias) x = dist(rng);
        const std::vector<float> sentinel(static_cast<size_t>(m) * n, -7.0f);
        std::vector<float> planned = sentinel, at_once = sentinel;
        PostState ps{std::vector<int>(planned.size(), 0), n}, os{std::vector<int>(planned.size(), 0), n};
        GemmEpilogue ep;
        ep.kind = EpilogueKind::Bias;
        ep.bias = bias.data();
        ep.post = relu_post;
        GemmWorkspace ws;
        GemmContext ctx;
        ctx.config = &cfg;
        ctx.workspace = &ws;
        ctx.num_threads = 1;
        ep.user = &ps;
        sgemm_epilogue(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, planned.data(), n, ep, ctx);
        ep.user = &os;
        const bool ran = run_if_whole_and_direct(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, at_once.data(), n, &ep, cfg);
        const GemmPlan plan = plan_gemm(ta, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, at_once.data(), n, &ep, cfg, 1, &ws);
        Case t{&cfg, "whole and direct", ta, tb, m, n, k, 1.0f, 0.0f};
        ++g_cases;
        if (ran != (plan.whole && !plan.scale_only && !plan.empty)) {
          report(t, "ran at once", 0, 0, plan.whole, ran);
          continue;
        }
        for (size_t e = 0; e < planned.size(); ++e) {
          const float want = ran ? planned[e] : sentinel[e];
          const int visits = ran ? ps.visits[e] : 0;
          if (!same_bits(at_once[e], want) || os.visits[e] != visits) {
            report(t, "element", static_cast<int>(e / n), static_cast<int>(e % n), want, at_once[e]);
            break;
          }
        }
      }
  }
}

// A workspace sized by gemm_workspace_bytes() must never grow.
void test_workspace(const GemmConfig& base) {
  const GemmConfig cfg = forced(base, false);
  const int max_m = 300, max_n = 5000, max_k = 700, threads = 2;
  GemmWorkspace ws(gemm_workspace_bytes(cfg, max_m, max_n, max_k, threads));
  const std::size_t cap = ws.capacity();
  const void* data = ws.data();
  GemmContext ctx;
  ctx.config = &cfg;
  ctx.workspace = &ws;
  ctx.num_threads = threads;
  ctx.parallel_for = thread_parallel_for;
  std::vector<float> a(static_cast<size_t>(max_m) * max_k, 0.5f), b(static_cast<size_t>(max_n) * max_k, 0.25f),
      c(static_cast<size_t>(max_m) * max_n);
  const int shapes[][3] = {{300, 5000, 700}, {1, 5000, 700}, {300, 1, 700}, {300, 5000, 1},
                           {145, 4081, 257}, {7, 17, 513},   {299, 4079, 699}};
  for (const auto& s : shapes)
    for (Trans ta : {Trans::No, Trans::Yes})
      for (Trans tb : {Trans::No, Trans::Yes}) {
        const int lda = ta == Trans::No ? s[2] : s[0];
        const int ldb = tb == Trans::No ? s[1] : s[2];
        sgemm(ta, tb, s[0], s[1], s[2], 1.0f, a.data(), lda, b.data(), ldb, 0.0f, c.data(), s[1],
              ctx);
        ++g_cases;
        if (ws.capacity() != cap || ws.data() != data) {
          Case t{&cfg, "workspace", ta, tb, s[0], s[1], s[2], 1.0f, 0.0f};
          report(t, "workspace grew", 0, 0, static_cast<double>(cap),
                 static_cast<double>(ws.capacity()));
        }
      }
}

// B packed once (pack_b_panels, in two concurrent halves) and read by the plans in place must
// give the bits of B packed by every product, for every part count and both B forms an MLP
// uses (the weights as B of the forward NT and backward NN products), on shapes with k and n
// edges and with several k blocks.
void test_packed_b(const GemmConfig& base) {
  const GemmConfig cfg = forced(base, false);
  std::mt19937 rng(17);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int shapes[][3] = {{64, 512, 784}, {256, 70, 3 * base.kc + 5}, {13, base.nr + 1, 9}, {2 * base.mc + 3, 300, 33}};
  for (const auto& s : shapes)
    for (Trans tb : {Trans::No, Trans::Yes}) {
      const int m = s[0], n = s[1], k = s[2];
      const int ldb = tb == Trans::No ? n + 3 : k + 3;
      std::vector<float> a(static_cast<size_t>(m) * k), b(static_cast<size_t>(tb == Trans::No ? k : n) * ldb);
      for (auto& x : a) x = dist(rng);
      for (auto& x : b) x = dist(rng);
      GemmWorkspace packed;
      packed.reserve(packed_b_floats(cfg, k, n) * sizeof(float));
      float* out = static_cast<float*>(packed.data());
      const int panels = packed_b_panel_count(cfg, n);
      std::thread half([&] { pack_b_panels(cfg, tb, k, n, b.data(), ldb, out, panels / 2, panels); });
      pack_b_panels(cfg, tb, k, n, b.data(), ldb, out, 0, panels / 2);
      half.join();
      for (int parts : {1, 2, 3}) {
        GemmWorkspace ws(gemm_workspace_bytes(cfg, m, n, k, parts));
        std::vector<float> want(static_cast<size_t>(m) * n), got(want.size(), std::nanf(""));
        for (const float* pb : {static_cast<const float*>(nullptr), static_cast<const float*>(out)}) {
          const GemmPlan plan = plan_gemm(Trans::No, tb, m, n, k, 1.0f, a.data(), k, b.data(), ldb, 0.0f,
                                          pb ? got.data() : want.data(), n, nullptr, cfg, parts, &ws, GemmSplit::Auto, pb);
          for (int t = 0; t < parts; ++t) run_gemm_part(plan, t);
        }
        Case t{&cfg, "packed B", Trans::No, tb, m, n, k, 1.0f, 0.0f};
        ++g_cases;
        for (size_t e = 0; e < want.size(); ++e)
          if (!same_bits(want[e], got[e])) {
            report(t, "prepacked B", static_cast<int>(e / n), static_cast<int>(e % n), want[e], got[e]);
            break;
          }
      }
    }
}

// The direct NT form on B laid out for dot products (pack_dot_panels): the bits of the direct
// path on B in place, for row counts on both sides of kDirectRows, columns on both sides of a
// tile, k with and without a tail, general alpha and beta, a strided B laid out in two halves
// on two threads over a layout filled with NaN first (padding that is not zeroed shows); and
// through plans of 1 to 3 parts with an epilogue, the bits of sgemm_epilogue on B in place.
void test_dots(const GemmConfig& cfg) {
  if (cfg.direct_dots == nullptr) return;
  std::mt19937 rng(31);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (int m : {1, 2, 3, 4, 5, 8})
    for (int n : {1, 3, 4, 5, 10, 33})
      for (int k : {1, 7, cfg.dot_width, cfg.dot_width + 1, 100, 784}) {
        const int lda = k + 1, ldb = k + 3, ldc = n + 2;
        std::vector<float> a(static_cast<size_t>(m) * lda), b(static_cast<size_t>(n) * ldb);
        for (auto& x : a) x = dist(rng);
        for (auto& x : b) x = dist(rng);
        GemmWorkspace layout;
        layout.reserve(dot_panel_floats(cfg, k, n) * sizeof(float));
        float* dots = static_cast<float*>(layout.data());
        std::fill(dots, dots + dot_panel_floats(cfg, k, n), std::nanf(""));
        const int tiles = dot_tile_count(n);
        std::thread half([&] { pack_dot_panels(cfg, k, n, b.data(), ldb, dots, tiles / 2, tiles); });
        pack_dot_panels(cfg, k, n, b.data(), ldb, dots, 0, tiles / 2);
        half.join();
        for (float alpha : {1.0f, -0.5f})
          for (float beta : {0.0f, 0.75f}) {
            std::vector<float> c0(static_cast<size_t>(m) * ldc);
            for (auto& x : c0) x = dist(rng);
            std::vector<float> want = c0, got = c0;
            cfg.direct(Trans::No, Trans::Yes, m, n, k, alpha, a.data(), lda, b.data(), ldb, beta, want.data(), ldc);
            cfg.direct_dots(m, n, k, alpha, a.data(), lda, dots, beta, got.data(), ldc);
            Case t{&cfg, "dots", Trans::No, Trans::Yes, m, n, k, alpha, beta};
            ++g_cases;
            for (size_t e = 0; e < want.size(); ++e)
              if (!same_bits(want[e], got[e])) {
                report(t, "against B in place", static_cast<int>(e / ldc), static_cast<int>(e % ldc), want[e], got[e]);
                break;
              }
          }
        if (m > cfg.direct_max_m) continue;
        std::vector<float> bias(n);
        for (auto& x : bias) x = dist(rng);
        for (int parts : {1, 2, 3}) {
          GemmEpilogue ep;
          ep.kind = EpilogueKind::Bias;
          ep.bias = bias.data();
          ep.post = relu_post;
          PostState ps{std::vector<int>(static_cast<size_t>(m) * n, 0), n}, ds = ps;
          std::vector<float> want(static_cast<size_t>(m) * n, std::nanf("")), got = want;
          GemmWorkspace ws(gemm_workspace_bytes(cfg, m, n, k, parts));
          GemmContext ctx;
          ctx.config = &cfg;
          ctx.workspace = &ws;
          ep.user = &ps;
          sgemm_epilogue(Trans::No, Trans::Yes, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, want.data(), n, ep, ctx);
          ep.user = &ds;
          const GemmPlan plan = plan_gemm(Trans::No, Trans::Yes, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, got.data(), n,
                                          &ep, cfg, parts, &ws, GemmSplit::Auto, nullptr, dots);
          for (int t = 0; t < parts; ++t) run_gemm_part(plan, t);
          Case t{&cfg, "dots plan", Trans::No, Trans::Yes, m, n, k, 1.0f, 0.0f};
          ++g_cases;
          if (!plan.direct || plan.dots != dots) {
            report(t, "plan on the layout", 0, 0, 1, 0);
            continue;
          }
          for (size_t e = 0; e < want.size(); ++e)
            if (!same_bits(want[e], got[e]) || ds.visits[e] != 1) {
              report(t, "plan against B in place", static_cast<int>(e / n), static_cast<int>(e % n), want[e], got[e]);
              break;
            }
        }
      }
}

// B's rows a multiple of 4 KB apart (op(B) = B): the packed path packs each k block of B whole,
// row by row, and pack_b_panels does too. The same bits as the same B stored 16 floats wider
// (packed a micro-panel at a time), for both forms that read B by rows, on 1 to 3 parts, with
// m past MC (B packed into a block) and k past KC (two blocks); and the same packed bytes.
void test_aliasing_rows(const GemmConfig& base) {
  const GemmConfig cfg = forced(base, false);
  std::mt19937 rng(37);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  const int m = 2 * base.mc + 3, n = 1000, k = base.kc + 7;
  std::vector<float> aliasing(static_cast<size_t>(k) * 1024), wider(static_cast<size_t>(k) * 1040);
  for (int p = 0; p < k; ++p)
    for (int j = 0; j < 1024; ++j) aliasing[static_cast<size_t>(p) * 1024 + j] = wider[static_cast<size_t>(p) * 1040 + j] = dist(rng);
  for (Trans ta : {Trans::No, Trans::Yes}) {
    const int lda = ta == Trans::No ? k : m;
    std::vector<float> a(static_cast<size_t>(ta == Trans::No ? m : k) * lda);
    for (auto& x : a) x = dist(rng);
    for (int parts : {1, 2, 3}) {
      GemmWorkspace ws(gemm_workspace_bytes(cfg, m, n, k, parts));
      std::vector<float> want(static_cast<size_t>(m) * n), got(want.size());
      for (const bool alias : {false, true}) {
        const GemmPlan plan = plan_gemm(ta, Trans::No, m, n, k, 1.0f, a.data(), lda, alias ? aliasing.data() : wider.data(),
                                        alias ? 1024 : 1040, 0.0f, alias ? got.data() : want.data(), n, nullptr, cfg, parts, &ws);
        for (int t = 0; t < parts; ++t) run_gemm_part(plan, t);
      }
      Case t{&cfg, "rows 4 KB apart", ta, Trans::No, m, n, k, 1.0f, 0.0f};
      ++g_cases;
      for (size_t e = 0; e < want.size(); ++e)
        if (!same_bits(want[e], got[e])) {
          report(t, "against rows 16 floats wider", static_cast<int>(e / n), static_cast<int>(e % n), want[e], got[e]);
          break;
        }
    }
  }
  GemmWorkspace from_aliasing, from_wider;
  from_aliasing.reserve(packed_b_floats(cfg, k, n) * sizeof(float));
  from_wider.reserve(packed_b_floats(cfg, k, n) * sizeof(float));
  const int panels = packed_b_panel_count(cfg, n);
  pack_b_panels(cfg, Trans::No, k, n, aliasing.data(), 1024, static_cast<float*>(from_aliasing.data()), 0, panels);
  pack_b_panels(cfg, Trans::No, k, n, wider.data(), 1040, static_cast<float*>(from_wider.data()), 0, panels);
  Case t{&cfg, "pack_b_panels, rows 4 KB apart", Trans::No, Trans::No, 0, n, k, 1.0f, 0.0f};
  ++g_cases;
  if (std::memcmp(from_aliasing.data(), from_wider.data(), packed_b_floats(cfg, k, n) * sizeof(float)) != 0)
    report(t, "packed bytes", 0, 0, 0, 1);
}

// Parts that share out their units (share_gemm): run on threads, with one part late so that
// the others take its units, every product (and a second one with the next tag, with no pause
// in between, as the gradients of two layers run) gives the bits of the one-part plan, and the
// epilogue sees every element exactly once (it counts them: a unit computed twice would write
// the same values again, and only the count shows it).
struct EpilogueCounts {
  std::vector<std::atomic<int>>* seen;
  int n;
};
void count_elements(void* user, float*, int, int row0, int col0, int rows, int cols) {
  const EpilogueCounts& e = *static_cast<const EpilogueCounts*>(user);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) (*e.seen)[static_cast<size_t>(row0 + i) * e.n + col0 + j].fetch_add(1, std::memory_order_relaxed);
}

// A layer's forward (NT) and backward (NN) products at a batch of whole micro-panels, which
// are computed transposed (run_transposed_task): on 2 and 3 parts, static and sharing their
// units with one part late, the bits of one part, every element seen once by the epilogue
// after its bias.
void test_transposed_parts(const GemmConfig& base) {
  const GemmConfig cfg = forced(base, false);
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  // {batch, units, inputs}: W2's first layer, and a layer of MR-odd units with a short last take
  // and several k blocks.
  const int shapes[][3] = {{2 * base.nr, 512, 784}, {base.nr, 9 * base.mr + 5, 2 * base.kc + 7}};
  for (const auto& s : shapes)
    for (const Trans tb : {Trans::Yes, Trans::No}) {
      // Forward: C (batch, units) = X·Wᵀ, W (units, inputs). Backward: C (batch, inputs) = δ·W.
      const int m = s[0], n = tb == Trans::Yes ? s[1] : s[2], k = tb == Trans::Yes ? s[2] : s[1];
      const int lda = k + 1, ldb = (tb == Trans::Yes ? k : n) + 3, ldc = n + 5;
      std::vector<float> a(static_cast<size_t>(m) * lda), b(static_cast<size_t>(tb == Trans::Yes ? n : k) * ldb), bias(n);
      for (auto& x : a) x = dist(rng);
      for (auto& x : b) x = dist(rng);
      for (auto& x : bias) x = dist(rng);
      std::vector<std::atomic<int>> seen(static_cast<size_t>(m) * n);
      EpilogueCounts counts{&seen, n};
      GemmEpilogue ep;
      ep.kind = EpilogueKind::Bias;
      ep.bias = bias.data();
      ep.post = &count_elements;
      ep.user = &counts;
      Case c{&cfg, "transposed parts", Trans::No, tb, m, n, k, 1.0f, 0.0f};
      const auto product = [&](int parts, float* out, GemmWorkspace* ws) {
        return plan_gemm(Trans::No, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, out, ldc, &ep, cfg, parts, ws);
      };
      const auto miscounted = [&] {
        int wrong = 0;
        for (std::atomic<int>& e : seen) wrong += e.exchange(0) != 1;
        return wrong;
      };
      // The usual form with its bias, as the reference.
      GemmConfig usual = cfg;
      usual.transposed_max_m = 0;
      std::vector<float> want(static_cast<size_t>(m) * ldc, 0.0f);
      GemmWorkspace one(gemm_workspace_bytes(cfg, m, n, k, 1));
      const GemmPlan reference =
          plan_gemm(Trans::No, tb, m, n, k, 1.0f, a.data(), lda, b.data(), ldb, 0.0f, want.data(), ldc, &ep, usual, 1, &one);
      run_gemm_part(reference, 0);
      miscounted();
      for (int parts : {1, 2, 3})
        for (bool sharing : {false, true}) {
          if (parts == 1 && sharing) continue;
          GemmWorkspace ws(std::max(gemm_workspace_bytes(cfg, m, n, k, parts), gemm_shared_workspace_bytes(cfg, m, n, k, parts)));
          GemmShare share;
          std::vector<float> got(want.size(), 0.0f);
          bool transposed = true;
          std::vector<std::thread> threads;
          for (int t = 0; t < parts; ++t)
            threads.emplace_back([&, t] {
              if (t == 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));
              GemmPlan plan = product(parts, got.data(), &ws);
              if (sharing) share_gemm(&plan, &share, 1);
              if (t == 0 && (!plan.transposed || (sharing && plan.share == nullptr))) transposed = false;
              run_gemm_part(plan, t);
            });
          for (std::thread& thread : threads) thread.join();
          ++g_cases;
          const int wrong = miscounted();
          if (!transposed || wrong > 0) {
            ++g_failures;
            std::printf("FAIL %s: m=%d n=%d k=%d tb=%d parts=%d: %s\n", c.path, m, n, k, tb == Trans::Yes, parts,
                        transposed ? "the epilogue saw some elements other than once" : "the plan was not transposed (or not shared)");
            continue;
          }
          for (size_t e = 0; e < want.size(); ++e)
            if (!same_bits(want[e], got[e])) {
              report(c, sharing ? "transposed, shared parts" : "transposed, static parts", static_cast<int>(e / ldc),
                     static_cast<int>(e % ldc), want[e], got[e]);
              break;
            }
        }
    }
}

// Which products are transposed: a batch of whole panels up to 256 K floats; not a wider batch
// (whose packed copy per part would make the workspace grow with the inputs), not δ·W with W's
// rows 4 KB apart, not beta != 0. The workspace for any product stays within a few MB per part.
void test_transposed_choice(const GemmConfig& base) {
  const GemmConfig cfg = forced(base, false);
  const int batch = 2 * base.nr, widest = static_cast<int>(256L * 1024 / batch);
  GemmWorkspace ws(gemm_workspace_bytes(cfg, batch, 1024, 1 << 20, 1));
  const struct {
    Trans tb;
    int k, ldb;
    float beta;
    bool transposed;
  } cases[] = {{Trans::Yes, widest, widest, 0.0f, true},  {Trans::Yes, widest + 4, widest + 4, 0.0f, false},
               {Trans::No, 512, 1000, 0.0f, true},        {Trans::No, 512, 1024, 0.0f, false},
               {Trans::Yes, 512, 512, 1.0f, false}};
  for (const auto& c : cases) {
    const GemmPlan plan = plan_gemm(Trans::No, c.tb, batch, 512, c.k, 1.0f, nullptr, c.k, nullptr, c.ldb, c.beta, nullptr, 512,
                                    nullptr, cfg, 1, &ws);
    ++g_cases;
    if (plan.transposed != c.transposed) {
      ++g_failures;
      std::printf("FAIL %s: m=%d k=%d ldb=%d tb=%d beta=%g: transposed %d, expected %d\n", cfg.name, batch, c.k, c.ldb, c.tb == Trans::Yes,
                  c.beta, plan.transposed, c.transposed);
    }
  }
  ++g_cases;
  if (ws.capacity() > (std::size_t{4} << 20)) {
    ++g_failures;
    std::printf("FAIL %s: the workspace for k up to 2^20 takes %zu bytes\n", cfg.name, ws.capacity());
  }
}

void test_shared_parts(const GemmConfig& base) {
  const GemmConfig cfg = forced(base, false);
  std::mt19937 rng(23);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  // {m, n, k}: rows split (weight gradients: units × inputs over a batch; with several k
  // blocks), and columns split (fewer row tiles than parts), with one k block and several.
  const int shapes[][3] = {{512, 784, 64},   {300, 64, 40},           {13 * base.mr + 5, 2 * base.nr + 3, base.kc},
                           {64, 512, 10},    {300, 70, 3 * base.kc + 5}, {base.mr, 600, 40},
                           {base.mr - 1, 9 * base.nr + 5, 2 * base.kc + 7}};
  for (const auto& s : shapes)
    for (bool panels : {false, true}) {
      const int m = s[0], n = s[1], k = s[2];
      std::vector<float> a(static_cast<size_t>(k) * m), b(static_cast<size_t>(k) * n);
      for (auto& x : a) x = dist(rng);
      for (auto& x : b) x = dist(rng);
      // One count per element for each of two products that follow each other.
      std::vector<std::atomic<int>> seen[2] = {std::vector<std::atomic<int>>(static_cast<size_t>(m) * n),
                                               std::vector<std::atomic<int>>(static_cast<size_t>(m) * n)};
      EpilogueCounts counts[2] = {{&seen[0], n}, {&seen[1], n}};
      GemmEpilogue epilogues[2];
      for (int p = 0; p < 2; ++p) {
        epilogues[p].post = &count_elements;
        epilogues[p].user = &counts[p];
        epilogues[p].panels = panels;
      }
      const auto product = [&](int parts, float* c, GemmWorkspace* ws, int p) {  // C = Aᵀ·B, as the gradients are
        return plan_gemm(Trans::Yes, Trans::No, m, n, k, 1.0f, a.data(), m, b.data(), n, 0.0f, c, n, &epilogues[p], cfg, parts, ws,
                         GemmSplit::Rows);
      };
      GemmWorkspace one(gemm_workspace_bytes(cfg, m, n, k, 1));
      std::vector<float> want(static_cast<size_t>(m) * n);
      run_gemm_part(product(1, want.data(), &one, 0), 0);
      const auto recount = [&](int p) {  // elements product p's epilogue saw other than once; all back to 0
        int wrong = 0;
        for (std::atomic<int>& c : seen[p]) wrong += c.exchange(0) != 1;
        return wrong;
      };
      recount(0);
      for (int parts : {2, 3}) {
        GemmWorkspace ws(std::max(gemm_workspace_bytes(cfg, m, n, k, parts), gemm_shared_workspace_bytes(cfg, m, n, k, parts)));
        GemmShare share;
        std::vector<float> got[2] = {std::vector<float>(want.size(), std::nanf("")), std::vector<float>(want.size(), std::nanf(""))};
        bool shared = true;
        std::vector<std::thread> threads;
        for (int t = 0; t < parts; ++t)
          threads.emplace_back([&, t] {
            if (t == 1) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // late: its units go to the others
            for (int p = 0; p < 2; ++p) {  // no barrier between the two products
              GemmPlan plan = product(parts, got[p].data(), &ws, p);
              share_gemm(&plan, &share, static_cast<uint16_t>(p + 1));
              if (t == 0 && plan.share == nullptr) shared = false;
              run_gemm_part(plan, t);
            }
          });
        for (std::thread& thread : threads) thread.join();
        const int miscounted = recount(0) + recount(1);
        Case c{&cfg, panels ? "shared parts, panel epilogue" : "shared parts", Trans::Yes, Trans::No, m, n, k, 1.0f, 0.0f};
        ++g_cases;
        if (!shared || miscounted > 0) {
          ++g_failures;
          std::printf("FAIL %s: m=%d n=%d k=%d parts=%d: %s\n", c.path, m, n, k, parts,
                      shared ? "the epilogue saw some elements other than once" : "the plan was not shared");
          continue;
        }
        for (const std::vector<float>& result : got)
          for (size_t e = 0; e < want.size(); ++e)
            if (!same_bits(want[e], result[e])) {
              report(c, "shared parts", static_cast<int>(e / n), static_cast<int>(e % n), want[e], result[e]);
              break;
            }
      }
    }
}

#if defined(__x86_64__) || defined(__i386__)
// The AVX2 A packer against the portable one (the kernels ignore padded
// rows, so a packing bug there would not show in the GEMM results).
void test_pack_a_mr6() {
  std::mt19937 rng(8);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (Trans ta : {Trans::No, Trans::Yes})
    for (int k : {1, 7, 8, 9, 33})
      for (int m : {1, 5, 6, 7, 8, 13, 20}) {
        const int lda = (ta == Trans::No ? k : m) + 3;
        std::vector<float> a(static_cast<size_t>(ta == Trans::No ? m : k) * lda);
        for (auto& x : a) x = dist(rng);
        const size_t sz = static_cast<size_t>((m + 5) / 6) * 6 * k;
        std::vector<float> p1(sz + 16, -7.0f), p2(sz + 16, -9.0f);
        sgemm_pack_a_mr6(ta, m, k, a.data(), lda, p1.data());
        sgemm_pack_a_mr6_avx2(ta, m, k, a.data(), lda, p2.data());
        ++g_cases;
        for (size_t e = 0; e < sz; ++e)
          if (!same_bits(p1[e], p2[e])) {
            ++g_failures;
            std::printf("FAIL pack_a_mr6_avx2 trans=%d m=%d k=%d at %zu: expected %g got %g\n",
                        ta == Trans::Yes, m, k, e, p1[e], p2[e]);
            break;
          }
      }
}

// A B packer for NR=32 against the portable one, byte for byte, on k with and without partial
// blocks of 8 and 16 and n with and without a last partial panel: the AVX2 packer (which packs
// the NN form for the AVX-512 config) wherever AVX2 runs, and the AVX-512 one.
void check_pack_b_nr32(const char* name, PackBFn packer) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (Trans tb : {Trans::No, Trans::Yes})
    for (int k : {1, 7, 8, 9, 15, 16, 17, 33, 196})
      for (int n : {1, 31, 32, 33, 70}) {
        const int ldb = (tb == Trans::No ? n : k) + 3;
        std::vector<float> b(static_cast<size_t>(tb == Trans::No ? k : n) * ldb);
        for (auto& x : b) x = dist(rng);
        const size_t sz = static_cast<size_t>((n + 31) / 32) * 32 * k;
        alignas(64) static float p1[32 * 196 * 3], p2[32 * 196 * 3];
        std::fill(p1, p1 + sz, -7.0f);
        std::fill(p2, p2 + sz, -9.0f);
        sgemm_pack_b_nr32(tb, k, n, b.data(), ldb, p1);
        packer(tb, k, n, b.data(), ldb, p2);
        ++g_cases;
        for (size_t e = 0; e < sz; ++e)
          if (!same_bits(p1[e], p2[e])) {
            ++g_failures;
            std::printf("FAIL %s trans=%d k=%d n=%d at %zu: expected %g got %g\n", name, tb == Trans::Yes, k, n, e,
                        p1[e], p2[e]);
            break;
          }
      }
}
#endif

}  // namespace

int main() {
  std::printf("best ISA on this CPU: %s\n", gemm_isa_name());
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) {
    const GemmConfig& cfg = gemm_config(isa);
    if (cfg.isa != isa) {
      std::printf("skip %s: not supported by this CPU (untested here)\n",
                  isa == Isa::Avx512 ? "avx512" : isa == Isa::Avx2 ? "avx2+fma" : "scalar");
      continue;
    }
    const int before = g_failures;
    const long cases_before = g_cases;
    test_isa(cfg);
    test_degenerate(cfg);
    test_epilogue(cfg);
    test_whole_and_direct(cfg);
    test_workspace(cfg);
    test_packed_b(cfg);
    test_dots(cfg);
    test_aliasing_rows(cfg);
    test_shared_parts(cfg);
    if (cfg.transposed_max_m > 0) {
      test_transposed_parts(cfg);
      test_transposed_choice(cfg);
    }
    std::printf("%-9s %6ld cases, %d failures\n", cfg.name, g_cases - cases_before,
                g_failures - before);
  }
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_supports(Isa::Avx2)) {
    test_pack_a_mr6();
    check_pack_b_nr32("pack_b_nr32_avx2", sgemm_pack_b_nr32_avx2);
  }
  if (cpu_supports(Isa::Avx512)) check_pack_b_nr32("pack_b_nr32_avx512", sgemm_pack_b_nr32_avx512);
#endif
  std::printf("%s: %ld cases, %d failures\n", g_failures == 0 ? "PASS" : "FAIL", g_cases,
              g_failures);
  return g_failures == 0 ? 0 : 1;
}
