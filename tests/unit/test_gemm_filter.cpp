// The GEMM filter (gemm_filter.hpp): its error bound against exact sums, and heavy_pairs
// through it against the float64 reference kernel on inputs built to break it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "core/random.hpp"
#include "kernels/exact.hpp"
#include "kernels/gemm_filter.hpp"

using namespace hipi;

namespace {

RealMatrix rows_of(std::int64_t n, std::int64_t d, const std::function<float(std::int64_t, std::int64_t)>& value) {
  RealMatrix m(n, d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < d; ++k) m.row(i)[k] = value(i, k);
  return m;
}

RealMatrix gaussian(std::int64_t n, std::int64_t d, std::uint64_t seed, double scale = 1, double offset = 0) {
  RandomStream rng(seed, {static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(d)});
  return rows_of(n, d, [&](std::int64_t, std::int64_t) { return static_cast<float>(offset + scale * rng.normal()); });
}

// Rows scaled by 2^e, e from -20 to 20 (safe: every value at least 2^-60, norms below 2^62).
RealMatrix mixed_scales(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  RealMatrix m = gaussian(n, d, seed);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < d; ++k) m.row(i)[k] = std::ldexp(m.row(i)[k], static_cast<int>(i * 37 % 41) - 20);
  return m;
}

// Both kernels on the same blocks: identical pairs, in the same order once sorted.
std::vector<Pair> with(RealKernel kernel, const RealMatrix& a, const RealMatrix& b, const Threshold& t,
                       PairFilter filter = PairFilter::All) {
  const RealKernel before = real_kernel();
  use_real_kernel(kernel);
  std::vector<Pair> out;
  heavy_pairs({a, 0}, {b, 0}, t, filter, out);
  use_real_kernel(before);
  sort_pairs(out);
  return out;
}

void expect_identical(const RealMatrix& a, const RealMatrix& b, const Threshold& t, const std::string& what,
                      PairFilter filter = PairFilter::All) {
  const std::vector<Pair> reference = with(RealKernel::Reference, a, b, t, filter);
  const std::vector<Pair> filtered = with(RealKernel::GemmFilter, a, b, t, filter);
  EXPECT_EQ(filtered, reference) << what << ": " << filtered.size() << " pairs against " << reference.size();
}

}  // namespace

// Bound checked: |C32 - a.b| <= E for every entry, a.b summed exactly enough (long double
// over exact float64 products, error far below E), on random and adversarial rows.
TEST(GemmFilter, BoundHoldsAgainstExactSums) {
  struct Case {
    const char* name;
    RealMatrix a, b;
  };
  std::vector<Case> cases;
  for (std::int64_t d : {1, 7, 64, 1000, 4097}) {
    cases.push_back({"gaussian", gaussian(40, d, 1), gaussian(50, d, 2)});
    cases.push_back({"common component", gaussian(40, d, 3, 1e-3, 100), gaussian(50, d, 4, 1e-3, 100)});
    cases.push_back({"mixed scales", mixed_scales(40, d, 5), mixed_scales(50, d, 6)});
    // Cancellation: b = a with alternate signs flipped, so large products sum to near 0.
    RealMatrix a = gaussian(40, d, 7, 1e6);
    RealMatrix b = rows_of(40, d, [&](std::int64_t i, std::int64_t k) { return (k % 2 ? -1.0f : 1.0f) * a.row(i)[k]; });
    cases.push_back({"cancellation", std::move(a), std::move(b)});
  }
  for (const Case& c : cases) {
    const std::int64_t m = c.a.rows(), n = c.b.rows(), d = c.a.cols();
    ASSERT_TRUE(gemm_filter_safe(c.a, {0, m}) && gemm_filter_safe(c.b, {0, n})) << c.name;
    std::vector<float> c32(m * n);
    sgemm_rows(c.a, {0, m}, c.b, {0, n}, c32.data());
    double worst = 0;
    for (std::int64_t i = 0; i < m; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        long double exact = 0, na = 0, nb = 0;
        for (std::int64_t k = 0; k < d; ++k) {
          exact += static_cast<long double>(double(c.a.row(i)[k]) * double(c.b.row(j)[k]));
          na += static_cast<long double>(c.a.row(i)[k]) * c.a.row(i)[k];
          nb += static_cast<long double>(c.b.row(j)[k]) * c.b.row(j)[k];
        }
        const double bound =
            gemm_filter_relative_bound(d) * double(std::sqrt(na) * std::sqrt(nb)) + gemm_filter_absolute_bound(d);
        const double err = double(std::fabs(static_cast<long double>(c32[i + j * m]) - exact));
        ASSERT_LE(err, bound) << c.name << ", d = " << d << ", entry " << i << ", " << j;
        worst = std::max(worst, err / bound);
      }
    EXPECT_GT(worst, 0.0) << c.name << ", d = " << d << ": float32 GEMM made no error at all?";
  }
}

TEST(GemmFilter, PairsWithinOneUlpOfTheThresholdAreDecidedByTheReference) {
  // A large common component: inner products near 1e4 d, differing in their last bits.
  const RealMatrix a = gaussian(300, 256, 11, 1e-2, 10), b = gaussian(200, 256, 12, 1e-2, 10);
  const std::vector<Pair> all = with(RealKernel::Reference, a, b, {-std::numeric_limits<double>::infinity(), false});
  std::vector<double> ips;
  for (const Pair& p : all) ips.push_back(p.ip);
  std::sort(ips.begin(), ips.end());
  for (double q : {0.01, 0.5, 0.99}) {
    const double at = ips[static_cast<std::size_t>(q * double(ips.size()))];
    // The threshold exactly at a pair's reference value, and one float64 ulp on each side.
    for (double tau : {at, std::nextafter(at, 0.0), std::nextafter(at, 1e300)}) {
      expect_identical(a, b, {tau, false}, "tau at quantile " + std::to_string(q));
      expect_identical(a, b, {tau, true}, "tau at quantile " + std::to_string(q) + ", abs");
    }
  }
}

TEST(GemmFilter, AdversarialInputsGiveTheReferenceAnswer) {
  // Gaussian rows, firing at 3 and 4 sigma, plain and abs (large negative products count).
  const RealMatrix a = gaussian(257, 1024, 21), b = gaussian(300, 1024, 22);
  for (double sigmas : {3.0, 4.0}) {
    expect_identical(a, b, {sigmas * 32, false}, "gaussian");
    expect_identical(a, b, {sigmas * 32, true}, "gaussian, abs");
  }
  // Mixed scales across rows: the bound is per entry, not per block.
  const RealMatrix ma = mixed_scales(100, 300, 23), mb = mixed_scales(90, 300, 24);
  for (double tau : {1e-20, 1.0, 1e10}) expect_identical(ma, mb, {tau, true}, "mixed scales");
  // Magnitudes near float32's limits: unsafe blocks go to the reference whole.
  RealMatrix huge = gaussian(64, 128, 25, 1e30), tiny = gaussian(64, 128, 26, 1e-30);
  EXPECT_FALSE(gemm_filter_safe(huge, {0, 64}));
  EXPECT_FALSE(gemm_filter_safe(tiny, {0, 64}));
  expect_identical(huge, huge, {1e60, true}, "huge");
  expect_identical(tiny, tiny, {1e-60, true}, "tiny");
  // One huge row in an otherwise ordinary block.
  RealMatrix one_huge = gaussian(64, 128, 27);
  one_huge.row(5)[3] = 3e38f;
  expect_identical(one_huge, gaussian(64, 128, 28), {10, true}, "one huge row");
  // Self-join diagonal block: only i < j.
  const RealMatrix s = gaussian(700, 64, 29, 1, 0.5);
  expect_identical(s, s, {40, false}, "self-join", PairFilter::Upper);
}

TEST(GemmFilter, TheEnvironmentOrACallChoosesTheKernel) {
  EXPECT_EQ(real_kernel(), RealKernel::GemmFilter) << "the default (unless HIPI_REAL_KERNEL=reference is set)";
  use_real_kernel(RealKernel::Reference);
  EXPECT_EQ(real_kernel(), RealKernel::Reference);
  use_real_kernel(RealKernel::GemmFilter);
}
