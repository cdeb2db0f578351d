// The exact kernels against a naive loop over the unpacked values, for every kernel set
// this CPU runs, and bit-identical results across kernel sets.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "core/random.hpp"
#include "hipi/error.hpp"
#include "kernels/exact.hpp"

using namespace hipi;

namespace {

struct BinaryCase {
  std::vector<std::int8_t> a, b;
  std::int64_t na, nb, d;
};

BinaryCase random_binary(std::int64_t na, std::int64_t nb, std::int64_t d, std::uint64_t seed) {
  BinaryCase c{std::vector<std::int8_t>(na * d), std::vector<std::int8_t>(nb * d), na, nb, d};
  RandomStream rng(seed, {static_cast<std::uint64_t>(d)});
  for (auto& x : c.a) x = rng.below(2) ? 1 : -1;
  for (auto& x : c.b) x = rng.below(2) ? 1 : -1;
  // Make some rows of B near-copies of rows of A so that there are heavy pairs to find.
  for (std::int64_t j = 0; j < nb; j += 3)
    for (std::int64_t k = 0; k < d; ++k)
      if (rng.below(8)) c.b[j * d + k] = c.a[(j % na) * d + k];
  return c;
}

std::vector<Pair> naive_binary(const BinaryCase& c, const Threshold& t, std::int64_t a_first, std::int64_t b_first,
                               PairFilter filter) {
  std::vector<Pair> out;
  for (std::int64_t r = 0; r < c.na; ++r)
    for (std::int64_t s = 0; s < c.nb; ++s) {
      std::int64_t ip = 0;
      for (std::int64_t k = 0; k < c.d; ++k) ip += c.a[r * c.d + k] * c.b[s * c.d + k];
      const std::int64_t i = a_first + r, j = b_first + s;
      if ((filter == PairFilter::All || i < j) && t.passes(static_cast<double>(ip))) out.push_back({i, j, double(ip)});
    }
  return out;
}

class EveryKernel : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { use_kernel(GetParam()); }
  void TearDown() override { use_kernel(runnable_kernels().front()); }
};

}  // namespace

TEST_P(EveryKernel, BinaryMatchesNaiveLoopForAwkwardShapes) {
  // d = 1, odd, not a multiple of 64, and large; row counts not multiples of 4 and larger
  // than one B tile (256 rows).
  for (std::int64_t d : {1, 7, 63, 64, 65, 130, 4096}) {
    const BinaryCase c = random_binary(13, 300, d, 11);
    const BitMatrix a = BitMatrix::pack(c.a, c.na, d), b = BitMatrix::pack(c.b, c.nb, d);
    for (bool abs : {false, true}) {
      const Threshold t{std::ceil(0.3 * d), abs};
      std::vector<Pair> got;
      heavy_pairs({a, 100}, {b, 7}, t, PairFilter::All, got);
      sort_pairs(got);
      const auto want = naive_binary(c, t, 100, 7, PairFilter::All);
      ASSERT_FALSE(want.empty()) << "test data must contain heavy pairs, d = " << d;
      EXPECT_EQ(got, want) << "d = " << d << " abs = " << abs;
    }
  }
}

// Early abandon rules pairs out after a prefix of their words. Planted pairs sit exactly at
// the threshold with every difference in the first coordinates, so the prefix sees the
// worst of them and only the exact bound (the coordinates left) keeps them; negated copies
// do the same for --abs. Thresholds from rho 0.5 (no abandon) to 0.97.
TEST_P(EveryKernel, EarlyAbandonFindsExactlyWhatTheFullKernelFinds) {
  for (std::int64_t d : {130, 1000, 1024, 4096}) {
    BinaryCase c = random_binary(13, 300, d, 17);
    RandomStream rng(8, {static_cast<std::uint64_t>(d)});
    std::vector<std::int64_t> flips;
    for (std::int64_t j = 1; j < c.nb; j += 5) {
      const std::int64_t f = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(d / 4)));
      const std::int64_t i = j % c.na;
      const int sign = j % 2 ? 1 : -1;  // odd rows: a copy; even ones: a negated copy (for --abs)
      for (std::int64_t k = 0; k < d; ++k)
        c.b[j * d + k] = static_cast<std::int8_t>(sign * c.a[i * d + k] * (k < f ? -1 : 1));
      flips.push_back(f);
    }
    const BitMatrix a = BitMatrix::pack(c.a, c.na, d), b = BitMatrix::pack(c.b, c.nb, d);
    std::vector<double> thetas;
    for (double rho : {0.5, 0.7, 0.8, 0.9, 0.97}) thetas.push_back(std::ceil(rho * d));
    for (std::size_t k = 0; k < 6; ++k) thetas.push_back(static_cast<double>(d - 2 * flips[k]));  // at the boundary
    for (double theta : thetas)
      for (bool abs : {false, true}) {
        const Threshold t{theta, abs};
        std::vector<Pair> with, without;
        use_early_abandon(true);
        heavy_pairs({a, 0}, {b, 0}, t, PairFilter::All, with);
        use_early_abandon(false);
        heavy_pairs({a, 0}, {b, 0}, t, PairFilter::All, without);
        use_early_abandon(true);
        sort_pairs(with);
        sort_pairs(without);
        const auto want = naive_binary(c, t, 0, 0, PairFilter::All);
        EXPECT_EQ(without, want) << "d = " << d << " theta = " << theta << " abs = " << abs;
        EXPECT_EQ(with, want) << "d = " << d << " theta = " << theta << " abs = " << abs;
      }
  }
}

TEST_P(EveryKernel, BinaryUpperFilterKeepsOnlyILessThanJ) {
  const std::int64_t d = 100;
  BinaryCase c = random_binary(37, 37, d, 5);
  c.b = c.a;  // a self-join block
  const BitMatrix m = BitMatrix::pack(c.a, c.na, d);
  const Threshold t{-1000, false};  // every pair passes: checks the filter alone
  for (std::int64_t offset_b : {0, 10, -10}) {
    std::vector<Pair> got;
    heavy_pairs({m, 50}, {m, 50 + offset_b}, t, PairFilter::Upper, got);
    sort_pairs(got);
    EXPECT_EQ(got, naive_binary(c, t, 50, 50 + offset_b, PairFilter::Upper)) << offset_b;
  }
}

TEST_P(EveryKernel, RealMatchesFloat64SumAndIsIdenticalAcrossKernelSets) {
  for (std::int64_t d : {1, 5, 8, 33, 1000}) {
    const std::int64_t na = 9, nb = 70;
    RealMatrix a(na, d), b(nb, d);
    RandomStream rng(3, {static_cast<std::uint64_t>(d)});
    for (std::int64_t i = 0; i < na; ++i)
      for (std::int64_t k = 0; k < d; ++k) a.row(i)[k] = static_cast<float>(rng.normal());
    for (std::int64_t i = 0; i < nb; ++i)
      for (std::int64_t k = 0; k < d; ++k) b.row(i)[k] = static_cast<float>(rng.normal());
    const Threshold all{-std::numeric_limits<double>::infinity(), false};
    std::vector<Pair> got;
    heavy_pairs({a, 0}, {b, 0}, all, PairFilter::All, got);
    ASSERT_EQ(got.size(), static_cast<std::size_t>(na * nb));
    const std::string current = kernel_name();
    use_kernel("generic");
    std::vector<Pair> reference;
    heavy_pairs({a, 0}, {b, 0}, all, PairFilter::All, reference);
    use_kernel(current);
    EXPECT_EQ(got, reference) << "kernel " << current << " differs from generic at d = " << d;
    for (const Pair& p : got) {
      double sum = 0, scale = 0;
      for (std::int64_t k = 0; k < d; ++k) {
        sum += double(a.row(p.i)[k]) * double(b.row(p.j)[k]);
        scale += std::abs(double(a.row(p.i)[k]) * double(b.row(p.j)[k]));
      }
      ASSERT_NEAR(p.ip, sum, 1e-12 * scale + 1e-300) << d;
      ASSERT_EQ(p.ip, inner_product(a, p.i, b, p.j));
    }
    // Threshold and abs select the same pairs as the naive values do.
    const Threshold t{2.0, true};
    std::vector<Pair> heavy;
    heavy_pairs({a, 0}, {b, 0}, t, PairFilter::All, heavy);
    std::size_t expected = 0;
    for (const Pair& p : got) expected += std::abs(p.ip) >= 2.0;
    EXPECT_EQ(heavy.size(), expected);
  }
}

INSTANTIATE_TEST_SUITE_P(Kernels, EveryKernel, ::testing::ValuesIn(runnable_kernels()),
                         [](const auto& info) { return info.param; });

TEST(Kernels, BestKernelIsChosenByDefaultAndUnknownNamesAreRejected) {
  ASSERT_FALSE(runnable_kernels().empty());
  EXPECT_EQ(runnable_kernels().back(), "generic");
  EXPECT_THROW(use_kernel("no-such-kernel"), InputError);
}
