// Top-k (DESIGN.md section 5, --top-k K): for each row of A, the K rows of B with the best
// score, held as one bounded heap a row while B's blocks go round the ring.
//
// The score is the value a pair is reported with (its inner product, or its cosine), or its
// absolute value with --abs. Ties are broken by the smaller j, so the K best are a function
// of the data alone, whatever the ranks, the method or the order pairs are offered in.
// Each row's floor, the lowest score that can still enter its list, is what every filter
// prunes against: the threshold until the list holds K, then the K-th best score.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"

namespace hipi {

class TopKLists {
 public:
  /// Lists for global rows `rows`, K each. `floor`: the score a pair must reach to enter
  /// at all (the threshold, or -infinity for none); `abs`: the score is |value|.
  TopKLists(RowRange rows, std::int64_t k, double floor, bool abs);

  RowRange rows() const { return rows_; }
  std::int64_t k() const { return k_; }
  /// The lowest score that can still enter row r's list (r counted from rows().begin): a
  /// pair scoring below it is not needed, one scoring it may be (a smaller j wins a tie).
  const double* floors() const { return floors_.data(); }
  double floor(std::int64_t r) const { return floors_[static_cast<std::size_t>(r)]; }
  double score(double value) const { return abs_ ? (value < 0 ? -value : value) : value; }
  /// Offers row r the pair (r, j) with `value`; keeps it when it is among the K best so
  /// far. NaN (a cosine of a zero row) never enters.
  void offer(std::int64_t r, std::int64_t j, double value);
  /// Every pair held, as (global row, j, value), in no particular order.
  std::vector<Pair> pairs() const;
  /// Offers each pair (i, j, value) whose i is one of rows() to row i.
  void offer_all(const std::vector<Pair>& pairs);
  /// Raises row r's floor to at least floors[r] (at most each row's final K-th best score:
  /// the K-th best of some of its pairs, or its owner's floor), keeping no pairs below it.
  void raise_floors(const std::vector<double>& floors);
  /// Empties the lists and moves them to `rows` (the remote lists of the next ring step).
  void reset(RowRange rows);
  /// The bytes held for `rows` lists of K.
  static double bytes(std::int64_t rows, std::int64_t k);

 private:
  struct Entry {
    double value;
    std::int64_t j;
  };
  // The heap's order: x is worse than y (a min-heap of the kept, the worst at its root).
  bool worse(const Entry& x, const Entry& y) const {
    const double sx = score(x.value), sy = score(y.value);
    return sx < sy || (sx == sy && x.j > y.j);
  }
  void sift_down(Entry* heap, std::int64_t size, std::int64_t at) const;
  RowRange rows_;
  std::int64_t k_;
  double floor_;
  bool abs_;
  std::vector<Entry> entries_;  // row r's heap at [r k, r k + sizes_[r])
  std::vector<std::int32_t> sizes_;
  std::vector<double> floors_;
};

/// Sorts one rank's top-k pairs into the output order: by i, then score descending, then j.
void sort_top_k(std::vector<Pair>& pairs, bool abs);

/// Rows' lists as FAISS's search returns them: [rows, K] row-major, each row best first,
/// indices -1 and scores -infinity past a row's last pair.
struct KnnTable {
  RowRange rows;
  std::int64_t k = 0;
  std::vector<std::int64_t> indices;
  std::vector<double> scores;  // the score ranked by: |value| with --abs
};
/// The table of `rows` from their pairs sorted by sort_top_k.
KnnTable knn_table(const std::vector<Pair>& sorted, RowRange rows, std::int64_t k, bool abs);

}  // namespace hipi
