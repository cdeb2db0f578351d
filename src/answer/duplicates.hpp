// Exact duplicate rows: found by hashing before any method runs, collapsed to one
// representative each (and expanded back into all their pairs while the output is written:
// copy_expansion.hpp).
//
// Many copies of one row (repeated records, padding, an input every neuron sees alike) give
// an answer quadratic in the copies, and every method would find it the hard way: brute
// force computes each copy's products again, sketches of a group of copies cancel or
// saturate (issue 13: 38% of 2e8 pairs found, with no warning). Collapsed, the methods solve
// the distinct rows only. Each pair of representatives stands for every pair of their
// copies with the same inner product: copies are bitwise equal (checked, not hashed only),
// so the reference kernel gives each of them the representative's value exactly.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "parallel/mpi.hpp"
#include "runtime/memory.hpp"

namespace hipi {

/// Which rows of an n-row matrix are copies of an earlier row: pure, the same on every rank.
class Duplicates {
 public:
  /// Row `row` is a bitwise copy of row `rep` < row, which is no copy itself.
  struct Copy {
    std::int64_t row = 0;
    std::int64_t rep = 0;
  };
  /// A representative's inner product with itself (a pair of two of its copies has it).
  struct SelfProduct {
    std::int64_t rep = 0;
    double ip = 0;
  };

  Duplicates() = default;
  explicit Duplicates(std::int64_t rows) : rows_(rows) {}
  Duplicates(std::int64_t rows, std::vector<Copy> copies, std::vector<SelfProduct> self);

  std::int64_t rows() const { return rows_; }
  std::int64_t copies() const { return static_cast<std::int64_t>(removed_.size()); }
  /// Rows left after collapsing: one per distinct value.
  std::int64_t distinct() const { return rows_ - copies(); }
  bool none() const { return removed_.empty(); }

  /// The input row of collapsed row k (0 <= k < distinct()), increasing in k.
  std::int64_t original(std::int64_t k) const;
  /// original(k) for every k of `collapsed`, in one pass.
  std::vector<std::int64_t> originals(RowRange collapsed) const;
  /// True when input row `rep` has copies (it stands for more than itself).
  bool has_copies(std::int64_t rep) const;
  /// The representative of input row `row` (the row itself unless it is a copy).
  std::int64_t rep_of(std::int64_t row) const;
  /// Rows a representative with copies stands for, sorted, itself first.
  std::span<const std::int64_t> members(std::int64_t rep) const;
  /// Inner product of a representative with copies with itself.
  double self_product(std::int64_t rep) const;
  /// Representatives with copies, sorted.
  const std::vector<std::int64_t>& reps() const { return reps_; }

  /// Bytes each rank holds at most while Duplicates of `copies` copies of `reps`
  /// representatives are gathered and built (every rank holds all of them): 40 a copy (the
  /// gathered 16-byte list, then three 8-byte tables beside it) and 64 a representative
  /// (its gathered self product twice while it arrives, then four 8-byte tables).
  static double held_bytes(std::int64_t copies, std::int64_t reps) {
    return 40.0 * static_cast<double>(copies) + 64.0 * static_cast<double>(reps);
  }

 private:
  std::int64_t rows_ = 0;
  std::vector<std::int64_t> removed_;       // copies, sorted
  std::vector<std::int64_t> removed_rep_;   // rep of removed_[t]
  std::vector<std::int64_t> reps_;          // representatives with copies, sorted
  std::vector<std::int64_t> member_begin_;  // members of reps_[g]: members_[member_begin_[g] ...]
  std::vector<std::int64_t> members_;
  std::vector<double> self_;  // self product of reps_[g]
  std::size_t group_of(std::int64_t rep) const;
};

/// Collective: the rows of this matrix that are bitwise copies of an earlier row. `rows` is
/// this rank's block of the n rows (contiguous blocks in rank order). Rows are hashed and
/// sent to the rank their hash names; rows of equal hash are compared in full before one
/// counts as a copy, so a hash collision costs a missed collapse, never a false pair. Every
/// rank holds the whole list: when that (held_bytes) would pass `budget` on any rank, an
/// agreed InputError before it is gathered.
template <class Matrix>
Duplicates find_duplicates(const Comm& comm, const LocalRows<Matrix>& rows, std::int64_t n, const MemoryBudget& budget);

/// Collective: this rank's block `range` of the collapsed matrix (the distinct rows in input
/// order), fetched from the ranks holding them in `rows`.
template <class Matrix>
LocalRows<Matrix> collapse_rows(const Comm& comm, const LocalRows<Matrix>& rows, const Duplicates& dups,
                                RowRange range);

}  // namespace hipi
