// --method hash (exact multi-index hashing) gives brute force's output at every rank count,
// for A x B and self-joins, with and without --abs, at moderate to high thresholds.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>

#include "core/matrix_blocks.hpp"
#include "methods/hash/hash_solver.hpp"
#include "methods/solve_method.hpp"
#include "mpi/fixtures.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

TEST(HashMethod, EqualsBruteForce) {
  Comm world;
  SharedTempDir dir(world);
  for (std::int64_t d : {64, 100, 256}) {
    const std::int64_t na = 500, nb = 420;
    const auto a = random_signs(na, d, 30 + d);
    const auto b = random_signs(nb, d, 40 + d, &a);  // every 4th row near a row of A
    const std::string file = dir.path("in" + std::to_string(d) + ".h5");
    write_dataset(world, file, "/A", {na, d}, a, true);
    write_dataset(world, file, "/B", {nb, d}, b);
    for (double rho : {0.3, 0.6, 0.8})
      for (bool self : {false, true})
        for (bool abs : {false, true}) {
          Solved results[2];
          for (int k = 0; k < 2; ++k) {
            SolveOptions o;
            o.problem.a = {file, "/A"};
            if (!self) o.problem.b = DatasetRef{file, "/B"};
            o.problem.mode = Mode::Binary;
            o.problem.value = rho;
            o.problem.abs = abs;
            o.method = k == 0 ? Method::Brute : Method::Hash;
            o.out = dir.path("out" + std::to_string(k) + ".h5");
            results[k] = solve_and_read(world, o);
          }
          EXPECT_EQ(results[1].pairs, results[0].pairs)
              << "d " << d << " rho " << rho << " self " << self << " abs " << abs;
          if (world.rank() == 0) {
            EXPECT_EQ(results[1].method, "hash");
            // Every 4th row of B is a row of A with 1 in 6 coordinates flipped: <a,b> ~ 0.67 d.
            if (rho == 0.6 && !self) {
              EXPECT_GT(results[0].pairs.size(), 50u) << "d " << d;
            }
          }
        }
  }
}

// Identical and near-identical rows agree on every substring, so each of their pairs is
// found once per substring (and, under --abs, on the complement's substrings too for the
// negated copies): hash_solve must still return each pair once, on one rank, also when a
// holder takes the pairs every few dozen (as the spill does).
TEST(HashMethod, PairsFoundOnManySubstringsComeOnce) {
  Comm world;
  const std::int64_t n = 96, d = 128;
  std::vector<std::int8_t> values = random_signs(n, d, 81);
  for (std::int64_t r = 1; r < 50; ++r)  // rows 0..39: copies of row 0, a few with one flip; 40..49 negated
    for (std::int64_t k = 0; k < d; ++k)
      values[r * d + k] = values[k] * (r % 3 == 0 && k == r ? -1 : 1) * (r >= 40 ? -1 : 1);
  const BitMatrix all = BitMatrix::pack(values, n, d);
  const RowRange mine = row_block(n, world.size(), world.rank());
  LocalRows<BitMatrix> rows{mine, BitMatrix(mine.size(), d)};
  for (std::int64_t r = mine.begin; r < mine.end; ++r)
    std::copy(all.row(r), all.row(r) + all.stride(), rows.rows.row(r - mine.begin));
  for (bool self : {false, true})
    for (bool abs : {false, true})
      for (std::int64_t every : {0, 50}) {
        const std::string what =
            "self " + std::to_string(self) + " abs " + std::to_string(abs) + " every " + std::to_string(every);
        const Threshold threshold{std::ceil(0.9 * d), abs};
        std::vector<Pair> held;
        PairHolder holder;
        if (every > 0)
          holder = {
              [&](std::vector<Pair>& found) { held.insert(held.end(), found.begin(), found.end()), found.clear(); },
              every};
        const HashRun run = hash_solve(world, rows, self ? nullptr : &rows, threshold, nullptr, holder);
        EXPECT_GT(run.layout.m, 1);
        held.insert(held.end(), run.pairs.begin(), run.pairs.end());
        std::vector<Pair> distinct = held;
        sort_pairs(distinct);
        drop_repeated_pairs(distinct);
        EXPECT_EQ(distinct.size(), held.size()) << what << ": a pair came twice";
        if (every > 0 && static_cast<std::int64_t>(held.size()) >= every) {
          EXPECT_LT(run.pairs.size(), held.size()) << what << ": the holder took nothing";
        }
        const auto total = boost::mpi::all_reduce(world, static_cast<std::int64_t>(held.size()), std::plus<>());
        const std::vector<Pair> want = naive_pairs(values, self ? nullptr : &values, d, threshold);
        EXPECT_EQ(total, static_cast<std::int64_t>(want.size())) << what;
      }
}

// Under auto the measure step builds this rank's whole index to time sample queries; the
// run must use that index, not build another, and only when it indexes the same rows
// (checked by their contents): an index kept from other rows of the same shape is rebuilt.
TEST(HashMethod, TheMeasuredIndexIsBuiltOnceAndOnlyReusedForTheSameRows) {
  Comm world;
  const std::int64_t n = 3000, d = 64;
  // Random rows, and every 10th row's successor a copy with two coordinates flipped
  // (<a, b> = 56 >= 0.75 d): pairs to find.
  const auto values_of = [&](std::uint64_t seed) {
    std::vector<std::int8_t> values = random_signs(n, d, seed);
    for (std::int64_t r = 0; r + 1 < n; r += 10)
      for (std::int64_t k = 0; k < d; ++k)
        values[(r + 1) * d + k] =
            static_cast<std::int8_t>(values[r * d + k] * (k == r % d || k == (r + 7) % d ? -1 : 1));
    return values;
  };
  const auto rows_of = [&](std::uint64_t seed) {
    const std::vector<std::int8_t> values = values_of(seed);
    const BitMatrix all = BitMatrix::pack(values, n, d);
    const RowRange mine = row_block(n, world.size(), world.rank());
    LocalRows<BitMatrix> rows{mine, BitMatrix(mine.size(), d)};
    for (std::int64_t r = mine.begin; r < mine.end; ++r)
      std::copy(all.row(r), all.row(r) + all.stride(), rows.rows.row(r - mine.begin));
    return rows;
  };
  const LocalRows<BitMatrix> first = rows_of(91), other = rows_of(92);
  SolveOptions options;
  options.problem.mode = Mode::Binary;
  options.problem.value = 0.75;
  const Threshold t = options.problem.threshold(d);
  StageTimes times;
  MethodScratch scratch;
  const MemoryBudget budget = MemoryBudget::of(world, 0);
  Checkpointer no_checkpoints(world, CheckpointConfig{});
  std::optional<Resumed> none;
  const nlohmann::ordered_json plan;
  ResumeState resume{no_checkpoints, none, plan};
  const SolveMethod& hash = solve_method(Method::Hash);
  const auto run_on = [&](const LocalRows<BitMatrix>& rows) {
    const MethodInput<BitMatrix> in{world, rows, nullptr, n, n, t, options, times, scratch, budget, nullptr};
    return gather_answer(world, hash.run(in, nullptr, resume).local);
  };
  const std::int64_t before = MultiIndex::built_count();
  ProblemShape shape;
  hash.measure(MethodInput<BitMatrix>{world, first, nullptr, n, n, t, options, times, scratch, budget, nullptr}, shape);
  ASSERT_TRUE(shape.measured_seconds.count(Method::Hash));
  EXPECT_EQ(MultiIndex::built_count() - before, 1);
  const std::vector<Pair> got = run_on(first);
  EXPECT_EQ(MultiIndex::built_count() - before, 1) << "the run built the measured index again";
  // Measured on `first`, run on `other`: the kept index is not these rows'.
  hash.measure(MethodInput<BitMatrix>{world, first, nullptr, n, n, t, options, times, scratch, budget, nullptr}, shape);
  const std::vector<Pair> got_other = run_on(other);
  EXPECT_EQ(MultiIndex::built_count() - before, 3);
  if (world.rank() == 0) {
    const auto want = [&](std::uint64_t seed) {
      return naive_pairs(values_of(seed), static_cast<const std::vector<std::int8_t>*>(nullptr), d, t);
    };
    EXPECT_EQ(got, want(91));
    EXPECT_EQ(got_other, want(92));
    EXPECT_GE(got.size(), 300u);
  }
}
