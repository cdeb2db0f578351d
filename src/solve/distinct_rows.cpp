#include "solve/distinct_rows.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <limits>
#include <type_traits>

#include "methods/layout.hpp"
#include "methods/solve_method.hpp"

namespace hipi {

RowRange rows_for(const SolveOptions& options, std::int64_t n, bool side_b, const Comm& comm) {
  if (options.method != Method::Auto) return solve_method(options.method).rows(n, side_b, options, comm);
  return auto_rows(n, comm.size(), comm.rank());
}

void refuse_zero_rows(const Comm& comm, const InputMatrix& input, ZeroRows mine, bool skip) {
  const std::int64_t none = std::numeric_limits<std::int64_t>::max();
  const std::int64_t lowest =
      boost::mpi::all_reduce(comm, mine.first < 0 ? none : mine.first, boost::mpi::minimum<std::int64_t>());
  if (lowest == none) return;
  const std::int64_t total = boost::mpi::all_reduce(comm, mine.count, std::plus<std::int64_t>());
  if (!skip)
    throw InputError(fmt::format("{}: row {} is all zeros ({} such rows): a zero vector has no cosine; remove them, "
                                 "or pass --skip-zero-rows to leave them without pairs",
                                 input.ref.str(), lowest, total),
                     /*collective=*/true);
  if (comm.rank() == 0)
    spdlog::info("cosine: {} rows of {} are all zeros and pair with nothing (--skip-zero-rows)", total,
                 input.ref.str());
}

namespace {

// Dense rows of zeros (refuse_zero_rows).
void check_zero_rows(const Comm& comm, const InputMatrix& input, const LocalRows<RealMatrix>& rows, bool skip) {
  std::int64_t first = -1, count = 0;
  for (std::int64_t r = 0; r < rows.range.size(); ++r) {
    const float* x = rows.rows.row(r);
    if (std::any_of(x, x + rows.rows.cols(), [](float v) { return v != 0; })) continue;
    if (first < 0) first = rows.range.begin + r;
    ++count;
  }
  refuse_zero_rows(comm, input, {first, count}, skip);
}

}  // namespace

template <class Matrix>
LocalRows<Matrix> read_distinct(const Comm& comm, const InputMatrix& input, bool side_b,
                                const SideReader<Matrix>& reader, Duplicates& copies) {
  const SolveOptions& options = reader.options;
  StageTimes& times = reader.times;
  const RowRange range = rows_for(options, input.rows, side_b, comm);
  agree(comm, [&] {
    const double row_bytes = Matrix::row_bytes(input.cols);
    reader.budget.check(fmt::format("the {} rows of {} this rank reads", range.size(), input.ref.str()),
                        row_bytes * static_cast<double>(range.size()));
  });
  LocalRows<Matrix> rows = times.time("read", [&] {
    LocalRows<Matrix> read = reader.read(comm, input, range);
    check_input_unchanged(comm, input);
    return read;
  });
  if constexpr (std::is_same_v<Matrix, RealMatrix>)
    if (options.problem.cosine) check_zero_rows(comm, input, rows, options.problem.skip_zero_rows);
  // Top-k keeps every row: a row's copies are neighbours like any other row, each in its lists.
  if (options.problem.top_k > 0) {
    copies = Duplicates(input.rows);
    return rows;
  }
  copies = times.time("duplicates", [&] { return find_duplicates(comm, rows, input.rows, reader.budget); });
  if (copies.none()) return rows;
  if (comm.rank() == 0)
    spdlog::info(
        "duplicates: {} of the {} rows of {} are exact copies of {} rows; the methods solve the {} distinct rows",
        copies.copies(), input.rows, input.ref.str(), copies.reps().size(), copies.distinct());
  return times.time("duplicates", [&] {
    return collapse_rows(comm, rows, copies, rows_for(options, copies.distinct(), side_b, comm));
  });
}

template LocalRows<BitMatrix> read_distinct(const Comm&, const InputMatrix&, bool, const SideReader<BitMatrix>&,
                                            Duplicates&);
template LocalRows<RealMatrix> read_distinct(const Comm&, const InputMatrix&, bool, const SideReader<RealMatrix>&,
                                             Duplicates&);

}  // namespace hipi
