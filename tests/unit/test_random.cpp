#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/random.hpp"
#include "parallel/row_exchange.hpp"

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

// The rows a planner samples (parallel/row_exchange.hpp): distinct, sorted, within [0, n),
// spread over the whole range (a file sorted by source is not sampled by its first rows),
// the same for the same seed and stream, other for another stream; all rows when count >= n.
TEST(SampleRowIds, DistinctSortedAndSpreadOverAllRows) {
  const std::int64_t n = 1000000, count = 1024;
  const std::vector<std::int64_t> ids = sample_row_ids(n, count, 7, 51);
  ASSERT_EQ(static_cast<std::int64_t>(ids.size()), count);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
  EXPECT_GE(ids.front(), 0);
  EXPECT_LT(ids.back(), n);
  // Bound: each quarter of the rows holds 256 of the draws in expectation, sd 14; 150 is 7 sd.
  for (int q = 0; q < 4; ++q) {
    const auto in_quarter = std::count_if(ids.begin(), ids.end(), [&](std::int64_t i) { return i * 4 / n == q; });
    EXPECT_GT(in_quarter, 150) << "quarter " << q;
  }
  EXPECT_EQ(sample_row_ids(n, count, 7, 51), ids);
  EXPECT_NE(sample_row_ids(n, count, 7, 53), ids);
  EXPECT_EQ(sample_row_ids(5, 9, 7, 51), (std::vector<std::int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(sample_row_ids(40, 39, 7, 51).size(), 39u);
}
