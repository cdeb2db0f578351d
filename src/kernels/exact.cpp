#include "kernels/exact.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "hipi/error.hpp"
#include "kernels/gemm_filter.hpp"
#include "kernels/top_k.hpp"

namespace hipi {

namespace {

using u64 = std::uint64_t;

// Cache blocking: a tile of B rows stays in L2 while groups of 4 A rows sweep over it, so
// each B row fetched from L2 serves 4 pairs.
constexpr std::int64_t kBTileRows = 256;
constexpr int kARows = 4;

// Kernel bodies, written once and inlined into one wrapper per instruction set below, where
// the compiler vectorises them for that set.

// A register tile: four rows of A checked against one row of B at a time.
template <class T>
using FourRows = const T* const[kARows];

// popcount(a_r XOR b) for 4 rows a_r against one row b.
[[gnu::always_inline]] inline void xor_popcount_4x1_body(FourRows<u64>& a, const u64* __restrict b, std::int64_t words,
                                                         std::int64_t* out) {
  const u64* __restrict a0 = a[0], * __restrict a1 = a[1], * __restrict a2 = a[2], * __restrict a3 = a[3];
  u64 s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (std::int64_t w = 0; w < words; ++w) {
    const u64 bw = b[w];
    s0 += __builtin_popcountll(a0[w] ^ bw);
    s1 += __builtin_popcountll(a1[w] ^ bw);
    s2 += __builtin_popcountll(a2[w] ^ bw);
    s3 += __builtin_popcountll(a3[w] ^ bw);
  }
  out[0] = static_cast<std::int64_t>(s0);
  out[1] = static_cast<std::int64_t>(s1);
  out[2] = static_cast<std::int64_t>(s2);
  out[3] = static_cast<std::int64_t>(s3);
}

// What a pair of top-k must reach, as the most coordinates it may differ in: row q of A
// allows most_a[q], row s of B most_b[s] (null: no limit of its own), the pair the larger;
// with `abs` a pair differing in at least d minus that many reaches it too.
struct DifferingLimits {
  const std::int64_t* most_a = nullptr;
  const std::int64_t* most_b = nullptr;
  std::int64_t d = 0;
  bool abs = false;
};

// xor_popcount_4x1 against `count` rows of B `stride` words apart: out[4 s + q] for row s, A
// row q; then marks[s], whether any of the four reaches its limit (a second pass, which
// the compiler vectorises).
[[gnu::always_inline]] inline void xor_popcount_4xn_body(FourRows<u64>& a, const u64* b, std::int64_t stride,
                                                         std::int64_t count, std::int64_t words,
                                                         const DifferingLimits& limits, std::int64_t* out,
                                                         std::uint8_t* marks) {
  // Common widths with the word count known to the compiler (their loops unrolled).
  const auto rows = [&](auto known) {
    for (std::int64_t s = 0; s < count; ++s) xor_popcount_4x1_body(a, b + s * stride, known(), out + 4 * s);
  };
  switch (words) {
    case 1:
      rows([] { return std::int64_t{1}; });
      break;
    case 2:
      rows([] { return std::int64_t{2}; });
      break;
    case 4:
      rows([] { return std::int64_t{4}; });
      break;
    case 8:
      rows([] { return std::int64_t{8}; });
      break;
    default:
      rows([words] { return words; });
  }
  const std::int64_t d = limits.d, a0 = limits.most_a[0], a1 = limits.most_a[1], a2 = limits.most_a[2],
                     a3 = limits.most_a[3];
  const auto reaches = [&](std::int64_t x, std::int64_t most) { return (x <= most) | (limits.abs & (x >= d - most)); };
  for (std::int64_t s = 0; s < count; ++s) {
    const std::int64_t own = limits.most_b ? limits.most_b[s] : -1;
    const std::int64_t* x = out + 4 * s;
    marks[s] = reaches(x[0], std::max(a0, own)) | reaches(x[1], std::max(a1, own)) | reaches(x[2], std::max(a2, own)) |
               reaches(x[3], std::max(a3, own));
  }
}

[[gnu::always_inline]] inline std::int64_t xor_popcount_1x1_body(const u64* __restrict a, const u64* __restrict b,
                                                                 std::int64_t words) {
  u64 s = 0;
  for (std::int64_t w = 0; w < words; ++w) s += __builtin_popcountll(a[w] ^ b[w]);
  return static_cast<std::int64_t>(s);
}

// 8 fixed lanes in float64: lane l sums the products at k = l mod 8 in increasing k, and
// the lanes are combined in one fixed order, whatever the vector width (see kernels/exact.hpp).
// Two spellings of the same arithmetic: scalar lane arrays (what GCC vectorises well up to
// AVX2) and GCC vector types (what it needs for AVX-512). Tests check they agree bit for bit.
[[gnu::always_inline]] inline double dot_lanes(const float* __restrict a, const float* __restrict b,
                                               std::int64_t n_padded) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::int64_t k = 0; k < n_padded; k += 8)
    for (int l = 0; l < 8; ++l) lane[l] += static_cast<double>(a[k + l]) * static_cast<double>(b[k + l]);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

[[gnu::always_inline]] inline void dot_lanes_4x1(FourRows<float>& a, const float* b, std::int64_t n_padded,
                                                 double* out) {
  out[0] = dot_lanes(a[0], b, n_padded);
  out[1] = dot_lanes(a[1], b, n_padded);
  out[2] = dot_lanes(a[2], b, n_padded);
  out[3] = dot_lanes(a[3], b, n_padded);
}

// The vector spelling passes 64-byte vectors between always-inlined functions only: no
// call boundary, so GCC's -Wpsabi note about their ABI without AVX-512 does not apply
// (CMakeLists.txt turns it off for this file).
using F8 = float __attribute__((vector_size(32)));
using D8 = double __attribute__((vector_size(64)));

[[gnu::always_inline]] inline D8 load8(const float* p) {
  F8 v;
  std::memcpy(&v, p, sizeof v);
  return __builtin_convertvector(v, D8);
}

[[gnu::always_inline]] inline double combine(D8 x) {
  return ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7]));
}

[[gnu::always_inline]] inline double dot_vector(const float* __restrict a, const float* __restrict b,
                                                std::int64_t n_padded) {
  D8 lanes = {};
  for (std::int64_t k = 0; k < n_padded; k += 8) lanes += load8(a + k) * load8(b + k);
  return combine(lanes);
}

// Four A rows against one B row: each B value is converted once and used four times.
[[gnu::always_inline]] inline void dot_vector_4x1(FourRows<float>& a, const float* __restrict b, std::int64_t n_padded,
                                                  double* out) {
  const float* __restrict a0 = a[0], * __restrict a1 = a[1], * __restrict a2 = a[2], * __restrict a3 = a[3];
  D8 l0 = {}, l1 = {}, l2 = {}, l3 = {};
  for (std::int64_t k = 0; k < n_padded; k += 8) {
    const D8 bv = load8(b + k);
    l0 += load8(a0 + k) * bv;
    l1 += load8(a1 + k) * bv;
    l2 += load8(a2 + k) * bv;
    l3 += load8(a3 + k) * bv;
  }
  out[0] = combine(l0);
  out[1] = combine(l1);
  out[2] = combine(l2);
  out[3] = combine(l3);
}

using KernelDot4x1 = void (*)(FourRows<float>&, const float*, std::int64_t, double*);
using Kernel4x1 = void (*)(FourRows<u64>&, const u64*, std::int64_t, std::int64_t*);
using Kernel1x1 = std::int64_t (*)(const u64*, const u64*, std::int64_t);
using Kernel4xN = void (*)(FourRows<u64>&, const u64*, std::int64_t, std::int64_t, std::int64_t, const DifferingLimits&,
                           std::int64_t*, std::uint8_t*);
using KernelDot = double (*)(const float*, const float*, std::int64_t);

struct Kernels {
  const char* name;
  Kernel4x1 xor_popcount_4x1;
  Kernel1x1 xor_popcount_1x1;
  Kernel4xN xor_popcount_4xn;
  KernelDot dot;
  KernelDot4x1 dot_4x1;
};

#define HIPI_KERNELS_FOR(NAME, TARGET, DOT, DOT_4X1)                                                                  \
  TARGET void NAME##_4x1(FourRows<u64>& a, const u64* b, std::int64_t words, std::int64_t* out) {                     \
    xor_popcount_4x1_body(a, b, words, out);                                                                          \
  }                                                                                                                   \
  TARGET std::int64_t NAME##_1x1(const u64* a, const u64* b, std::int64_t words) {                                    \
    return xor_popcount_1x1_body(a, b, words);                                                                        \
  }                                                                                                                   \
  TARGET void NAME##_4xn(FourRows<u64>& a, const u64* b, std::int64_t stride, std::int64_t count, std::int64_t words, \
                         const DifferingLimits& limits, std::int64_t* out, std::uint8_t* marks) {                     \
    xor_popcount_4xn_body(a, b, stride, count, words, limits, out, marks);                                            \
  }                                                                                                                   \
  TARGET double NAME##_dot(const float* a, const float* b, std::int64_t n) {                                          \
    return DOT(a, b, n);                                                                                              \
  }                                                                                                                   \
  TARGET void NAME##_dot_4x1(FourRows<float>& a, const float* b, std::int64_t n, double* out) {                       \
    DOT_4X1(a, b, n, out);                                                                                            \
  }                                                                                                                   \
  constexpr Kernels NAME##_kernels{#NAME, NAME##_4x1, NAME##_1x1, NAME##_4xn, NAME##_dot, NAME##_dot_4x1};

HIPI_KERNELS_FOR(avx512, __attribute__((target("avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt,fma"))), dot_vector,
                 dot_vector_4x1)
HIPI_KERNELS_FOR(avx2, __attribute__((target("avx2,popcnt,fma"))), dot_lanes, dot_lanes_4x1)
HIPI_KERNELS_FOR(popcnt, __attribute__((target("popcnt"))), dot_lanes, dot_lanes_4x1)
HIPI_KERNELS_FOR(generic, , dot_lanes, dot_lanes_4x1)
#undef HIPI_KERNELS_FOR

const Kernels* all_kernels[] = {&avx512_kernels, &avx2_kernels, &popcnt_kernels, &generic_kernels};

bool cpu_runs(const Kernels& k) {
  __builtin_cpu_init();
  const std::string name = k.name;
  if (name == "avx512") return __builtin_cpu_supports("avx512vpopcntdq") && __builtin_cpu_supports("avx512bw");
  if (name == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
  if (name == "popcnt") return __builtin_cpu_supports("popcnt");
  return true;
}

// The best kernels this CPU runs, unless HIPI_KERNEL names another one it runs.
const Kernels* choose_kernels() {
  const char* forced = std::getenv("HIPI_KERNEL");
  for (const Kernels* k : all_kernels)
    if (forced && *forced && k->name == std::string(forced) && cpu_runs(*k)) return k;
  for (const Kernels* k : all_kernels)
    if (cpu_runs(*k)) return k;
  return &generic_kernels;
}

const Kernels* active = choose_kernels();

RealKernel real_kernel_from_environment() {
  const char* name = std::getenv("HIPI_REAL_KERNEL");
  return name && std::string(name) == "reference" ? RealKernel::Reference : RealKernel::GemmFilter;
}
RealKernel real_kernel_choice = real_kernel_from_environment();
constexpr std::int64_t kGemmMinRows = 32;

std::int64_t words_used(const BitMatrix& m) {
  return (m.cols() + 63) / 64;
}
std::int64_t floats_used(const RealMatrix& m) {
  return (m.cols() + 7) / 8 * 8;
}

// HIPI_EARLY_ABANDON=off turns it off for measuring (use_early_abandon in tests).
bool early_abandon = [] {
  const char* v = std::getenv("HIPI_EARLY_ABANDON");
  return !(v && std::string(v) == "off");
}();

// The words after which binary pairs are checked against what they can still reach, or
// `words` for none. A random pair's partial product over k coordinates is about N(0, k), so
// it is ruled out once theta - (d - k) >= 5 sqrt(k); the first word boundary where that
// holds, if it leaves at least a quarter of the words to skip (below, the check costs more
// than it saves). At rho = 0.8, d = 1024: 5 of 16 words.
std::int64_t abandon_prefix_words(std::int64_t d, const Threshold& t) {
  const std::int64_t words = (d + 63) / 64;
  for (std::int64_t p = 1; 4 * p <= 3 * words; ++p) {
    const double k = 64.0 * static_cast<double>(p);
    if (t.theta - (static_cast<double>(d) - k) >= 5 * std::sqrt(k)) return p;
  }
  return words;
}

bool wanted(PairFilter filter, std::int64_t i, std::int64_t j) {
  return filter == PairFilter::All || i < j;
}

}  // namespace

void heavy_pairs(RowsAt<BitMatrix> at_a, RowsAt<BitMatrix> at_b, const Threshold& threshold, PairFilter filter,
                 std::vector<Pair>& out, std::optional<RowRange> b_rows) {
  const BitMatrix &a = at_a.rows, &b = at_b.rows;
  const std::int64_t a_first = at_a.first, b_first = at_b.first;
  const RowRange visit = b_rows.value_or(RowRange{0, b.rows()});
  HIPI_ASSERT(a.cols() == b.cols());
  const std::int64_t words = words_used(a), d = a.cols();
  auto emit = [&](std::int64_t r, std::int64_t s, std::int64_t differing) {
    const std::int64_t i = a_first + r, j = b_first + s;
    const double ip = static_cast<double>(d - 2 * differing);
    if (wanted(filter, i, j) && threshold.passes(ip)) out.push_back({i, j, ip});
  };
  // Early abandon: after `prefix` words the rest can move a pair's product by at most the
  // coordinates left, so a pair that cannot reach the threshold skips them.
  const std::int64_t prefix = early_abandon ? abandon_prefix_words(d, threshold) : words;
  const double left = static_cast<double>(d - 64 * prefix);
  for (std::int64_t s0 = visit.begin; s0 < visit.end; s0 += kBTileRows) {
    const std::int64_t s1 = std::min(visit.end, s0 + kBTileRows);
    std::int64_t r = 0;
    for (; r + kARows <= a.rows(); r += kARows) {
      if (filter == PairFilter::Upper && a_first + r >= b_first + s1 - 1) break;  // rest is below
      const u64* const tile[kARows] = {a.row(r), a.row(r + 1), a.row(r + 2), a.row(r + 3)};
      const u64* const tile_rest[kARows] = {tile[0] + prefix, tile[1] + prefix, tile[2] + prefix, tile[3] + prefix};
      std::int64_t differing[kARows], rest[kARows];
      for (std::int64_t s = s0; s < s1; ++s) {
        active->xor_popcount_4x1(tile, b.row(s), prefix, differing);
        if (prefix < words) {
          bool any = false;
          for (int q = 0; q < kARows; ++q) {
            const double partial = static_cast<double>(64 * prefix - 2 * differing[q]);
            any |= (threshold.abs ? std::fabs(partial) : partial) + left >= threshold.theta;
          }
          if (!any) continue;  // none of the four can pass
          active->xor_popcount_4x1(tile_rest, b.row(s) + prefix, words - prefix, rest);
          for (int q = 0; q < kARows; ++q) differing[q] += rest[q];
        }
        for (int q = 0; q < kARows; ++q) emit(r + q, s, differing[q]);
      }
    }
    for (; r < a.rows(); ++r) {
      if (filter == PairFilter::Upper && a_first + r >= b_first + s1 - 1) break;  // rest is below
      for (std::int64_t s = s0; s < s1; ++s)
        if (wanted(filter, a_first + r, b_first + s)) emit(r, s, active->xor_popcount_1x1(a.row(r), b.row(s), words));
    }
  }
}

void heavy_pairs(RowsAt<RealMatrix> at_a, RowsAt<RealMatrix> at_b, const Threshold& threshold, PairFilter filter,
                 std::vector<Pair>& out, std::optional<RowRange> b_rows) {
  const RealMatrix &a = at_a.rows, &b = at_b.rows;
  const std::int64_t a_first = at_a.first, b_first = at_b.first;
  const RowRange visit = b_rows.value_or(RowRange{0, b.rows()});
  HIPI_ASSERT(a.cols() == b.cols());
  // Blocks of at least 32 x 32 rows through the GEMM filter (small ones, such as a
  // sketch's candidate groups, cost more in set-up than they save).
  if (real_kernel_choice == RealKernel::GemmFilter && a.rows() >= kGemmMinRows && visit.size() >= kGemmMinRows &&
      gemm_filter_pairs(at_a, at_b, threshold, filter, out, visit))
    return;
  const std::int64_t n = floats_used(a);
  // A cosine divides by the rows' norms (none otherwise).
  const std::vector<double> self_a = threshold.cosine ? row_self_products(a, {0, a.rows()}) : std::vector<double>();
  const std::vector<double> self_b = threshold.cosine ? row_self_products(b, visit) : std::vector<double>();
  auto emit = [&](std::int64_t r, std::int64_t s, double ip) {
    const std::int64_t i = a_first + r, j = b_first + s;
    const double v = threshold.cosine ? threshold.value(ip, self_a[r], self_b[s - visit.begin]) : ip;
    if (wanted(filter, i, j) && threshold.passes(v)) out.push_back({i, j, v});
  };
  // Real rows are 32x wider than bit rows per coordinate, so B tiles are smaller.
  constexpr std::int64_t kTile = 64;
  for (std::int64_t s0 = visit.begin; s0 < visit.end; s0 += kTile) {
    const std::int64_t s1 = std::min(visit.end, s0 + kTile);
    std::int64_t r = 0;
    for (; r + kARows <= a.rows(); r += kARows) {
      if (filter == PairFilter::Upper && a_first + r >= b_first + s1 - 1) break;  // rest is below
      const float* const tile[kARows] = {a.row(r), a.row(r + 1), a.row(r + 2), a.row(r + 3)};
      double ip[kARows];
      for (std::int64_t s = s0; s < s1; ++s) {
        active->dot_4x1(tile, b.row(s), n, ip);
        for (int q = 0; q < kARows; ++q) emit(r + q, s, ip[q]);
      }
    }
    for (; r < a.rows(); ++r) {
      if (filter == PairFilter::Upper && a_first + r >= b_first + s1 - 1) break;  // rest is below
      for (std::int64_t s = s0; s < s1; ++s)
        if (wanted(filter, a_first + r, b_first + s)) emit(r, s, active->dot(a.row(r), b.row(s), n));
    }
  }
}

void top_k_pairs(RowsAt<BitMatrix> at_a, RowsAt<BitMatrix> at_b, const Threshold& threshold, PairFilter filter,
                 const TopKTarget& target, RowRange b_rows) {
  const BitMatrix &a = at_a.rows, &b = at_b.rows;
  const std::int64_t a_first = at_a.first, b_first = at_b.first;
  HIPI_ASSERT(a.cols() == b.cols());
  const std::int64_t words = words_used(a), d = a.cols();
  // Scores are integers: a pair is offered when its score reaches the lower of its floors.
  auto offer = [&](std::int64_t r, std::int64_t s, std::int64_t differing) {
    const std::int64_t i = a_first + r, j = b_first + s;
    const double ip = static_cast<double>(d - 2 * differing);
    if (wanted(filter, i, j) && (threshold.abs ? std::fabs(ip) : ip) >= target.floor(r, s)) target.offer(i, j, ip);
  };
  // The most differing coordinates a pair may have and still score the floor f (d - 2 x >= f;
  // with --abs also x >= d - that): every x with a score of at least f, never fewer.
  const auto most_differing = [d](double f) -> std::int64_t {
    if (!(f > -double(d))) return d;  // -infinity and every floor at most -d: all of them
    return static_cast<std::int64_t>(std::floor((double(d) - f) / 2));
  };
  std::vector<std::int64_t> differing(static_cast<std::size_t>(kARows * kBTileRows)), most_b(kBTileRows);
  std::vector<std::uint8_t> marks(static_cast<std::size_t>(kBTileRows + 8), 0);
  for (std::int64_t s0 = b_rows.begin; s0 < b_rows.end; s0 += kBTileRows) {
    const std::int64_t s1 = std::min(b_rows.end, s0 + kBTileRows), count = s1 - s0;
    // Limits from the floors now; floors only rise, so they stay safe through the tile.
    if (target.floor_b)
      for (std::int64_t s = s0; s < s1; ++s) most_b[s - s0] = most_differing(target.floor_b[s]);
    std::int64_t r = 0;
    for (; r + kARows <= a.rows(); r += kARows) {
      if (filter == PairFilter::Upper && a_first + r >= b_first + s1 - 1) break;  // rest is below
      const u64* const tile[kARows] = {a.row(r), a.row(r + 1), a.row(r + 2), a.row(r + 3)};
      std::int64_t most_a[kARows];
      for (int q = 0; q < kARows; ++q) most_a[q] = most_differing(target.floor_a[r + q]);
      const DifferingLimits limits{most_a, target.floor_b ? most_b.data() : nullptr, d, threshold.abs};
      active->xor_popcount_4xn(tile, b.row(s0), b.stride(), count, words, limits, differing.data(), marks.data());
      for (std::int64_t t0 = 0; t0 < count; t0 += 8) {
        std::uint64_t any = 0;
        std::memcpy(&any, marks.data() + t0, 8);
        if (any == 0) continue;
        for (std::int64_t t = t0; t < std::min(count, t0 + 8); ++t) {
          if (!marks[t]) continue;
          for (int q = 0; q < kARows; ++q) offer(r + q, s0 + t, differing[kARows * t + q]);
        }
      }
    }
    for (; r < a.rows(); ++r) {
      if (filter == PairFilter::Upper && a_first + r >= b_first + s1 - 1) break;  // rest is below
      for (std::int64_t s = s0; s < s1; ++s)
        if (wanted(filter, a_first + r, b_first + s)) offer(r, s, active->xor_popcount_1x1(a.row(r), b.row(s), words));
    }
  }
}

void top_k_pairs(RowsAt<RealMatrix> at_a, RowsAt<RealMatrix> at_b, const Threshold& threshold, PairFilter filter,
                 const TopKTarget& target, RowRange b_rows) {
  const RealMatrix &a = at_a.rows, &b = at_b.rows;
  HIPI_ASSERT(a.cols() == b.cols());
  if (real_kernel_choice == RealKernel::GemmFilter && a.rows() >= kGemmMinRows && b_rows.size() >= kGemmMinRows &&
      gemm_filter_top_k(at_a, at_b, threshold, filter, target, b_rows))
    return;
  // The reference kernel on every pair.
  const std::int64_t n = floats_used(a);
  const std::vector<double> self_a = threshold.cosine ? row_self_products(a, {0, a.rows()}) : std::vector<double>();
  const std::vector<double> self_b = threshold.cosine ? row_self_products(b, b_rows) : std::vector<double>();
  for (std::int64_t r = 0; r < a.rows(); ++r)
    for (std::int64_t s = b_rows.begin; s < b_rows.end; ++s) {
      const std::int64_t i = at_a.first + r, j = at_b.first + s;
      if (!wanted(filter, i, j)) continue;
      const double ip = active->dot(a.row(r), b.row(s), n);
      const double v = threshold.cosine ? threshold.value(ip, self_a[r], self_b[s - b_rows.begin]) : ip;
      if ((threshold.abs ? std::fabs(v) : v) >= target.floor(r, s)) target.offer(i, j, v);
    }
}

std::int64_t inner_product(const BitMatrix& a, std::int64_t r, const BitMatrix& b, std::int64_t s) {
  return a.cols() - 2 * active->xor_popcount_1x1(a.row(r), b.row(s), words_used(a));
}

double inner_product(const RealMatrix& a, std::int64_t r, const RealMatrix& b, std::int64_t s) {
  return active->dot(a.row(r), b.row(s), floats_used(a));
}

std::vector<double> row_self_products(const RealMatrix& m, RowRange rows) {
  std::vector<double> self(static_cast<std::size_t>(rows.size()));
  for (std::int64_t r = rows.begin; r < rows.end; ++r) self[r - rows.begin] = inner_product(m, r, m, r);
  return self;
}

std::vector<double> row_norms(const RealMatrix& m, RowRange rows) {
  std::vector<double> norms = row_self_products(m, rows);
  for (double& n : norms) n = std::sqrt(n);
  return norms;
}

void use_real_kernel(RealKernel kernel) {
  real_kernel_choice = kernel;
}
bool use_early_abandon(bool on) {
  const bool was = early_abandon;
  early_abandon = on;
  return was;
}

double early_abandon_work(std::int64_t d, const Threshold& t) {
  if (!early_abandon) return 1.0;
  const std::int64_t words = (d + 63) / 64;
  return static_cast<double>(abandon_prefix_words(d, t)) / static_cast<double>(words);
}

RealKernel real_kernel() {
  return real_kernel_choice;
}

std::string kernel_name() {
  return active->name;
}

std::vector<std::string> runnable_kernels() {
  std::vector<std::string> names;
  for (const Kernels* k : all_kernels)
    if (cpu_runs(*k)) names.push_back(k->name);
  return names;
}

void use_kernel(const std::string& name) {
  for (const Kernels* k : all_kernels)
    if (k->name == name && cpu_runs(*k)) {
      active = k;
      return;
    }
  throw InputError("kernel set '" + name + "' is unknown or not supported by this CPU");
}

}  // namespace hipi
