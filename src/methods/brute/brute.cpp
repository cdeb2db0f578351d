#include "methods/brute/brute.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/nonblocking.hpp>
#include <climits>
#include <cmath>
#include <type_traits>

#include "kernels/exact.hpp"
#include "methods/brute/units.hpp"
#include "parallel/ring.hpp"

namespace hipi {

namespace {

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
