#include "methods/brute/brute.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/nonblocking.hpp>
#include <climits>
#include <cmath>
#include <type_traits>

#include "kernels/exact.hpp"
#include "parallel/ring.hpp"

namespace hipi {

namespace {

// Rows [first, end) of `m` as a matrix of their own.
template <class Matrix>
Matrix row_slice(const Matrix& m, std::int64_t first, std::int64_t end) {
  Matrix out(end - first, m.cols());
  std::copy(m.row(first), m.row(first) + (end - first) * m.stride(), out.data());
  return out;
}

// A unit of work of this many coordinate products (float32 GEMM-filtered) takes about half
// a second on one core; the XOR+popcount kernel does 3 (AVX2) to 25 (AVX-512) times as many.
constexpr double kUnitProducts = 3.4e10;
constexpr double kBinaryProductsPerReal = 8;
constexpr std::int64_t kMinChunkRows = 256;  // smaller chunks leave the kernels' tiles part-empty
// Under a tight budget a piece may be smaller: it finds up to a_rows x its rows pairs
// before they are handed over, and at a million rows of A 256 rows of B were 6 GB of them.
constexpr std::int64_t kMinHeldPieceRows = 16;
constexpr std::int64_t kMaxChunks = 1024;

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

// The check of one block pair: heavy_pairs, or the schedule's check of real blocks.
template <class Matrix>
struct BlockCheck {
  const Threshold& threshold;
  const RealBlockCheck* real = nullptr;
  void operator()(RowsAt<Matrix> a, RowsAt<Matrix> b, PairFilter filter, std::vector<Pair>& out,
                  RowRange b_rows) const {
    if constexpr (std::is_same_v<Matrix, RealMatrix>)
      if (real) return real->pairs(a, b, threshold, filter, out, b_rows);
    heavy_pairs(a, b, threshold, filter, out, b_rows);
  }
};

}  // namespace

std::int64_t brute_chunks_per_step(std::int64_t a_rows, std::int64_t b_rows, std::int64_t d, bool binary,
                                   double unit_products) {
  const double products = static_cast<double>(a_rows) * static_cast<double>(b_rows) * static_cast<double>(d) /
                          (binary ? kBinaryProductsPerReal : 1.0);
  const std::int64_t by_work =
      static_cast<std::int64_t>(std::ceil(products / (unit_products > 0 ? unit_products : kUnitProducts)));
  const std::int64_t by_rows = std::max<std::int64_t>(1, b_rows / kMinChunkRows);
  return std::clamp<std::int64_t>(std::min(by_work, by_rows), 1, kMaxChunks);
}

template <class Matrix>
std::vector<Pair> brute_force(const Comm& comm, const LocalRows<Matrix>& a, const LocalRows<Matrix>& b,
                              const Threshold& threshold, BruteSchedule schedule) {
  std::vector<Pair> found = std::move(schedule.resumed_pairs);
  const BlockCheck<Matrix> check_pairs{threshold, schedule.real_check};
  Units units(comm, a, b.range.size(), comm.size(), schedule);
  ring_pass(comm, b, comm.size(), [&](const Matrix& block, RowRange range, int s) {
    units.run_step(s, RowRange{0, range.size()}, found, [&](RowRange chunk) {
      check_pairs({a.rows, a.range.begin}, {block, range.begin}, PairFilter::All, found, chunk);
    });
  });
  return found;
}

template <class Matrix>
std::vector<Pair> brute_force_self(const Comm& comm, const LocalRows<Matrix>& a, const Threshold& threshold,
                                   BruteSchedule schedule) {
  // Block pair {x, y} is checked by the rank at ring distance (x - y) mod P <= P/2 from it.
  // With P even, distance P/2 is reached from both sides, and the two ranks split it by
  // the higher block's rows: the lower rank x checks x against the first half of y, the
  // higher rank y its second half against x. (Left to one side, it made 2 ranks 3:1.)
  const int P = comm.size(), rank = comm.rank();
  const int steps = P / 2 + 1;
  std::vector<Pair> found = std::move(schedule.resumed_pairs);
  const BlockCheck<Matrix> check_pairs{threshold, schedule.real_check};
  Units units(comm, a, a.range.size(), steps, schedule);
  ring_pass(comm, a, steps, [&](const Matrix& block, RowRange range, int s) {
    if (units.step_done(s)) return;
    const RowRange all{0, range.size()};
    if (s == 0) {
      units.run_step(s, all, found, [&](RowRange chunk) {
        check_pairs({a.rows, a.range.begin}, {block, range.begin}, PairFilter::Upper, found, chunk);
      });
      return;
    }
    // Pairs of other blocks are reported as (lower, higher).
    const auto check = [&](const Matrix& rows, std::int64_t first) {
      return [&, first](RowRange chunk) {
        const std::size_t first_new = found.size();
        check_pairs({rows, first}, {block, range.begin}, PairFilter::All, found, chunk);
        for (std::size_t k = first_new; k < found.size(); ++k)
          if (found[k].i > found[k].j) std::swap(found[k].i, found[k].j);
      };
    };
    if (2 * s == P && rank < P / 2) {
      units.run_step(s, RowRange{0, range.size() / 2}, found, check(a.rows, a.range.begin));
    } else if (2 * s == P) {
      const std::int64_t half = a.range.size() / 2;
      const Matrix second_half = row_slice(a.rows, half, a.range.size());
      units.run_step(s, all, found, check(second_half, a.range.begin + half));
    } else {
      units.run_step(s, all, found, check(a.rows, a.range.begin));
    }
  });
  return found;
}

template std::vector<Pair> brute_force(const Comm&, const LocalRows<BitMatrix>&, const LocalRows<BitMatrix>&,
                                       const Threshold&, BruteSchedule);
template std::vector<Pair> brute_force(const Comm&, const LocalRows<RealMatrix>&, const LocalRows<RealMatrix>&,
                                       const Threshold&, BruteSchedule);
template std::vector<Pair> brute_force_self(const Comm&, const LocalRows<BitMatrix>&, const Threshold&, BruteSchedule);
template std::vector<Pair> brute_force_self(const Comm&, const LocalRows<RealMatrix>&, const Threshold&, BruteSchedule);

}  // namespace hipi
