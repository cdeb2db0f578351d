// Progress lines and brute force's units of work: pure functions, no MPI.
#include <gtest/gtest.h>

#include "methods/brute/brute.hpp"
#include "runtime/progress.hpp"

using namespace hipi;

TEST(Progress, LineSaysStepPercentPairsElapsedAndTimeLeft) {
  EXPECT_EQ(Progress::line("brute", 3, 12, 40, 30.0, 0),
            "brute: 25.0% (3 of 12 units), 40 pairs so far, 30.0 s elapsed, about 1 min 30 s left");
  // Resumed at unit 6: the rate is that of this run's units only (3 in 30 s).
  EXPECT_EQ(Progress::line("brute", 9, 12, -1, 30.0, 6),
            "brute: 75.0% (9 of 12 units), 30.0 s elapsed, about 30.0 s left (resumed at unit 6)");
  EXPECT_EQ(Progress::line("brute", 12, 12, 7, 4000.0, 0),
            "brute: 100.0% (12 of 12 units), 7 pairs so far, 1 h 07 min elapsed");
}

TEST(BruteChunks, AboutHalfASecondOfWorkPerUnitWithinLimits) {
  // 16384 x 16384 float32 rows of d = 2048: 5.5e11 products, 17 chunks of 3.2e10.
  EXPECT_EQ(brute_chunks_per_step(16384, 16384, 2048, false), 17);
  // Binary rows count 1/8 as much per coordinate.
  EXPECT_EQ(brute_chunks_per_step(16384, 16384, 2048, true), 3);
  EXPECT_EQ(brute_chunks_per_step(100, 100, 64, false), 1);
  // At least 256 rows of B per chunk, at most 1024 chunks.
  EXPECT_EQ(brute_chunks_per_step(1 << 20, 512, 1 << 16, false), 2);
  EXPECT_EQ(brute_chunks_per_step(1 << 24, 1 << 24, 4096, false), 1024);
}
