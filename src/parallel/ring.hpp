// The ring of ranks: every rank's block of rows visits every rank in turn.
//
// Brute force and multi-index hashing keep one side in place and pass the other side's
// row blocks around the ring; the next block is received while the current one is visited.
#pragma once

#include <boost/mpi/collectives.hpp>
#include <boost/mpi/nonblocking.hpp>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "hipi/error.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

constexpr int kRingTag = 17;

/// Collective. Passes the row blocks of a matrix (block q held first by rank q) around the ring
/// for `steps` steps: at step s this rank visits, with visit(block, global rows, s), the block
/// of rank (rank - s) mod P. An agreed error (every rank throws it) ends the pass cleanly.
template <class Matrix, class Visit>
void ring_pass(const Comm& comm, const LocalRows<Matrix>& own, int steps, Visit&& visit) {
  const int P = comm.size(), rank = comm.rank();
  // Any contiguous split works (brute force reads row_block, auto reads whole tiles): each
  // rank learns every block's rows once.
  std::vector<RowRange> blocks;
  boost::mpi::all_gather(comm, own.range, blocks);
  const int next = (rank + 1) % P, prev = (rank + P - 1) % P;
  const Matrix* current = &own.rows;
  RowRange current_range = own.range;
  Matrix buffers[2];
  for (int s = 0; s < steps; ++s) {
    std::vector<boost::mpi::request> requests;
    RowRange incoming_range;
    if (s + 1 < steps) {
      const int source = ((rank - s - 1) % P + P) % P;
      incoming_range = blocks[source];
      Matrix& incoming = buffers[(s + 1) % 2];
      incoming = Matrix(incoming_range.size(), own.rows.cols());
      irecv_pieces(comm, prev, kRingTag, incoming.data(), static_cast<std::int64_t>(incoming.storage_size()), requests);
      isend_pieces(comm, next, kRingTag, current->data(), static_cast<std::int64_t>(current->storage_size()), requests);
    }
    try {
      visit(*current, current_range, s);
    } catch (const Error& e) {
      // An agreed stop (a checkpoint was saved) ends every rank here, whose transfers all
      // match: finish them before the buffers go, or MPI_Finalize writes into freed memory.
      // A rank's own error aborts the job instead, and waiting could hang.
      if (e.collective()) boost::mpi::wait_all(requests.begin(), requests.end());
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
