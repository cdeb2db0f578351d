// Neighbourhood completion: the exact step that makes a sketch's misses on clustered data
// impossible rather than unlikely (DESIGN.md section 3).
//
// A sketch misses a heavy pair when the other terms of its group pair's entry cancel its
// signal. On near-duplicate data those other terms are the pair's rows' other heavy
// partners, so the misses are not random: a missed pair almost always shares a row with
// pairs that were found. Completion checks every row that appears in a found heavy pair
// exactly against every row of the other side (in a self-join, against all rows), adds
// the pairs it finds, and repeats for the rows those pairs bring until no new row
// appears. Afterwards every heavy pair with a row in a found pair is known, and what can
// still be missing is only whole connected groups of heavy pairs that no repetition
// touched (miss_estimate.hpp estimates those).
//
// Cost: (rows completed) x (rows of the other side) exact checks, spread evenly: the
// rows to complete are shared with every rank in batches and each rank checks them
// against the rows it holds.
#pragma once

#include <cstdint>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "methods/sketch/sketches.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// The rows the solver holds and how they are owned. `b` is `a` in a self-join; the
/// ranges are tiled_a.rows(rank) and tiled_b.rows(rank).
template <class Matrix>
struct CompletionContext {
  const Comm& comm;
  const LocalRows<Matrix>& a;
  const LocalRows<Matrix>& b;
  TiledRows tiled_a, tiled_b;
  bool self_join = false;
  Threshold threshold;
  std::int64_t batch_bytes = std::int64_t{64} << 20;  // frontier rows shared per round, all ranks together
};

/// Which rows have been completed, each flag kept by the rank that owns the row.
class CompletedRows {
 public:
  CompletedRows(RowRange a, RowRange b) : a_(a), b_(b), done_a_(a.size(), 0), done_b_(b.size(), 0) {}
  /// Marks a row of this rank's block of A (side 0) or B (side 1); false if it was marked.
  bool mark(int side, std::int64_t row);
  /// Rows completed on this rank, both sides.
  std::int64_t count() const { return count_; }

 private:
  RowRange a_, b_;
  std::vector<char> done_a_, done_b_;
  std::int64_t count_ = 0;
};

/// What one call did, identical on every rank.
struct CompletionWork {
  std::int64_t rows = 0;         // rows completed by this call, all ranks
  std::int64_t new_pairs = 0;    // heavy pairs it added, all ranks
  std::int64_t pair_checks = 0;  // exact checks it made, all ranks
  int rounds = 0;                // frontier rounds until no new row appeared
};

/// Collective. `pairs` holds this rank's known heavy pairs (each on the rank owning row i
/// under tiled_a; (i < j) in a self-join), sorted by (i, j) and distinct. Completes every
/// row of those pairs not yet in `done`, appends the pairs found to `pairs` (kept sorted
/// and distinct, on the same ranks), and repeats until no new row appears.
template <class Matrix>
CompletionWork complete_neighbourhoods(const CompletionContext<Matrix>& ctx, CompletedRows& done,
                                       std::vector<Pair>& pairs);

/// Collective. For each of this rank's pairs (as above): whether neither of its rows is in
/// any other known pair, i.e. the pair is a connected group of its own.
std::vector<char> isolated_pairs(const Comm& comm, const std::vector<Pair>& pairs, const TiledRows& tiled_a,
                                 const TiledRows& tiled_b, bool self_join);

}  // namespace hipi
