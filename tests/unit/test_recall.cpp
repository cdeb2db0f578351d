// The miss estimate after completion (miss_estimate.hpp): pure arithmetic.
#include <gtest/gtest.h>

#include <cmath>

#include "core/random.hpp"
#include "methods/sketch/recall/miss_estimate.hpp"

using namespace hipi;

TEST(Recall, CatchProbabilityInvertsTheZeroTruncatedMean) {
  for (int reps : {2, 3, 7})
    for (double p : {0.05, 0.3, 0.6, 0.95}) {
      const double mean = reps * p / (1 - std::pow(1 - p, reps));
      EXPECT_NEAR(catch_probability(mean, reps), p, 1e-9) << reps << " reps, p " << p;
    }
  EXPECT_EQ(catch_probability(1.0, 4), 0.0);  // every found pair caught once: no recapture
  EXPECT_EQ(catch_probability(3.0, 3), 1.0);
  EXPECT_EQ(catch_probability(1.0, 1), 0.0);
}

TEST(Recall, OneRepetitionRestsOnTheModelOrIsUnbounded) {
  Catches seen{.lone_pairs = 10, .lone_catches = 10, .caught_pairs = 30, .caught_catches = 30, .reps = 1};
  const MissEstimate none = estimate_missing(seen, std::nullopt);
  EXPECT_FALSE(none.bounded);
  const MissEstimate model = estimate_missing(seen, 0.01);
  ASSERT_TRUE(model.bounded);
  EXPECT_NEAR(model.missing, 10 * 0.01 / 0.99, 1e-12);
}

TEST(Recall, TheLargerOfMeasuredAndModelledMissRatesIsUsed) {
  // 100 lone pairs over 2 repetitions, 150 catches: p = 2 - 2/1.5 = 2/3, q = 1/3.
  Catches seen{.lone_pairs = 100, .lone_catches = 150, .caught_pairs = 500, .caught_catches = 990, .reps = 2};
  const MissEstimate measured = estimate_missing(seen, 0.01);
  ASSERT_TRUE(measured.bounded);
  EXPECT_NEAR(measured.miss_per_rep, 1.0 / 3, 1e-9);
  EXPECT_NEAR(measured.missing, 100 * (1.0 / 9) / (8.0 / 9), 1e-6);
  const MissEstimate modelled = estimate_missing(seen, 0.5);
  EXPECT_NEAR(modelled.miss_per_rep, 0.5, 1e-12);
  EXPECT_NEAR(modelled.missing, 100 * 0.25 / 0.75, 1e-9);
}

TEST(Recall, NoRecaptureIsUnboundedAndNothingFoundIsZero) {
  const MissEstimate once = estimate_missing(
      {.lone_pairs = 5, .lone_catches = 5, .caught_pairs = 5, .caught_catches = 5, .reps = 3}, std::nullopt);
  EXPECT_FALSE(once.bounded);
  const MissEstimate nothing = estimate_missing({.reps = 2}, std::nullopt);
  ASSERT_TRUE(nothing.bounded);
  EXPECT_EQ(nothing.missing, 0.0);
  // No lone pair found: q is measured on the clustered pairs, and no lone pair is missing.
  const MissEstimate clustered = estimate_missing({.caught_pairs = 40, .caught_catches = 70, .reps = 2}, std::nullopt);
  ASSERT_TRUE(clustered.bounded);
  EXPECT_EQ(clustered.missing, 0.0);
}

// Bound checked by simulation: N lone pairs each caught by each of R repetitions with
// probability p; the estimate from the found ones is compared with the number missed. Its
// mean over 2000 seeded trials is within 15% of the true mean (the estimator is the MLE's
// plug-in; at these sizes its bias is a few percent).
TEST(Recall, TheEstimateTracksTheTrueMissesInSimulation) {
  const std::int64_t N = 400;
  for (double p : {0.5, 0.8}) {
    RandomStream rng(5, {});
    double est = 0, truth = 0;
    for (int trial = 0; trial < 2000; ++trial) {
      Catches seen{.reps = 2};
      for (std::int64_t k = 0; k < N; ++k) {
        const int c = (rng.uniform() < p) + (rng.uniform() < p);
        if (c == 0) {
          truth += 1;
          continue;
        }
        ++seen.lone_pairs;
        seen.lone_catches += c;
      }
      seen.caught_pairs = seen.lone_pairs;
      seen.caught_catches = seen.lone_catches;
      est += estimate_missing(seen, std::nullopt).missing;
    }
    EXPECT_NEAR(est / truth, 1.0, 0.15) << "p " << p;
  }
}
