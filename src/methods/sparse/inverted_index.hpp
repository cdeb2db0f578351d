// Folder methods/sparse/: exact similarity joins of sparse rows (TF-IDF, bag of words): an
// inverted index with prefix and norm filters (this file), the join around the ring
// (sparse_join.hpp), the method (sparse_method.cpp).
//
// The inverted index of one rank's rows, after All-Pairs (Bayardo, Ma, Srikant 2007) and
// L2AP (Anastasiu, Karypis 2014). Each indexed row y is cut into a prefix P, left out of the
// index, and the rest S, indexed by feature. P takes y's most frequent features (those
// with the longest lists) while ||y_P|| * (the largest norm of a probing row) stays below
// the threshold: then |<x, y_P>| <= ||x|| ||y_P|| cannot reach it alone, so every heavy pair
// shares a feature of S and is found by probing x's features. Cauchy-Schwarz holds for
// any values, so the cut stays exact with negative values and with --abs.
//
// A probe accumulates <x, y_S> for every y sharing an indexed feature, then keeps y only
// when |<x, y_S>| + ||x|| ||y_P|| can reach the threshold (with --cosine, the threshold
// times ||x|| ||y||). Survivors are decided by the exact sparse kernel; the bound only ever
// discards pairs it proves light, with a margin far above float64 rounding.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "core/sparse_matrix.hpp"

namespace hipi {

/// What cutting the rows needs: the threshold, and the largest norm of a probing row
/// (unused with --cosine, whose bound scales with each pair's norms).
/// Up to this many features (d), per-feature tables are dense arrays (4 bytes a feature):
/// a lookup is one load. Past it they are sorted arrays and binary searches.
constexpr std::int64_t kDenseFeatures = std::int64_t{1} << 24;

struct IndexCut {
  const Threshold& threshold;
  double probe_norm_max = 0;
};

class InvertedIndex {
 public:
  /// Indexes `rows` (their norms by the reference kernel in `norms`).
  InvertedIndex(const SparseMatrix& rows, const std::vector<double>& norms, const IndexCut& cut);

  /// Entries in the index (of the rows' entries, those the cut left out are not).
  std::int64_t indexed() const { return static_cast<std::int64_t>(posting_row_.size()); }
  /// The bytes an index of `rows` rows and `entries` entries of dimension d holds at most,
  /// with the prober's dense row (sparse_join.cpp).
  static double bytes_for(std::int64_t rows, std::int64_t entries, std::int64_t d);

  /// Calls found(s, partial) for every indexed row s in `window` sharing an indexed feature
  /// with the row (index, value): partial = <x, y_S>, summed in float64. Postings are in
  /// row order, so the window's end stops each list early (a self-join's own block).
  template <class Found>
  void probe(std::span<const std::int64_t> index, std::span<const float> value, RowRange window, Found&& found) const;

  /// ||y_P|| of row s (rounded up).
  double rest_norm(std::int64_t s) const { return rest_norm_[s]; }
  /// The features of y_P are those of row s ranked below cut_rank(s) in rank_of's order
  /// (most frequent first): <x, y_P> <= ||x restricted to those ranks|| ||y_P||, a bound
  /// far below ||x|| ||y_P|| when x's weight sits in rare features, as TF-IDF's does.
  std::int32_t cut_rank(std::int64_t s) const { return cut_rank_[s]; }
  /// Feature f's place in the order (kUnranked for a feature these rows do not hold).
  std::int32_t rank_of(std::int64_t f) const;
  static constexpr std::int32_t kUnranked = std::numeric_limits<std::int32_t>::max();

 private:
  /// The position of feature f in features_, or -1 when it is not indexed.
  std::int64_t slot_of(std::int64_t f, std::vector<std::int64_t>::const_iterator& cursor) const {
    if (!slot_.empty()) return slot_[f];
    cursor = std::lower_bound(cursor, features_.end(), f);
    return cursor != features_.end() && *cursor == f ? cursor - features_.begin() : -1;
  }

  std::vector<std::int64_t> features_;  // the indexed features, increasing
  std::vector<std::int32_t> slot_;      // d <= kDenseFeatures: slot_[f], as slot_of
  std::vector<std::int64_t> begin_;     // postings of features_[k]: [begin_[k], begin_[k + 1])
  std::vector<std::int32_t> posting_row_;
  std::vector<float> posting_value_;
  std::vector<double> rest_norm_;
  std::vector<std::int32_t> cut_rank_;
  std::vector<std::int32_t> rank_;                             // d <= kDenseFeatures: by feature
  std::vector<std::pair<std::int64_t, std::int32_t>> ranked_;  // else: (feature, rank), by feature
  mutable std::vector<double> score_;                          // per row: the partial products of one probe
  mutable std::vector<char> seen_;
  mutable std::vector<std::int32_t> touched_;
};

template <class Found>
void InvertedIndex::probe(std::span<const std::int64_t> index, std::span<const float> value, RowRange window,
                          Found&& found) const {
  auto cursor = features_.cbegin();
  for (std::size_t k = 0; k < index.size(); ++k) {
    const std::int64_t slot = slot_of(index[k], cursor);
    if (slot < 0) continue;
    const auto f = static_cast<std::size_t>(slot);
    const double x = value[k];
    for (std::int64_t p = begin_[f]; p < begin_[f + 1]; ++p) {
      const std::int32_t s = posting_row_[p];
      if (s >= window.end) break;
      if (s < window.begin) continue;
      if (!seen_[s]) {
        seen_[s] = 1;
        touched_.push_back(s);
      }
      score_[s] += x * static_cast<double>(posting_value_[p]);
    }
  }
  for (const std::int32_t s : touched_) {
    found(static_cast<std::int64_t>(s), score_[s]);
    score_[s] = 0;
    seen_[s] = 0;
  }
  touched_.clear();
}

}  // namespace hipi
