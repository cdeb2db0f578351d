// Exact brute force: the baseline, the validator and the fallback (DESIGN.md section 2).
//
// Every rank keeps its block of A; blocks of B travel around a ring of ranks, and each rank
// checks its A block against each B block with the exact kernels of verify.hpp. The next
// block is in flight while the current one is checked. In a self-join each pair of blocks
// is checked once, by one of its two ranks, so the work is balanced and no pair repeats.
#pragma once

#include <functional>
#include <vector>

#include "hipi/bit_matrix.hpp"
#include "hipi/matrix_blocks.hpp"
#include "hipi/mpi.hpp"
#include "hipi/problem.hpp"

namespace hipi {

/// One rank's contiguous rows of a matrix: global rows `range`, values `rows`.
template <class Matrix>
struct LocalRows {
  RowRange range;
  Matrix rows;
};

/// Called on rank 0 after each ring step with (steps done, steps in all).
using ProgressFn = std::function<void(int, int)>;

/// Collective. Heavy pairs between this rank's A rows and all of B; `b` is this rank's
/// block of B (any contiguous split of the n_b rows in rank order). The result holds this
/// rank's share of the pairs, unsorted; every pair appears on exactly one rank.
template <class Matrix>
std::vector<Pair> brute_force(const Comm& comm, const LocalRows<Matrix>& a, const LocalRows<Matrix>& b,
                              const Threshold& threshold, const ProgressFn& progress = {});

/// Collective. Self-join: heavy pairs (i, j), i < j, among the rows of A; `a` is this
/// rank's block of the n_a rows (any contiguous split in rank order).
template <class Matrix>
std::vector<Pair> brute_force_self(const Comm& comm, const LocalRows<Matrix>& a, const Threshold& threshold,
                                   const ProgressFn& progress = {});

}  // namespace hipi
