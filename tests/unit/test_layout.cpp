// The layout as pure arithmetic, at sizes far past this machine (issue 13 item 4): rows per
// rank within 5% of the mean, every buffer of a rank within its budget, no local matrix of
// the product past PBLAS's 32-bit counts.
#include <gtest/gtest.h>

#include <climits>

#include "methods/layout.hpp"
#include "methods/prefix/prefix_filter.hpp"
#include "methods/sketch/sketches.hpp"

using namespace hipi;

namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;

LayoutQuery self_join(std::int64_t n, int ranks, Method method) {
  LayoutQuery q;
  q.n_a = q.n_b = n;
  q.d = 1024;  // binary: 128 bytes a row
  q.mode = Mode::Binary;
  q.method = method;
  q.ranks = ranks;
  q.sketch.group_a = q.sketch.group_b = 64;
  q.pairs = 1e8;
  q.budget_bytes = 8 * kGiB;
  return q;
}

std::string describe(const Layout& layout) {
  std::string s;
  for (const LayoutBuffer& b : layout.buffers) s += b.name + " " + std::to_string(b.bytes / kGiB) + " GiB; ";
  return s;
}

}  // namespace

TEST(AutoRows, EveryRankWithinFivePercentAndContiguous) {
  for (std::int64_t n : {0LL, 5LL, 1000LL, 133120LL, 1500000LL, 100000000LL, 1000000000LL})
    for (int P : {1, 2, 3, 4, 64, 1000, 4096}) {
      std::int64_t next = 0, largest = 0;
      for (int r = 0; r < P; ++r) {
        const RowRange rows = auto_rows(n, P, r);
        ASSERT_EQ(rows.begin, next);
        next = rows.end;
        largest = std::max(largest, rows.size());
      }
      ASSERT_EQ(next, n);
      // Within 5% of the mean, or one row more than the even split when rows are few.
      EXPECT_LE(double(largest), std::max(1.05 * double(n) / P, double((n + P - 1) / P))) << "n " << n << " P " << P;
    }
}

// Issue 13's done-when: for P in {64, 1000, 4096} and n in {133120, 1.5e6, 1e8, 1e9},
// every rank within its budget (8 GiB here, d = 1024 binary, 1e8 pairs in the answer) and
// within 1.05x of the mean rows.
TEST(Layout, BruteForceAndHashingAreBalancedAndFitAtScale) {
  for (Method method : {Method::Brute, Method::Hash})
    for (std::int64_t n : {133120LL, 1500000LL, 100000000LL, 1000000000LL})
      for (int P : {64, 1000, 4096}) {
        LayoutQuery q = self_join(n, P, method);
        q.theta = 800;  // hashing: Hamming radius 112
        const Layout layout = layout_of(q);
        ASSERT_EQ(static_cast<int>(layout.rows_a.size()), P);
        EXPECT_LE(layout.imbalance_a(), 1.05) << "n " << n << " P " << P;
        // Hashing 1e9 rows on 64 ranks does not fit 8 GiB (its substring tables, 4.7 GiB,
        // beside a ring of blocks of A, 3.7 GiB): the budget refuses it, so the layout must say so.
        if (method == Method::Hash && n == 1000000000LL && P == 64) {
          EXPECT_GT(layout.peak_bytes(), q.budget_bytes) << describe(layout);
        } else {
          EXPECT_LE(layout.peak_bytes(), q.budget_bytes) << "n " << n << " P " << P << ": " << describe(layout);
        }
      }
}

TEST(Layout, SketchIsBalancedWhereWholeGroupsAllowAndSpreadsItsProductOverTheGrid) {
  for (std::int64_t n : {133120LL, 1500000LL, 100000000LL, 1000000000LL})
    for (int P : {64, 1000, 4096}) {
      const LayoutQuery q = self_join(n, P, Method::Sketch);
      const Layout layout = layout_of(q);
      SCOPED_TRACE("n " + std::to_string(n) + " P " + std::to_string(P) + ": grid " + layout.grid.str() + ", k_block " +
                   std::to_string(layout.k_block) + ": " + describe(layout));
      EXPECT_EQ(layout.grid.rows * layout.grid.cols, P);
      // Groups of 64 live on one rank each: balanced when there are 21 per rank (1344 rows);
      // below that no split into whole groups is (133120 rows on 1000 ranks: 2080 groups).
      if (n >= kTilesPerPart * 64 * P) {
        EXPECT_LE(layout.imbalance_a(), 1.05);
      }
      EXPECT_LE(layout.peak_bytes(), q.budget_bytes);
      // No rank's part of S_A, S_B^T or a panel passes the 32-bit counts inside PBLAS.
      for (const LayoutBuffer& b : layout.buffers)
        if (b.use == BufferUse::Working) {
          EXPECT_LT(b.bytes / 4, double(INT_MAX)) << b.name;
        }
    }
}

// The inner block: d in one block while S_A and S_B^T take under a quarter of the budget
// (the fast case, as today); cut so both spread over the grid when they would not. Before
// issue 13 S_B^T lived on one process row: 1e9 rows in groups of 64 at d = 1024 put 32 GiB
// of S_A on each rank of the first process column of a 64-rank grid.
TEST(Layout, SketchCutsTheInnerDimensionOnlyWhenOneBlockWouldNotFit) {
  LayoutQuery small = self_join(1 << 20, 4, Method::Sketch);
  EXPECT_EQ(layout_of(small).k_block, 1024);
  LayoutQuery large = self_join(1000000000LL, 64, Method::Sketch);
  const Layout cut = layout_of(large);
  EXPECT_LT(cut.k_block, 1024);
  EXPECT_EQ(cut.k_block % 64, 0);
  large.budget_bytes = 0;  // no budget: one block, and S_A no longer fits 8 GiB on a rank
  const Layout whole = layout_of(large);
  EXPECT_EQ(whole.k_block, 1024);
  EXPECT_GT(whole.peak_bytes(), 8 * kGiB) << describe(whole);
  EXPECT_LT(cut.peak_bytes(), whole.peak_bytes() / 2) << describe(cut);
}

TEST(Layout, BuffersFollowTheMethod) {
  const Layout brute = layout_of(self_join(1 << 20, 4, Method::Brute));
  const double rows = (1 << 20) / 4 * 128.0;
  EXPECT_DOUBLE_EQ(brute.bytes_of(BufferUse::Rows), rows);
  EXPECT_DOUBLE_EQ(brute.bytes_of(BufferUse::Working), 2 * rows);  // two ring buffers of B
  EXPECT_DOUBLE_EQ(brute.bytes_of(BufferUse::Answer), 3 * 24.0 * 1e8 / 4 + 48.0 * 1048576);
  LayoutQuery one = self_join(1 << 20, 1, Method::Brute);
  EXPECT_DOUBLE_EQ(layout_of(one).bytes_of(BufferUse::Working), 0);  // no ring at one rank
  LayoutQuery join = self_join(1 << 20, 4, Method::Brute);
  join.self_join = false;
  join.n_b = 1 << 21;
  EXPECT_DOUBLE_EQ(layout_of(join).bytes_of(BufferUse::Rows), rows * 3);  // A's block and B's twice as large
}

// The prefix filter's buffers on top of brute force's ring: its rotated rows grow with the
// prefix, its rotation with d^2, and rank 0's principal axes are there too.
TEST(Layout, PrefixAddsItsRotatedRowsAndAxes) {
  LayoutQuery q = self_join(1 << 20, 4, Method::Brute);
  q.mode = Mode::Real;
  q.d = 512;
  const Layout brute = layout_of(q);
  q.method = Method::Prefix;
  const Layout by_name = layout_of(q);  // k = 128
  q.prefix_k = 256;
  const Layout wider = layout_of(q);
  const double rows = (1 << 20) / 4;
  EXPECT_GE(by_name.bytes_of(BufferUse::Working) - brute.bytes_of(BufferUse::Working),
            rows * (4 * 128 + 24) + 8.0 * 512 * 512)
      << describe(by_name);
  EXPECT_NEAR(wider.bytes_of(BufferUse::Working) - by_name.bytes_of(BufferUse::Working), 2 * rows * 4 * 128, 1.0);
  EXPECT_EQ(by_name.bytes_of(BufferUse::Rows), brute.bytes_of(BufferUse::Rows));
  EXPECT_EQ(PrefixCheck::k_by_name(4), 4);  // never past d
  EXPECT_EQ(PrefixCheck::k_by_name(20), 8);
}
