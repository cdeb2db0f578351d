// The ring of ranks for sparse row blocks (core/sparse_matrix.hpp): as ring_pass (ring.hpp),
// but a block's size is its entries, not its rows, so every block's size is learnt first and
// a block travels as its three arrays.
#pragma once

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/nonblocking.hpp>
#include <vector>

#include "core/sparse_matrix.hpp"
#include "parallel/ring.hpp"

namespace hipi {

/// Collective. Like ring_pass: at step s this rank visits, with visit(block, global rows, s),
/// the sparse block of rank (rank - s) mod P, for `steps` steps.
template <class Visit>
void sparse_ring_pass(const Comm& comm, const LocalRows<SparseMatrix>& own, int steps, Visit&& visit) {
  const int P = comm.size(), rank = comm.rank();
  std::vector<RowRange> blocks;
  boost::mpi::all_gather(comm, own.range, blocks);
  std::vector<std::int64_t> entries;
  boost::mpi::all_gather(comm, own.rows.nnz(), entries);
  const int next = (rank + 1) % P, prev = (rank + P - 1) % P;
  const SparseMatrix* current = &own.rows;
  RowRange current_range = own.range;
  SparseMatrix buffers[2];
  for (int s = 0; s < steps; ++s) {
    std::vector<boost::mpi::request> requests;
    RowRange incoming_range;
    if (s + 1 < steps) {
      const int source = ((rank - s - 1) % P + P) % P;
      incoming_range = blocks[source];
      SparseMatrix& incoming = buffers[(s + 1) % 2];
      incoming.clear(own.rows.cols());
      incoming.indptr().resize(static_cast<std::size_t>(incoming_range.size() + 1));
      incoming.indices().resize(static_cast<std::size_t>(entries[source]));
      incoming.values().resize(static_cast<std::size_t>(entries[source]));
      irecv_pieces(comm, prev, kRingTag, incoming.indptr().data(), incoming_range.size() + 1, requests);
      irecv_pieces(comm, prev, kRingTag + 1, incoming.indices().data(), entries[source], requests);
      irecv_pieces(comm, prev, kRingTag + 2, incoming.values().data(), entries[source], requests);
      isend_pieces(comm, next, kRingTag, current->indptr().data(), current->rows() + 1, requests);
      isend_pieces(comm, next, kRingTag + 1, current->indices().data(), current->nnz(), requests);
      isend_pieces(comm, next, kRingTag + 2, current->values().data(), current->nnz(), requests);
    }
    try {
      visit(*current, current_range, s);
    } catch (const Error& e) {
      if (e.collective()) boost::mpi::wait_all(requests.begin(), requests.end());  // as ring_pass
      throw;
    }
    boost::mpi::wait_all(requests.begin(), requests.end());
    if (s + 1 < steps) {
      current = &buffers[(s + 1) % 2];
      current_range = incoming_range;
    }
  }
}

}  // namespace hipi
