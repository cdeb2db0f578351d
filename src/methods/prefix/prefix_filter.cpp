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
constexpr double kMargin = 0x1p-40;

double gamma(double n, double u) {
  return n * u / (1 - n * u);
}

}  // namespace

RotatedRows rotate_rows(const RealMatrix& rows, RowRange range, const Rotation& rotation, std::int64_t k, bool unit) {
  const std::int64_t n = range.size(), d = rows.cols();
  RotatedRows out{RealMatrix(n, k), std::vector<double>(n), std::vector<double>(n), row_norms(rows, range), true};
  std::vector<double> x(static_cast<std::size_t>(n * d)), y(static_cast<std::size_t>(n * d));
  for (std::int64_t r = 0; r < n; ++r) {
    const double scale = unit ? (out.norm[r] > 0 ? 1 / out.norm[r] : 0.0) : 1.0;
    for (std::int64_t c = 0; c < d; ++c) x[r * d + c] = double(rows.row(range.begin + r)[c]) * scale;
  }
  multiply_rows(x.data(), n, d, rotation.q.data(), d, y.data());
  for (std::int64_t r = 0; r < n; ++r) {
    double head = 0, tail = 0, rounded = 0, scaled = 0;
    for (std::int64_t c = 0; c < d; ++c) {
      const double v = y[r * d + c];
      (c < k ? head : tail) += v * v;
      scaled += x[r * d + c] * x[r * d + c];
    }
    float* p = out.prefix.row(r);
    for (std::int64_t c = 0; c < k; ++c) {
      p[c] = static_cast<float>(y[r * d + c]);
      rounded += double(p[c]) * double(p[c]);
    }
    out.tail[r] = std::sqrt(tail) * (1 + kMargin);
    out.size[r] = std::sqrt(std::max({scaled, head + tail, rounded})) * (1 + kMargin);
    out.safe = out.safe && out.size[r] < 0x1p60;
  }
  return out;
}

PrefixCheck::PrefixCheck(std::shared_ptr<const Rotation> rotation, std::int64_t k, bool unit)
    : rotation_(std::move(rotation)), k_(k), unit_(unit) {
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

void PrefixCheck::pairs(RowsAt<RealMatrix> at_a, RowsAt<RealMatrix> at_b, const Threshold& threshold, PairFilter filter,
                        std::vector<Pair>& out, RowRange b_rows) const {
  const RealMatrix &a = at_a.rows, &b = at_b.rows;
  const RotatedRows& ra = rotated_a(at_a);
  const RotatedRows rb = rotate_rows(b, b_rows, *rotation_, k_, unit_);
  if (!ra.safe || !rb.safe) return heavy_pairs(at_a, at_b, threshold, filter, out, b_rows);
  // What the bound must reach: tau, less the decision's rounding.
  const double need =
      threshold.theta - std::fabs(threshold.theta) * kMargin - (unit_ ? kMargin : 0.0) - double(k_) * 0x1p-100;
  std::vector<float> tail_a(a.rows()), size_a(a.rows());
  for (std::int64_t r = 0; r < a.rows(); ++r) {
    tail_a[r] = float_at_least(ra.tail[r]);
    size_a[r] = float_at_least(relative_ * ra.size[r]);
  }
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
        const float tb = float_at_least(rb.tail[s0 + q]), nb = float_at_least(rb.size[s0 + q]);
        // The float32 sum's own rounding: at most 9 2^-24 of the largest terms.
        const float floor = float_at_most(need - 9 * 0x1p-24 * largest_a * rb.size[s0 + q]);
        std::int64_t hits = 0;
        for (std::int64_t p = 0; p < m; ++p) {
          const float v = threshold.abs ? std::fabs(column[p]) : column[p];
          hits += v + tail_a[r0 + p] * tb + size_a[r0 + p] * nb >= floor;
        }
        if (hits == 0) continue;
        for (std::int64_t p = 0; p < m; ++p) {
          const std::int64_t r = r0 + p, i = at_a.first + r;
          if (filter == PairFilter::Upper && i >= j) continue;
          const float v = threshold.abs ? std::fabs(column[p]) : column[p];
          if (!(v + tail_a[r] * tb + size_a[r] * nb >= floor)) continue;
          ++survivors_;
          const double ip = inner_product(a, r, b, s);  // the reference decides, on the original rows
          const double value = threshold.value(ip, ra.norm[r], rb.norm[s0 + q]);
          if (threshold.passes(value)) out.push_back({i, j, value});
        }
      }
    }
  }
}

}  // namespace hipi
