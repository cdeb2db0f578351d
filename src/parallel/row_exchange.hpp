// Rows moved between ranks: a rank asks for rows by global index and gets them from the
// ranks that hold them (collapsing copies, a method's own split of the rows).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/sparse_matrix.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// Which rank holds each row: the ranks' blocks, contiguous in rank order.
class RowOwners {
 public:
  /// Collective: `mine` is this rank's block.
  RowOwners(const Comm& comm, RowRange mine);
  int owner(std::int64_t row) const;

 private:
  std::vector<RowRange> ranges_;
};

/// Collective: the `wanted` rows (global indices, any order), from the ranks holding them
/// in `have`, in the order asked.
template <class Matrix>
Matrix fetch_rows(const Comm& comm, const LocalRows<Matrix>& have, const RowOwners& owners,
                  const std::vector<std::int64_t>& wanted);

/// The same for sparse rows (each row's entries travel with its length).
SparseMatrix fetch_rows(const Comm& comm, const LocalRows<SparseMatrix>& have, const RowOwners& owners,
                        const std::vector<std::int64_t>& wanted);

/// The rows a planner samples: `count` of n (all of them when count >= n), drawn without
/// repeats from stream `stream` of `seed`, sorted: the same for any number of ranks. Rows are drawn
/// at random, not taken from the front: real files are sorted by source, date or cluster,
/// and their first rows are no sample of the rest.
std::vector<std::int64_t> sample_row_ids(std::int64_t n, std::int64_t count, std::uint64_t seed, std::uint64_t stream);

/// Collective: the rows sample_row_ids names, fetched to every rank.
template <class Matrix>
Matrix fetch_sample(const Comm& comm, const LocalRows<Matrix>& have, std::int64_t n, std::int64_t count,
                    std::uint64_t seed, std::uint64_t stream) {
  return fetch_rows(comm, have, RowOwners(comm, have.range), sample_row_ids(n, count, seed, stream));
}

/// Collective: this rank's block `range` of the same rows, fetched from the ranks holding
/// them in `rows` (another split of the rows over ranks); nothing (and no copy) when every
/// rank's block is already the one wanted.
template <class Matrix>
std::optional<LocalRows<Matrix>> relayout_rows(const Comm& comm, const LocalRows<Matrix>& rows, RowRange range);

}  // namespace hipi
