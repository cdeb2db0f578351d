// Grouping and sketches as pure functions: every row in exactly one group of its tile,
// groups independent of how rows are split over ranks, sketches equal to naive sums.
#include <gtest/gtest.h>

#include <set>

#include "core/random.hpp"
#include "methods/sketch/sketches.hpp"

using namespace hipi;

TEST(TiledRows, PartsHoldWholeTilesInOrderAndOwnerFindsThem) {
  for (std::int64_t n : {1, 100, 1000, 1024, 1025})
    for (int parts = 1; parts <= 5; ++parts) {
      const TiledRows t{n, 64, parts};
      std::int64_t next = 0;
      for (int p = 0; p < parts; ++p) {
        const RowRange r = t.rows(p);
        EXPECT_EQ(r.begin, next);
        EXPECT_TRUE(r.begin % 64 == 0 || r.begin == n);  // parts past the last tile are empty, at n
        EXPECT_TRUE(r.end % 64 == 0 || r.end == n);
        for (std::int64_t row = r.begin; row < r.end; ++row) ASSERT_EQ(t.owner(row), p) << "row " << row;
        // Balanced: whole tiles per part differ by at most one.
        EXPECT_LE(r.size(), (t.tiles() + parts - 1) / parts * 64);
        EXPECT_GE(r.size() + 64, t.tiles() / parts * 64) << "n " << n << " parts " << parts << " part " << p;
        next = r.end;
      }
      EXPECT_EQ(next, n);
    }
}

// Issue 13: with ceil(tiles / parts) tiles per part, 133120 rows on 64 ranks left 20 ranks
// without rows (130 tiles of 1024). Parts now differ by one tile, and balanced_tile keeps
// kTilesPerPart tiles per part while groups fit, so the largest part is within 5% of the mean.
TEST(TiledRows, BalancedTilesKeepEveryPartWithinFivePercentOfTheMean) {
  for (std::int64_t n : {133120LL, 1500000LL, 100000000LL, 1000000000LL})
    for (int parts : {1, 2, 3, 64, 1000, 4096})
      for (std::int64_t g : {1, 4, 16, 64}) {
        const std::int64_t tile = balanced_tile(n, parts, g);
        EXPECT_GE(tile, g);
        EXPECT_LE(tile, 1024);
        if (n < kTilesPerPart * parts * g) continue;  // not enough whole groups (Layout reports it)
        const TiledRows t{n, tile, parts};
        std::int64_t largest = 0;
        for (int p = 0; p < parts; ++p) largest = std::max(largest, t.rows(p).size());
        EXPECT_LE(double(largest) * parts / double(n), 1.05) << "n " << n << " parts " << parts << " g " << g;
        // Every group size up to 64 shares the tile of 64 once tiles reach 64 rows.
        if (tile >= 64) {
          EXPECT_EQ(tile, balanced_tile(n, parts, 64));
        }
      }
  EXPECT_EQ(balanced_tile(1 << 30, 4, 13), 1024);  // large problems keep today's tiles
  EXPECT_EQ(balanced_tile(100, 4, 8), 8);          // never below a group
}

TEST(Grouping, EveryRowIsInExactlyOneGroupOfItsTile) {
  for (std::int64_t n : {1, 5, 64, 100, 333})
    for (std::int64_t g : {1, 2, 3, 4, 5, 7}) {
      const std::int64_t tile = 12;  // 5 and 7 do not divide it: each tile ends with a short group
      const Grouping grouping(n, g, tile, 7, 0, 0);
      const LocalGroups all(grouping, {0, n});
      EXPECT_EQ(all.size(), grouping.groups());
      std::set<std::int64_t> seen(all.members.begin(), all.members.end());
      EXPECT_EQ(static_cast<std::int64_t>(seen.size()), n);
      EXPECT_EQ(static_cast<std::int64_t>(all.members.size()), n);
      for (std::int64_t k = 0; k < all.size(); ++k) {
        EXPECT_LE(all.count(k), g);
        EXPECT_GE(all.count(k), 1);
        const std::int64_t tile_of_group = all.members[all.first_member(k)] / tile;
        for (std::int64_t m = all.first_member(k); m < all.offsets[k + 1]; ++m)
          EXPECT_EQ(all.members[m] / tile, tile_of_group) << "group " << k << " crosses a tile";
      }
    }
}

TEST(Grouping, GroupsDoNotDependOnTheSplitOverRanks) {
  const std::int64_t n = 1000, g = 4, tile = 64;
  const Grouping grouping(n, g, tile, 3, 1, 1);
  const LocalGroups whole(grouping, {0, n});
  for (int parts = 1; parts <= 6; ++parts) {
    const TiledRows t{n, tile, parts};
    for (int p = 0; p < parts; ++p) {
      const LocalGroups part(grouping, t.rows(p));
      EXPECT_EQ(part.groups, grouping.groups_of(t, p));
      for (std::int64_t k = 0; k < part.size(); ++k) {
        const std::int64_t global = part.groups.begin + k;
        EXPECT_EQ(grouping.owner_of_group(global, t), p);
        ASSERT_EQ(part.count(k), whole.count(global));
        for (std::int64_t q = 0; q < part.count(k); ++q)
          EXPECT_EQ(part.members[part.first_member(k) + q], whole.members[whole.first_member(global) + q]);
      }
    }
  }
}

TEST(Grouping, RepetitionsAndSidesDrawDifferentGroupsAndSigns) {
  const Grouping a(256, 4, 256, 9, 0, 0), b(256, 4, 256, 9, 1, 0), c(256, 4, 256, 9, 0, 1);
  EXPECT_NE(a.tile_order(0), b.tile_order(0));
  EXPECT_NE(a.tile_order(0), c.tile_order(0));
  EXPECT_EQ(a.tile_order(0), Grouping(256, 4, 256, 9, 0, 0).tile_order(0));
  int same = 0, plus = 0;
  for (std::int64_t r = 0; r < 256; ++r) {
    same += a.sign(r) == b.sign(r);
    plus += a.sign(r) == 1;
  }
  // Bound: independent fair signs; 256 draws have sd 8, so 128 +- 48 (6 sd) holds for the fixed seed.
  EXPECT_NEAR(same, 128, 48);
  EXPECT_NEAR(plus, 128, 48);
}

TEST(Sketch, EqualsTheSignedSumOfTheGroupsRows) {
  const std::int64_t n = 70, d = 77, g = 3, tile = 12;
  RandomStream rng(1, {});
  std::vector<std::int8_t> values(n * d);
  for (auto& v : values) v = rng.below(2) ? 1 : -1;
  const BitMatrix bits = BitMatrix::pack(values, n, d);
  RealMatrix real(n, d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < d; ++c) real.row(i)[c] = 0.5f * values[i * d + c] + 0.25f;
  const Grouping grouping(n, g, tile, 5, 2, 0);
  const RowRange rows{24, 60};  // tiles 2 to 4
  const LocalGroups groups(grouping, rows);
  const std::int64_t G = groups.size();
  std::vector<float> from_bits(G * d);   // group-major (as S_B^T is stored)
  std::vector<double> from_real(G * d);  // coordinate-major (as S_A is stored)
  BitMatrix bit_rows(rows.size(), d);
  for (std::int64_t i = 0; i < rows.size(); ++i)
    std::copy(bits.row(rows.begin + i), bits.row(rows.begin + i) + bits.stride(), bit_rows.row(i));
  RealMatrix real_rows(rows.size(), d);
  for (std::int64_t i = 0; i < rows.size(); ++i)
    std::copy(real.row(rows.begin + i), real.row(rows.begin + i) + real.stride(), real_rows.row(i));
  build_sketches({bit_rows, rows.begin}, grouping, groups, from_bits.data(), {d, 1});
  build_sketches({real_rows, rows.begin}, grouping, groups, from_real.data(), {1, G});
  const auto self_bits = group_self_terms(bit_rows, rows.begin, groups);
  const auto self_real = group_self_terms(real_rows, rows.begin, groups);
  for (std::int64_t k = 0; k < G; ++k) {
    double norms = 0;
    for (std::int64_t c = 0; c < d; ++c) {
      double want_bits = 0, want_real = 0;
      for (std::int64_t m = groups.first_member(k); m < groups.offsets[k + 1]; ++m) {
        const std::int64_t row = groups.members[m];
        want_bits += grouping.sign(row) * values[row * d + c];
        want_real += grouping.sign(row) * double(real.row(row)[c]);
        norms += double(real.row(row)[c]) * real.row(row)[c];
      }
      ASSERT_EQ(from_bits[k * d + c], want_bits);
      ASSERT_NEAR(from_real[k + c * G], want_real, 1e-12);
    }
    EXPECT_EQ(self_bits[k], double(groups.count(k) * d));
    EXPECT_NEAR(self_real[k], norms, 1e-9);
  }
}

// Degree 2: <phi_A(a), phi_B(b)> = <a,b>^2 exactly. With groups of one row the sketches
// are s_a * phi_A(a) and s_b * phi_B(b), so their dot product is s_a s_b <a,b>^2.
TEST(Sketch, DegreeTwoFeatureMapsGiveTheSquaredInnerProductExactly) {
  for (std::int64_t d : {1, 5, 33, 64, 70}) {
    const std::int64_t n = 6;
    RandomStream rng(4, {static_cast<std::uint64_t>(d)});
    std::vector<std::int8_t> values(n * d);
    for (auto& v : values) v = rng.below(2) ? 1 : -1;
    const BitMatrix bits = BitMatrix::pack(values, n, d);
    RealMatrix real(n, d);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t c = 0; c < d; ++c) real.row(i)[c] = static_cast<float>(rng.normal());
    const Grouping grouping(n, 1, 1, 9, 0, 0);
    const LocalGroups groups(grouping, {0, n});
    const FeatureMap fa{2, 0}, fb{2, 1};
    const std::int64_t D = fa.dim(d);
    ASSERT_EQ(D, d * (d + 1) / 2);
    std::vector<double> sa(n * D), sb(n * D), ra(n * D), rb(n * D);
    build_sketches({bits, 0}, grouping, groups, sa.data(), {D, 1}, fa);
    build_sketches({bits, 0}, grouping, groups, sb.data(), {D, 1}, fb);
    build_sketches({real, 0}, grouping, groups, ra.data(), {D, 1}, fa);
    build_sketches({real, 0}, grouping, groups, rb.data(), {D, 1}, fb);
    for (std::int64_t i = 0; i < n; ++i)
      for (std::int64_t j = 0; j < n; ++j) {
        double dot = 0, rdot = 0, ip = 0, rip = 0;
        for (std::int64_t c = 0; c < D; ++c) {
          dot += sa[i * D + c] * sb[j * D + c];
          rdot += ra[i * D + c] * rb[j * D + c];
        }
        for (std::int64_t c = 0; c < d; ++c) {
          ip += values[i * d + c] * values[j * d + c];
          rip += double(real.row(i)[c]) * real.row(j)[c];
        }
        const double signs = grouping.sign(i) * grouping.sign(j);
        ASSERT_EQ(dot, signs * ip * ip) << d << " " << i << " " << j;
        ASSERT_NEAR(rdot, signs * rip * rip, 1e-9 * (1 + rip * rip)) << d;
      }
    // Self terms of degree 2: |x|^4 per row.
    const auto self_bits = group_self_terms(bits, 0, groups, 2);
    for (std::int64_t k = 0; k < n; ++k) EXPECT_EQ(self_bits[k], double(d) * double(d));
  }
}
