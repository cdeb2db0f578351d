// Detection on panels of C (detect.hpp), without MPI: every process of a simulated
// block-cyclic grid scans its local part, and together they must find exactly the entries
// a plain scan of the whole panel finds.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "core/random.hpp"
#include "methods/sketch/detect.hpp"

using namespace hipi;

namespace {

using Hits = std::set<std::pair<std::int64_t, std::int64_t>>;

// C[g, h - first_col] for a panel of `rows` x `cols`, values in about (-10, 10).
std::vector<float> panel(std::int64_t rows, std::int64_t cols, std::uint64_t seed) {
  RandomStream rng(seed, {1});
  std::vector<float> c(rows * cols);
  for (float& v : c) v = static_cast<float>(double(rng.below(2001)) / 100.0 - 10.0);
  return c;
}

Hits naive(const std::vector<float>& c, std::int64_t rows, std::int64_t cols, std::int64_t first_col,
           const DetectionRule& rule) {
  Hits hits;
  for (std::int64_t j = 0; j < cols; ++j)
    for (std::int64_t g = 0; g < rows; ++g) {
      const std::int64_t h = first_col + j;
      if (rule.self_join && g > h) continue;
      double v = c[j * rows + g];
      if (rule.self_join && g == h) v -= (*rule.self_terms)[g];
      if (std::abs(v) >= rule.threshold) hits.insert({g, h});
    }
  return hits;
}

// Every process (p, q) of a P x Q grid copies its local part and detects on it.
Hits distributed(const std::vector<float>& c, std::int64_t rows, std::int64_t cols, std::int64_t first_col,
                 std::int64_t block, int P, int Q, const DetectionRule& rule) {
  Hits hits;
  for (int p = 0; p < P; ++p)
    for (int q = 0; q < Q; ++q) {
      Descriptor d;
      d.m = rows;
      d.n = cols;
      d.mb = d.nb = block;
      d.grid_rows = P;
      d.grid_cols = Q;
      d.my_row = p;
      d.my_col = q;
      d.local_rows = block_cyclic_count(rows, block, p, P);
      d.local_cols = block_cyclic_count(cols, block, q, Q);
      d.ld = std::max<std::int64_t>(1, d.local_rows);
      std::vector<float> local(std::max<std::int64_t>(1, d.local_size()));
      for (std::int64_t lj = 0; lj < d.local_cols; ++lj)
        for (std::int64_t li = 0; li < d.local_rows; ++li)
          local[lj * d.ld + li] = c[block_cyclic_global(lj, block, q, Q) * rows + block_cyclic_global(li, block, p, P)];
      const std::int64_t n = detect_panel(local.data(), d, first_col, rule, [&](std::int64_t g, std::int64_t h) {
        EXPECT_TRUE(hits.insert({g, h}).second) << "found twice: " << g << ", " << h;
      });
      (void)n;
    }
  return hits;
}

}  // namespace

TEST(SketchDetect, ScanThresholdNeverExceedsTheExactThreshold) {
  for (double t : {0.1, 1.0 / 3, 7.0, 16777217.0, 1e30, 123456.789})
    EXPECT_LE(static_cast<double>(scan_threshold<float>(t)), t) << t;
  EXPECT_EQ(scan_threshold<double>(2.5), 2.5);
}

TEST(SketchDetect, EveryGridFindsExactlyWhatAPlainScanFinds) {
  const std::int64_t rows = 37, cols = 23;
  const std::vector<float> c = panel(rows, cols, 5);
  for (double t : {0.0, 9.0, 9.9, 10.5})
    for (auto [P, Q, block] : {std::tuple{1, 1, 4}, std::tuple{2, 1, 3}, std::tuple{2, 3, 5}, std::tuple{3, 2, 1}}) {
      const DetectionRule rule{t, false, nullptr};
      EXPECT_EQ(distributed(c, rows, cols, 0, block, P, Q, rule), naive(c, rows, cols, 0, rule))
          << "t " << t << " grid " << P << "x" << Q << " block " << block;
    }
}

TEST(SketchDetect, SelfJoinKeepsTheUpperTriangleLessTheSelfTerms) {
  // A panel of columns 10..32 of a 37-group self-join: entries with g > h are never
  // candidates, and the diagonal counts only after its self terms are subtracted: odd
  // diagonal entries are 5 in C (below T_det, so a plain scan of C would pass over them)
  // and -10 less their self terms.
  const std::int64_t rows = 37, cols = 23, first_col = 10;
  std::vector<float> c = panel(rows, cols, 9);
  std::vector<double> self_terms(rows, 0.0);
  for (std::int64_t g = first_col; g < rows && g < first_col + cols; ++g) {
    self_terms[g] = g % 2 ? 15.0 : 0.0;
    c[(g - first_col) * rows + g] = g % 2 ? 5.0f : 0.5f;
  }
  const DetectionRule rule{9.99, true, &self_terms};
  const Hits expected = naive(c, rows, cols, first_col, rule);
  for (std::int64_t g = first_col; g < first_col + cols; ++g) EXPECT_EQ(expected.count({g, g}), g % 2 ? 1u : 0u) << g;
  for (auto [P, Q, block] : {std::tuple{1, 1, 8}, std::tuple{2, 2, 3}, std::tuple{3, 1, 2}})
    EXPECT_EQ(distributed(c, rows, cols, first_col, block, P, Q, rule), expected) << P << "x" << Q << " " << block;
}
