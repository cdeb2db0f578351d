// Copies expanded at output: each pair of collapsed rows named by its input rows, and every
// pair with a representative that has copies made into the pairs of all their copies while
// the answer is written (duplicates.hpp finds and collapses the copies).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "answer/duplicates.hpp"
#include "core/problem.hpp"
#include "io/pair_file.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// A pair of collapsed rows named by its input rows (`b` is `a` in a self-join); original()
/// increases, so sorted pairs stay sorted.
inline Pair renamed(const Pair& collapsed, const Duplicates& a, const Duplicates& b) {
  return {a.original(collapsed.i), b.original(collapsed.j), collapsed.ip};
}
/// True when a pair of input rows has a representative with copies: its expansion makes it.
inline bool involves_copies(const Pair& p, const Duplicates& a, const Duplicates& b) {
  return a.has_copies(p.i) || b.has_copies(p.j);
}

/// Renames collapsed `pairs` to input rows in place (order kept) and moves those for which
/// involves_copies out of them, into the vector returned.
std::vector<Pair> rename_setting_aside_copies(std::vector<Pair>& pairs, const Duplicates& a, const Duplicates& b);

class ExpandedRows;

/// What expanding copies needs of the whole answer: the pairs of representatives that have
/// copies (their number is that of the collapsed answer's, not of the expanded one), each
/// held by the rank that owns its row of A (rows spread over the ranks by a hash) and sent
/// to the ranks that write its expanded pairs, window by window. The Duplicates must outlive it and the
/// streams it makes.
class CopyExpansion {
 public:
  /// A pair of representatives, from one side: `from` in A, `to` in B (in a self-join, each
  /// pair both ways).
  struct Link {
    std::int64_t from = 0, to = 0;
    double ip = 0;
  };

  /// Collective: `with_copies` are this rank's pairs (input rows) for which involves_copies.
  CopyExpansion(const Comm& comm, const std::vector<Pair>& with_copies, const Duplicates& a, const Duplicates* b,
                const Threshold& threshold);
  /// Collective: rows [row_begin, row_end) of A of the answer: `kept`, this rank's pairs of
  /// input rows in them without copies (sorted, no repeats across ranks), merged with the
  /// pairs the copies expand to, cut over the ranks by whole rows of A. The expanded pairs
  /// are made while the stream is written, one row at a time.
  PairStream window(const Comm& comm, std::vector<Pair> kept, std::int64_t row_begin, std::int64_t row_end) const;

 private:
  const Duplicates& a_;
  const Duplicates& b_;
  bool self_join_;
  Threshold threshold_;
  int ranks_;
  std::shared_ptr<const ExpandedRows> owned_;  // the links whose `from` row this rank owns
  int owner(std::int64_t row) const;           // the rank that owns a row of A's links
};

/// Collective: the answer of the input rows from `slice`, the sorted answer of the collapsed
/// rows: renamed to input rows, and every pair with a representative that has copies
/// expanded to all pairs of their copies (and, in a self-join, pairs of two copies of one
/// row when that row's inner product with itself passes `threshold`). `b` is null in a
/// self-join. The expanded pairs are made while the stream is written, never all held.
PairStream expand_duplicates(const Comm& comm, PairSlice slice, const Duplicates& a, const Duplicates* b,
                             const Threshold& threshold);

}  // namespace hipi
