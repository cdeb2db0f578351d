#include "hipi/brute.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/nonblocking.hpp>
#include <climits>

#include "hipi/verify.hpp"

namespace hipi {

namespace {

constexpr int kRingTag = 17;

// Passes the row blocks of a matrix (n rows, block q held first by rank q) around the ring
// for `steps` steps: at step s this rank visits the block of rank (rank - s) mod P. The
// next block is received while the current one is visited.
template <class Matrix, class Visit>
void ring_pass(const Comm& comm, const LocalRows<Matrix>& own, int steps, Visit&& visit, const ProgressFn& progress) {
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
      HIPI_ASSERT(incoming.storage_size() <= static_cast<std::size_t>(INT_MAX));
      requests.push_back(comm.irecv(prev, kRingTag, incoming.data(), static_cast<int>(incoming.storage_size())));
      requests.push_back(comm.isend(next, kRingTag, current->data(), static_cast<int>(current->storage_size())));
    }
    visit(*current, current_range, s);
    boost::mpi::wait_all(requests.begin(), requests.end());
    if (s + 1 < steps) {
      current = &buffers[(s + 1) % 2];
      current_range = incoming_range;
    }
    if (progress && comm.rank() == 0) progress(s + 1, steps);
  }
}

// Rows [first, end) of `m` as a matrix of their own.
template <class Matrix>
Matrix row_slice(const Matrix& m, std::int64_t first, std::int64_t end) {
  Matrix out(end - first, m.cols());
  std::copy(m.row(first), m.row(first) + (end - first) * m.stride(), out.data());
  return out;
}

}  // namespace

template <class Matrix>
std::vector<Pair> brute_force(const Comm& comm, const LocalRows<Matrix>& a, const LocalRows<Matrix>& b,
                              const Threshold& threshold, const ProgressFn& progress) {
  std::vector<Pair> found;
  ring_pass(
      comm, b, comm.size(),
      [&](const Matrix& block, RowRange range, int) {
        heavy_pairs(a.rows, a.range.begin, block, range.begin, threshold, PairFilter::All, found);
      },
      progress);
  return found;
}

template <class Matrix>
std::vector<Pair> brute_force_self(const Comm& comm, const LocalRows<Matrix>& a, const Threshold& threshold,
                                   const ProgressFn& progress) {
  // Block pair {x, y} is checked by the rank at ring distance (x - y) mod P <= P/2 from it.
  // With P even, distance P/2 is reached from both sides, and the two ranks split it by
  // the higher block's rows: the lower rank x checks x against the first half of y, the
  // higher rank y its second half against x. (Left to one side, it made 2 ranks 3:1.)
  const int P = comm.size(), rank = comm.rank();
  const int steps = P / 2 + 1;
  std::vector<Pair> found;
  ring_pass(
      comm, a, steps,
      [&](const Matrix& block, RowRange range, int s) {
        if (s == 0) {
          heavy_pairs(a.rows, a.range.begin, block, range.begin, threshold, PairFilter::Upper, found);
          return;
        }
        const std::size_t first_new = found.size();
        if (2 * s == P && rank < P / 2) {
          heavy_pairs(a.rows, a.range.begin, block, range.begin, threshold, PairFilter::All, found,
                      RowRange{0, range.size() / 2});
        } else if (2 * s == P) {
          const std::int64_t half = a.range.size() / 2;
          heavy_pairs(row_slice(a.rows, half, a.range.size()), a.range.begin + half, block, range.begin, threshold,
                      PairFilter::All, found);
        } else {
          heavy_pairs(a.rows, a.range.begin, block, range.begin, threshold, PairFilter::All, found);
        }
        for (std::size_t k = first_new; k < found.size(); ++k)  // report as (lower, higher)
          if (found[k].i > found[k].j) std::swap(found[k].i, found[k].j);
      },
      progress);
  return found;
}

template std::vector<Pair> brute_force(const Comm&, const LocalRows<BitMatrix>&, const LocalRows<BitMatrix>&,
                                       const Threshold&, const ProgressFn&);
template std::vector<Pair> brute_force(const Comm&, const LocalRows<RealMatrix>&, const LocalRows<RealMatrix>&,
                                       const Threshold&, const ProgressFn&);
template std::vector<Pair> brute_force_self(const Comm&, const LocalRows<BitMatrix>&, const Threshold&,
                                            const ProgressFn&);
template std::vector<Pair> brute_force_self(const Comm&, const LocalRows<RealMatrix>&, const Threshold&,
                                            const ProgressFn&);

}  // namespace hipi
