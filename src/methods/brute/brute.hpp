// Folder methods/brute/: exact brute force round the ring, its run step and its cost model.
//
// Exact brute force: the baseline, the validator and the fallback (DESIGN.md section 2).
//
// Every rank keeps its block of A; blocks of B travel around a ring of ranks, and each rank
// checks its A block against each B block with the exact kernels of kernels/exact.hpp. The next
// block is in flight while the current one is checked. In a self-join each pair of blocks
// is checked once, by one of its two ranks, so the work is balanced and no pair repeats.
#pragma once

#include <functional>
#include <vector>

#include "core/bit_matrix.hpp"
#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "kernels/exact.hpp"
#include "kernels/top_k.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// Another exact check of real blocks than heavy_pairs (kernels/exact.hpp): the same pairs
/// with the same values, decided by the reference kernel, found with less work on some data
/// (the prefix filter, methods/prefix/). Called on one thread.
class RealBlockCheck {
 public:
  virtual ~RealBlockCheck() = default;
  virtual void pairs(RowsAt<RealMatrix> a, RowsAt<RealMatrix> b, const Threshold& threshold, PairFilter filter,
                     std::vector<Pair>& out, RowRange b_rows) const = 0;
  /// The same for top-k: top_k_pairs (kernels/top_k.hpp), pruned against each row's floor.
  virtual void top_k(RowsAt<RealMatrix> a, RowsAt<RealMatrix> b, const Threshold& threshold, PairFilter filter,
                     const TopKTarget& target, RowRange b_rows) const = 0;
  /// The bytes it holds at most while checking blocks of a_rows against blocks of b_rows:
  /// the ring checks them against the memory budget with its own buffers.
  virtual double bytes(std::int64_t a_rows, std::int64_t b_rows) const = 0;
};

/// Brute force runs in units of work, the same number on every rank: ring step s, chunk c of
/// the block of B visited then (a chunk is sized to take about a second). A run resumed
/// from a checkpoint skips the units it saved; `at_boundary` is called on every rank after
/// every unit, with the units done, the units in all and this rank's pairs so far (which it
/// may take away: spilled to disk, pair_spill.hpp), and may run collectives (every rank
/// makes the same calls) or throw to stop the run there.
struct BruteSchedule {
  std::int64_t skip_units = 0;                       // units a checkpoint holds: not computed again
  std::int64_t resumed_total = 0;                    // the units of the run that saved it (0: not resumed)
  std::function<Error(const std::string&)> damaged;  // resumed: the checkpoint's error
  std::vector<Pair> resumed_pairs;                   // this rank's pairs of those units
  std::function<void(std::int64_t done, std::int64_t total, std::vector<Pair>& found)> at_boundary;
  // Called with this rank's pairs after every piece of a unit (rows of B sized so that a
  // piece finds at most about `holder.every`, 16 rows at least), so that pairs past the
  // memory budget can be spilled as they are found, not once per unit.
  PairHolder holder;
  double unit_products = 0;                    // coordinate products per unit; 0: about half a second's worth
  const RealBlockCheck* real_check = nullptr;  // real blocks: this check instead of heavy_pairs
  bool saves = false;  // at_boundary may save a checkpoint (the top-k ring then hands it its lists' pairs)
};

/// Collective. Heavy pairs between this rank's A rows and all of B; `b` is this rank's
/// block of B (any contiguous split of the n_b rows in rank order). The result holds this
/// rank's share of the pairs, unsorted; every pair appears on exactly one rank.
template <class Matrix>
std::vector<Pair> brute_force(const Comm& comm, const LocalRows<Matrix>& a, const LocalRows<Matrix>& b,
                              const Threshold& threshold, BruteSchedule schedule = {});

/// Collective. Self-join: heavy pairs (i, j), i < j, among the rows of A; `a` is this
/// rank's block of the n_a rows (any contiguous split in rank order).
template <class Matrix>
std::vector<Pair> brute_force_self(const Comm& comm, const LocalRows<Matrix>& a, const Threshold& threshold,
                                   BruteSchedule schedule = {});

/// Chunks per ring step for blocks of at most `a_rows` x `b_rows` rows of dimension `d`
/// (pure: every rank computes the same from the same maxima).
std::int64_t brute_chunks_per_step(std::int64_t a_rows, std::int64_t b_rows, std::int64_t d, bool binary,
                                   double unit_products = 0);

}  // namespace hipi
