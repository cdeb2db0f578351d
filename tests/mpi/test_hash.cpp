// --method hash (exact multi-index hashing) gives brute force's output at every rank count,
// for A x B and self-joins, with and without --abs, at moderate to high thresholds.
#include <gtest/gtest.h>

#include <cstdlib>

#include "hipi/solver.hpp"
#include "mpi/fixtures.hpp"

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

// Crowded buckets overflow a batch's candidate buffer; the overflow path (flushed early,
// candidates verified twice at most) must still give brute force's pairs, each once.
TEST(HashMethod, CandidateOverflowGivesTheSamePairs) {
  Comm world;
  SharedTempDir dir(world);
  const std::int64_t na = 300, nb = 260, d = 128;
  const auto a = random_signs(na, d, 71);
  const auto b = random_signs(nb, d, 72, &a);
  const std::string file = dir.path("in.h5");
  write_dataset(world, file, "/A", {na, d}, a, true);
  write_dataset(world, file, "/B", {nb, d}, b);
  for (bool self : {false, true})
    for (bool abs : {false, true}) {
      Solved results[2];
      for (int k = 0; k < 2; ++k) {
        SolveOptions o;
        o.problem.a = {file, "/A"};
        if (!self) o.problem.b = DatasetRef{file, "/B"};
        o.problem.mode = Mode::Binary;
        o.problem.value = 0.5;
        o.problem.abs = abs;
        o.method = k == 0 ? Method::Brute : Method::Hash;
        o.out = dir.path("out" + std::to_string(k) + ".h5");
        if (k == 1) setenv("HIPI_HASH_MAX_CANDIDATES", "7", 1);
        results[k] = solve_and_read(world, o);
        unsetenv("HIPI_HASH_MAX_CANDIDATES");
      }
      EXPECT_EQ(results[1].pairs, results[0].pairs) << "self " << self << " abs " << abs;
      if (world.rank() == 0 && !self) {
        EXPECT_GT(results[0].pairs.size(), 20u);
      }
    }
}
