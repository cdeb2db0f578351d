// Top-k round the ring (--top-k K, answer/top_k.hpp): brute force's ring and units of work
// (brute.hpp), each rank keeping the K best of its rows of A while B's blocks visit, every
// kernel pruning against each row's floor. A self-join checks each block pair once, as the
// threshold ring does, and offers a pair to both its rows: the lists of the visiting block's
// rows are kept beside this rank's for the step and sent to their owner after it (at most K
// a row). Checkpoints hold every list's pairs, each going back to its row's owner on resume.
//
// Filters prune only once floors are high, so every row starts from one, as L2Knng does
// (Anastasiu and Karypis, CIKM 2015): its K-th best score against a random sample of B, a
// score its final K-th best reaches. The visiting block's lists start from its owner's floors.
#pragma once

#include <cstdint>
#include <vector>

#include "methods/brute/brute.hpp"

namespace hipi {

/// What the top-k ring needs besides brute force's schedule.
struct TopKQuery {
  std::int64_t k = 0;
  double floor = 0;        // the score a pair must reach to be kept at all: the threshold, or -infinity
  std::uint64_t seed = 1;  // of the sample that starts every row's floor
};

/// Rows of B sampled to start every row's floor before the ring (top_k_ring).
inline constexpr std::int64_t kTopKSeedRows = 2048;

/// Collective. The K best pairs of each of this rank's rows of A against all of B (`b`:
/// this rank's block of B; null in a self-join, whose pairs exclude j = i), as (i, j, value)
/// in no particular order. Blocks split contiguously in rank order.
template <class Matrix>
std::vector<Pair> top_k_ring(const Comm& comm, const LocalRows<Matrix>& a, const LocalRows<Matrix>* b,
                             const Threshold& threshold, const TopKQuery& query, BruteSchedule schedule);

}  // namespace hipi
