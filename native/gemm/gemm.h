// mlpkit packed single-precision GEMM: public API.
//
//   C = alpha * op(A) * op(B) + beta * C        (row-major, leading dimensions)
//
// The three products a multi-layer perceptron needs all go through sgemm():
//   forward   C(m,n) = A(m,k) * B^T   B stored (n,k)     sgemm(No,  Yes, ...)   "NT"
//   backward  C(m,n) = A(m,k) * B     B stored (k,n)     sgemm(No,  No,  ...)   "NN"
//   gradient  C(m,n) = A^T * B        A stored (k,m)     sgemm(Yes, No,  ...)   "TN"
// (TT is accepted too, for completeness.)
//
// Design summary (details in gemm.cc):
//   * BLIS-style five-loop blocked algorithm; A and B are packed into
//     micro-panels, transposes are absorbed by the packing routines so one
//     micro-kernel per ISA serves every form.
//   * The micro-kernel and its blocksizes are chosen once at run time from the
//     CPU (AVX-512F, AVX2+FMA, or portable scalar); a lower ISA can be forced.
//   * Small problems (tiny m, as in batch-1..4 inference) skip packing and use
//     a direct vectorised loop.
//   * Threads: the caller supplies a parallel_for; the driver splits only the
//     m or n dimension, never k, so results are bit-identical for any thread
//     count.
//   * No allocation in steady state: packing buffers live in a caller-owned
//     GemmWorkspace sized by gemm_workspace_bytes().
//
// Epilogue (forward pass): see GemmEpilogue below. The driver applies it to
// each finished block of C right after the last k-block has been accumulated
// into that block, so the block is still in L1/L2 when bias (and later a
// fused activation) touches it; no second sweep over C is needed.
#ifndef MLPKIT_NATIVE_GEMM_GEMM_H_
#define MLPKIT_NATIVE_GEMM_GEMM_H_

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mlpkit {

enum class Trans { No, Yes };

enum class Isa { Scalar, Avx2, Avx512 };

// Micro-kernel: computes the MR x NR tile
//   C(mr, nr) = alpha * Apanel * Bpanel + beta * C
// for mr <= MR, nr <= NR. beta == 0 means C is write-only (never read).
using UkernelFn = void (*)(int mr, int nr, int k, float alpha,
                           const float* a,  // packed (k, MR) micro-panel
                           const float* b,  // packed (k, NR) micro-panel
                           float beta,
                           float* c,        // (mr, nr) row-major, ldc
                           int ldc);

// The same tile with A read in place, row-major (op(A) = A): row i at a + i·lda. The same
// products in the same order as on A packed, so the same bits; no packing of A.
using UkernelRowsFn = void (*)(int mr, int nr, int k, float alpha,
                               const float* a,  // (mr, k), lda
                               int lda,
                               const float* b,  // packed (k, NR) micro-panel
                               float beta,
                               float* c,        // (mr, nr) row-major, ldc
                               int ldc);

// Packs op(A)[0:m, 0:k] into ceil(m/MR) micro-panels of (k, MR), zero-padded.
using PackAFn = void (*)(Trans ta, int m, int k,
                         const float* a,  // op(A) source: (m, k) if No, (k, m) if Yes; lda
                         int lda,
                         float* out);     // ceil(m/MR) * k * MR floats
// Packs op(B)[0:k, 0:n] into ceil(n/NR) micro-panels of (k, NR), zero-padded.
using PackBFn = void (*)(Trans tb, int k, int n,
                         const float* b,  // op(B) source: (k, n) if No, (n, k) if Yes; ldb
                         int ldb,
                         float* out);     // ceil(n/NR) * k * NR floats

// C(j, i) = T(i, j) (+ bias[i] when bias is not null) for a tile T of up to MR rows by NR
// columns, row-major ld apart: a finished tile of a transposed product
// (GemmConfig::transposed_max_m) into the caller's C, with the epilogue's bias of its columns.
using TransposeTileFn = void (*)(int rows, int cols, const float* t, int ld, const float* bias, float* c, int ldc);

// Direct (unpacked) path for small problems. Computes
//   C = alpha * op(A) * op(B) + beta * C  for the given sub-problem.
using DirectFn = void (*)(Trans ta, Trans tb, int m, int n, int k, float alpha,
                          const float* a,  // op(A) source, lda
                          int lda,
                          const float* b,  // op(B) source, ldb
                          int ldb, float beta,
                          float* c,        // (m, n) row-major, ldc
                          int ldc);

// The direct path's NT form on op(B) laid out for dot products by pack_dot_panels: `dots` at the
// tile of C's first column (a multiple of kDotColumns), the same bits as DirectFn on B in place.
using DirectDotsFn = void (*)(int m, int n, int k, float alpha,
                              const float* a,  // (m, k), lda
                              int lda,
                              const float* dots,  // pack_dot_panels
                              float beta,
                              float* c,  // (m, n), ldc
                              int ldc);

// Columns of C per tile of the dot-product layout (pack_dot_panels).
constexpr int kDotColumns = 4;

struct GemmConfig {
  const char* name;  // "avx512", "avx2+fma" or "scalar"
  Isa isa;
  int mr, nr;        // micro-tile
  int kc, mc, nc;    // cache blocksizes (upper bounds; the driver balances them)
  UkernelFn ukernel;
  UkernelRowsFn ukernel_rows_a;  // null: A is always packed
  UkernelRowsFn ukernel_columns_a;  // op(A) = Aᵀ read in place, (i, p) at p·lda + i; null: none
  PackAFn pack_a;
  PackBFn pack_b;
  DirectFn direct;
  TransposeTileFn transpose_tile;
  // Small-problem crossover: the direct path is used when
  //   m <= direct_max_m (not for TT; m <= direct_max_m_prepacked when op(B) comes packed
  //                      already, which leaves the packed path only A to pack), or
  //   m*n*k <= direct_max_mnk     for NN / TN (B rows read in place), or
  //   m*n*k <= direct_max_mnk_bt  for NT / TT (dot products along k, whose
  //                               horizontal sums make small cubes slower), or
  //   n <= direct_max_n_bt        for NT: a few columns, where a packed tile NR wide would
  //                               compute mostly padding (a classifier's output layer).
  // Set all to 0 to force the packed path, or to huge values to force the
  // direct path (tests and benchmarks do this on a copy of the config).
  int direct_max_m;
  int direct_max_m_prepacked;
  double direct_max_mnk;
  double direct_max_mnk_bt;
  int direct_max_n_bt;
  // Products of the packed path with op(A) = A and beta 0 whose m is a multiple of NR up to
  // transposed_max_m, and whose A has at most 256 K floats (a layer's forward product X·Wᵀ and
  // backward product δ·W, at a batch of 32 to 256 rows) are computed as their transpose, Cᵀ = op(B)ᵀ·Aᵀ: the weights read in place
  // (by ukernel_rows_a for Wᵀ, ukernel_columns_a for W), the batch packed instead of them (see
  // run_transposed_task). The same products in the same order, so the same bits; 0 forces the
  // usual form (tests compare the two).
  int transposed_max_m;
  // The direct NT form on weights laid out once for dot products (predictions of a few rows),
  // and the floats per chunk of that layout (the vector width); null and 0 where the direct
  // path reads B in place only.
  DirectDotsFn direct_dots;
  int dot_width;
};

// Best configuration for this CPU (detected once, thread-safe), capped by the MLPKIT_ISA
// environment variable ("avx512", "avx2" or "scalar") when it is set.
const GemmConfig& gemm_config();
// Parses an ISA name as MLPKIT_ISA takes it; false for an unknown one.
bool isa_from_name(const char* name, Isa* isa);
// Configuration for a given ISA; if the CPU cannot run it, the best lower one
// is returned (check .isa / .name).
const GemmConfig& gemm_config(Isa isa);
// Name of the configuration gemm_config() picked, e.g. "avx2+fma".
const char* gemm_isa_name();
bool cpu_supports(Isa isa);

// Caller-owned packing memory, reused across calls. Grows only in reserve();
// sgemm() grows it if it is too small, so a workspace sized up front with
// gemm_workspace_bytes() for the largest problem never allocates again.
class GemmWorkspace {
 public:
  GemmWorkspace() = default;
  explicit GemmWorkspace(std::size_t bytes) { reserve(bytes); }
  ~GemmWorkspace();
  GemmWorkspace(const GemmWorkspace&) = delete;
  GemmWorkspace& operator=(const GemmWorkspace&) = delete;

  void reserve(std::size_t bytes);  // never shrinks
  void* data() const { return data_; }
  std::size_t capacity() const { return capacity_; }

 private:
  void* data_ = nullptr;
  std::size_t capacity_ = 0;
};

// Bytes of workspace needed for any problem with m <= max_m, n <= max_n,
// k <= max_k run on up to `threads` threads with `config`.
std::size_t gemm_workspace_bytes(const GemmConfig& config, int max_m, int max_n,
                                 int max_k, int threads);
std::size_t gemm_workspace_bytes(int max_m, int max_n, int max_k, int threads);

// Runs fn(arg, i) for every i in [0, count), possibly concurrently, and
// returns when all have finished. A plain function pointer (not
// std::function) so that a call never allocates and so that it can be backed
// by any pool, including one owned by the N-API layer.
using ParallelForFn = void (*)(void* pool, int count,
                               void (*fn)(void* arg, int i), void* arg);

struct GemmContext {
  int num_threads = 1;                   // tasks the driver splits into
  ParallelForFn parallel_for = nullptr;  // null: tasks run one after another
  void* pool = nullptr;                  // passed back to parallel_for
  GemmWorkspace* workspace = nullptr;    // required for the packed path
  const GemmConfig* config = nullptr;    // null: gemm_config()
};

// Epilogue, applied once per element after the full k-sum:
//   C = alpha * op(A) * op(B) + beta * C  [+ bias[j]]   then  post(block)
//
// Choice: bias is an enum-selected built-in step (it is by far the common
// case and is vectorised inside the driver), while `post` is an optional
// plain-function hook for anything else (a fused activation, clipping,
// statistics). `post` is invoked on each finished block of C — typically one
// micro-tile (MR x NR) that the micro-kernel has just written and is still in
// L1; on the direct path, a part's whole share — after bias has been added. Blocks
// are disjoint; with several threads, `post` may run concurrently on
// different blocks, so it must be thread-safe. The block granularity is not
// part of the contract: `post` must only use (row0, col0, rows, cols).
enum class EpilogueKind { None, Bias };

struct GemmEpilogue {
  EpilogueKind kind = EpilogueKind::None;
  const float* bias = nullptr;  // (n), added to every row of C
  using Post = void (*)(void* user,
                       float* c,  // block origin C(row0, col0); (rows, cols), ldc
                       int ldc, int row0, int col0, int rows, int cols);
  Post post = nullptr;
  void* user = nullptr;
  // Hand `post` whole row panels (up to MC rows by up to NC columns; with shared parts, the
  // rows a part took by all n columns, or all m rows by the panel a part took) instead of strips of NR
  // columns: for work that streams through other row-major arrays of C's shape (an optimizer
  // update of the weights), contiguous rows beat many short strided pieces.
  bool panels = false;
};

// Work sharing between the parts of one product, for parts that may run at different speeds
// (a core shared with other work, a slower virtual CPU): each part works through its own range
// of units from the front, and a part that runs out takes units from the back of another's.
// Every unit is computed by the same code whichever part takes it, so results do not change.
// One word per part: the product's tag (16 bits), the next unit and the end (24 bits each).
constexpr int kMaxSharingParts = 64;
struct GemmShare {
  struct alignas(64) Range {
    std::atomic<uint64_t> word{0};
  };
  Range ranges[kMaxSharingParts];
  int spins = 4096;  // pauses a part waiting for another spins through before yielding its CPU
};

// A product cut into parts for a team of threads that is already running (the training step
// runs every GEMM of a batch inside one parallel region). Every thread of the team plans the
// same product — planning is a pure function of its arguments — then runs its own part with
// run_gemm_part(plan, t); part t of T is the same work sgemm does as task t on T threads (or,
// with share_gemm, the units it takes, each computed the same way), so results are
// bit-identical to sgemm's for any T. The workspace must already hold
// gemm_workspace_bytes() for the largest problem and T threads (planning never allocates);
// part t packs into slice t of T equal slices, so consecutive products of one team never
// share packing memory between threads.
struct GemmPlan {
  Trans ta, tb;
  int m, n, k;
  float alpha;
  const float* a;  // op(A) source, lda
  int lda;
  const float* b;  // op(B) source, ldb
  int ldb;
  float beta;
  float* c;  // (m, n), ldc
  int ldc;
  const GemmEpilogue* epilogue;  // null: none
  const GemmConfig* cfg;
  bool empty;       // m or n is 0: nothing to do
  bool scale_only;  // k is 0 or alpha is 0: C = beta * C (+ epilogue), by part 0
  bool direct;
  bool whole;       // one part does it all, unpartitioned (small products): only part 0 works
  bool split_n;  // parts own column ranges (else row ranges)
  int unit;      // columns (NR) or rows (MR) per partition unit
  int units, parts;
  int kc, mc_max, nc_max;  // balanced blocksizes for the whole problem
  int n_pad;               // n rounded up to NR: the row length of a packed_b block
  char* ws;                // parts * part_stride bytes
  std::size_t part_stride;
  const float* packed_b;   // op(B) packed by pack_b_panels, or null: packed per product
  const float* dots;       // op(B) laid out by pack_dot_panels for the direct path, or null: B in place
  GemmShare* share;        // parts share out their units (see share_gemm), or null: static parts
  uint16_t share_tag;
  // Computed as its transpose (GemmConfig::transposed_nt): m, n, a, b and the flags above
  // describe the product Cᵀ = op(B)ᵀ·op(A)ᵀ, c and ldc the caller's C, which receives each
  // finished tile transposed.
  bool transposed;
};

// Which dimension of C the parts split: the driver's choice by shape, or the rows, for a product
// whose parts should own the same rows of memory as other phases of the same thread (the
// weight gradient, whose epilogue updates the rows of W that thread also reads in the forward
// pass: a row that stays with one core never travels between caches).
enum class GemmSplit { Auto, Rows };

// `packed_b`, when not null, is op(B) already packed by pack_b_panels for this k and n: the
// packed path reads its micro-panels instead of packing B (the direct path ignores it).
// `dots`, when not null, is op(B) of an NT product laid out by pack_dot_panels: the direct path
// reads it instead of b (the packed path ignores it).
GemmPlan plan_gemm(Trans ta, Trans tb, int m, int n, int k, float alpha,
                   const float* a,  // (m, k) if ta == No else (k, m); lda
                   int lda,
                   const float* b,  // (k, n) if tb == No else (n, k); ldb
                   int ldb, float beta,
                   float* c,  // (m, n) row-major, ldc
                   int ldc, const GemmEpilogue* epilogue, const GemmConfig& config, int threads,
                   GemmWorkspace* workspace, GemmSplit split = GemmSplit::Auto,
                   const float* packed_b = nullptr, const float* dots = nullptr);
// Runs part t of the plan (nothing when t has no work); parts may run concurrently.
void run_gemm_part(const GemmPlan& plan, int t);
// Runs a product that a plan for one thread would run whole on the direct path, at once and
// the same way, and returns true; returns false, doing nothing, for any other product. Every
// product of a small network's step is such a product, and planning it cost a tenth of the step.
bool run_if_whole_and_direct(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                             int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, const GemmConfig& config,
                             const float* dots = nullptr);
// Whether every call of the plan's epilogue, when it asks for panels, covers whole rows of C
// (all n columns): the parts own rows and one block spans n. An epilogue that works row by row
// (a softmax and its loss) needs it.
bool epilogue_sees_whole_rows(const GemmPlan& plan);
// Lets the parts of a plan share out their units through `share` when its workspace holds all
// of the operand the parts do not split for every part. Every part of the plan must run it
// with the same tag, new for each product among those that use `share` (products in a row need
// not be separated by a barrier: a part never takes units of another product), and `share`
// must start all zero.
void share_gemm(GemmPlan* plan, GemmShare* share, uint16_t tag);
// A workspace for `threads` parts that share out their units in any product up to these sizes
// (each part packs all of the operand the parts do not split); share_gemm leaves a plan static
// when its workspace is smaller.
std::size_t gemm_shared_workspace_bytes(const GemmConfig& config, int max_m, int max_n, int max_k, int threads);

// Weights that serve many products unchanged (predictions between two training calls): op(B)
// packed once, in the layout the packed path reads, instead of by every product. Layout: the
// k blocks of the plan (KC blocks balanced over k, the same for any m and thread count), each
// holding the ceil(n/NR) micro-panels (kc, NR) of its rows:
//   element (p, j) of op(B) at  p0·n_pad + (j − j mod NR)·kc + (p − p0)·NR + j mod NR
// where p0 is the first row of p's block, kc that block's depth and n_pad = ceil(n/NR)·NR.
std::size_t packed_b_floats(const GemmConfig& config, int k, int n);
// Number of NR-column micro-panels per k block (the unit pack_b_panels splits).
int packed_b_panel_count(const GemmConfig& config, int n);
// Packs micro-panels [panel0, panel1) of every k block of op(B) into `out` (packed_b_floats
// floats, 64-byte aligned). Disjoint panel ranges may be packed concurrently.
void pack_b_panels(const GemmConfig& config, Trans tb, int k, int n,
                   const float* b,  // (k, n) if tb == No else (n, k); ldb
                   int ldb, float* out, int panel0, int panel1);

// The dot-product layout of the B operand of an NT product (n, k), read by the direct path's
// dot products (GemmConfig::direct_dots) when a few rows of A meet weights that live in L3:
// tiles of kDotColumns rows of B, whose rows are interleaved in chunks of w = dot_width floats
// and padded with zeros to kp = k rounded up to w:
//   element (j, p) at  (j / kDotColumns)·kDotColumns·kp + (p − p mod w)·kDotColumns + (j mod kDotColumns)·w + p mod w
// A row of A against a tile then reads one stream of memory instead of kDotColumns.
// 0 floats when the configuration has no such path.
std::size_t dot_panel_floats(const GemmConfig& config, int k, int n);
// Number of tiles (the unit pack_dot_panels splits).
int dot_tile_count(int n);
// Lays out tiles [tile0, tile1) of B (n, k), ldb, into `out` (dot_panel_floats floats, 64-byte
// aligned). Disjoint tile ranges may be laid out concurrently.
void pack_dot_panels(const GemmConfig& config, int k, int n, const float* b, int ldb, float* out, int tile0, int tile1);

// C = alpha * op(A) * op(B) + beta * C. beta == 0 never reads C (it may hold
// NaN garbage). alpha == 0 or k == 0 never reads A or B.
void sgemm(Trans ta, Trans tb, int m, int n, int k, float alpha,
           const float* a,  // (m, k) if ta == No else (k, m); row-major, lda
           int lda,
           const float* b,  // (k, n) if tb == No else (n, k); row-major, ldb
           int ldb, float beta,
           float* c,        // (m, n) row-major, ldc
           int ldc, const GemmContext& ctx);

// Same, followed by the epilogue on every element of C.
void sgemm_epilogue(Trans ta, Trans tb, int m, int n, int k, float alpha,
                    const float* a,  // (m, k) if ta == No else (k, m); lda
                    int lda,
                    const float* b,  // (k, n) if tb == No else (n, k); ldb
                    int ldb, float beta,
                    float* c,        // (m, n) row-major, ldc
                    int ldc, const GemmEpilogue& epilogue,
                    const GemmContext& ctx);

}  // namespace mlpkit

#endif  // MLPKIT_NATIVE_GEMM_GEMM_H_
