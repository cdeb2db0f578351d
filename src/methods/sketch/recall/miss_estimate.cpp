#include "methods/sketch/recall/miss_estimate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace hipi {

double catch_probability(double mean, int reps) {
  if (reps <= 1 || mean <= 1) return 0;
  if (mean >= reps) return 1;
  // mean(p) = R p / (1 - (1 - p)^R) rises from 1 (p -> 0) to R (p = 1): bisect.
  double lo = 0, hi = 1;
  for (int k = 0; k < 100; ++k) {
    const double p = 0.5 * (lo + hi);
    const double m = reps * p / (1 - std::pow(1 - p, reps));
    (m < mean ? lo : hi) = p;
  }
  return 0.5 * (lo + hi);
}

MissEstimate estimate_missing(const Catches& seen, std::optional<double> model_miss_per_rep) {
  MissEstimate e;
  if (seen.reps >= 2 && seen.caught_pairs == 0) {
    e.bounded = true;
    e.basis = fmt::format("no heavy pair detected in {} repetitions", seen.reps);
    return e;
  }
  std::optional<double> q;
  if (seen.reps >= 2) {
    const bool lone = seen.lone_pairs > 0;
    const double measured = lone ? seen.lone_pairs : seen.caught_pairs;
    const double mean = double(lone ? seen.lone_catches : seen.caught_catches) / measured;
    q = 1 - catch_probability(mean, seen.reps);
    e.basis = fmt::format("recaptures of {} {} pairs over {} repetitions (q = {:.3g})", measured,
                          lone ? "lone" : "clustered", seen.reps, *q);
  }
  if (model_miss_per_rep && (!q || *model_miss_per_rep > *q)) {
    q = *model_miss_per_rep;
    e.basis = fmt::format("the plan's model (q = {:.3g} per repetition at the threshold)", *q);
  }
  if (!q) {
    e.basis = seen.reps < 2 ? "one repetition and no model of its misses" : "no lone pair found to measure catches on";
    return e;
  }
  e.miss_per_rep = *q;
  const double all_missed = std::pow(*q, seen.reps);
  if (all_missed >= 1) {  // q = 1: every lone pair found was caught once; nothing bounds the rest
    e.basis += ": no lone pair was caught twice";
    return e;
  }
  e.bounded = true;
  e.missing = double(seen.lone_pairs) * all_missed / (1 - all_missed);
  return e;
}

}  // namespace hipi
