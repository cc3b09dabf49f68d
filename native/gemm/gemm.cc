// Driver, dispatch and workspace for the packed SGEMM.
//
// Loop structure (per task; a task owns a range of rows or of columns of C):
//
//   for jc in n by NC:                       B block (KC x NC) lives in L3
//     for pc in k by KC:
//       for ic in m by MC:                   A block (MC x KC) lives in L2
//         pack A[ic:ic+mc, pc:pc+kc] -> ceil(mc/MR) micro-panels (kc, MR)
//           (not when op(A) = A is row-major and the ISA has a kernel that reads its MR
//           rows in place, ukernel_rows_a: a batch of activations, reused across the panels
//           from L2 either way, needs no copy)
//         for jr in nc by NR:                B micro-panel (KC x NR) in L1
//           if first ic: pack B[pc:pc+kc, jr:jr+NR] -> micro-panel (kc, NR)
//                        and prefetch the source of the next one
//           for ir in mc by MR:
//             micro-kernel: C[ir:ir+MR, jr:jr+NR] (+)= Apanel * Bpanel
//           if last pc: epilogue on the finished C strip (mc x NR), still in L1
//
// Shared parts (share_gemm): a part takes its units a few at a time from its own range, then
// from the back of another's, so a part that runs faster (its core not shared with other work)
// does more of the product:
//
//   rows:    pack all of B once, in k blocks; per take of 2·MR rows, for each k block:
//              pack A (as above), then every NR panel; the epilogue after the last block
//   columns: pack all of A once (as above), in k blocks; per take of one NR panel, for each k block:
//              pack B into one slot, then every MR tile; the epilogue after the last block
//
// Transposed products (GemmConfig::transposed_max_m): a layer's forward product X·Wᵀ and
// backward product δ·W at a batch of whole NR panels (32 to 256 rows) are computed as
// Cᵀ = op(B)ᵀ·Xᵀ, with the weights read in place by rows or by columns and the batch packed
// once per part (run_transposed_task); each finished tile is transposed into C. The weights
// are 8x the batch in W2, and the usual form packs them on every product.
//
// B is packed lazily (BLIS packs the whole KC x NC block before the ic loop):
// with an MLP batch of 64 every B element feeds only 64 FMAs, so reading the
// weights from L3 is a visible share of the time unless it overlaps with the
// micro-kernels of the previous panel.
//
// Packed layouts (every ISA):
//   A micro-panel (kc, MR): element (i, p) at p*MR + i; rows past m are 0
//   B micro-panel (kc, NR): element (p, j) at p*NR + j; columns past n are 0
// The packing routines read op(A)/op(B) through the Trans flags, so NT, NN,
// TN (and TT) all reach the same micro-kernel.
//
// Blocksizes (upper bounds; the driver splits each dimension into equal
// blocks rounded up to MR / NR / 4, e.g. k=784 -> 4 x 196, not 3 x 256 + 16):
//
//   ISA       kernel                       MR  NR   KC   MC    NC   direct path (see GemmConfig)
//   avx512    sgemm_ukernel_12x32_avx512   12  32  192  144  4096   m <= 8, mnk <= 64^3 (NT 12^3 or n <= 16)
//   avx2+fma  sgemm_ukernel_6x16_avx2       6  16  256  144  4080   m <= 8, mnk <= 64^3 (NT 12^3 or n <= 12)
//   scalar    sgemm_ukernel_4x8_scalar      4   8  256  128  4096   m <= 1
//   (B packed already, as the weights of predictions: m <= 3 on avx512 and avx2+fma)
//
// (avx2 values measured on a Zen 3 core, 32 KB L1d / 512 KB L2; see
// bench_gemm.cc. On a Zen 5 core, 48 KB L1d / 1 MB L2, the avx512 row was
// timed against KC 384 and MC 240 at the MLP shapes, interleaved: every
// choice was within 1 % of these, less than the spread between runs.)
//
// k blocking: C accumulates block after block of KC, beta applies only to
// the first block (later ones use beta = 1), so beta == 0 never reads C.
//
// Threads: only m or n is partitioned (into whole MR rows / NR columns), and
// the k blocking depends only on k, so each element of C sees exactly the same
// sequence of operations for any thread count: results are bit-identical.
// The dimension split is the one whose operand is cheaper to pack twice: with
// n split every task packs all of A and its own part of B.
#include "gemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <thread>

#include "cpu.h"
#include "ukernel.h"

namespace mlpkit {

// ---------------------------------------------------------------------------
// Configurations and dispatch

static GemmConfig make_scalar_config() {
  GemmConfig c{};
  c.name = "scalar";
  c.isa = Isa::Scalar;
  c.mr = 4;
  c.nr = 8;
  c.kc = 256;
  c.mc = 128;
  c.nc = 4096;
  c.ukernel = sgemm_ukernel_4x8_scalar;
  c.pack_a = sgemm_pack_a_mr4;
  c.pack_b = sgemm_pack_b_nr8;
  c.direct = sgemm_direct_scalar;
  c.transpose_tile = sgemm_transpose_tile;
  // Measured: the portable direct loops only beat packing for m = 1 (gemv).
  c.direct_max_m = 1;
  c.direct_max_m_prepacked = 1;
  c.direct_max_mnk = 0.0;
  c.direct_max_mnk_bt = 0.0;
  c.direct_max_n_bt = 0;
  return c;
}

#if defined(__x86_64__) || defined(__i386__)
static GemmConfig make_avx2_config() {
  GemmConfig c{};
  c.name = "avx2+fma";
  c.isa = Isa::Avx2;
  c.mr = 6;
  c.nr = 16;
  c.kc = 256;
  c.mc = 144;
  c.nc = 4080;
  c.ukernel = sgemm_ukernel_6x16_avx2;
  c.ukernel_rows_a = sgemm_ukernel_rows_6x16_avx2;
  c.ukernel_columns_a = sgemm_ukernel_columns_6x16_avx2;
  c.pack_a = sgemm_pack_a_mr6_avx2;
  c.pack_b = sgemm_pack_b_nr16_avx2;
  c.direct = sgemm_direct_avx2;
  c.direct_dots = sgemm_direct_dots_avx2;
  c.dot_width = 8;
  c.transpose_tile = sgemm_transpose_tile_avx2;
  // Measured on Zen 3 (bench_gemm --crossover): direct wins for m <= 12 at
  // n=512, k=784 in every form (8 kept as margin), for NN/TN cubes up to 64^3
  // (B rows stay in L1/L2, packing is pure overhead) and for NT only below
  // 16^3 (the horizontal sums of the dot-product kernel dominate).
  c.direct_max_m = 8;
  // Against weights packed once (predictions), W2's layers on a Zen 5 core: the packed path
  // 1.17-1.27x faster at 4 to 8 rows; at 2 and 3 rows within 11 % either way.
  c.direct_max_m_prepacked = 3;
  c.direct_max_mnk = 64.0 * 64 * 64;
  c.direct_max_mnk_bt = 12.0 * 12 * 12;
  // NT with few columns, on a Zen 5 core (m 64 and 256, k 128 to 784): direct 1.5-4x faster
  // up to n = 8, 1.1-1.4x at 12; 0.8x at 16, where the packed tile is full.
  c.direct_max_n_bt = 12;
  c.transposed_max_m = 128;
  return c;
}

static GemmConfig make_avx512_config() {
  GemmConfig c{};
  c.name = "avx512";
  c.isa = Isa::Avx512;
  c.mr = 12;
  c.nr = 32;
  c.kc = 192;
  c.mc = 144;
  c.nc = 4096;
  c.ukernel = sgemm_ukernel_12x32_avx512;
  c.ukernel_rows_a = sgemm_ukernel_rows_12x32_avx512;
  c.ukernel_columns_a = sgemm_ukernel_columns_12x32_avx512;
  c.pack_a = sgemm_pack_a_mr12;
  c.pack_b = sgemm_pack_b_nr32_avx512;
  c.direct = sgemm_direct_avx512;
  c.direct_dots = sgemm_direct_dots_avx512;
  c.dot_width = 16;
  c.transpose_tile = sgemm_transpose_tile_avx512;
  c.direct_max_m = 8;
  // Against weights packed once (predictions), W2's layers on a Zen 5 core: the packed path
  // from 4 rows (1.08x; 1.5-1.7x at 6 and 8), level at 3.
  c.direct_max_m_prepacked = 3;
  c.direct_max_mnk = 64.0 * 64 * 64;
  c.direct_max_mnk_bt = 12.0 * 12 * 12;
  // NT with few columns, on a Zen 5 core (m 64 and 256, k 128 to 784): direct 2.3-6.5x faster
  // up to n = 8, 1.25-2.1x at 16; from 20 it loses at some shapes (0.74-0.99x at k = 128).
  c.direct_max_n_bt = 16;
  c.transposed_max_m = 256;
  return c;
}
#endif

bool cpu_supports(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return true;
    case Isa::Avx2: return cpu_features().avx2_fma;
    case Isa::Avx512: return cpu_features().avx512f;
  }
  return false;
}

const GemmConfig& gemm_config(Isa isa) {
  static const GemmConfig scalar = make_scalar_config();
#if defined(__x86_64__) || defined(__i386__)
  static const GemmConfig avx2 = make_avx2_config();
  static const GemmConfig avx512 = make_avx512_config();
  if (isa == Isa::Avx512 && cpu_supports(Isa::Avx512)) return avx512;
  if (isa != Isa::Scalar && cpu_supports(Isa::Avx2)) return avx2;
#else
  (void)isa;
#endif
  return scalar;
}

bool isa_from_name(const char* name, Isa* isa) {
  const std::string value = name;
  if (value == "avx512") *isa = Isa::Avx512;
  else if (value == "avx2" || value == "avx2+fma") *isa = Isa::Avx2;
  else if (value == "scalar") *isa = Isa::Scalar;
  else return false;
  return true;
}

const GemmConfig& gemm_config() {
  // MLPKIT_ISA caps the instruction set, so that a narrower path can be measured on a wider
  // CPU; the addon refuses to load with a value it does not know.
  static const GemmConfig& chosen = [] () -> const GemmConfig& {
    const char* requested = std::getenv("MLPKIT_ISA");
    Isa isa = Isa::Avx512;
    if (requested != nullptr && *requested != 0) isa_from_name(requested, &isa);
    return gemm_config(isa);
  }();
  return chosen;
}

const char* gemm_isa_name() { return gemm_config().name; }

// ---------------------------------------------------------------------------
// Workspace

GemmWorkspace::~GemmWorkspace() {
  if (data_ != nullptr) ::operator delete(data_, std::align_val_t(64));
}

void GemmWorkspace::reserve(std::size_t bytes) {
  if (bytes <= capacity_) return;
  void* fresh = ::operator new(bytes, std::align_val_t(64));
  if (data_ != nullptr) ::operator delete(data_, std::align_val_t(64));
  data_ = fresh;
  capacity_ = bytes;
}

static inline long round_up(long x, long to) { return (x + to - 1) / to * to; }
static inline std::size_t round_up_bytes(std::size_t x) { return (x + 63) / 64 * 64; }

// Splits `total` into equal blocks of at most `max_block` (a multiple of
// `align`), each rounded up to `align`. Equal blocks avoid a thin last block
// (k=784 with KC=256 would otherwise end in a 16-deep pass that is all
// overhead).
static int balanced_block(int total, int max_block, int align) {
  if (total <= 0) return align;
  const int blocks = (total + max_block - 1) / max_block;
  const int per = (total + blocks - 1) / blocks;
  return static_cast<int>(round_up(per, align));
}

// Packed-path buffers of one task, each 64-byte aligned and followed by 64
// spare bytes: packers may store a full vector at the end of a micro-panel
// (overlapping stores are cheaper than masked ones on some cores).
constexpr std::size_t kSlack = 64;
static std::size_t a_bytes(int mc, int kc) {
  return round_up_bytes(static_cast<std::size_t>(mc) * kc * sizeof(float) + kSlack);
}
static std::size_t task_bytes(int mc, int nc, int kc) {
  return a_bytes(mc, kc) +
         round_up_bytes(static_cast<std::size_t>(nc) * kc * sizeof(float) + kSlack);
}

// Units a part takes at once: rows come in pairs of micro-tiles (24 rows on AVX-512), columns
// one micro-panel at a time, small enough that the last ones even out the parts.
constexpr int kSharedRowUnits = 2;
constexpr int kSharedColumnUnits = 1;
// Micro-tiles of rows a part of a transposed product takes at once: the epilogue then sees
// rows of C 4·MR columns long (48 on AVX-512).
constexpr int kTransposedRowUnits = 4;
// Floats of the batch a part of a transposed product packs whole (W3's 256 x 1024): wider inputs
// keep the usual form, so that the workspace stays within a few MB per thread.
constexpr long kTransposedMaxBatchFloats = 256L * 1024;

// Bytes of a part's workspace slice in a transposed product: all of op(B) (the caller's op(A)ᵀ,
// its batch) packed once in the plan's k blocks, then the rows of Cᵀ of one take (4·MR × n).
static std::size_t transposed_part_bytes(const GemmConfig& cfg, int n, int k) {
  return round_up_bytes(packed_b_floats(cfg, k, n) * sizeof(float) + kSlack) +
         round_up_bytes(static_cast<std::size_t>(kTransposedRowUnits) * cfg.mr * round_up(n, cfg.nr) * sizeof(float) + kSlack);
}

std::size_t gemm_workspace_bytes(const GemmConfig& cfg, int max_m, int max_n, int max_k,
                                 int threads) {
  const int mc = static_cast<int>(std::min<long>(cfg.mc, round_up(std::max(max_m, 1), cfg.mr)));
  const int nc = static_cast<int>(std::min<long>(cfg.nc, round_up(std::max(max_n, 1), cfg.nr)));
  const int kc = static_cast<int>(std::min<long>(cfg.kc, round_up(std::max(max_k, 1), 4)));
  std::size_t per_part = task_bytes(mc, nc, kc);
  if (cfg.transposed_max_m >= cfg.nr) {
    const int batch = std::min(std::max(max_m, 1), cfg.transposed_max_m);
    per_part = std::max(per_part, transposed_part_bytes(cfg, batch, static_cast<int>(std::min<long>(std::max(max_k, 1), kTransposedMaxBatchFloats / batch))));
  }
  return static_cast<std::size_t>(std::max(threads, 1)) * per_part;
}

std::size_t gemm_workspace_bytes(int max_m, int max_n, int max_k, int threads) {
  return gemm_workspace_bytes(gemm_config(), max_m, max_n, max_k, threads);
}

// ---------------------------------------------------------------------------
// Driver

namespace {

using Job = GemmPlan;

// Pointer to op(A)(i, p) / op(B)(p, j) inside the row-major source.
inline const float* a_at(const Job& J, int i, int p) {
  return J.ta == Trans::No ? J.a + static_cast<long>(i) * J.lda + p
                           : J.a + static_cast<long>(p) * J.lda + i;
}
inline const float* b_at(const Job& J, int p, int j) {
  return J.tb == Trans::No ? J.b + static_cast<long>(p) * J.ldb + j
                           : J.b + static_cast<long>(j) * J.ldb + p;
}

// C(i, j) += bias(j) on a block: AVX2 rather than SSE where the CPU has it (1–2 % of an
// inference at batch 256 was this loop at SSE width).
MLPKIT_ELEMENTWISE void add_bias(const float* bias, float* c, int ldc, int rows, int cols) {
  for (int i = 0; i < rows; ++i) {
    float* ci = c + static_cast<long>(i) * ldc;
    for (int j = 0; j < cols; ++j) ci[j] += bias[j];
  }
}

void apply_epilogue(const GemmEpilogue& ep,
                    float* c,  // C(row0, col0); (rows, cols), ldc
                    int ldc, int row0, int col0, int rows, int cols) {
  if (ep.kind == EpilogueKind::Bias && ep.bias != nullptr) add_bias(ep.bias + col0, c, ldc, rows, cols);
  if (ep.post != nullptr) ep.post(ep.user, c, ldc, row0, col0, rows, cols);
}

// Prefetches share `part` of `parts` of the source of the B micro-panel that
// starts at column j (rows pc..pc+kc of op(B)) into L2. About kc cache lines
// in either layout; spreading them over the micro-kernel calls keeps the
// number of outstanding misses small.
void prefetch_b_source(const Job& J, int pc, int kc, int j, int part, int parts) {
  const int nr = J.cfg->nr;
  if (J.tb == Trans::No) {
    // kc rows of NR contiguous floats (one or two lines each).
    const int r0 = static_cast<int>(static_cast<long>(part) * kc / parts);
    const int r1 = static_cast<int>(static_cast<long>(part + 1) * kc / parts);
    for (int r = r0; r < r1; ++r) {
      const float* p = J.b + static_cast<long>(pc + r) * J.ldb + j;
      __builtin_prefetch(p, 0, 2);
      __builtin_prefetch(p + nr - 1, 0, 2);
    }
  } else {
    // NR rows (up to n) of kc contiguous floats.
    const int rows = std::min(nr, J.n - j);
    const int lines_per_row = (kc + 15) / 16;
    const long total = static_cast<long>(rows) * lines_per_row;
    const long l0 = part * total / parts, l1 = (part + 1) * total / parts;
    for (long l = l0; l < l1; ++l) {
      const int row = static_cast<int>(l / lines_per_row);
      const int col = static_cast<int>(l % lines_per_row) * 16;
      __builtin_prefetch(J.b + static_cast<long>(j + row) * J.ldb + pc + col, 0, 2);
    }
  }
}

// Whether rows `ld` floats apart are a multiple of 4 KB apart: a column of such rows falls in a
// few sets of each cache (16 of the 1024 sets of a 512 KB 8-way L2), so walking one evicts
// itself (and prefetches of it evict each other) long before the next column needs its lines.
inline bool rows_alias(long ld) { return ld * static_cast<long>(sizeof(float)) % 4096 == 0; }

// The B block (kc, nc) of op(B) = B (tb = No) into its micro-panels, row by row: each row is
// read whole and in order, for rows that alias (rows_alias), where packing a panel at a time
// reads a column of them. The bytes of cfg.pack_b panel by panel (zeros past nc in the last).
void pack_b_block_by_rows(const GemmConfig& cfg, int kc, int nc, const float* b, int ldb, float* out) {
  const int nr = cfg.nr;
  for (int p = 0; p < kc; ++p) {
    const float* row = b + static_cast<long>(p) * ldb;
    for (int j0 = 0; j0 < nc; j0 += nr) {
      float* dst = out + static_cast<long>(j0) * kc + static_cast<long>(p) * nr;
      const int count = std::min(nr, nc - j0);
      std::memcpy(dst, row + j0, sizeof(float) * count);
      std::fill(dst + count, dst + nr, 0.0f);
    }
  }
}

// ---- Work sharing (GemmShare): one 64-bit word per part, tag | next | end.

inline uint64_t range_word(uint16_t tag, uint32_t next, uint32_t end) {
  return static_cast<uint64_t>(tag) << 48 | static_cast<uint64_t>(next) << 24 | end;
}
inline uint16_t range_tag(uint64_t w) { return static_cast<uint16_t>(w >> 48); }
inline int range_next(uint64_t w) { return static_cast<int>((w >> 24) & 0xffffff); }
inline int range_end(uint64_t w) { return static_cast<int>(w & 0xffffff); }


// Takes up to `chunk` units of part v's range for the product tagged `tag`: from the front for
// the owner, from the back for another part. A range still tagged with an earlier product
// belongs to a part that has not started this one yet: it will, so wait for it.
bool take_units(GemmShare::Range& range, uint16_t tag, int chunk, bool owner, int spins, int* first, int* last) {
  uint64_t word = range.word.load(std::memory_order_acquire);
  for (int waits = 0;;) {
    const int16_t age = static_cast<int16_t>(range_tag(word) - tag);
    if (age < 0) {  // the owner is still in an earlier product
      // Spin briefly, then give the CPU away: with more threads than CPUs (two models busy at
      // once, a team larger than the CPUs), the owner may be waiting for this very CPU.
      if (++waits < spins) {
        relax_cpu();
      } else {
        std::this_thread::yield();
      }
      word = range.word.load(std::memory_order_acquire);
      continue;
    }
    const int next = range_next(word), end = range_end(word);
    if (age > 0 || next >= end) return false;  // done with this product
    const int from = owner ? next : std::max(next, end - chunk), to = owner ? std::min(end, next + chunk) : end;
    const uint64_t taken = owner ? range_word(tag, to, end) : range_word(tag, next, from);
    if (range.word.compare_exchange_weak(word, taken, std::memory_order_acq_rel, std::memory_order_acquire)) {
      *first = from;
      *last = to;
      return true;
    }
  }
}

// Whether the micro-kernel reads A where it is (rows of a row-major op(A)) rather than packed:
// packing A costs as much as a few percent of a product whose A is a batch of activations.
inline bool reads_a_in_place(const Job& J) { return J.ta == Trans::No && J.cfg->ukernel_rows_a != nullptr; }

// Bytes of a part's workspace slice when its plan's parts share out their units: all of the
// operand the parts do not split, packed once in the plan's k blocks (rows: op(B) as
// pack_b_panels lays it out; columns: op(A), block pc at pc·m_pad), then the buffer for the
// other operand's pieces (rows: A of 2·MR rows × kc; columns: one B micro-panel kc × NR).
std::size_t shared_part_bytes(const Job& J) {
  const GemmConfig& cfg = *J.cfg;
  if (J.split_n) {
    return round_up_bytes(static_cast<std::size_t>(round_up(J.m, cfg.mr)) * J.k * sizeof(float) + kSlack) +
           round_up_bytes(static_cast<std::size_t>(J.kc) * cfg.nr * sizeof(float) + kSlack);
  }
  return round_up_bytes(packed_b_floats(cfg, J.k, J.n) * sizeof(float) + kSlack) +
         a_bytes(kSharedRowUnits * cfg.mr, J.kc);
}

// The units part t works through, `chunk` at a time: with shared parts, its own range from the
// front and then the back of the others' (take_units); with static parts, its own range in order.
class UnitTakes {
 public:
  UnitTakes(const Job& J, int t, int chunk) : J_(J), t_(t), chunk_(chunk) {
    next_ = static_cast<int>(static_cast<long>(t) * J.units / J.parts);
    end_ = static_cast<int>(static_cast<long>(t + 1) * J.units / J.parts);
    if (J.share != nullptr)
      J.share->ranges[t].word.store(range_word(J.share_tag, static_cast<uint32_t>(next_), static_cast<uint32_t>(end_)),
                                    std::memory_order_release);
  }
  bool next(int* u0, int* u1) {
    if (J_.share == nullptr) {
      if (next_ >= end_) return false;
      *u0 = next_;
      *u1 = next_ = std::min(end_, next_ + chunk_);
      return true;
    }
    while (victim_ < J_.parts && !take_units(J_.share->ranges[(t_ + victim_) % J_.parts], J_.share_tag, chunk_, victim_ == 0,
                                             J_.share->spins, u0, u1))
      ++victim_;
    return victim_ < J_.parts;
  }

 private:
  const Job& J_;
  const int t_, chunk_;
  int next_, end_;
  int victim_ = 0;  // 0: own range, then the others in turn
};

// Part t of a plan whose parts share out their units. The operand the parts do not split is
// packed once, when the part takes its first units; then for each take, every k block in order
// (the same sums as the static loop, so the same bits), and the epilogue after the last block.
void run_shared_task(const Job& J, int t) {
  const GemmConfig& cfg = *J.cfg;
  const int mr = cfg.mr, nr = cfg.nr;
  const long m_pad = round_up(J.m, mr), n_pad = round_up(J.n, nr);
  char* ws = J.ws + static_cast<std::size_t>(t) * J.part_stride;
  float* whole = reinterpret_cast<float*>(ws);  // the unsplit operand, packed once
  float* piece = reinterpret_cast<float*>(
      ws + (J.split_n ? round_up_bytes(static_cast<std::size_t>(m_pad) * J.k * sizeof(float) + kSlack)
                      : round_up_bytes(packed_b_floats(cfg, J.k, J.n) * sizeof(float) + kSlack)));
  const float* all_b = J.packed_b != nullptr ? J.packed_b : whole;
  const bool rows_a = reads_a_in_place(J);
  const bool tile_epilogue = J.epilogue != nullptr && !J.epilogue->panels;
  UnitTakes takes(J, t, J.split_n ? kSharedColumnUnits : kSharedRowUnits);
  bool packed_once = false;
  for (int u0 = 0, u1 = 0; takes.next(&u0, &u1);) {
    if (J.split_n) {
      if (!packed_once && !rows_a) {
        for (int pc = 0; pc < J.k; pc += J.kc) cfg.pack_a(J.ta, J.m, std::min(J.kc, J.k - pc), a_at(J, 0, pc), J.lda, whole + pc * m_pad);
        packed_once = true;
      }
      const int n0 = u0 * nr, n1 = std::min(u1 * nr, J.n);
      for (int jr = n0; jr < n1; jr += nr) {
        const int nrr = std::min(nr, n1 - jr);
        for (int pc = 0; pc < J.k; pc += J.kc) {
          const int kc = std::min(J.kc, J.k - pc);
          const float* bp = J.packed_b != nullptr ? J.packed_b + pc * n_pad + static_cast<long>(jr) * kc : piece;
          if (J.packed_b == nullptr) cfg.pack_b(J.tb, kc, nrr, b_at(J, pc, jr), J.ldb, piece);
          for (int ir = 0; ir < J.m; ir += mr) {
            float* ctile = J.c + static_cast<long>(ir) * J.ldc + jr;
            if (rows_a) {
              cfg.ukernel_rows_a(std::min(mr, J.m - ir), nrr, kc, J.alpha, a_at(J, ir, pc), J.lda, bp, pc == 0 ? J.beta : 1.0f, ctile, J.ldc);
            } else {
              cfg.ukernel(std::min(mr, J.m - ir), nrr, kc, J.alpha, whole + pc * m_pad + static_cast<long>(ir) * kc, bp,
                          pc == 0 ? J.beta : 1.0f, ctile, J.ldc);
            }
            if (pc + kc == J.k && tile_epilogue) apply_epilogue(*J.epilogue, ctile, J.ldc, ir, jr, std::min(mr, J.m - ir), nrr);
          }
        }
      }
      if (J.epilogue != nullptr && J.epilogue->panels) apply_epilogue(*J.epilogue, J.c + n0, J.ldc, 0, n0, J.m, n1 - n0);
    } else {
      if (!packed_once && J.packed_b == nullptr) pack_b_panels(cfg, J.tb, J.k, J.n, J.b, J.ldb, whole, 0, packed_b_panel_count(cfg, J.n));
      packed_once = true;
      const int m0 = u0 * mr, m1 = std::min(u1 * mr, J.m);
      for (int pc = 0; pc < J.k; pc += J.kc) {
        const int kc = std::min(J.kc, J.k - pc);
        if (!rows_a) cfg.pack_a(J.ta, m1 - m0, kc, a_at(J, m0, pc), J.lda, piece);
        for (int jr = 0; jr < J.n; jr += nr) {
          const int nrr = std::min(nr, J.n - jr);
          float* cstrip = J.c + static_cast<long>(m0) * J.ldc + jr;
          const float* bp = all_b + pc * n_pad + static_cast<long>(jr) * kc;
          for (int ir = 0; ir < m1 - m0; ir += mr) {
            float* ctile = cstrip + static_cast<long>(ir) * J.ldc;
            if (rows_a) {
              cfg.ukernel_rows_a(std::min(mr, m1 - m0 - ir), nrr, kc, J.alpha, a_at(J, m0 + ir, pc), J.lda, bp, pc == 0 ? J.beta : 1.0f,
                                 ctile, J.ldc);
            } else {
              cfg.ukernel(std::min(mr, m1 - m0 - ir), nrr, kc, J.alpha, piece + static_cast<long>(ir) * kc, bp, pc == 0 ? J.beta : 1.0f,
                          ctile, J.ldc);
            }
            if (pc + kc == J.k && tile_epilogue) apply_epilogue(*J.epilogue, ctile, J.ldc, m0 + ir, jr, std::min(mr, m1 - m0 - ir), nrr);
          }
        }
      }
      if (J.epilogue != nullptr && J.epilogue->panels) apply_epilogue(*J.epilogue, J.c + static_cast<long>(m0) * J.ldc, J.ldc, m0, 0, m1 - m0, J.n);
    }
  }
}

// The kernel that reads the weights of a transposed product in place: op(A) = W by rows, or
// op(A) = Wᵀ by its columns (null: the ISA has none).
inline UkernelRowsFn weights_in_place_kernel(const GemmConfig& cfg, Trans ta) {
  return ta == Trans::No ? cfg.ukernel_rows_a : cfg.ukernel_columns_a;
}

// Part t of a transposed product (GemmPlan::transposed): Cᵀ = op(B)ᵀ·op(A)ᵀ, a layer's forward
// or backward product turned around. op(A) here is W or Wᵀ, which the micro-kernel reads in
// place (by rows or by columns); op(B) is the batch, packed once per part (a batch of 64 rows
// is an eighth of W2's first W, which the usual form packs on every product). Loop structure,
// per take of 4·MR rows of Cᵀ (units):
//
//   for pc in k by KC:
//     for jr in n by NR:                     B micro-panel (kc, NR) of the packed batch
//       for ir in the take by MR:            W at (ir, pc), in place
//         micro-kernel -> the take's tile (ir, jr) in the workspace (beta 0, then 1)
//         if last pc: the tile, transposed and with its bias, into C(jr.., ir..)
//       if last pc: the epilogue's post on C's NR rows jr.. by the take's columns
//
// Every element of C sees the products and k blocks of the usual form in the same order.
void run_transposed_task(const Job& J, int t) {
  const GemmConfig& cfg = *J.cfg;
  const int mr = cfg.mr, nr = cfg.nr;
  const long n_pad = J.n_pad;
  char* ws = J.ws + static_cast<std::size_t>(t) * J.part_stride;
  float* batch = reinterpret_cast<float*>(ws);
  float* tiles = reinterpret_cast<float*>(ws + round_up_bytes(packed_b_floats(cfg, J.k, J.n) * sizeof(float) + kSlack));
  const UkernelRowsFn weights_in_place = weights_in_place_kernel(cfg, J.ta);
  // The bias goes in with the transposing store (the same single addition per element); the
  // rest of the epilogue runs on C.
  const float* bias = J.epilogue != nullptr && J.epilogue->kind == EpilogueKind::Bias ? J.epilogue->bias : nullptr;
  const GemmEpilogue::Post post = J.epilogue != nullptr ? J.epilogue->post : nullptr;
  UnitTakes takes(J, t, kTransposedRowUnits);
  bool packed_once = false;
  for (int u0 = 0, u1 = 0; takes.next(&u0, &u1);) {
    if (!packed_once) pack_b_panels(cfg, J.tb, J.k, J.n, J.b, J.ldb, batch, 0, packed_b_panel_count(cfg, J.n));
    packed_once = true;
    const int m0 = u0 * mr, m1 = std::min(u1 * mr, J.m);
    for (int pc = 0; pc < J.k; pc += J.kc) {
      const int kc = std::min(J.kc, J.k - pc);
      for (int jr = 0; jr < J.n; jr += nr) {
        const int nrr = std::min(nr, J.n - jr);
        const float* bp = batch + pc * n_pad + static_cast<long>(jr) * kc;
        for (int ir = m0; ir < m1; ir += mr) {
          const int rows = std::min(mr, m1 - ir);
          float* tile = tiles + static_cast<long>(ir - m0) * n_pad + jr;
          weights_in_place(rows, nrr, kc, J.alpha, a_at(J, ir, pc), J.lda, bp, pc == 0 ? 0.0f : 1.0f, tile, static_cast<int>(n_pad));
          if (pc + kc == J.k)
            cfg.transpose_tile(rows, nrr, tile, static_cast<int>(n_pad), bias != nullptr ? bias + ir : nullptr,
                               J.c + static_cast<long>(jr) * J.ldc + ir, J.ldc);
        }
        // The epilogue on the take's NR rows of C at once: rows of a few columns would each be
        // too short for its vector loops.
        if (pc + kc == J.k && post != nullptr) post(J.epilogue->user, J.c + static_cast<long>(jr) * J.ldc + m0, J.ldc, jr, m0, nrr, m1 - m0);
      }
    }
  }
}

void run_task(const Job& J, int t) {
  if (J.transposed) {
    run_transposed_task(J, t);
    return;
  }
  if (J.share != nullptr) {
    run_shared_task(J, t);
    return;
  }
  const int u0 = static_cast<int>(static_cast<long>(t) * J.units / J.parts);
  const int u1 = static_cast<int>(static_cast<long>(t + 1) * J.units / J.parts);
  int m0 = 0, m1 = J.m, n0 = 0, n1 = J.n;
  if (J.split_n) {
    n0 = u0 * J.unit;
    n1 = std::min(u1 * J.unit, J.n);
  } else {
    m0 = u0 * J.unit;
    m1 = std::min(u1 * J.unit, J.m);
  }
  if (m0 >= m1 || n0 >= n1) return;
  const GemmConfig& cfg = *J.cfg;

  if (J.direct) {
    float* c = J.c + static_cast<long>(m0) * J.ldc + n0;
    if (J.dots != nullptr) {  // parts split n in whole NR micro-panels: n0 starts a tile
      cfg.direct_dots(m1 - m0, n1 - n0, J.k, J.alpha, a_at(J, m0, 0), J.lda,
                      J.dots + static_cast<long>(n0) * round_up(J.k, cfg.dot_width), J.beta, c, J.ldc);
    } else {
      cfg.direct(J.ta, J.tb, m1 - m0, n1 - n0, J.k, J.alpha, a_at(J, m0, 0), J.lda, b_at(J, 0, n0), J.ldb, J.beta, c, J.ldc);
    }
    if (J.epilogue != nullptr) apply_epilogue(*J.epilogue, c, J.ldc, m0, n0, m1 - m0, n1 - n0);
    return;
  }

  char* ws = J.ws + static_cast<std::size_t>(t) * J.part_stride;
  float* packed_a = reinterpret_cast<float*>(ws);
  float* packed_b = reinterpret_cast<float*>(ws + a_bytes(J.mc_max, J.kc));
  const int mr = cfg.mr, nr = cfg.nr;
  // Blocks balanced over this task's own extent; never above mc_max/nc_max.
  const int mc_blk = balanced_block(m1 - m0, cfg.mc, mr);
  const int nc_blk = balanced_block(n1 - n0, cfg.nc, nr);
  const bool single_ic = mc_blk >= m1 - m0;
  const bool rows_a = reads_a_in_place(J);
  const bool tile_epilogue = J.epilogue != nullptr && !J.epilogue->panels;

  for (int jc = n0; jc < n1; jc += nc_blk) {
    const int nc = std::min(nc_blk, n1 - jc);
    for (int pc = 0; pc < J.k; pc += J.kc) {
      const int kc = std::min(J.kc, J.k - pc);
      const bool last_k = pc + kc == J.k;
      const float beta = pc == 0 ? J.beta : 1.0f;
      // B's rows alias: the whole block at once, in row order (its panels at jr·kc, as below).
      const bool block_by_rows = J.packed_b == nullptr && J.tb == Trans::No && !single_ic && rows_alias(J.ldb);
      if (block_by_rows) pack_b_block_by_rows(cfg, kc, nc, b_at(J, pc, jc), J.ldb, packed_b);
      for (int ic = m0; ic < m1; ic += mc_blk) {
        const int mc = std::min(mc_blk, m1 - ic);
        const bool first_ic = ic == m0 && !block_by_rows;
        if (!rows_a) cfg.pack_a(J.ta, mc, kc, a_at(J, ic, pc), J.lda, packed_a);
        const int parts = (mc + mr - 1) / mr;
        for (int jr = 0; jr < nc; jr += nr) {
          const int nrr = std::min(nr, nc - jr);
          // B is packed one micro-panel at a time during the first ic pass,
          // right before its first use, while the source of the next panel
          // is prefetched under the micro-kernels. When this pass is the only
          // one (m <= MC, e.g. batch 64) the panel is never needed again and
          // is packed into one slot that stays in L1, instead of into a
          // KC x NC block whose write misses cost as much as the packing.
          const float* bp;
          if (J.packed_b != nullptr) {  // packed once for many products: read in place
            bp = J.packed_b + static_cast<long>(pc) * J.n_pad + static_cast<long>(jc + jr) * kc;
          } else {
            float* slot = single_ic ? packed_b : packed_b + static_cast<long>(jr) * kc;
            if (first_ic) cfg.pack_b(J.tb, kc, nrr, b_at(J, pc, jc + jr), J.ldb, slot);
            bp = slot;
          }
          const bool prefetch = first_ic && jr + nr < nc && J.packed_b == nullptr;
          float* cstrip = J.c + static_cast<long>(ic) * J.ldc + jc + jr;
          for (int ir = 0, part = 0; ir < mc; ir += mr, ++part) {
            if (prefetch) prefetch_b_source(J, pc, kc, jc + jr + nr, part, parts);
            float* ctile = cstrip + static_cast<long>(ir) * J.ldc;
            if (rows_a) {
              cfg.ukernel_rows_a(std::min(mr, mc - ir), nrr, kc, J.alpha, a_at(J, ic + ir, pc), J.lda, bp, beta, ctile, J.ldc);
            } else {
              cfg.ukernel(std::min(mr, mc - ir), nrr, kc, J.alpha, packed_a + static_cast<long>(ir) * kc, bp, beta, ctile, J.ldc);
            }
            // The tile is still in L1: a block of mc rows ldc apart would not be (rows 2 or 4 KB
            // apart share a few L1 sets), and the epilogue would read it back from L2.
            if (last_k && tile_epilogue) apply_epilogue(*J.epilogue, ctile, J.ldc, ic + ir, jc + jr, std::min(mr, mc - ir), nrr);
          }
        }
        if (last_k && J.epilogue != nullptr && J.epilogue->panels)
          apply_epilogue(*J.epilogue, J.c + static_cast<long>(ic) * J.ldc + jc, J.ldc, ic, jc, mc, nc);
      }
    }
  }
}


// C = beta * C (+ epilogue) when there is no product to add.
void scale_only(int m, int n, float beta,
                float* c,  // (m, n), ldc
                int ldc, const GemmEpilogue* ep) {
  for (int i = 0; i < m; ++i) {
    float* ci = c + static_cast<long>(i) * ldc;
    if (beta == 0.0f) {
      for (int j = 0; j < n; ++j) ci[j] = 0.0f;
    } else if (beta != 1.0f) {
      for (int j = 0; j < n; ++j) ci[j] *= beta;
    }
  }
  if (ep != nullptr) apply_epilogue(*ep, c, ldc, 0, 0, m, n);
}

struct DirectChoice {
  bool direct;  // the direct path (no packing)
  bool whole;   // and on one thread, unpartitioned
};

// The path depends on the shape only (never on the thread count), so the arithmetic per element
// is fixed. Small direct products run whole on one thread: for layers of a few units,
// partitioning costs as much as the product itself. Thin ones with much work (a batch of one
// row through a wide layer) are still split.
DirectChoice choose_direct(Trans ta, Trans tb, int m, int n, int k, const GemmConfig& cfg, int threads, const float* packed_b) {
  const double mnk = static_cast<double>(m) * n * k;
  const bool tt = ta == Trans::Yes && tb == Trans::Yes;
  const double max_mnk = tb == Trans::No ? cfg.direct_max_mnk : cfg.direct_max_mnk_bt;
  const bool direct = mnk <= max_mnk || (!tt && m <= (packed_b != nullptr ? cfg.direct_max_m_prepacked : cfg.direct_max_m)) ||
                      (ta == Trans::No && tb == Trans::Yes && n <= cfg.direct_max_n_bt);
  return {direct, direct && (threads <= 1 || (static_cast<double>(m) * n <= 4096 && mnk < 65536.0 * threads))};
}

// The epilogue a plan keeps: none when it would do nothing.
inline const GemmEpilogue* effective_epilogue(const GemmEpilogue* epilogue) {
  const bool none = epilogue != nullptr && epilogue->post == nullptr &&
                    (epilogue->kind == EpilogueKind::None || epilogue->bias == nullptr);
  return none ? nullptr : epilogue;
}

// A product run whole on the direct path (on `dots` when not null), then its epilogue on all of C.
void run_direct_whole(const GemmConfig& cfg, Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda,
                      const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* ep, const float* dots) {
  if (dots != nullptr) {
    cfg.direct_dots(m, n, k, alpha, a, lda, dots, beta, c, ldc);
  } else {
    cfg.direct(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  if (ep != nullptr) apply_epilogue(*ep, c, ldc, 0, 0, m, n);
}

// The plan of a product for `threads` parts; `need` receives the workspace bytes it uses.
GemmPlan make_plan(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                   int ldb, float beta, float* c, int ldc, const GemmEpilogue* ep, const GemmConfig& cfg,
                   int threads, std::size_t* need, GemmSplit split = GemmSplit::Auto, const float* packed_b = nullptr,
                   bool allow_transposed = true) {
  Job J{};
  J.ta = ta;
  J.tb = tb;
  J.m = m;
  J.n = n;
  J.k = k;
  J.alpha = alpha;
  J.a = a;
  J.lda = lda;
  J.b = b;
  J.ldb = ldb;
  J.beta = beta;
  J.c = c;
  J.ldc = ldc;
  J.epilogue = ep;
  J.cfg = &cfg;
  J.parts = 1;
  *need = 0;
  if (m <= 0 || n <= 0) {
    J.empty = true;
    return J;
  }
  if (k <= 0 || alpha == 0.0f) {
    J.scale_only = true;
    return J;
  }
  const DirectChoice choice = choose_direct(ta, tb, m, n, k, cfg, threads, packed_b);
  J.direct = choice.direct;
  if (choice.whole) {
    J.whole = true;
    return J;
  }

  threads = std::max(threads, 1);
  // A layer's forward (X·Wᵀ) or backward (δ·W) product at a batch that fills whole
  // micro-panels: turned around, the micro-kernel reads W in place and only the batch is
  // packed (run_transposed_task). Parts own rows of Cᵀ, units of the layer.
  // Read by columns, W's rows a multiple of 4 KB apart would put every k step in a new page and
  // the same L1 set (δ·W at 1024 inputs: 0.8x on AVX2, level on AVX-512): the usual form.
  const Trans weights_trans = tb == Trans::Yes ? Trans::No : Trans::Yes;  // op(B)ᵀ, the transposed product's op(A)
  const bool columns_alias = tb == Trans::No && static_cast<long>(ldb) * sizeof(float) % 4096 == 0;
  if (!J.direct && packed_b == nullptr && allow_transposed && weights_in_place_kernel(cfg, weights_trans) != nullptr && !columns_alias && ta == Trans::No &&
      beta == 0.0f && m % cfg.nr == 0 && m <= cfg.transposed_max_m && static_cast<long>(m) * k <= kTransposedMaxBatchFloats &&
      (ep == nullptr || !ep->panels)) {
    J.transposed = true;
    J.ta = weights_trans;
    J.tb = Trans::Yes;
    J.m = n;
    J.n = m;
    J.a = b;
    J.lda = ldb;
    J.b = a;
    J.ldb = lda;
    J.unit = cfg.mr;
    J.units = (J.m + cfg.mr - 1) / cfg.mr;
    J.parts = std::min(threads, J.units);
    J.kc = balanced_block(k, cfg.kc, 4);
    J.n_pad = static_cast<int>(round_up(J.n, cfg.nr));
    J.part_stride = transposed_part_bytes(cfg, J.n, k);
    *need = J.part_stride * static_cast<std::size_t>(J.parts);
    return J;
  }

  // Partition: prefer splitting n (each part packs all of A, which is the
  // smaller operand when m <= n) unless there are too few column units.
  const int n_units = (n + cfg.nr - 1) / cfg.nr;
  const int m_units = (m + cfg.mr - 1) / cfg.mr;
  bool split_n = m <= n;
  if (split_n && n_units < threads && m_units > n_units) split_n = false;
  if (!split_n && m_units < threads && n_units > m_units) split_n = true;
  if (split == GemmSplit::Rows && m_units >= threads) split_n = false;
  // B packed already (weights read as they are by predictions): parts that own rows each pack
  // only their own A, where parts that own columns would each pack all of it.
  if (packed_b != nullptr && m_units >= threads) split_n = false;
  J.split_n = split_n;
  J.unit = split_n ? cfg.nr : cfg.mr;
  J.units = split_n ? n_units : m_units;
  J.parts = std::min(threads, J.units);

  if (!J.direct) {
    J.kc = balanced_block(k, cfg.kc, 4);
    // Any part's balanced blocks fit under these caps; they are also what
    // gemm_workspace_bytes() assumes, so a workspace sized by it never grows.
    J.mc_max = static_cast<int>(std::min<long>(cfg.mc, round_up(m, cfg.mr)));
    J.nc_max = static_cast<int>(std::min<long>(cfg.nc, round_up(n, cfg.nr)));
    J.part_stride = task_bytes(J.mc_max, J.nc_max, J.kc);
    *need = J.part_stride * static_cast<std::size_t>(J.parts);
    J.packed_b = packed_b;
    J.n_pad = static_cast<int>(round_up(n, cfg.nr));
  }
  return J;
}

void run_part(const Job& J, int t) {
  if (J.empty || t >= J.parts) return;
  if (J.scale_only) {
    scale_only(J.m, J.n, J.beta, J.c, J.ldc, J.epilogue);
  } else if (J.whole) {
    run_direct_whole(*J.cfg, J.ta, J.tb, J.m, J.n, J.k, J.alpha, J.a, J.lda, J.b, J.ldb, J.beta, J.c, J.ldc, J.epilogue, J.dots);
  } else {
    run_task(J, t);
  }
}

void run_part_thunk(void* arg, int t) { run_part(*static_cast<const Job*>(arg), t); }

void sgemm_impl(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda,
                const float* b, int ldb, float beta, float* c, int ldc, const GemmEpilogue* ep,
                const GemmContext& ctx) {
  const GemmConfig& cfg = ctx.config != nullptr ? *ctx.config : gemm_config();
  std::size_t need = 0;
  Job J = make_plan(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep, cfg, ctx.num_threads, &need);
  if (need > 0) {
    static thread_local GemmWorkspace fallback;  // only when the caller gave none
    GemmWorkspace* ws = ctx.workspace != nullptr ? ctx.workspace : &fallback;
    ws->reserve(need);
    J.ws = static_cast<char*>(ws->data());
  }
  if (J.parts == 1) {
    run_part(J, 0);
  } else if (ctx.parallel_for != nullptr) {
    ctx.parallel_for(ctx.pool, J.parts, run_part_thunk, &J);
  } else {
    for (int t = 0; t < J.parts; ++t) run_part(J, t);
  }
}

}  // namespace

bool epilogue_sees_whole_rows(const GemmPlan& J) {
  if (J.empty || J.transposed) return false;
  if (J.scale_only || J.whole) return true;  // one call over all of C
  if (J.split_n && J.parts > 1) return false;
  return J.direct || J.n <= J.nc_max;  // one block of columns (run_task), or rows taken whole
}

void share_gemm(GemmPlan* plan, GemmShare* share, uint16_t tag) {
  GemmPlan& J = *plan;
  if (J.empty || J.scale_only || J.direct || J.whole || J.parts < 2 || J.parts > kMaxSharingParts) return;
  // Units fit the word; the workspace holds what a part packs.
  if (J.units >= (1 << 24) || (!J.transposed && shared_part_bytes(J) > J.part_stride)) return;
  J.share = share;
  J.share_tag = tag;
}

std::size_t gemm_shared_workspace_bytes(const GemmConfig& cfg, int max_m, int max_n, int max_k, int threads) {
  Job J{};
  J.cfg = &cfg;
  J.m = std::max(max_m, 1);
  J.n = std::max(max_n, 1);
  J.k = std::max(max_k, 1);
  J.kc = balanced_block(J.k, cfg.kc, 4);
  std::size_t per_part = 0;
  for (const bool split_n : {false, true}) {
    J.split_n = split_n;
    per_part = std::max(per_part, shared_part_bytes(J));
  }
  return static_cast<std::size_t>(std::max(threads, 1)) * per_part;
}

GemmPlan plan_gemm(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                   int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, const GemmConfig& config,
                   int threads, GemmWorkspace* workspace, GemmSplit split, const float* packed_b, const float* dots) {
  std::size_t need = 0;
  const GemmEpilogue* ep = effective_epilogue(epilogue);
  GemmPlan plan = make_plan(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep, config, threads, &need, split, packed_b);
  if (plan.direct && ta == Trans::No && tb == Trans::Yes && config.direct_dots != nullptr) plan.dots = dots;
  // A transposed plan needs room for the whole batch in each part's slice: the usual form when
  // the workspace was sized without it (the same bits either way).
  if (plan.transposed && plan.part_stride > workspace->capacity() / static_cast<std::size_t>(std::max(threads, 1)) / 64 * 64)
    plan = make_plan(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ep, config, threads, &need, split, packed_b, false);
  // Parts take fixed slices of the workspace, whatever the product, so that a thread that has
  // moved on to the next product never packs into memory another part still reads.
  if (need > 0) {
    plan.ws = static_cast<char*>(workspace->data());
    plan.part_stride = workspace->capacity() / static_cast<std::size_t>(std::max(threads, 1)) / 64 * 64;
  }
  return plan;
}

void run_gemm_part(const GemmPlan& plan, int t) { run_part(plan, t); }

bool run_if_whole_and_direct(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
                             int ldb, float beta, float* c, int ldc, const GemmEpilogue* epilogue, const GemmConfig& config,
                             const float* dots) {
  if (m <= 0 || n <= 0 || k <= 0 || alpha == 0.0f || !choose_direct(ta, tb, m, n, k, config, 1, nullptr).whole) return false;
  if (ta != Trans::No || tb != Trans::Yes || config.direct_dots == nullptr) dots = nullptr;
  run_direct_whole(config, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, effective_epilogue(epilogue), dots);
  return true;
}

std::size_t packed_b_floats(const GemmConfig& cfg, int k, int n) {
  return static_cast<std::size_t>(std::max(k, 0)) * static_cast<std::size_t>(round_up(std::max(n, 0), cfg.nr));
}

int packed_b_panel_count(const GemmConfig& cfg, int n) { return (std::max(n, 0) + cfg.nr - 1) / cfg.nr; }

std::size_t dot_panel_floats(const GemmConfig& cfg, int k, int n) {
  if (cfg.direct_dots == nullptr || k <= 0 || n <= 0) return 0;
  return static_cast<std::size_t>(dot_tile_count(n)) * kDotColumns * static_cast<std::size_t>(round_up(k, cfg.dot_width));
}

int dot_tile_count(int n) { return (std::max(n, 0) + kDotColumns - 1) / kDotColumns; }

void pack_dot_panels(const GemmConfig& cfg, int k, int n, const float* b, int ldb, float* out, int tile0, int tile1) {
  if (cfg.direct_dots == nullptr || k <= 0) return;
  const int w = cfg.dot_width;
  const long kp = round_up(k, w);
  tile1 = std::min(tile1, dot_tile_count(n));
  for (int t = tile0; t < tile1; ++t) {
    float* chunk = out + static_cast<long>(t) * kDotColumns * kp;
    for (long p = 0; p < kp; p += w) {
      const int count = static_cast<int>(std::min<long>(w, k - p));
      for (int q = 0; q < kDotColumns; ++q, chunk += w) {
        const int j = t * kDotColumns + q;
        if (j < n) std::memcpy(chunk, b + static_cast<long>(j) * ldb + p, sizeof(float) * count);
        std::fill(chunk + (j < n ? count : 0), chunk + w, 0.0f);
      }
    }
  }
}

void pack_b_panels(const GemmConfig& cfg, Trans tb, int k, int n, const float* b, int ldb, float* out, int panel0,
                   int panel1) {
  panel1 = std::min(panel1, packed_b_panel_count(cfg, n));
  if (k <= 0 || panel0 >= panel1) return;
  // The same k blocks as make_plan's, so that run_task finds block pc at pc·n_pad.
  const int kc_blk = balanced_block(k, cfg.kc, 4);
  const long n_pad = round_up(n, cfg.nr);
  for (int pc = 0; pc < k; pc += kc_blk) {
    const int kc = std::min(kc_blk, k - pc);
    const int j0 = panel0 * cfg.nr, j1 = std::min(panel1 * cfg.nr, n);
    const float* source = tb == Trans::No ? b + static_cast<long>(pc) * ldb + j0 : b + static_cast<long>(j0) * ldb + pc;
    float* block = out + pc * n_pad + static_cast<long>(j0) * kc;
    if (tb == Trans::No && rows_alias(ldb)) {
      pack_b_block_by_rows(cfg, kc, j1 - j0, source, ldb, block);
    } else {
      cfg.pack_b(tb, kc, j1 - j0, source, ldb, block);
    }
  }
}

void sgemm(Trans ta, Trans tb, int m, int n, int k, float alpha,
           const float* a,  // (m, k) if ta == No else (k, m); lda
           int lda,
           const float* b,  // (k, n) if tb == No else (n, k); ldb
           int ldb, float beta,
           float* c,  // (m, n), ldc
           int ldc, const GemmContext& ctx) {
  sgemm_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, nullptr, ctx);
}

void sgemm_epilogue(Trans ta, Trans tb, int m, int n, int k, float alpha,
                    const float* a,  // (m, k) if ta == No else (k, m); lda
                    int lda,
                    const float* b,  // (k, n) if tb == No else (n, k); ldb
                    int ldb, float beta,
                    float* c,  // (m, n), ldc
                    int ldc, const GemmEpilogue& epilogue, const GemmContext& ctx) {
  const bool none = epilogue.post == nullptr &&
                    (epilogue.kind == EpilogueKind::None || epilogue.bias == nullptr);
  sgemm_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, none ? nullptr : &epilogue,
             ctx);
}

}  // namespace mlpkit
