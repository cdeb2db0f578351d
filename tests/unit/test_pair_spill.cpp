// PairSpill without MPI: runs of random pairs (repeats inside and across runs) come back
// whole, in order, window by window; the sampled bound is never below the true count and
// windows chosen by it stay within their share; the spill file has no name at any time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "answer/pair_spill.hpp"

using namespace hipi;
namespace fs = std::filesystem;

namespace {

fs::path fresh_dir() {
  fs::path dir = fs::temp_directory_path() / ("hipi-spill-unit-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::vector<Pair> random_pairs(std::size_t count, std::int64_t rows, std::mt19937_64& rng) {
  std::uniform_int_distribution<std::int64_t> row(0, rows - 1), col(0, 999);
  std::vector<Pair> pairs(count);
  for (Pair& p : pairs) {
    p = {row(rng), col(rng), 0};
    p.ip = static_cast<double>(p.i * 1000 + p.j);  // a value the pair's key decides
  }
  return pairs;
}

std::int64_t below(const std::vector<Pair>& sorted, std::int64_t row_end) {
  return std::lower_bound(sorted.begin(), sorted.end(), Pair{row_end, -1, 0}, pair_key_less) - sorted.begin();
}

}  // namespace

TEST(PairSpill, WindowsGiveBackEveryPairOnceInOrderWithinTheirShare) {
  const fs::path dir = fresh_dir();
  std::mt19937_64 rng(11);
  const std::int64_t rows = 5000;
  std::vector<Pair> all;
  PairSpill spill(dir.string(), 30000);
  std::vector<Pair> held;
  for (int round = 0; round < 20; ++round) {
    std::vector<Pair> more = random_pairs(7000, rows, rng);
    all.insert(all.end(), more.begin(), more.end());
    held.insert(held.end(), more.begin(), more.end());
    spill.hold(held);  // spills once held reaches 30000 pairs
    EXPECT_LT(held.size(), 30000u);
  }
  spill.spill(held);
  EXPECT_TRUE(held.empty());
  EXPECT_GE(spill.runs(), 4u);
  EXPECT_TRUE(fs::is_empty(dir)) << "the spill file must have no name";
  sort_pairs(all);
  std::vector<Pair> unique = all;
  unique.erase(std::unique(unique.begin(), unique.end()), unique.end());

  // The bound: never below the pairs not yet taken (repeats across runs count twice).
  for (std::int64_t end : {0L, 1L, 17L, 2500L, 4999L, 5000L, 7000L})
    EXPECT_GE(spill.bound_below(end), below(unique, end)) << end;

  std::vector<Pair> got;
  const std::int64_t share = 20000;
  std::int64_t begin = 0;
  int windows = 0;
  while (begin < rows) {
    const std::int64_t end = spill.rows_within(begin, rows, share);
    ASSERT_GT(end, begin);
    ASSERT_LE(end, rows);
    std::vector<Pair> window;
    spill.take_below(end, window);
    EXPECT_LE(static_cast<std::int64_t>(window.size()), share);
    EXPECT_TRUE(std::is_sorted(window.begin(), window.end(), pair_key_less));
    for (const Pair& p : window) EXPECT_TRUE(p.i >= begin && p.i < end);
    got.insert(got.end(), window.begin(), window.end());
    begin = end;
    ++windows;
  }
  EXPECT_GT(windows, 5);
  // Repeats inside a run are dropped; across runs they stay (the sort across ranks drops them).
  std::sort(got.begin(), got.end(), pair_key_less);
  got.erase(std::unique(got.begin(), got.end()), got.end());
  EXPECT_EQ(got, unique);
  std::int64_t visited = 0;
  spill.each([&](const Pair&) { ++visited; });
  EXPECT_EQ(visited, spill.pairs());
  fs::remove_all(dir);
}

TEST(PairSpill, OneRowPastTheShareIsAWindowOfItsOwn) {
  const fs::path dir = fresh_dir();
  PairSpill spill(dir.string(), 1);
  std::vector<Pair> pairs;
  for (std::int64_t j = 0; j < 50000; ++j) pairs.push_back({3, j, 1.0});
  pairs.push_back({4, 0, 1.0});
  spill.spill(pairs);
  EXPECT_EQ(spill.rows_within(0, 10, 1000), 3);  // rows 0..2 hold nothing, row 3 alone is past the share
  std::vector<Pair> window;
  spill.take_below(3, window);
  EXPECT_TRUE(window.empty());
  EXPECT_EQ(spill.rows_within(3, 10, 1000), 4);
  spill.take_below(4, window);
  EXPECT_EQ(window.size(), 50000u);
  EXPECT_EQ(spill.rows_within(4, 10, 1000), 10);
  fs::remove_all(dir);
}

TEST(SpillLimits, TheTestVariableLowersBoth) {
  ::setenv("HIPI_TEST_SPILL_PAIRS", "123", 1);
  const SpillLimits low = SpillLimits::of(MemoryBudget{std::int64_t{1} << 40});
  ::unsetenv("HIPI_TEST_SPILL_PAIRS");
  EXPECT_EQ(low.held, 123);
  EXPECT_EQ(low.window, 123);
  const SpillLimits big = SpillLimits::of(MemoryBudget{std::int64_t{1} << 40});
  EXPECT_GT(big.held, std::int64_t{1} << 30);  // a quarter of a TiB in pairs of 24 bytes
  EXPECT_GE(SpillLimits::of(MemoryBudget{1}).window, std::int64_t{1} << 16);
}
