// One rank's side of the sparse join: its index and the checks of the pairs a probing row
// finds there (sparse_join.hpp runs it around the ring; auto builds it to time a sample and
// the run keeps it).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "core/sparse_matrix.hpp"
#include "kernels/sparse_exact.hpp"
#include "methods/sparse/inverted_index.hpp"

namespace hipi {

/// What probing found: candidates (pairs sharing an indexed feature) and those the bound
/// kept, checked by the exact kernel.
struct ProbeCounts {
  std::int64_t candidates = 0;
  std::int64_t verified = 0;
};

// A bound this close below the threshold (relative to ||x|| ||y||) still sends the pair to
// the exact kernel: far above the rounding of the partial sums.
constexpr double kBoundMargin = 1e-9;

// The index of this rank's rows (B, or A in a self-join) and what probing it needs: one
// probing row at a time against it, the bound, then the exact kernel.
class SparseProber {
 public:
  SparseProber(const LocalRows<SparseMatrix>& indexed, const Threshold& threshold, double probe_norm_max)
      : y_(indexed),
        t_(threshold),
        y_self_(row_self_products(indexed.rows, {0, indexed.rows.rows()})),
        y_norm_(roots(y_self_)),
        index_(indexed.rows, y_norm_, {threshold, probe_norm_max}) {
    if (indexed.rows.cols() <= kDenseFeatures) {
      x_dense_.assign(static_cast<std::size_t>(indexed.rows.cols()), 0.0f);
      x_present_.assign(static_cast<std::size_t>((indexed.rows.cols() + 63) / 64), 0);
    }
  }

  const InvertedIndex& index() const { return index_; }

  /// Row r of `x` (its product with itself `x_self`) against the indexed rows in `window`;
  /// found(s, value) for each heavy pair.
  template <class Found>
  void run(const SparseMatrix& x, std::int64_t r, double x_self, RowRange window, ProbeCounts& counts,
           Found&& found) const {
    const double x_norm = std::sqrt(x_self);
    // The probing row scattered into a dense row: each check is one pass over y's entries
    // (a merge's branches mispredict at random: 660 ns a check on TF-IDF, measured).
    const bool dense = !x_dense_.empty();
    if (dense)
      for (std::size_t k = 0; k < x.indices(r).size(); ++k) {
        const std::int64_t f = x.indices(r)[k];
        x_dense_[f] = x.values(r)[k];
        x_present_[f >> 6] |= std::uint64_t{1} << (f & 63);
      }
    rank_norms(x, r);
    index_.probe(x.indices(r), x.values(r), window, [&](std::int64_t s, double partial) {
      ++counts.candidates;
      const double scale = x_norm * y_norm_[s];
      const double need = t_.cosine ? t_.theta * scale : t_.theta;
      const double bound =
          (t_.abs ? std::fabs(partial) : partial) + head_norm(index_.cut_rank(s)) * index_.rest_norm(s);
      if (bound < need - kBoundMargin * scale) return;
      ++counts.verified;
      const double ip =
          dense ? sparse_dot(ScatteredRow{x_dense_.data(), x_present_.data()}, y_.rows.indices(s), y_.rows.values(s))
                : sparse_dot(x, r, y_.rows, s);
      const double value = t_.value(ip, x_self, y_self_[s]);
      if (t_.passes(value)) found(s, value);
    });
    if (dense)
      for (const std::int64_t f : x.indices(r)) {
        x_dense_[f] = 0.0f;
        x_present_[f >> 6] = 0;
      }
  }

 private:
  static std::vector<double> roots(std::vector<double> x) {
    for (double& v : x) v = std::sqrt(v);
    return x;
  }
  // x's entries by rank in the index's order, and the running sums of their squares.
  void rank_norms(const SparseMatrix& x, std::int64_t r) const {
    by_rank_.clear();
    for (std::size_t k = 0; k < x.indices(r).size(); ++k) {
      const double v = x.values(r)[k];
      by_rank_.emplace_back(index_.rank_of(x.indices(r)[k]), v * v);
    }
    std::sort(by_rank_.begin(), by_rank_.end());
    head_.assign(1, 0.0);
    for (const auto& e : by_rank_) head_.push_back(head_.back() + e.second);
  }
  // The norm of x's entries ranked below `cut`, rounded up.
  double head_norm(std::int32_t cut) const {
    const auto k = std::lower_bound(by_rank_.begin(), by_rank_.end(), std::make_pair(cut, -1.0)) - by_rank_.begin();
    return std::sqrt(head_[static_cast<std::size_t>(k)]) * (1 + kBoundMargin);
  }

  const LocalRows<SparseMatrix>& y_;
  const Threshold& t_;
  std::vector<double> y_self_, y_norm_;  // the indexed rows' products with themselves, and their roots
  InvertedIndex index_;
  mutable std::vector<float> x_dense_;                            // d <= kDenseFeatures: the probing row, else empty
  mutable std::vector<std::uint64_t> x_present_;                  // its columns, a bit each
  mutable std::vector<std::pair<std::int32_t, double>> by_rank_;  // the probing row's (rank, square)
  mutable std::vector<double> head_;                              // head_[k]: the sum of the first k squares
};

}  // namespace hipi
