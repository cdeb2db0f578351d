// The sparse join around the ring: each rank indexes its rows of B (of A in a self-join,
// inverted_index.hpp) and the blocks of A pass by; every row of a passing block probes the
// index and the pairs the bound keeps are decided by the exact sparse kernel
// (kernels/sparse_exact.hpp).
//
// A self-join visits each pair of blocks once: its own block against itself (each row
// against the rows before it: postings are in row order), and the blocks 1 .. P/2 steps
// back around the ring in full; with P even the block P/2 steps back is met by both ranks,
// each taking half of its rows. Every rank does about the same work and the pass takes
// P/2 + 1 steps, not P.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "core/sparse_matrix.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

class SparseProber;  // prober.hpp

struct SparseJoinRun {
  std::vector<Pair> pairs;      // this rank's, unsorted (i < j in a self-join)
  std::int64_t candidates = 0;  // pairs that shared an indexed feature
  std::int64_t verified = 0;    // of those, pairs the bound kept: checked exactly
  std::int64_t indexed = 0;     // entries in this rank's index
};

/// What a join reads: this rank's rows of A and of B (null in a self-join).
struct SparseSides {
  const LocalRows<SparseMatrix>& a;
  const LocalRows<SparseMatrix>* b;
  const LocalRows<SparseMatrix>& indexed() const { return b ? *b : a; }
};

/// Collective: this rank's heavy pairs. `holder`, if set, takes pairs as they grow; `built`,
/// if set, is this rank's index built for the same sides (estimate_sparse_join).
SparseJoinRun sparse_join(const Comm& comm, const SparseSides& sides, const Threshold& threshold,
                          const PairHolder& holder, std::shared_ptr<const SparseProber> built = nullptr);

/// Collective: the join's compute time predicted from this rank's index and a sample of rows
/// of A probing it (drawn at random from all of A with `seed`; the slowest rank's), and the
/// index's bytes on this rank.
struct SparseEstimate {
  double seconds = 0;
  double verified_per_probe = 0;              // exact checks per probing row, sampled
  std::shared_ptr<const SparseProber> built;  // what the run may keep
};
SparseEstimate estimate_sparse_join(const Comm& comm, const SparseSides& sides, const Threshold& threshold,
                                    std::int64_t n_a, std::uint64_t seed);

/// The largest norm over the rows of A on every rank (what the index's cut needs).
double largest_norm(const Comm& comm, const SparseMatrix& rows);

}  // namespace hipi
