// The generator's pure row functions: planted pairs are heavy by construction, and rows
// depend only on the seed.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "io/generate.hpp"

using namespace hipi;

namespace {
double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t k = 0; k < a.size(); ++k) s += double(a[k]) * double(b[k]);
  return s;
}
}  // namespace

TEST(GenerateRows, BinaryPlantedPairsHaveExactlyTheDesignedInnerProduct) {
  for (std::int64_t d : {1, 10, 64, 1000, 4096})
    for (double rho : {0.1, 0.5, 0.9, 1.0}) {
      GenerateOptions o;
      o.n = 50;
      o.d = d;
      o.k = 5;
      o.value = rho;
      o.seed = 17;
      std::vector<float> a(d), b(d);
      for (std::int64_t p = 0; p < o.k; ++p) {
        background_row(o, 0, p, a.data());
        planted_row(o, p, a.data(), b.data());
        const double ip = dot(a, b);
        const double flips = std::floor(d * (1 - rho) / 2);
        EXPECT_EQ(ip, d - 2 * flips) << d << " " << rho;
        EXPECT_GE(ip, rho * d - 1e-9);
        for (float x : b) ASSERT_TRUE(x == 1.0f || x == -1.0f);
      }
    }
}

TEST(GenerateRows, RealPlantedPairsReachTau) {
  GenerateOptions o;
  o.mode = Mode::Real;
  o.n = 50;
  o.d = 300;
  o.k = 10;
  o.value = 200.0;
  std::vector<float> a(o.d), b(o.d);
  for (std::int64_t p = 0; p < o.k; ++p) {
    background_row(o, 0, p, a.data());
    planted_row(o, p, a.data(), b.data());
    EXPECT_GE(dot(a, b), o.value);
  }
}

// --margin 0 plants real pairs just above tau (within 1e-4 relative), the hardest case
// for a sketch; the default margin 4 puts them about 4 noise sd above.
TEST(GenerateRows, RealMarginZeroPlantsPairsJustAboveTau) {
  GenerateOptions o;
  o.mode = Mode::Real;
  o.n = 50;
  o.d = 1024;
  o.k = 10;
  o.value = 300.0;
  o.margin = 0;
  std::vector<float> a(o.d), b(o.d);
  for (std::int64_t p = 0; p < o.k; ++p) {
    background_row(o, 0, p, a.data());
    planted_row(o, p, a.data(), b.data());
    EXPECT_GE(dot(a, b), o.value);
    EXPECT_LT(dot(a, b), o.value * (1 + 1e-4));
  }
  o.margin = 4;
  double lowest = 1e300;
  for (std::int64_t p = 0; p < o.k; ++p) {
    background_row(o, 0, p, a.data());
    planted_row(o, p, a.data(), b.data());
    lowest = std::min(lowest, dot(a, b));
  }
  EXPECT_GT(lowest, o.value + 32) << "margin 4 keeps pairs well above tau (noise sd here ~ 32)";
}

TEST(GenerateRows, RowsAndPlantsDependOnlyOnTheSeed) {
  GenerateOptions o;
  o.n = 1000;
  o.d = 100;
  o.k = 20;
  std::vector<float> x(o.d), y(o.d);
  background_row(o, 1, 77, x.data());
  background_row(o, 1, 77, y.data());
  EXPECT_EQ(x, y);
  background_row(o, 0, 77, y.data());
  EXPECT_NE(x, y) << "sides A and B must differ";
  const auto p1 = planted_pairs(o), p2 = planted_pairs(o);
  ASSERT_EQ(p1.size(), 20u);
  for (std::size_t i = 0; i < p1.size(); ++i) EXPECT_TRUE(p1[i].source == p2[i].source && p1[i].target == p2[i].target);
  o.seed = 2;
  const auto p3 = planted_pairs(o);
  int same = 0;
  for (std::size_t i = 0; i < p1.size(); ++i) same += p1[i].source == p3[i].source;
  EXPECT_LT(same, 5);
}

TEST(GenerateRows, PlantedRowsAreDistinctAndInRange) {
  GenerateOptions o;
  o.out = "unused.h5";
  o.n = 40;
  o.d = 8;
  o.k = 20;
  o.self_join = true;  // 2k = n: every row is used
  std::set<std::int64_t> rows;
  for (const auto& p : planted_pairs(o)) {
    rows.insert(p.source);
    rows.insert(p.target);
  }
  EXPECT_EQ(rows.size(), 40u);
  EXPECT_EQ(*rows.begin(), 0);
  EXPECT_EQ(*rows.rbegin(), 39);
  o.k = 21;
  EXPECT_THROW(o.check(), InputError);
  o.self_join = false;
  o.n_b = 30;
  o.k = 30;
  for (const auto& p : planted_pairs(o)) {
    EXPECT_LT(p.source, 40);
    EXPECT_LT(p.target, 30);
  }
  EXPECT_NO_THROW(o.check());
}
