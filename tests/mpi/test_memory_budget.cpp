// --memory-mib: a job past its budget per rank is refused on every rank alike, with the
// sizes, and leaves no output: before the rows are read, and while brute force's answer
// grows past what the sort could hold when there is no output file to spill beside.
#include <gtest/gtest.h>
#include <malloc.h>

#include <boost/mpi/collectives.hpp>
#include <initializer_list>
#include <string>

#include "io/sparse_input.hpp"
#include "mpi/fixtures.hpp"
#include "runtime/memory.hpp"
#include "solve/solve_answer.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {
// Runs the solve, which must be refused on every rank alike with a message holding every
// one of `needles`, and leave no output. `unrefused` says what should not have fit.
void expect_refused(const Comm& world, const SolveOptions& o, std::initializer_list<const char*> needles,
                    const std::string& unrefused) {
  try {
    run_solve(world, o);
    ADD_FAILURE() << unrefused;
  } catch (const InputError& e) {
    EXPECT_TRUE(e.collective());
    for (const char* needle : needles) EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
  EXPECT_FALSE(exists(o.out));
}
// Collective: the most any rank holds now, in MiB, once freed pages went back to the system.
std::int64_t held_mib(const Comm& world) {
  malloc_trim(0);
  return boost::mpi::all_reduce(world, resident_bytes() >> 20, boost::mpi::maximum<std::int64_t>());
}

// 4096 distinct rows of d = 64 whose every pair is heavy at rho 0.5 (the bits of r in the
// last 12 coordinates: <a_i, a_j> >= 64 - 24 >= 32): 8,386,560 pairs, 201 MiB, as file:/A.
constexpr std::int64_t kHeavyRows = 4096, kHeavyD = 64;
void write_all_pairs_heavy(const Comm& world, const std::string& file) {
  std::vector<std::int8_t> v(static_cast<std::size_t>(kHeavyRows * kHeavyD), 1);
  for (std::int64_t r = 0; r < kHeavyRows; ++r)
    for (int b = 0; b < 12; ++b)
      if ((r >> b) & 1) v[static_cast<std::size_t>(r * kHeavyD + kHeavyD - 1 - b)] = -1;
  write_dataset(world, file, "/A", {kHeavyRows, kHeavyD}, v, true);
}

}  // namespace

// A budget the rows cannot fit in is refused before they are read, on every rank alike.
TEST(MemoryBudget, RowsPastTheBudgetAreRefusedBeforeReading) {
  Comm world;
  SharedTempDir dir(world);
  const std::int64_t n = 64, d = 64;
  const std::string file = dir.path("rows.h5");
  write_dataset(world, file, "/A", {n, d}, random_signs(n, d, 4), true);
  SolveOptions o = self_join_options(file, Mode::Binary, 0.5, Method::Brute, dir.path("out.h5"));
  o.memory_mib = 1;  // less than any process holds
  expect_refused(world, o, {"past the budget of 1 MiB per rank (--memory-mib 1)", "rows of"},
                 "a 1 MiB budget was not refused");
}

// The 4096 rows whose every pair is heavy (write_all_pairs_heavy): 8,386,560 pairs, 201 MiB,
// which the sort would hold twice again; a budget of what the ranks hold now plus 100 MiB cannot take that in memory.
// With no output file (the library's answer in memory) the job is refused while brute force's answer grows; with one,
// the pairs are spilled beside it and the whole answer is written.
TEST(MemoryBudget, AnAnswerPastTheBudgetIsSpilledOrRefusedBeforeTheSort) {
  Comm world;
  if (!kResidentTracksHeld) GTEST_SKIP() << "resident memory does not track allocations under ASan";
  SharedTempDir dir(world);
  const std::int64_t n = kHeavyRows;  // every pair i < j heavy
  const std::string file = dir.path("distinct.h5");
  write_all_pairs_heavy(world, file);
  const std::int64_t held = held_mib(world);
  const std::int64_t budget_mib = held + 100;

  // No output file (the library's answer in memory, hipi.hpp): refused while it grows.
  SolveOptions o = self_join_options(file, Mode::Binary, 0.5, Method::Brute, "");
  o.memory_mib = budget_mib;
  try {
    solve_answer(world, inspect_input(world, o.problem.a), nullptr, o,
                 {read_binary_rows, read_real_rows, read_sparse_rows});
    ADD_FAILURE() << "an answer of 8.4 million pairs fit in " << budget_mib << " MiB per rank";
  } catch (const InputError& e) {
    EXPECT_TRUE(e.collective());
    for (const char* needle : {"heavy pairs this rank holds", "past the budget of"})
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }

  // To a file: spilled beside it, and the whole answer written.
  o.out = dir.path("out.h5");
  const test::Solved got = solve_and_read(world, o);
  if (world.rank() != 0) return;
  EXPECT_EQ(got.pairs.size(), static_cast<std::size_t>(n * (n - 1) / 2));
  ASSERT_TRUE(got.parameters.contains("spilled"));
  EXPECT_GT(got.parameters["spilled"]["pairs"].get<std::int64_t>(), 0);
}

// Brute force's ring holds up to two blocks of B besides its own: at 2 or more ranks, blocks
// of 64 MiB (4096 rows of d = 4096 floats per rank) that fit the budget but whose ring
// buffers (64 or 128 MiB more) do not are refused before the compute starts. The margins
// (32 MiB either way) are twice the noise seen in this process's resident memory.
TEST(MemoryBudget, RingBuffersPastTheBudgetAreRefusedBeforeTheCompute) {
  Comm world;
  if (!kResidentTracksHeld) GTEST_SKIP() << "resident memory does not track allocations under ASan";
  if (world.size() < 2) GTEST_SKIP() << "no ring buffers at one rank";
  SharedTempDir dir(world);
  const std::int64_t n = 4096 * world.size(), d = 4096;
  const std::string file = dir.path("wide.h5");
  write_dataset(world, file, "/A", {n, d}, random_normals(n, d, 8), true);
  const std::int64_t held = held_mib(world);
  SolveOptions o = self_join_options(file, Mode::Binary, 0.5, Method::Brute, dir.path("out.h5"));
  o.memory_mib = held + 64 + 32;
  o.problem.mode = Mode::Real;
  o.problem.value = 1e9;
  expect_refused(world, o, {"ring buffer"},
                 std::string("the ring's buffers fit in ") + std::to_string(o.memory_mib) + " MiB per rank");
}

// The sketch's working space (layout.hpp: the sketches built, S_A, S_B^T in the product's
// layout, a panel of C) with groups of one row: about three times the rows again, here
// 4096 rows of d = 4096 floats per rank (64 MiB) and a 256 MiB panel. A budget with room
// for the rows and 32 MiB more is refused before any sketch is built.
TEST(MemoryBudget, SketchBuffersPastTheBudgetAreRefusedBeforeTheCompute) {
  Comm world;
  if (!kResidentTracksHeld) GTEST_SKIP() << "resident memory does not track allocations under ASan";
  SharedTempDir dir(world);
  const std::int64_t n = 4096 * world.size(), d = 4096;
  const std::string file = dir.path("wide.h5");
  write_dataset(world, file, "/A", {n, d}, random_normals(n, d, 9), true);
  const std::int64_t held = held_mib(world);
  SolveOptions o = self_join_options(file, Mode::Real, 1e9, Method::Sketch, dir.path("out.h5"));
  o.sketch.group_a = o.sketch.group_b = 1;
  o.sketch.panel_mib = 256;
  o.memory_mib = held + 64 + 32;
  expect_refused(world, o, {"the sketch's buffers"},
                 std::string("the sketch's buffers fit in ") + std::to_string(o.memory_mib) + " MiB per rank");
}

// Multi-index hashing's index is much larger than its packed rows: 65536 rows of d = 1024
// per rank (8 MiB packed) index into 52 substring tables of 189 MiB. A budget with room for
// the rows and half the index refuses `--method hash` before any table is built, and auto
// does not price hashing (its sample would build the whole index) but still plans.
TEST(MemoryBudget, HashTablesPastTheBudgetAreRefusedBeforeTheyAreBuilt) {
  Comm world;
  if (!kResidentTracksHeld) GTEST_SKIP() << "resident memory does not track allocations under ASan";
  SharedTempDir dir(world);
  const std::int64_t n = 65536 * world.size(), d = 1024;
  const std::string file = dir.path("codes.h5");
  write_dataset(world, file, "/A", {n, d}, random_signs(n, d, 10), true);
  const std::int64_t held = held_mib(world);
  SolveOptions o = self_join_options(file, Mode::Binary, 0.9, Method::Hash, dir.path("out.h5"));
  o.memory_mib = held + 8 + 95;  // the rows, half the index
  expect_refused(world, o, {"multi-index hashing's substring tables (189.", "past the budget of"},
                 std::string("hashing's 189 MiB index fit in ") + std::to_string(o.memory_mib) + " MiB per rank");

  o.method = Method::Auto;
  o.plan_only = true;
  const SolveSummary plan = run_solve(world, o);
  const std::string why = plan.plan["why"].get<std::string>();
  EXPECT_NE(why.find("hash: not priced: its substring tables"), std::string::npos) << why;
  EXPECT_NE(plan.method, Method::Hash);
}

// The sketch keeps every pair it has verified, to complete their rows and count their
// catches across repetitions: on the 4096 rows whose every pair is heavy
// (write_all_pairs_heavy) under a budget of what the ranks hold plus 100 MiB, it is refused, on
// every rank alike and naming the pairs, after the repetition whose pairs passed it, not
// killed by the kernel or left to pass it further.
TEST(MemoryBudget, SketchPairsPastTheBudgetAreRefusedAsTheyGrow) {
  Comm world;
  if (!kResidentTracksHeld) GTEST_SKIP() << "resident memory does not track allocations under ASan";
  SharedTempDir dir(world);
  const std::string file = dir.path("distinct.h5");
  write_all_pairs_heavy(world, file);
  const std::int64_t held = held_mib(world);
  SolveOptions o = self_join_options(file, Mode::Binary, 0.5, Method::Sketch, dir.path("out.h5"));
  o.memory_mib = held + 100;
  expect_refused(
      world, o, {"heavy pairs the sketch holds", "past the budget of"},
      std::string("the sketch's 8.4 million pairs fit in ") + std::to_string(o.memory_mib) + " MiB per rank");
}
