// Principal axes of the data: an orthogonal rotation Q with <Q^T a, Q^T b> = <a, b> whose
// first coordinates hold most of the rows' energy (DESIGN.md section 8, prefix bound).
// Real embeddings are anisotropic: after the rotation a few dozen coordinates carry most
// of every inner product, and the rest is bounded by the tails' norms.
#pragma once

#include <cstdint>
#include <vector>

#include "methods/solve_method.hpp"

namespace hipi {

struct Rotation {
  std::int64_t d = 0;
  std::vector<double> q;       // d x d, column-major: column c is the c-th axis, by decreasing energy
  std::vector<double> energy;  // the sample's second moment along each axis, decreasing
  double orthogonality = 0;    // a bound on ||I - Q^T Q||_2 (Q as computed in float64)
  /// What rank 0 holds while computing the axes of `sampled_rows` rows (every other rank:
  /// Q and the energies, 8 d (d + 1) bytes).
  static double bytes_on_rank0(std::int64_t sampled_rows, std::int64_t d);
};

/// Collective: the principal axes of a seeded sample of up to `sample_rows` rows of A and
/// of B (rows normalised first with --cosine): their second-moment matrix's eigenvectors,
/// computed on rank 0 and broadcast, so the same for any rank count. Checked against the
/// memory budget first (an agreed InputError past it).
Rotation principal_axes(const MethodInput<RealMatrix>& in, std::int64_t sample_rows);

}  // namespace hipi
