#include "methods/sparse/inverted_index.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "hipi/error.hpp"

namespace hipi {

namespace {

// Margins far above float64 rounding of sums of at most ~1e9 terms: a cut or a bound that
// is this close to the threshold is treated as reaching it.
constexpr double kMargin = 1e-9;

// How many of `rows`' rows hold each of their features: (feature, count), by feature.
std::vector<std::pair<std::int64_t, std::int64_t>> feature_counts(const SparseMatrix& rows) {
  std::vector<std::int64_t> all(rows.indices());
  std::sort(all.begin(), all.end());
  std::vector<std::pair<std::int64_t, std::int64_t>> counts;
  for (const std::int64_t f : all) {
    if (counts.empty() || counts.back().first != f) counts.emplace_back(f, 0);
    ++counts.back().second;
  }
  return counts;
}

}  // namespace

InvertedIndex::InvertedIndex(const SparseMatrix& rows, const std::vector<double>& norms, const IndexCut& cut) {
  if (rows.rows() > std::numeric_limits<std::int32_t>::max())
    throw InternalError("the sparse index holds at most 2^31 - 1 rows on a rank");
  const Threshold& t = cut.threshold;
  // One order of the features for every row: most frequent first (ties by feature).
  auto counts = feature_counts(rows);
  std::sort(counts.begin(), counts.end(),
            [](auto& x, auto& y) { return x.second != y.second ? x.second > y.second : x.first < y.first; });
  if (rows.cols() <= kDenseFeatures) {
    rank_.assign(static_cast<std::size_t>(rows.cols()), kUnranked);
    for (std::size_t k = 0; k < counts.size(); ++k) rank_[counts[k].first] = static_cast<std::int32_t>(k);
  } else {
    for (std::size_t k = 0; k < counts.size(); ++k) ranked_.emplace_back(counts[k].first, static_cast<std::int32_t>(k));
    std::sort(ranked_.begin(), ranked_.end());
  }
  rest_norm_.assign(static_cast<std::size_t>(rows.rows()), 0.0);
  cut_rank_.assign(static_cast<std::size_t>(rows.rows()), kUnranked);
  // Each row's entries in that order; the cut keeps the longest prefix whose norm cannot
  // reach the threshold with any probing row.
  std::vector<std::pair<std::int32_t, std::int64_t>> by_rank;  // (rank, entry)
  std::vector<std::pair<std::int64_t, std::int64_t>> kept;     // (feature, entry) indexed
  kept.reserve(static_cast<std::size_t>(rows.nnz()));
  for (std::int64_t r = 0; r < rows.rows(); ++r) {
    const auto index = rows.indices(r);
    const std::int64_t first = rows.indptr()[r];
    by_rank.clear();
    for (std::size_t k = 0; k < index.size(); ++k) by_rank.emplace_back(rank_of(index[k]), first + std::int64_t(k));
    std::sort(by_rank.begin(), by_rank.end());
    // The prefix may take norm up to `room`: theta / max||x||, or theta ||y|| with --cosine.
    const double room =
        (t.cosine ? t.theta * norms[r] : (cut.probe_norm_max > 0 ? t.theta / cut.probe_norm_max : INFINITY)) *
        (1 - kMargin);
    double mass = 0;
    std::size_t cut_at = 0;
    for (; cut_at < by_rank.size(); ++cut_at) {
      const double v = rows.values()[by_rank[cut_at].second];
      const double next = mass + v * v;
      if (!(std::sqrt(next) * (1 + kMargin) < room)) break;
      mass = next;
    }
    if (cut_at < by_rank.size()) cut_rank_[r] = by_rank[cut_at].first;
    rest_norm_[r] = std::sqrt(mass) * (1 + kMargin);
    for (std::size_t k = cut_at; k < by_rank.size(); ++k)
      kept.emplace_back(rows.indices()[by_rank[k].second], by_rank[k].second);
  }
  // Postings by feature, rows in increasing order within each (a stable sort of entries
  // that were appended row by row).
  std::stable_sort(kept.begin(), kept.end(), [](auto& x, auto& y) { return x.first < y.first; });
  posting_row_.resize(kept.size());
  posting_value_.resize(kept.size());
  std::vector<std::int64_t> entry_row(static_cast<std::size_t>(rows.nnz()));
  for (std::int64_t r = 0; r < rows.rows(); ++r)
    std::fill(entry_row.begin() + rows.indptr()[r], entry_row.begin() + rows.indptr()[r + 1], r);
  for (std::size_t k = 0; k < kept.size(); ++k) {
    if (features_.empty() || features_.back() != kept[k].first) {
      features_.push_back(kept[k].first);
      begin_.push_back(static_cast<std::int64_t>(k));
    }
    posting_row_[k] = static_cast<std::int32_t>(entry_row[kept[k].second]);
    posting_value_[k] = rows.values()[kept[k].second];
  }
  begin_.push_back(static_cast<std::int64_t>(kept.size()));
  if (rows.cols() <= kDenseFeatures) {
    slot_.assign(static_cast<std::size_t>(rows.cols()), -1);
    for (std::size_t k = 0; k < features_.size(); ++k) slot_[features_[k]] = static_cast<std::int32_t>(k);
  }
  score_.assign(static_cast<std::size_t>(rows.rows()), 0.0);
  seen_.assign(static_cast<std::size_t>(rows.rows()), 0);
}

std::int32_t InvertedIndex::rank_of(std::int64_t f) const {
  if (!rank_.empty()) return rank_[f];
  const auto at = std::lower_bound(ranked_.begin(), ranked_.end(), std::make_pair(f, std::int32_t{0}));
  return at != ranked_.end() && at->first == f ? at->second : kUnranked;
}

double InvertedIndex::bytes_for(std::int64_t rows, std::int64_t entries, std::int64_t d) {
  // Postings (8 bytes) and at most one feature (16) and its rank (16) per entry, 25 bytes
  // per row, the dense tables; building holds 16 bytes per entry (feature, entry) and 8
  // (the entries' rows).
  const double tables = d <= kDenseFeatures ? 12.0 * static_cast<double>(d) : 0.0;
  return 64.0 * static_cast<double>(entries) + 25.0 * static_cast<double>(rows) + tables;
}

}  // namespace hipi
