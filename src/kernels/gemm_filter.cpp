#include "kernels/gemm_filter.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "hipi/error.hpp"
#include "kernels/top_k.hpp"

extern "C" {
void sgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const float* alpha,
            const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
            const int* ldc);
}

namespace hipi {

namespace {

// C tiles of 512 x 2048 float32 (4 MiB): big enough for SGEMM to run near its peak,
// small enough to be scanned while still in cache.
constexpr std::int64_t kTileA = 512;
constexpr std::int64_t kTileB = 2048;
constexpr std::int64_t kMaxD = std::int64_t{1} << 20;

double gamma(std::int64_t d, double u) {
  return double(d) * u / (1 - double(d) * u);
}

// Euclidean norms, in float64, of rows [first, first + count) of `m`, or nothing when a row
// is not safe for the filter (a non-zero |x_t| below 2^-60, or ||x|| >= 2^62): one pass.
std::optional<std::vector<double>> safe_row_norms(const RealMatrix& m, std::int64_t first, std::int64_t count) {
  std::vector<double> norms(count);
  for (std::int64_t r = 0; r < count; ++r) {
    const float* x = m.row(first + r);
    double sum = 0;
    bool tiny = false;
    for (std::int64_t t = 0; t < m.cols(); ++t) {
      const float v = std::fabs(x[t]);
      tiny |= v != 0 && v < 0x1p-60f;
      sum += double(v) * double(v);
    }
    if (tiny || !(sum < 0x1p124)) return std::nullopt;
    norms[r] = std::sqrt(sum);
  }
  return norms;
}

// Whether any of x[0, n) passes `t` (|x| >= t with abs): a branch-free count the compiler
// vectorises.
bool any_passes(const float* x, std::int64_t n, float t, bool abs) {
  std::int64_t hits = 0;
  if (abs)
    for (std::int64_t i = 0; i < n; ++i) hits += std::fabs(x[i]) >= t;
  else
    for (std::int64_t i = 0; i < n; ++i) hits += x[i] >= t;
  return hits != 0;
}

}  // namespace

float float_at_most(double t) {
  if (t <= -double(std::numeric_limits<float>::max())) return -std::numeric_limits<float>::infinity();
  float s = static_cast<float>(t);
  while (static_cast<double>(s) > t) s = std::nextafter(s, -std::numeric_limits<float>::infinity());
  return s;
}

float float_at_least(double t) {
  if (t >= double(std::numeric_limits<float>::max())) return std::numeric_limits<float>::infinity();
  float s = static_cast<float>(t);
  while (static_cast<double>(s) < t) s = std::nextafter(s, std::numeric_limits<float>::infinity());
  return s;
}

double gemm_filter_relative_bound(std::int64_t d) {
  return (gamma(d, 0x1p-24) + gamma(d, 0x1p-53)) * (1 + 0x1p-20);
}

double gemm_filter_absolute_bound(std::int64_t d) {
  return double(d) * 0x1p-125;
}

bool gemm_filter_safe(const RealMatrix& m, RowRange rows) {
  return safe_row_norms(m, rows.begin, rows.size()).has_value();
}

void sgemm_rows(const RealMatrix& a, RowRange a_rows, const RealMatrix& b, RowRange b_rows, float* c) {
  HIPI_ASSERT(a.cols() == b.cols() && a.stride() == b.stride() && a.stride() <= INT32_MAX);
  const std::int64_t a0 = a_rows.begin, b0 = b_rows.begin;
  const int im = static_cast<int>(a_rows.size()), in = static_cast<int>(b_rows.size()), ik = static_cast<int>(a.cols()),
            ld = static_cast<int>(a.stride());
  const float one = 1, zero = 0;
  // Row-major rows are column-major columns: C (m x n, column-major) = A_rows^T' B_rows.
  sgemm_("T", "N", &im, &in, &ik, &one, a.row(a0), &ld, b.row(b0), &ld, &zero, c, &im);
}

namespace {

// What <a,b> must reach for a pair to pass: tau, or with a cosine tau ||a|| ||b|| with the
// reference kernel's norms, less 2^-40 of itself: far more than the rounding of the
// product and division that decide (a few units of 2^-53).
class Needed {
 public:
  Needed(const RealMatrix& a, const RealMatrix& b, RowRange b_rows, const Threshold& t)
      : tau_(t.theta), cosine_(t.cosine) {
    if (!cosine_) return;
    self_a_ = row_self_products(a, {0, a.rows()});
    self_b_ = row_self_products(b, b_rows);
    norm_a_ = roots(self_a_);
    norm_b_ = roots(self_b_);
    b_first_ = b_rows.begin;
  }
  double at(std::int64_t r, std::int64_t s) const {
    return cosine_ ? with_margin(tau_ * norm_a_[r] * norm_b_[s - b_first_]) : tau_;
  }
  // At most at(r, s) for every r in [r0, r0 + m).
  double lowest(std::int64_t r0, std::int64_t m, std::int64_t s) const {
    if (!cosine_) return tau_;
    const auto [lo, hi] = std::minmax_element(norm_a_.begin() + r0, norm_a_.begin() + r0 + m);
    return with_margin(tau_ * (tau_ >= 0 ? *lo : *hi) * norm_b_[s - b_first_]);
  }
  // A zero row has no cosine: it passes nothing.
  bool zero_a(std::int64_t r) const { return cosine_ && norm_a_[r] == 0; }
  bool zero_b(std::int64_t s) const { return cosine_ && norm_b_[s - b_first_] == 0; }
  // The pair's cosine, as Threshold::value judges it.
  double value(const Threshold& t, double ip, std::int64_t r, std::int64_t s) const {
    return t.value(ip, self_a_[r], self_b_[s - b_first_]);
  }

 private:
  static double with_margin(double t) { return t - std::fabs(t) * 0x1p-40; }
  static std::vector<double> roots(std::vector<double> x) {
    for (double& v : x) v = std::sqrt(v);
    return x;
  }
  double tau_;
  bool cosine_;
  std::vector<double> self_a_, self_b_, norm_a_, norm_b_;
  std::int64_t b_first_ = 0;
};

}  // namespace

bool gemm_filter_pairs(RowsAt<RealMatrix> at_a, RowsAt<RealMatrix> at_b, const Threshold& threshold, PairFilter filter,
                       std::vector<Pair>& out, RowRange b_rows) {
  const RealMatrix &a = at_a.rows, &b = at_b.rows;
  const std::int64_t a_first = at_a.first, b_first = at_b.first;
  const std::int64_t d = a.cols();
  if (d >= kMaxD) return false;
  const std::optional<std::vector<double>> safe_a = safe_row_norms(a, 0, a.rows());
  if (!safe_a) return false;
  const std::optional<std::vector<double>> safe_b = safe_row_norms(b, b_rows.begin, b_rows.size());
  if (!safe_b) return false;
  const std::vector<double>&norm_a = *safe_a, &norm_b = *safe_b;
  const double rel = gemm_filter_relative_bound(d), absolute = gemm_filter_absolute_bound(d);
  const Needed needed(a, b, b_rows, threshold);
  // No larger than the blocks: completion and the probe call this with a few dozen rows.
  std::vector<float> c(static_cast<std::size_t>(std::min(kTileA, a.rows()) * std::min(kTileB, b_rows.size())));
  for (std::int64_t r0 = 0; r0 < a.rows(); r0 += kTileA) {
    const std::int64_t m = std::min(kTileA, a.rows() - r0);
    const double max_a = *std::max_element(norm_a.begin() + r0, norm_a.begin() + r0 + m);
    for (std::int64_t s0 = b_rows.begin; s0 < b_rows.end; s0 += kTileB) {
      const std::int64_t n = std::min(kTileB, b_rows.end - s0);
      // The diagonal block of a self-join wants i < j only: skip tiles wholly below it.
      if (filter == PairFilter::Upper && a_first + r0 >= b_first + s0 + n - 1) continue;
      sgemm_rows(a, {r0, r0 + m}, b, {s0, s0 + n}, c.data());
      for (std::int64_t q = 0; q < n; ++q) {
        const std::int64_t s = s0 + q, j = b_first + s;
        const double nb = norm_b[s - b_rows.begin];
        const float* column = c.data() + q * m;
        if (needed.zero_b(s)) continue;
        // A cheap vectorised test with the tile's largest bound first; the exact test per entry.
        const float floor = float_at_most(needed.lowest(r0, m, s) - (rel * max_a * nb + absolute));
        if (!any_passes(column, m, floor, threshold.abs)) continue;
        for (std::int64_t p = 0; p < m; ++p) {
          const std::int64_t r = r0 + p, i = a_first + r;
          if ((filter == PairFilter::Upper && i >= j) || needed.zero_a(r)) continue;
          const double v = threshold.abs ? std::fabs(double(column[p])) : double(column[p]);
          if (v < needed.at(r, s) - (rel * norm_a[r] * nb + absolute)) continue;
          // The reference decides.
          const double value =
              threshold.cosine ? needed.value(threshold, inner_product(a, r, b, s), r, s) : inner_product(a, r, b, s);
          if (threshold.passes(value)) out.push_back({i, j, value});
        }
      }
    }
  }
  return true;
}

namespace {

// A block's rows as the top-k filter needs them: their safe norms (the error bound), and with
// a cosine the reference kernel's self products and their roots (the scale from a floor, a
// cosine, to the inner product it needs; 1 without).
struct ScaledRows {
  std::vector<double> norm, self, scale;
  static std::optional<ScaledRows> of(const RealMatrix& m, RowRange rows, bool cosine) {
    std::optional<std::vector<double>> norms = safe_row_norms(m, rows.begin, rows.size());
    if (!norms) return std::nullopt;
    ScaledRows out{std::move(*norms), {}, std::vector<double>(static_cast<std::size_t>(rows.size()), 1.0)};
    if (cosine) {
      out.self = row_self_products(m, rows);
      for (std::size_t r = 0; r < out.self.size(); ++r) out.scale[r] = std::sqrt(out.self[r]);
    }
    return out;
  }
};

// The first pass over a column, in float32 and vectorised: a coarse version of the float64
// test, which never rejects a pair that passes it, its own rounding (a few units of 2^-24 on
// each side) in the 2^-20 margins. lead_a[p]: row p's floor as an inner product (times its
// norm with a cosine; the other norm is multiplied in here), lead_b the column's, norm_* the
// cosine's scales (1 without).
void mark_column(const float* column, std::int64_t m, const float* lead_a, const float* norm_a, float lead_b,
                 float norm_b, float slack, bool abs, std::uint8_t* marks) {
  if (abs)
    for (std::int64_t p = 0; p < m; ++p) {
      const float x = lead_a[p] * norm_b, y = lead_b * norm_a[p], t = x < y ? x : y;
      marks[p] = std::fabs(column[p]) + slack >= t - std::fabs(t) * 0x1p-20f;
    }
  else
    for (std::int64_t p = 0; p < m; ++p) {
      const float x = lead_a[p] * norm_b, y = lead_b * norm_a[p], t = x < y ? x : y;
      marks[p] = column[p] + slack >= t - std::fabs(t) * 0x1p-20f;
    }
}

}  // namespace

bool gemm_filter_top_k(RowsAt<RealMatrix> at_a, RowsAt<RealMatrix> at_b, const Threshold& threshold, PairFilter filter,
                       const TopKTarget& target, RowRange b_rows) {
  const RealMatrix &a = at_a.rows, &b = at_b.rows;
  const std::int64_t a_first = at_a.first, b_first = at_b.first, d = a.cols();
  if (d >= kMaxD) return false;
  const std::optional<ScaledRows> ra = ScaledRows::of(a, {0, a.rows()}, threshold.cosine);
  if (!ra) return false;
  const std::optional<ScaledRows> rb = ScaledRows::of(b, b_rows, threshold.cosine);
  if (!rb) return false;
  const double rel = gemm_filter_relative_bound(d), absolute = gemm_filter_absolute_bound(d);
  std::vector<float> c(static_cast<std::size_t>(std::min(kTileA, a.rows()) * std::min(kTileB, b_rows.size())));
  std::vector<std::uint8_t> marks(static_cast<std::size_t>(kTileA + 8), 0);
  std::vector<float> lead_a(static_cast<std::size_t>(kTileA)), norm_a(static_cast<std::size_t>(kTileA));
  const double largest_b = *std::max_element(rb->norm.begin(), rb->norm.end());
  for (std::int64_t r0 = 0; r0 < a.rows(); r0 += kTileA) {
    const std::int64_t m = std::min(kTileA, a.rows() - r0);
    std::fill(marks.begin(), marks.end(), 0);
    const double largest_a = *std::max_element(ra->norm.begin() + r0, ra->norm.begin() + r0 + m);
    const double loose = 0x1p-20 * 2 * largest_a * largest_b;  // the float32 sum's rounding, and more
    // Floors only rise as lists fill: a lead computed earlier is lower, still safe; it is
    // refreshed for a row after each offer to it.
    const auto lead = [&](std::int64_t p) { return static_cast<float>(target.floor_a[r0 + p] * ra->scale[r0 + p]); };
    for (std::int64_t p = 0; p < m; ++p) lead_a[p] = lead(p), norm_a[p] = static_cast<float>(ra->scale[r0 + p]);
    for (std::int64_t s0 = b_rows.begin; s0 < b_rows.end; s0 += kTileB) {
      const std::int64_t n = std::min(kTileB, b_rows.end - s0);
      if (filter == PairFilter::Upper && a_first + r0 >= b_first + s0 + n - 1) continue;
      sgemm_rows(a, {r0, r0 + m}, b, {s0, s0 + n}, c.data());
      for (std::int64_t q = 0; q < n; ++q) {
        const std::int64_t s = s0 + q, sb = s - b_rows.begin, j = b_first + s;
        const float* column = c.data() + q * m;
        const double fb = target.floor_b ? target.floor_b[s] : std::numeric_limits<double>::infinity();
        const double nb = rb->norm[sb], xb = rb->scale[sb];
        // What a pair's float32 product must reach: the lower floor as an inner product, less
        // the filter's error and 2^-40 of itself (the rounding of this test). NaN (a zero
        // row's cosine) and -infinity x 0 never pass; -infinity lets everything through.
        const auto passes = [&](std::int64_t p) {
          const double f = std::min(target.floor_a[r0 + p], fb) * (ra->scale[r0 + p] * xb);
          const double v = threshold.abs ? std::fabs(double(column[p])) : double(column[p]);
          return v >= f - std::fabs(f) * 0x1p-40 - (rel * ra->norm[r0 + p] * nb + absolute);
        };
        const float slack = static_cast<float>((rel * largest_a * nb + absolute + loose) * (1 + 0x1p-20));
        mark_column(column, m, lead_a.data(), norm_a.data(), static_cast<float>(fb * xb), static_cast<float>(xb), slack,
                    threshold.abs, marks.data());
        for (std::int64_t p0 = 0; p0 < m; p0 += 8) {
          std::uint64_t word = 0;
          std::memcpy(&word, marks.data() + p0, 8);
          if (word == 0) continue;
          for (std::int64_t p = p0; p < std::min(m, p0 + 8); ++p) {
            const std::int64_t r = r0 + p, i = a_first + r;
            if (!marks[p] || (filter == PairFilter::Upper && i >= j) || !passes(p)) continue;
            const double ip = inner_product(a, r, b, s);  // the reference decides
            const double value = threshold.cosine ? threshold.value(ip, ra->self[r], rb->self[sb]) : ip;
            if ((threshold.abs ? std::fabs(value) : value) < target.floor(r, s)) continue;
            target.offer(i, j, value);
            lead_a[p] = lead(p);
          }
        }
      }
    }
  }
  return true;
}

}  // namespace hipi
