// Sign sketches as pure functions: the majority gain against exhaustive enumeration, the
// bit-sliced majority against a per-coordinate count, independence from how rows are split,
// and the signal and background the planner relies on (fixed seeds, stated bounds).
#include <gtest/gtest.h>

#include <cmath>

#include "core/random.hpp"
#include "kernels/exact.hpp"
#include "methods/sketch/sign.hpp"

using namespace hipi;

namespace {

BitMatrix random_rows(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  BitMatrix m(n, d);
  RandomStream rng(seed, {});
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < d; ++k)
      if (rng.next() & 1) m.row(i)[k / 64] |= std::uint64_t{1} << (k % 64);
  return m;
}

}  // namespace

TEST(SignSketch, GainMatchesEnumerationOfTheOtherMembers) {
  for (std::int64_t g = 1; g <= 9; ++g) {
    // E[maj | x_1 = +1] over the 2^(g-1) values of the others, a tie counting 0 (fair coin).
    double total = 0;
    for (std::uint64_t others = 0; others < (std::uint64_t{1} << (g - 1)); ++others) {
      int sum = 1;
      for (std::int64_t q = 0; q < g - 1; ++q) sum += (others >> q) & 1 ? -1 : 1;
      total += sum > 0 ? 1 : sum < 0 ? -1 : 0;
    }
    EXPECT_NEAR(majority_gain(g), total / double(std::uint64_t{1} << (g - 1)), 1e-12) << "g = " << g;
  }
  EXPECT_DOUBLE_EQ(majority_gain(3), 0.5);
  EXPECT_DOUBLE_EQ(majority_gain(4), 0.375);
}

TEST(SignSketch, BitsAreTheMajorityOfTheSignedMembers) {
  const std::int64_t n = 61, d = 130, tile = 20;  // d not a multiple of 64; short groups at tile ends
  const BitMatrix rows = random_rows(n, d, 3);
  for (std::int64_t g : {1, 2, 3, 4, 7}) {
    const Grouping grouping(n, g, tile, 9, 1, 0);
    const LocalGroups groups(grouping, {0, n});
    const BitMatrix sketch = build_sign_sketches(rows, 0, grouping, groups);
    ASSERT_EQ(sketch.rows(), groups.size());
    std::int64_t ties = 0, tie_minus = 0;
    for (std::int64_t k = 0; k < groups.size(); ++k) {
      for (std::int64_t c = 0; c < d; ++c) {
        int sum = 0;
        for (std::int64_t m = groups.first_member(k); m < groups.offsets[k + 1]; ++m)
          sum += grouping.sign(groups.members[m]) * rows.value(groups.members[m], c);
        if (sum != 0) {
          EXPECT_EQ(sketch.value(k, c), sum > 0 ? 1 : -1) << "g " << g << " group " << k << " coordinate " << c;
        } else {
          EXPECT_EQ(groups.count(k) % 2, 0) << "only a group with an even number of members can tie";
          ++ties;
          tie_minus += sketch.value(k, c) < 0;
        }
      }
      for (std::int64_t w = d / 64; w < sketch.stride(); ++w)  // padding stays zero
        EXPECT_EQ(sketch.row(k)[w] >> (w == d / 64 ? d % 64 : 0), 0u);
    }
    // Ties go either way by a fair coin: at these sizes there are hundreds of them, and
    // Binomial(ties, 1/2) stays within 5 sd of half.
    if (ties > 100) {
      EXPECT_NEAR(double(tie_minus), ties / 2.0, 5 * std::sqrt(ties / 4.0)) << "g " << g;
    }
  }
}

TEST(SignSketch, GroupsSketchTheSameWhateverRowsARankHolds) {
  const std::int64_t n = 100, d = 256, tile = 25, g = 4;
  const BitMatrix rows = random_rows(n, d, 5);
  const Grouping grouping(n, g, tile, 2, 0, 1);
  const BitMatrix whole = build_sign_sketches(rows, 0, grouping, LocalGroups(grouping, {0, n}));
  // Tiles 2 and 3 only, as a rank holding rows [50, 100) would see them.
  BitMatrix part_rows(50, d);
  for (std::int64_t i = 0; i < 50; ++i) std::copy(rows.row(50 + i), rows.row(50 + i) + rows.stride(), part_rows.row(i));
  const LocalGroups part_groups(grouping, {50, n});
  const BitMatrix part = build_sign_sketches(part_rows, 50, grouping, part_groups);
  for (std::int64_t k = 0; k < part.rows(); ++k)
    for (std::int64_t w = 0; w < part.stride(); ++w)
      EXPECT_EQ(part.row(k)[w], whole.row(part_groups.groups.begin + k)[w]);
}

TEST(SignSketch, HeavyPairSignalIsGainTimesInnerProduct) {
  // A heavy pair (a, b) with <a,b> = 256 at d = 1024, each in a group of random rows. Over
  // 400 seeded groupings, s_a t_b <sketch_A, sketch_B> has mean gain(gA) gain(gB) * 256 and
  // sd at most sqrt(d) = 32, so its sample mean is within 4 * 32 / sqrt(400) = 6.4 of it.
  const std::int64_t d = 1024;
  for (auto [ga, gb] : {std::pair<std::int64_t, std::int64_t>{3, 3}, {5, 1}, {7, 3}}) {
    double sum = 0;
    const int trials = 400;
    for (int t = 0; t < trials; ++t) {
      BitMatrix a = random_rows(ga, d, 100 + t), b = random_rows(gb, d, 900 + t);
      // b's row 0 copies a's row 0 on 5/8 of the coordinates: <a0, b0> = 1024 * (5/8 - 3/8) = 256.
      for (std::int64_t k = 0; k < d; ++k) {
        const bool same = k % 8 < 5;
        const int v = same ? a.value(0, k) : -a.value(0, k);
        auto& word = b.row(0)[k / 64];
        const std::uint64_t bit = std::uint64_t{1} << (k % 64);
        word = v < 0 ? (word | bit) : (word & ~bit);
      }
      ASSERT_EQ(inner_product(a, 0, b, 0), 256);
      const Grouping group_a(ga, ga, ga, t, 0, 0), group_b(gb, gb, gb, t, 0, 1);
      const BitMatrix sa = build_sign_sketches(a, 0, group_a, LocalGroups(group_a, {0, ga}));
      const BitMatrix sb = build_sign_sketches(b, 0, group_b, LocalGroups(group_b, {0, gb}));
      sum += group_a.sign(0) * group_b.sign(0) * double(inner_product(sa, 0, sb, 0));
    }
    EXPECT_NEAR(sum / trials, majority_gain(ga) * majority_gain(gb) * 256, 6.4) << ga << "x" << gb;
  }
}

// It reads B a few rows at a time: the mean over every pair, exactly, for sizes that are no
// multiple of the block (binary inner products are integers: the sums agree to the bit).
TEST(SignSketch, MeanSquareInnerProductIsOverEveryPair) {
  const BitMatrix a = random_rows(37, 200, 3), b = random_rows(53, 200, 4);
  double sum = 0;
  for (std::int64_t r = 0; r < a.rows(); ++r)
    for (std::int64_t s = 0; s < b.rows(); ++s) {
      const auto ip = static_cast<double>(inner_product(a, r, b, s));
      sum += ip * ip;
    }
  EXPECT_EQ(mean_square_inner_product(a, b), sum / (37.0 * 53.0));
  EXPECT_EQ(mean_square_inner_product(a, BitMatrix(0, 200)), 0.0);
}

TEST(SignSketch, BackgroundOfRandomRowsIsD) {
  // Sketches of independent random rows are independent uniform bits: E[<.,.>^2] = d. With
  // about 256 x 256 sketch pairs at d = 512 the estimate is within 10% (sd about 2%).
  const std::int64_t d = 512;
  const BitMatrix sa = random_rows(256, d, 7), sb = random_rows(256, d, 8);
  for (std::int64_t g : {1, 3, 9}) {
    const BitMatrix ka = sample_sign_sketches(sa, g, 1, 0), kb = sample_sign_sketches(sb, g, 1, 1);
    EXPECT_GE(ka.rows(), 256);  // several partitions: about as many groups as rows
    EXPECT_NEAR(mean_square_inner_product(ka, kb) / d, 1.0, 0.1) << "g = " << g;
  }
}
