#include "methods/prefix/prefix_filter.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/gemm_filter.hpp"
#include "kernels/lapack.hpp"

namespace hipi {

namespace {

constexpr std::int64_t kTileA = 512;
constexpr std::int64_t kTileB = 2048;
constexpr std::int64_t kRotateRows = 256;
constexpr double kMargin = 0x1p-40;
// float32's smallest normal number. Below it rounding is absolute, and a BLAS or a caller
// (PyTorch's set_flush_denormal) may flush values to zero: every float the filter computes
// with is either 0 or normal, and each may be off by this much.
constexpr double kTiny = 0x1p-126;

double gamma(double n, double u) {
  return n * u / (1 - n * u);
}

// v rounded to float32 for the prefix GEMM, flushed to 0 below float32's normal range
// (so that no BLAS sees a subnormal): off by at most 2^-24 |v| + 2^-126.
float prefix_float(double v) {
  return std::fabs(v) < kTiny ? 0.0f : static_cast<float>(v);
}

// At least t >= 0, as a normal float32 or 0 (only when t is).
float normal_at_least(double t) {
  const float s = float_at_least(t);
  return s > 0 && s < float(kTiny) ? float(kTiny) : s;
}

// At most t, as a normal float32 or 0 (when t is), so that flushing cannot raise it.
float normal_at_most(double t) {
  const float s = float_at_most(t);
  return std::fabs(s) < float(kTiny) && t < 0 ? -float(kTiny) : s;
}

}  // namespace

RotatedRows rotate_rows(const RealMatrix& rows, RowRange range, const Rotation& rotation, std::int64_t k, bool unit) {
  const std::int64_t n = range.size(), d = rows.cols();
  RotatedRows out{RealMatrix(n, k), std::vector<double>(n), std::vector<double>(n), row_self_products(rows, range),
                  true};
  // Rotated a tile of rows at a time: float64 copies of the whole block would be 4x its size.
  const std::int64_t tile = std::min(kRotateRows, n);
  std::vector<double> x(static_cast<std::size_t>(tile * d)), y(static_cast<std::size_t>(tile * d));
  for (std::int64_t t0 = 0; t0 < n; t0 += tile) {
    const std::int64_t m = std::min(tile, n - t0);
    for (std::int64_t r = 0; r < m; ++r) {
      const double norm = std::sqrt(out.self[t0 + r]), scale = unit ? (norm > 0 ? 1 / norm : 0.0) : 1.0;
      const float* row = rows.row(range.begin + t0 + r);
      for (std::int64_t c = 0; c < d; ++c) x[r * d + c] = double(row[c]) * scale;
    }
    multiply_rows(x.data(), m, d, rotation.q.data(), d, y.data());
    for (std::int64_t r = 0; r < m; ++r) {
      double head = 0, tail = 0, rounded = 0, scaled = 0;
      for (std::int64_t c = 0; c < d; ++c) {
        const double v = y[r * d + c];
        (c < k ? head : tail) += v * v;
        scaled += x[r * d + c] * x[r * d + c];
      }
      float* p = out.prefix.row(t0 + r);
      for (std::int64_t c = 0; c < k; ++c) {
        p[c] = prefix_float(y[r * d + c]);
        rounded += double(p[c]) * double(p[c]);
      }
      out.tail[t0 + r] = std::sqrt(tail) * (1 + kMargin);
      out.size[t0 + r] = std::sqrt(std::max({scaled, head + tail, rounded})) * (1 + kMargin);
      out.safe = out.safe && out.size[t0 + r] < 0x1p60;
    }
  }
  return out;
}

double PrefixCheck::bytes_for(std::int64_t a_rows, std::int64_t b_rows, std::int64_t d, std::int64_t k) {
  const double rotated_row = 4.0 * double(k) + 3 * 8.0;  // prefix, tail, size, self
  return double(a_rows) * (rotated_row + 2 * 4.0)        // A's rows rotated (cached), their bounds as floats
         + double(b_rows) * rotated_row                  // the block of B being checked, rotated
         + 2 * 8.0 * double(std::min(kRotateRows, std::max(a_rows, b_rows))) * double(d)  // a tile as it turns
         + 4.0 * double(kTileA) * double(kTileB)  // a tile of the prefix product
         + 8.0 * double(d) * double(d + 1);       // the rotation every rank holds
}

double PrefixCheck::bytes(std::int64_t a_rows, std::int64_t b_rows) const {
  return bytes_for(a_rows, b_rows, rotation_->d, k_);
}

PrefixCheck::PrefixCheck(std::shared_ptr<const Rotation> rotation, std::int64_t k, bool unit)
    : rotation_(std::move(rotation)), k_(k), unit_(unit) {
  HIPI_ASSERT(k_ >= 1 && k_ <= rotation_->d);  // a prefix longer than the rows reads past them
  const double d = double(rotation_->d), eta = rotation_->orthogonality;
  const double eps_rot = 2 * d * std::sqrt(d) * 0x1p-53;
  relative_ = eta + 3 * eps_rot * (1 + eta) + 0x1p-23 + 0x1p-47 + gamma(double(k_), 0x1p-24) * (1 + 0x1p-20) +
              gamma(d, 0x1p-53) + kMargin;
}

const RotatedRows& PrefixCheck::rotated_a(RowsAt<RealMatrix> a) const {
  const RowRange rows{a.first, a.first + a.rows.rows()};
  if (cached_for_ != a.rows.data() || cached_rows_ != rows) {
    cached_ = rotate_rows(a.rows, {0, a.rows.rows()}, *rotation_, k_, unit_);
    cached_for_ = a.rows.data();
    cached_rows_ = rows;
  }
  return cached_;
}

// Every pair of the blocks the bound cannot rule out, with its exact inner product, as
// survivor(r, s, ip). `floors` makes each column's test: floors(q, s, slack) returns a
// function of p that says whether the bound `v + tails + sizes` (float32) of row r0 + p can
// reach what the pair needs, given the slack the test's own rounding needs.
template <class Floors, class Survivor>
void PrefixCheck::scan(RowsAt<RealMatrix> at_a, RowsAt<RealMatrix> at_b, const Threshold& threshold, PairFilter filter,
                       RowRange b_rows, const RotatedRows& ra, const RotatedRows& rb, Floors&& floors,
                       Survivor&& survivor) const {
  const RealMatrix &a = at_a.rows, &b = at_b.rows;
  std::vector<float> tail_a(a.rows()), size_a(a.rows());
  for (std::int64_t r = 0; r < a.rows(); ++r) {
    tail_a[r] = normal_at_least(ra.tail[r]);
    size_a[r] = normal_at_least(relative_ * ra.size[r]);
  }
  // Absolute errors, which no relative term covers for rows near float32's smallest normal
  // number against rows up to 2^60: each prefix coordinate rounded or flushed (2^-126, so
  // sqrt(k) 2^-126 per row times the other row's size), and the test's two products and
  // two sums flushed (2^-126 each). The GEMM's own flushed products are within k 2^-100.
  const double prefix_rounding = std::sqrt(double(k_)) * kTiny, test_rounding = 4 * kTiny;
  std::vector<float> c(static_cast<std::size_t>(std::min(kTileA, a.rows()) * std::min(kTileB, b_rows.size())));
  for (std::int64_t r0 = 0; r0 < a.rows(); r0 += kTileA) {
    const std::int64_t m = std::min(kTileA, a.rows() - r0);
    const double largest_a = *std::max_element(ra.size.begin() + r0, ra.size.begin() + r0 + m);
    for (std::int64_t s0 = 0; s0 < b_rows.size(); s0 += kTileB) {
      const std::int64_t n = std::min(kTileB, b_rows.size() - s0);
      if (filter == PairFilter::Upper && at_a.first + r0 >= at_b.first + b_rows.begin + s0 + n - 1) continue;
      sgemm_rows(ra.prefix, {r0, r0 + m}, rb.prefix, {s0, s0 + n}, c.data());
      for (std::int64_t q = 0; q < n; ++q) {
        const std::int64_t s = b_rows.begin + s0 + q, j = at_b.first + s;
        const float* column = c.data() + q * m;
        const float tb = normal_at_least(rb.tail[s0 + q]), nb = normal_at_least(rb.size[s0 + q]);
        // The float32 sum's own rounding: at most 9 2^-24 of the largest terms.
        const double size_b = rb.size[s0 + q];
        const double slack = 9 * 0x1p-24 * largest_a * size_b + prefix_rounding * (largest_a + size_b) + test_rounding +
                             double(k_) * 0x1p-100 + (unit_ ? kMargin : 0.0);
        const auto reaches = floors(q, s, slack);
        const auto bound = [&](std::int64_t p) {
          const float v = threshold.abs ? std::fabs(column[p]) : column[p];
          return v + tail_a[r0 + p] * tb + size_a[r0 + p] * nb;
        };
        std::int64_t hits = 0;
        for (std::int64_t p = 0; p < m; ++p) hits += reaches(r0 + p, bound(p));
        if (hits == 0) continue;
        for (std::int64_t p = 0; p < m; ++p) {
          const std::int64_t r = r0 + p, i = at_a.first + r;
          if (filter == PairFilter::Upper && i >= j) continue;
          if (!reaches(r, bound(p))) continue;
          ++survivors_;
          survivor(r, s, inner_product(a, r, b, s));  // the reference decides, on the original rows
        }
      }
    }
  }
}

void PrefixCheck::pairs(RowsAt<RealMatrix> at_a, RowsAt<RealMatrix> at_b, const Threshold& threshold, PairFilter filter,
                        std::vector<Pair>& out, RowRange b_rows) const {
  const RotatedRows& ra = rotated_a(at_a);
  const RotatedRows rb = rotate_rows(at_b.rows, b_rows, *rotation_, k_, unit_);
  if (!ra.safe || !rb.safe) return heavy_pairs(at_a, at_b, threshold, filter, out, b_rows);
  // What the bound must reach: tau, less the decision's rounding, as a float32 at most that.
  const double need = threshold.theta - std::fabs(threshold.theta) * kMargin;
  const auto floors = [&](std::int64_t, std::int64_t, double slack) {
    const float floor = normal_at_most(need - slack);
    return [floor](std::int64_t, float bound) { return bound >= floor; };
  };
  scan(at_a, at_b, threshold, filter, b_rows, ra, rb, floors, [&](std::int64_t r, std::int64_t s, double ip) {
    const double value = threshold.value(ip, ra.self[r], rb.self[s - b_rows.begin]);
    if (threshold.passes(value)) out.push_back({at_a.first + r, at_b.first + s, value});
  });
}

void PrefixCheck::top_k(RowsAt<RealMatrix> at_a, RowsAt<RealMatrix> at_b, const Threshold& threshold, PairFilter filter,
                        const TopKTarget& target, RowRange b_rows) const {
  if (at_a.rows.rows() == 0 || b_rows.size() == 0) return;  // a rank with no rows of A (fewer rows than ranks)
  const RotatedRows& ra = rotated_a(at_a);
  const RotatedRows rb = rotate_rows(at_b.rows, b_rows, *rotation_, k_, unit_);
  if (!ra.safe || !rb.safe) return top_k_pairs(at_a, at_b, threshold, filter, target, b_rows);
  // Each pair needs the lower of its rows' floors, less the decision's rounding and the
  // test's slack at its largest over the blocks, as float32 at most that: a pair's bound is
  // then compared in float32 as in pairs(). Floors only rise as lists fill: a row's is read
  // again after each offer to it, and a stale one is lower, still safe.
  const double largest_a = *std::max_element(ra.size.begin(), ra.size.end());
  const double largest_b = rb.size.empty() ? 0.0 : *std::max_element(rb.size.begin(), rb.size.end());
  const double slack = 9 * 0x1p-24 * largest_a * largest_b + std::sqrt(double(k_)) * kTiny * (largest_a + largest_b) +
                       4 * kTiny + double(k_) * 0x1p-100 + (unit_ ? kMargin : 0.0);
  const auto need = [slack](double floor) { return normal_at_most(floor - std::fabs(floor) * kMargin - slack); };
  std::vector<float> need_a(static_cast<std::size_t>(at_a.rows.rows()));
  for (std::size_t r = 0; r < need_a.size(); ++r) need_a[r] = need(target.floor_a[r]);
  const auto floors = [&](std::int64_t, std::int64_t s, double) {
    const float need_b = target.floor_b ? need(target.floor_b[s]) : std::numeric_limits<float>::infinity();
    return [&need_a, need_b](std::int64_t r, float bound) { return bound >= std::min(need_a[r], need_b); };
  };
  scan(at_a, at_b, threshold, filter, b_rows, ra, rb, floors, [&](std::int64_t r, std::int64_t s, double ip) {
    const double value = threshold.value(ip, ra.self[r], rb.self[s - b_rows.begin]);
    if ((threshold.abs ? std::fabs(value) : value) < target.floor(r, s)) return;
    target.offer(at_a.first + r, at_b.first + s, value);
    need_a[r] = need(target.floor_a[r]);
  });
}

}  // namespace hipi
