// Statistics of the data that the detection threshold and the planner need (DESIGN.md
// section 3), from seeded samples of rows: the same on every rank for any rank count.
#pragma once

#include <cstdint>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "methods/sketch/sign.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// What samples are drawn from: this rank's rows of A and B (any contiguous split of the
/// n_a and n_b rows; `b` is `a` in a self-join), the threshold and the seed.
template <class Matrix>
struct SampleSource {
  const Comm& comm;
  const LocalRows<Matrix>& a;
  std::int64_t n_a = 0;
  const LocalRows<Matrix>& b;
  std::int64_t n_b = 0;
  bool self_join = false;
  const Threshold& threshold;
  std::uint64_t seed = 1;
};

/// Background second moment m2 = mean <a,b>^2 over sampled non-heavy pairs.
struct BackgroundSample {
  double m2 = 0;
  double m4 = 0;                       // mean <a,b>^4: the noise of degree-2 sketches
  std::int64_t pairs = 0;              // sampled pairs it is the mean of
  std::vector<double> inner_products;  // the sampled background inner products themselves
  std::vector<SignNoise> sign_noise;   // binary data: for each pair of the requested group sizes

  /// The sign-sketch m2 for (g_A, g_B); throws InternalError if it was not sampled.
  double sign_m2(std::int64_t group_a, std::int64_t group_b) const;
};

/// Collective. Samples `sample_rows` rows of A and of B (seeded; each rank contributes the
/// rows it holds) and returns m2 over their pairs, leaving out heavy pairs and, in a
/// self-join, a row paired with itself. For binary data it also measures the sign-sketch
/// noise (sign.hpp) for every pair of group sizes in `sign_groups` (only equal pairs in a
/// self-join).
template <class Matrix>
BackgroundSample estimate_background(const SampleSource<Matrix>& source, std::int64_t sample_rows,
                                     const std::vector<std::int64_t>& sign_groups = {});

/// How many rows have heavy partners: sampled rows of each side checked exactly against
/// every row of the other side (what completion, completion.hpp, will cost, and whether
/// heavy pairs cluster on shared rows).
struct NeighbourhoodProbe {
  std::int64_t probed_a = 0, partnered_a = 0, partners_a = 0;  // rows of A probed, with a partner, partners found
  std::int64_t probed_b = 0, partnered_b = 0, partners_b = 0;  // the same for B (none in a self-join)
  double fraction_a() const { return probed_a ? double(partnered_a) / double(probed_a) : 0.0; }
  double fraction_b() const { return probed_b ? double(partnered_b) / double(probed_b) : 0.0; }
  /// Expected heavy pairs in the answer: partners per probed row of A times n_a (halved in a
  /// self-join, where each pair has two rows).
  double heavy_pairs(std::int64_t n_a, bool self_join) const {
    return probed_a ? double(partners_a) / double(probed_a) * double(n_a) / (self_join ? 2.0 : 1.0) : 0.0;
  }
};

/// Rows to probe: about 1% of the side's rows, at least 8 and at most 64 (a probe costs
/// that fraction of brute force).
std::int64_t probe_rows(std::int64_t n);

/// Collective. Probes probe_rows(n_a) seeded rows of A against all of B (and, unless a
/// self-join, probe_rows(n_b) rows of B against all of A).
template <class Matrix>
NeighbourhoodProbe probe_neighbourhoods(const SampleSource<Matrix>& source);

}  // namespace hipi
