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

/// The block a rank receives at one step of the ring: rank `source`'s (global rows `rows`,
/// `cols` columns), from the neighbour `from`.
struct RingIncoming {
  int from = 0;
  int source = 0;
  RowRange rows;
  std::int64_t cols = 0;
};

// How a block travels the ring (the Transfer of ring_pass_with): receive(comm, incoming,
// into, requests) posts the receives of a block into `into`; send(comm, to, block,
// requests) the sends of this rank's current block to neighbour `to`.

/// Dense rows travel as their storage.
template <class Matrix>
struct DenseRingTransfer {
  void receive(const Comm& comm, const RingIncoming& in, Matrix& into,
               std::vector<boost::mpi::request>& requests) const {
    into = Matrix(in.rows.size(), in.cols);
    irecv_pieces(comm, in.from, kRingTag, into.data(), static_cast<std::int64_t>(into.storage_size()), requests);
  }
  void send(const Comm& comm, int to, const Matrix& block, std::vector<boost::mpi::request>& requests) const {
    isend_pieces(comm, to, kRingTag, block.data(), static_cast<std::int64_t>(block.storage_size()), requests);
  }
};

/// Collective. Passes row blocks (block q held first by rank q) around the ring for `steps`
/// steps, each through `transfer`: at step s this rank visits, with visit(block, global
/// rows, s), the block of rank (rank - s) mod P. An agreed error (every rank throws it)
/// ends the pass cleanly.
template <class Matrix, class Transfer, class Visit>
void ring_pass_with(const Comm& comm, const LocalRows<Matrix>& own, int steps, const Transfer& transfer,
                    Visit&& visit) {
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
      transfer.receive(comm, RingIncoming{prev, source, incoming_range, own.rows.cols()}, buffers[(s + 1) % 2],
                       requests);
      transfer.send(comm, next, *current, requests);
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

/// ring_pass_with for dense rows (BitMatrix, RealMatrix).
template <class Matrix, class Visit>
void ring_pass(const Comm& comm, const LocalRows<Matrix>& own, int steps, Visit&& visit) {
  ring_pass_with(comm, own, steps, DenseRingTransfer<Matrix>{}, std::forward<Visit>(visit));
}

}  // namespace hipi
