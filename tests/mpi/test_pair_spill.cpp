// An answer past the memory budget (HIPI_TEST_SPILL_PAIRS lowers the limits to a few hundred
// pairs): every rank spills its pairs to disk, and the output made from them window by
// window is the naive answer on the full data, for every exact method, self-join and A x B,
// with exact copies of rows expanded, at 1-4 ranks; no file is left in the output's directory.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "answer/pair_spill.hpp"
#include "mpi/fixtures.hpp"
#include "runtime/memory.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

// Copies of row `from` over rows from + step, from + 2 step, ... (on several ranks' blocks).
void plant_copies(std::vector<std::int8_t>& v, std::int64_t n, std::int64_t d, std::int64_t from, int copies,
                  std::int64_t step) {
  for (int c = 1; c <= copies; ++c) {
    const std::int64_t to = (from + c * step) % n;
    std::copy(v.begin() + from * d, v.begin() + (from + 1) * d, v.begin() + to * d);
  }
}

// Files in `dir` other than the output.
std::size_t others(const std::string& dir) {
  std::size_t count = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) count += e.path().filename() != "out.h5";
  return count;
}

}  // namespace

TEST(SpilledAnswer, EqualsTheNaiveAnswerWithCopiesExpanded) {
  Comm world;
  SharedTempDir dir(world);
  const std::int64_t na = 900, nb = 700, d = 32;
  std::vector<std::int8_t> a = random_signs(na, d, 21), b = random_signs(nb, d, 22);
  plant_copies(a, na, d, 5, 9, 97);
  plant_copies(a, na, d, 400, 3, 131);
  std::copy(a.begin() + 5 * d, a.begin() + 6 * d, b.begin() + 11 * d);  // row 5 of A in B too
  plant_copies(b, nb, d, 11, 4, 89);
  const std::string file = dir.path("in.h5");
  write_dataset(world, file, "/A", {na, d}, a, true);
  write_dataset(world, file, "/B", {nb, d}, b);
  const ScopedEnv lowered("HIPI_TEST_SPILL_PAIRS", "700");
  const double rho = 0.25;  // about 8% of all pairs: tens of thousands, a hundred windows
  for (const bool self : {true, false}) {
    const std::vector<Pair> want = naive_pairs(a, self ? nullptr : &b, d, Threshold{std::ceil(rho * d), false});
    for (const Method method : {Method::Brute, Method::Hash, Method::Auto}) {
      SolveOptions o = self_join_options(file, Mode::Binary, rho, method, dir.path("out.h5"));
      if (!self) o.problem.b = DatasetRef{file, "/B"};
      const std::size_t before = world.rank() == 0 ? others(dir.path("")) : 0;
      const Solved got = solve_and_read(world, o);
      if (world.rank() != 0) continue;
      const std::string what = method_name(method) + (self ? " self-join" : " A x B");
      EXPECT_GT(want.size(), 20000u);
      EXPECT_TRUE(same_pairs(got.pairs, want)) << what << ": " << got.pairs.size() << " pairs, want " << want.size();
      ASSERT_TRUE(got.parameters.contains("spilled")) << what;
      EXPECT_GT(got.parameters["spilled"]["pairs"].get<std::int64_t>(), 0) << what;
      // Multi-index hashing hands its pairs to the spill as they grow: no rank held more
      // than the limit and half again (brute force holds up to a piece of 256 rows of B more).
      if (method == Method::Hash) {
        EXPECT_LE(got.parameters["spilled"]["largest_run"].get<std::int64_t>(), 1050) << what;
      }
      EXPECT_GT(got.parameters["duplicate_rows"]["a"].get<std::int64_t>(), 10) << what;
      EXPECT_EQ(others(dir.path("")), before) << what << ": a file left beside the output";
    }
  }
}

// The pairs a rank may hold before spilling follow the memory left once the rows and the
// method's buffers take theirs: computed at start-up alone, a rank with 128 MiB of rows
// under a 256 MiB budget could still hold the pairs of the whole 256 MiB.
TEST(SpillLimit, LeavesRoomForWhatIsAllocatedAfterIt) {
  Comm world;
  if (!kResidentTracksHeld) GTEST_SKIP() << "resident memory does not track allocations under ASan";
  const std::int64_t mib = 1 << 20;
  MemoryBudget budget;
  budget.bytes = resident_bytes() + 256 * mib;
  PairSpill spill(".", SpillLimits::of(budget).held);
  const std::int64_t at_start = spill.held_limit();
  std::vector<char> rows(128 * mib, 1);  // touched: resident
  spill.leave_room(budget, 0);
  const std::int64_t after_rows = spill.held_limit();
  const double pair_room = 4.0 * sizeof(Pair);  // SpillLimits: a quarter of what is left
  EXPECT_LE(after_rows,
            static_cast<std::int64_t>(static_cast<double>(budget.bytes - resident_bytes()) / pair_room) + 1);
  EXPECT_LT(after_rows, at_start * 3 / 4) << "128 MiB of 256 taken: the limit must fall by about half";
  spill.leave_room(budget, 64.0 * mib);  // a method's buffers, about to be allocated
  EXPECT_LT(spill.held_limit(), after_rows);
  spill.leave_room(budget, 0);  // it never rises again within a run
  EXPECT_LE(spill.held_limit(), after_rows);
  EXPECT_EQ(rows[12345], 1);
}
