// How many heavy pairs a sketch can still have missed, once completion has run
// (completion.hpp). Pure arithmetic, tested without MPI.
//
// After completion every heavy pair that shares a row with a found pair is known, so what
// can be missing is whole connected groups of heavy pairs that no repetition touched. The
// hardest such group to catch is a lone pair (a group of its own): a cluster is missed
// only when every one of its pairs is. The estimate therefore counts lone pairs:
//   - the found lone pairs and how often the repetitions caught each (before completion)
//     give the per-repetition catch probability p: the catches of a found pair follow a
//     binomial(R, p) conditioned on at least one (a zero-truncated binomial), whose mean
//     R p / (1 - (1 - p)^R) is inverted for p; a lone pair is then missed by all R
//     repetitions with probability q^R, q = 1 - p;
//   - the plan's model (the miss probability per repetition of a pair at the threshold,
//     simulated or Gaussian) gives another q; the larger q is used, because the catches of
//     found pairs over-represent easy pairs (far above the threshold);
//   - missing = found lone pairs * q^R / (1 - q^R).
// Capture-recapture over all pairs (Lincoln-Petersen) assumed every pair equally
// catchable; on clustered data it ran low exactly when pairs were being lost.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace hipi {

struct MissEstimate {
  bool bounded = false;     // false: nothing supports a bound (one repetition and no model)
  double missing = 0;       // expected heavy pairs still missing (when bounded)
  double miss_per_rep = 0;  // q, the per-repetition miss probability of a lone pair used
  std::string basis;        // how q was obtained, for the log and the output
};

/// What the repetitions saw of the pairs found so far.
struct Catches {
  std::int64_t lone_pairs = 0;    // found heavy pairs that share no row with another
  std::int64_t lone_catches = 0;  // sum over them of the repetitions that detected each directly
  std::int64_t caught_pairs = 0;  // all pairs some repetition detected directly
  std::int64_t caught_catches = 0;
  int reps = 0;  // repetitions run
};

/// The catch probability p with mean catches `mean` >= 1 among found pairs after `reps`
/// repetitions (zero-truncated binomial). 0 when mean <= 1 (no recapture), 1 at mean >= reps.
double catch_probability(double mean, int reps);

/// The estimate described above; `model_miss_per_rep` is the plan's q, if there is one.
/// When no lone pair was found, q is measured on every directly caught pair instead (the
/// count of lone pairs, 0, still makes the estimate 0 once q < 1); when no pair at all was
/// found in two or more repetitions, the estimate is 0.
MissEstimate estimate_missing(const Catches& seen, std::optional<double> model_miss_per_rep);

}  // namespace hipi
