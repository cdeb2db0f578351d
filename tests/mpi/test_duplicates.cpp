// Exact copies of rows are collapsed before the methods run and expanded at output: every
// method's file equals the naive answer on the full data, at every rank count, binary and
// real, self-join and A x B, with and without --abs; find_duplicates reports exactly the
// rows equal to an earlier row, also with MPI transfers in small pieces.
#include <gtest/gtest.h>

#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <fstream>
#include <map>

#include "answer/copy_expansion.hpp"
#include "answer/duplicates.hpp"
#include "io/input.hpp"
#include "io/pair_file.hpp"
#include "methods/sketch/sketches.hpp"
#include "mpi/fixtures.hpp"
#include "parallel/row_exchange.hpp"
#include "runtime/memory.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

// Rows of `v` (row-major, d columns) copied over others: `copies` of row `from` at rows
// from + 1, from + 1 + step, ... (wrapping), so copies land on several ranks' blocks.
template <class T>
void plant_copies(std::vector<T>& v, std::int64_t n, std::int64_t d, std::int64_t from, std::int64_t copies,
                  std::int64_t step) {
  for (std::int64_t c = 0; c < copies; ++c) {
    const std::int64_t to = (from + 1 + c * step) % n;
    if (to == from) continue;
    std::copy(v.begin() + from * d, v.begin() + (from + 1) * d, v.begin() + to * d);
  }
}

// The rows equal to an earlier row, as (row, first row of its value), by plain comparison.
template <class T>
std::vector<std::pair<std::int64_t, std::int64_t>> naive_copies(const std::vector<T>& v, std::int64_t n,
                                                                std::int64_t d) {
  std::map<std::vector<T>, std::int64_t> first;
  std::vector<std::pair<std::int64_t, std::int64_t>> copies;
  for (std::int64_t r = 0; r < n; ++r) {
    const auto [at, inserted] = first.emplace(std::vector<T>(v.begin() + r * d, v.begin() + (r + 1) * d), r);
    if (!inserted) copies.emplace_back(r, at->second);
  }
  return copies;
}

}  // namespace

TEST(Duplicates, EveryMethodGivesTheFullAnswer) {
  Comm world;
  SharedTempDir dir(world);
  const std::int64_t na = 600, nb = 500, d = 128;
  // Clusters of near-copies and 40 identical rows, plus exact copies of a few rows of A in A
  // and in B (B shares the bases, so the copies pair across the two).
  std::vector<std::int8_t> a = clustered_signs(na, d, 5, 9, {6, 4}, 0.05, 40);
  std::vector<std::int8_t> b = clustered_signs(nb, d, 6, 9, {5}, 0.05, 30);
  plant_copies(a, na, d, 3, 12, 37);
  plant_copies(a, na, d, 100, 3, 211);
  std::copy(a.begin() + 3 * d, a.begin() + 4 * d, b.begin() + 7 * d);  // a copy of row 3 of A in B
  plant_copies(b, nb, d, 7, 5, 53);
  const std::string file = dir.path("in.h5");
  write_dataset(world, file, "/A", {na, d}, a, true);
  write_dataset(world, file, "/B", {nb, d}, b);
  for (const double rho : {0.6, 0.9})
    for (const bool self : {true, false})
      for (const bool abs : {false, true}) {
        const Threshold t{std::ceil(rho * d), abs};
        const std::vector<Pair> want = naive_pairs(a, self ? nullptr : &b, d, t);
        for (const Method method : {Method::Brute, Method::Hash, Method::Sketch, Method::Auto}) {
          SolveOptions o = self_join_options(file, Mode::Binary, rho, method, dir.path("out.h5"));
          o.problem.abs = abs;
          if (!self) o.problem.b = DatasetRef{file, "/B"};
          const Solved got = solve_and_read(world, o);
          if (world.rank() != 0) continue;
          EXPECT_TRUE(same_pairs(got.pairs, want))
              << method_name(method) << " rho " << rho << " self " << self << " abs " << abs;
          EXPECT_GT(got.parameters["duplicate_rows"]["a"].get<std::int64_t>(), 40);
        }
        if (world.rank() == 0 && rho == 0.9 && self) {
          EXPECT_GT(want.size(), 780u);  // 40 identical rows alone make 780 pairs
        }
      }
}

TEST(Duplicates, RealRowsCollapseToo) {
  Comm world;
  SharedTempDir dir(world);
  const std::int64_t n = 300, d = 48;
  std::vector<float> a = random_normals(n, d, 17);
  plant_copies(a, n, d, 10, 25, 13);
  plant_copies(a, n, d, 200, 2, 50);
  const std::string file = dir.path("real.h5");
  write_dataset(world, file, "/A", {n, d}, a, true);
  for (const bool abs : {false, true}) {
    // tau between the copies' squared norm and the background: only copies and a few pairs.
    const double tau = 30;
    const Threshold t{tau, abs};
    const std::vector<Pair> want = naive_pairs<float>(a, nullptr, d, t);
    for (const Method method : {Method::Brute, Method::Sketch, Method::Auto}) {
      SolveOptions o = self_join_options(file, Mode::Real, tau, method, dir.path("out.h5"));
      o.problem.abs = abs;
      const Solved got = solve_and_read(world, o);
      if (world.rank() == 0) {
        EXPECT_TRUE(same_pairs(got.pairs, want, 1e-9)) << method_name(method) << " abs " << abs;
        EXPECT_GT(want.size(), 300u);  // 26 copies: 325 pairs among them (|row|^2 ~ 48 > 30)
      }
    }
  }
}

TEST(Duplicates, FindsExactlyTheRowsEqualToAnEarlierRow) {
  Comm world;
  const std::int64_t n = 257, d = 70;
  std::vector<std::int8_t> v = random_signs(n, d, 3);
  plant_copies(v, n, d, 0, 30, 7);
  plant_copies(v, n, d, 250, 4, 1);  // wraps around to rows 251..254
  plant_copies(v, n, d, 40, 1, 100);
  for (const std::int64_t limit : {std::int64_t{0}, std::int64_t{24}}) {
    std::optional<LoweredMpiLimit> lowered;
    if (limit) lowered.emplace(limit);
    const RowRange mine = row_block(n, world.size(), world.rank());
    LocalRows<BitMatrix> rows{
        mine, BitMatrix::pack(std::vector<std::int8_t>(v.begin() + mine.begin * d, v.begin() + mine.end * d),
                              mine.size(), d)};
    const Duplicates dups = find_duplicates(world, rows, n, MemoryBudget::of(world, 0));
    const auto want = naive_copies(v, n, d);
    ASSERT_EQ(dups.copies(), static_cast<std::int64_t>(want.size())) << "limit " << limit;
    for (const auto& [row, rep] : want) EXPECT_EQ(dups.rep_of(row), rep) << row;
    for (const std::int64_t rep : dups.reps())
      EXPECT_EQ(dups.self_product(rep), static_cast<double>(d));  // +-1 rows: <x, x> = d
    // The collapsed rows are the distinct rows in input order, in any block layout.
    const RowRange block = row_block(dups.distinct(), world.size(), world.size() - 1 - world.rank());
    const LocalRows<BitMatrix> distinct = collapse_rows(world, rows, dups, block);
    for (std::int64_t k = block.begin; k < block.end; ++k)
      for (std::int64_t c = 0; c < d; ++c)
        ASSERT_EQ(distinct.rows.value(k - block.begin, c), v[dups.original(k) * d + c]) << k;
  }
}

// Every rank holds the whole list of copies (Duplicates::held_bytes: 40 B a copy, 40 MiB
// for 2^20 rows of one value). On a budget of what each rank holds now plus 16 MiB it is
// refused on every rank, naming the copies, before it is gathered; with 256 MiB it is found.
TEST(Duplicates, AListPastTheBudgetIsRefusedBeforeItIsGathered) {
  Comm world;
  if (!kResidentTracksHeld) GTEST_SKIP() << "resident memory does not track allocations under ASan";
  const std::int64_t n = std::int64_t{1} << 20, d = 64, mib = 1 << 20;
  const RowRange mine = row_block(n, world.size(), world.rank());
  const LocalRows<BitMatrix> rows{
      mine, BitMatrix::pack(std::vector<std::int8_t>(static_cast<std::size_t>(mine.size() * d), 1), mine.size(), d)};
  MemoryBudget budget;
  budget.bytes = resident_bytes() + 16 * mib;
  try {
    find_duplicates(world, rows, n, budget);
    ADD_FAILURE() << "2^20 copies gathered within 16 MiB";
  } catch (const InputError& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_NE(std::string(e.what()).find("1048575 rows that are copies of others"), std::string::npos) << e.what();
  }
  budget.bytes = resident_bytes() + 256 * mib;
  EXPECT_EQ(find_duplicates(world, rows, n, budget).copies(), n - 1);
}

// Rows read as an even split move to the sketch's balanced tiles (auto at n < 1344 ranks):
// every rank gets exactly its rows; a layout already right is left as it is (no copy).
TEST(Relayout, RowsMoveToAnotherSplitUnchanged) {
  Comm world;
  const std::int64_t n = 1000, d = 70;
  const std::vector<std::int8_t> v = random_signs(n, d, 5);
  const RowRange mine = row_block(n, world.size(), world.rank());
  const LocalRows<BitMatrix> rows{
      mine,
      BitMatrix::pack(std::vector<std::int8_t>(v.begin() + mine.begin * d, v.begin() + mine.end * d), mine.size(), d)};
  const RowRange tiles = TiledRows{n, balanced_tile(n, world.size(), 3), world.size()}.rows(world.rank());
  EXPECT_FALSE(relayout_rows(world, rows, mine).has_value());
  const bool all_same = boost::mpi::all_reduce(world, tiles == mine, std::logical_and<bool>());
  ASSERT_EQ(relayout_rows(world, rows, tiles).has_value(), !all_same);
  if (all_same) return;  // one rank: both splits hold every row
  const LocalRows<BitMatrix> moved = *relayout_rows(world, rows, tiles);
  ASSERT_EQ(moved.range, tiles);
  ASSERT_EQ(moved.rows.rows(), tiles.size());
  for (std::int64_t k = tiles.begin; k < tiles.end; ++k)
    for (std::int64_t c = 0; c < d; ++c) ASSERT_EQ(moved.rows.value(k - tiles.begin, c), v[k * d + c]) << k;
}

// 3000 identical rows: 4,498,500 pairs, all of them copies' pairs, written while expanded
// under a budget of 1536 MiB per rank, which the report's measured peak respects. (The
// benchmark bench/large_answer.py runs the 15000-row case of issue 13.)
TEST(Duplicates, IdenticalRowsWithinTheMemoryBudget) {
  Comm world;
  SharedTempDir dir(world);
  const std::int64_t n = 3000, d = 64;
  const std::string file = dir.path("same.h5");
  write_dataset(world, file, "/A", {n, d}, std::vector<std::int8_t>(static_cast<std::size_t>(n * d), 1), true);
  SolveOptions o = self_join_options(file, Mode::Binary, 0.5, Method::Auto, dir.path("out.h5"));
  o.report = dir.path("report.json");
  o.memory_mib = 1536;
  const SolveSummary summary = run_solve(world, o);
  EXPECT_EQ(summary.pairs, n * (n - 1) / 2);
  if (world.rank() == 0) {
    const std::vector<Pair> pairs = read_pairs_file(o.out);
    ASSERT_EQ(static_cast<std::int64_t>(pairs.size()), n * (n - 1) / 2);
    std::int64_t at = 0;
    bool all = true;
    for (std::int64_t i = 0; i < n && all; ++i)
      for (std::int64_t j = i + 1; j < n && all; ++j, ++at)
        all = pairs[static_cast<std::size_t>(at)] == Pair{i, j, static_cast<double>(d)};
    EXPECT_TRUE(all) << "pair " << at << " is not (i, j, d) in order";
    std::ifstream in(o.report);
    const nlohmann::json report = nlohmann::json::parse(in);
    EXPECT_EQ(report["memory"]["budget_mib"].get<double>(), 1536.0);
    ASSERT_EQ(report["memory"]["measured_by_rank_mib"].size(), static_cast<std::size_t>(world.size()));
    ASSERT_EQ(report["memory"]["predicted_by_rank_mib"].size(), static_cast<std::size_t>(world.size()));
#if !defined(__SANITIZE_ADDRESS__)  // ASan's shadow memory and quarantine count in the peak
    EXPECT_LE(report["memory"]["measured_peak_mib"].get<double>(), 1536.0);
    for (const auto& rank_peak : report["memory"]["measured_by_rank_mib"]) EXPECT_LE(rank_peak.get<double>(), 1536.0);
#endif
    EXPECT_EQ(report["parameters"]["duplicate_rows"]["a"].get<std::int64_t>(), n - 1);
  }
}
