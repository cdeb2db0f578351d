// The ring of ranks for sparse row blocks (core/sparse_matrix.hpp): a block's size is its
// entries, not its rows, so every block's entries are learnt first and a block travels as
// its three arrays (ring.hpp's ring_pass_with does the rest).
#pragma once

#include <boost/mpi/collectives.hpp>
#include <vector>

#include "core/sparse_matrix.hpp"
#include "parallel/ring.hpp"

namespace hipi {

class SparseRingTransfer {
 public:
  /// Collective: learns every rank's entries.
  SparseRingTransfer(const Comm& comm, const SparseMatrix& own) { boost::mpi::all_gather(comm, own.nnz(), entries_); }

  void receive(const Comm& comm, const RingIncoming& in, SparseMatrix& into,
               std::vector<boost::mpi::request>& requests) const {
    const std::int64_t entries = entries_[static_cast<std::size_t>(in.source)];
    into.clear(in.cols);
    into.indptr().resize(static_cast<std::size_t>(in.rows.size() + 1));
    into.indices().resize(static_cast<std::size_t>(entries));
    into.values().resize(static_cast<std::size_t>(entries));
    irecv_pieces(comm, in.from, kRingTag, into.indptr().data(), in.rows.size() + 1, requests);
    irecv_pieces(comm, in.from, kRingTag + 1, into.indices().data(), entries, requests);
    irecv_pieces(comm, in.from, kRingTag + 2, into.values().data(), entries, requests);
  }
  void send(const Comm& comm, int to, const SparseMatrix& block, std::vector<boost::mpi::request>& requests) const {
    isend_pieces(comm, to, kRingTag, block.indptr().data(), block.rows() + 1, requests);
    isend_pieces(comm, to, kRingTag + 1, block.indices().data(), block.nnz(), requests);
    isend_pieces(comm, to, kRingTag + 2, block.values().data(), block.nnz(), requests);
  }

 private:
  std::vector<std::int64_t> entries_;
};

/// Collective. As ring_pass: at step s this rank visits, with visit(block, global rows, s),
/// the sparse block of rank (rank - s) mod P, for `steps` steps.
template <class Visit>
void sparse_ring_pass(const Comm& comm, const LocalRows<SparseMatrix>& own, int steps, Visit&& visit) {
  ring_pass_with(comm, own, steps, SparseRingTransfer(comm, own.rows), std::forward<Visit>(visit));
}

}  // namespace hipi
