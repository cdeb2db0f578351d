#include "parallel/row_exchange.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cstring>
#include <numeric>
#include <unordered_set>

#include "core/bit_matrix.hpp"
#include "core/random.hpp"

namespace hipi {

RowOwners::RowOwners(const Comm& comm, RowRange mine) {
  boost::mpi::all_gather(comm, mine, ranges_);
}

int RowOwners::owner(std::int64_t row) const {
  const auto at = std::partition_point(ranges_.begin(), ranges_.end(), [&](const RowRange& r) { return r.end <= row; });
  HIPI_ASSERT(at != ranges_.end() && at->contains(row));
  return static_cast<int>(at - ranges_.begin());
}

template <class Matrix>
Matrix fetch_rows(const Comm& comm, const LocalRows<Matrix>& have, const RowOwners& owners,
                  const std::vector<std::int64_t>& wanted) {
  using T = typename Matrix::value_type;
  const int P = comm.size();
  const auto stride = static_cast<std::size_t>(have.rows.stride());
  // Rows this rank holds are copied straight into place; only the others travel (a collapse
  // of copies moves few rows between ranks, and each copy of a large block through the
  // exchange's buffers cost more than the exchange: pages of 1.5 GB cleared three times).
  std::vector<std::vector<std::int64_t>> requests(static_cast<std::size_t>(P));
  for (std::int64_t row : wanted)
    if (!have.range.contains(row)) requests[static_cast<std::size_t>(owners.owner(row))].push_back(row);
  const std::vector<std::vector<std::int64_t>> asked = alltoallv(comm, requests);
  std::vector<std::vector<T>> replies(static_cast<std::size_t>(P));
  for (int r = 0; r < P; ++r)
    for (std::int64_t row : asked[static_cast<std::size_t>(r)]) {
      const T* values = have.rows.row(row - have.range.begin);
      replies[static_cast<std::size_t>(r)].insert(replies[static_cast<std::size_t>(r)].end(), values, values + stride);
    }
  const std::vector<std::vector<T>> got = alltoallv(comm, replies);
  Matrix out(static_cast<std::int64_t>(wanted.size()), have.rows.cols());
  std::vector<std::size_t> next(static_cast<std::size_t>(P), 0);
  for (std::size_t k = 0; k < wanted.size();) {
    if (have.range.contains(wanted[k])) {  // a run of consecutive rows held here, in one copy
      std::size_t end = k + 1;
      while (end < wanted.size() && wanted[end] == wanted[end - 1] + 1 && have.range.contains(wanted[end])) ++end;
      std::memcpy(out.row(static_cast<std::int64_t>(k)), have.rows.row(wanted[k] - have.range.begin),
                  (end - k) * stride * sizeof(T));
      k = end;
      continue;
    }
    const auto o = static_cast<std::size_t>(owners.owner(wanted[k]));
    std::memcpy(out.row(static_cast<std::int64_t>(k)), got[o].data() + next[o]++ * stride, stride * sizeof(T));
    ++k;
  }
  return out;
}

SparseMatrix fetch_rows(const Comm& comm, const LocalRows<SparseMatrix>& have, const RowOwners& owners,
                        const std::vector<std::int64_t>& wanted) {
  const auto P = static_cast<std::size_t>(comm.size());
  std::vector<std::vector<std::int64_t>> requests(P);
  for (std::int64_t row : wanted) requests[static_cast<std::size_t>(owners.owner(row))].push_back(row);
  const std::vector<std::vector<std::int64_t>> asked = alltoallv(comm, requests);
  std::vector<std::vector<std::int64_t>> lengths(P), indices(P);
  std::vector<std::vector<float>> values(P);
  for (std::size_t r = 0; r < P; ++r)
    for (std::int64_t row : asked[r]) {
      const auto index = have.rows.indices(row - have.range.begin);
      const auto value = have.rows.values(row - have.range.begin);
      lengths[r].push_back(static_cast<std::int64_t>(index.size()));
      indices[r].insert(indices[r].end(), index.begin(), index.end());
      values[r].insert(values[r].end(), value.begin(), value.end());
    }
  const auto got_lengths = alltoallv(comm, lengths);
  const auto got_indices = alltoallv(comm, indices);
  const auto got_values = alltoallv(comm, values);
  SparseMatrix out;
  out.clear(have.rows.cols());
  std::vector<std::size_t> next_row(P, 0), next_entry(P, 0);
  for (const std::int64_t row : wanted) {
    const auto o = static_cast<std::size_t>(owners.owner(row));
    const auto length = static_cast<std::size_t>(got_lengths[o][next_row[o]++]);
    for (std::size_t k = 0; k < length; ++k, ++next_entry[o])
      out.append(got_indices[o][next_entry[o]], got_values[o][next_entry[o]]);
    out.end_row();
  }
  return out;
}

std::vector<std::int64_t> sample_row_ids(std::int64_t n, std::int64_t count, std::uint64_t seed, std::uint64_t stream) {
  std::vector<std::int64_t> ids;
  if (count >= n) {
    ids.resize(static_cast<std::size_t>(std::max<std::int64_t>(n, 0)));
    std::iota(ids.begin(), ids.end(), 0);
    return ids;
  }
  // Floyd's algorithm: count distinct rows in count draws, whatever n.
  RandomStream rng(seed, {stream, static_cast<std::uint64_t>(n), static_cast<std::uint64_t>(count)});
  std::unordered_set<std::int64_t> chosen;
  for (std::int64_t j = n - count; j < n; ++j) {
    const auto t = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(j + 1)));
    chosen.insert(chosen.count(t) ? j : t);
  }
  ids.assign(chosen.begin(), chosen.end());
  std::sort(ids.begin(), ids.end());
  return ids;
}

template <class Matrix>
std::optional<LocalRows<Matrix>> relayout_rows(const Comm& comm, const LocalRows<Matrix>& rows, RowRange range) {
  const bool same = boost::mpi::all_reduce(comm, rows.range == range, std::logical_and<bool>());
  if (same) return std::nullopt;
  std::vector<std::int64_t> wanted(static_cast<std::size_t>(range.size()));
  std::iota(wanted.begin(), wanted.end(), range.begin);
  return LocalRows<Matrix>{range, fetch_rows(comm, rows, RowOwners(comm, rows.range), wanted)};
}

template BitMatrix fetch_rows(const Comm&, const LocalRows<BitMatrix>&, const RowOwners&,
                              const std::vector<std::int64_t>&);
template RealMatrix fetch_rows(const Comm&, const LocalRows<RealMatrix>&, const RowOwners&,
                               const std::vector<std::int64_t>&);
template std::optional<LocalRows<BitMatrix>> relayout_rows(const Comm&, const LocalRows<BitMatrix>&, RowRange);
template std::optional<LocalRows<RealMatrix>> relayout_rows(const Comm&, const LocalRows<RealMatrix>&, RowRange);
template std::optional<LocalRows<SparseMatrix>> relayout_rows(const Comm&, const LocalRows<SparseMatrix>&, RowRange);

}  // namespace hipi
