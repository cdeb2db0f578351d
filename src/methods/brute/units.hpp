// Brute force's units of work (brute.hpp's BruteSchedule): ring step s, chunk c of the block
// visited then, the same number on every rank, so that a checkpoint saved after any unit
// resumes on any rank alike. Used by the threshold ring and the top-k ring.
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <type_traits>

#include "methods/brute/brute.hpp"

namespace hipi {

// A unit of work of this many coordinate products (float32 GEMM-filtered) takes about half
// a second on one core; the XOR+popcount kernel does 3 (AVX2) to 25 (AVX-512) times as many.
inline constexpr double kUnitProducts = 3.4e10;
inline constexpr double kBinaryProductsPerReal = 8;
inline constexpr std::int64_t kMinChunkRows = 256;  // smaller chunks leave the kernels' tiles part-empty
// Under a tight budget a piece may be smaller: it finds up to a_rows x its rows pairs
// before they are handed over, and at a million rows of A 256 rows of B were 6 GB of them.
inline constexpr std::int64_t kMinHeldPieceRows = 16;
inline constexpr std::int64_t kMaxChunks = 1024;

// Rows [first, end) of `m` as a matrix of their own.
template <class Matrix>
Matrix row_slice(const Matrix& m, std::int64_t first, std::int64_t end) {
  Matrix out(end - first, m.cols());
  std::copy(m.row(first), m.row(first) + (end - first) * m.stride(), out.data());
  return out;
}

// Runs the units of one ring step: chunk c of `base` (rows of the visited block), skipping
// the units a checkpoint holds; `check(b_rows)` appends this chunk's pairs to `found`.
// `b_rows`: this rank's rows of the side that travels the ring.
class Units {
 public:
  template <class Matrix>
  Units(const Comm& comm, const LocalRows<Matrix>& a, std::int64_t b_rows, int steps, BruteSchedule& schedule)
      : schedule_(schedule), a_rows_(std::max<std::int64_t>(1, a.range.size())) {
    const std::int64_t most_a = boost::mpi::all_reduce(comm, a.range.size(), boost::mpi::maximum<std::int64_t>());
    const std::int64_t most_b = boost::mpi::all_reduce(comm, b_rows, boost::mpi::maximum<std::int64_t>());
    chunks_ =
        brute_chunks_per_step(most_a, most_b, a.rows.cols(), std::is_same_v<Matrix, BitMatrix>, schedule.unit_products);
    total_ = chunks_ * steps;
    // Every rank computes the same total: a checkpoint of another schedule is refused alike.
    if (schedule.resumed_total > 0 && schedule.resumed_total != total_)
      throw schedule.damaged(fmt::format("it has {} units, this run {}", schedule.resumed_total, total_));
    HIPI_ASSERT(schedule.skip_units >= 0 && schedule.skip_units <= total_);
  }
  template <class Check>
  void run_step(int s, RowRange base, std::vector<Pair>& found, Check&& check) {
    for (std::int64_t c = 0; c < chunks_; ++c) {
      const std::int64_t unit = s * chunks_ + c;
      if (unit < schedule_.skip_units) continue;
      const RowRange chunk{base.begin + base.size() * c / chunks_, base.begin + base.size() * (c + 1) / chunks_};
      // A piece of the chunk finds at most a_rows x its rows pairs: few enough to hold.
      const PairHolder& holder = schedule_.holder;
      const std::int64_t piece = holder ? std::max(kMinHeldPieceRows, holder.every / std::max<std::int64_t>(1, a_rows_))
                                        : std::max<std::int64_t>(1, chunk.size());
      for (std::int64_t first = chunk.begin; first < chunk.end; first += piece) {
        check(RowRange{first, std::min(chunk.end, first + piece)});
        if (holder) holder.hold(found);
      }
      if (schedule_.at_boundary) schedule_.at_boundary(unit + 1, total_, found);
    }
  }
  bool step_done(int s) const { return (s + 1) * chunks_ <= schedule_.skip_units; }

 private:
  BruteSchedule& schedule_;
  std::int64_t a_rows_ = 1;
  std::int64_t chunks_ = 1, total_ = 1;
};

}  // namespace hipi
