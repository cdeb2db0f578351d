#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/random.hpp"

using namespace hipi;

TEST(RandomStream, SameSeedAndKeysGiveTheSameStreamOthersDiffer) {
  RandomStream a(42, {1, 2}), b(42, {1, 2}), c(42, {2, 1}), d(43, {1, 2});
  int same_c = 0, same_d = 0;
  for (int i = 0; i < 100; ++i) {
    const auto x = a.next();
    EXPECT_EQ(x, b.next());
    same_c += x == c.next();
    same_d += x == d.next();
  }
  EXPECT_EQ(same_c, 0);
  EXPECT_EQ(same_d, 0);
}

// Bound: with 200000 draws into 10 bins, each bin count has standard deviation ~134;
// |count - 20000| < 1000 (7.5 sigma) fails with negligible probability for a fixed seed.
TEST(RandomStream, BelowIsInRangeAndUniform) {
  RandomStream rng(5, {});
  std::vector<int> bins(10, 0);
  for (int i = 0; i < 200000; ++i) {
    const auto v = rng.below(10);
    ASSERT_LT(v, 10u);
    ++bins[v];
  }
  for (int count : bins) EXPECT_NEAR(count, 20000, 1000);
}

// Bound: mean of 100000 standard normals has sd 0.0032 (check |mean| < 0.02); the variance
// estimate has sd 0.0045 (check |var - 1| < 0.03).
TEST(RandomStream, NormalHasMeanZeroAndVarianceOne) {
  RandomStream rng(9, {3});
  double sum = 0, sum2 = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double x = rng.normal();
    sum += x;
    sum2 += x * x;
  }
  const double mean = sum / n;
  EXPECT_NEAR(mean, 0.0, 0.02);
  EXPECT_NEAR(sum2 / n - mean * mean, 1.0, 0.03);
}
