#include "solve/distinct_rows.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "methods/layout.hpp"
#include "methods/solve_method.hpp"

namespace hipi {

RowRange rows_for(const SolveOptions& options, std::int64_t n, bool side_b, const Comm& comm) {
  if (options.method != Method::Auto) return solve_method(options.method).rows(n, side_b, options, comm);
  return auto_rows(n, comm.size(), comm.rank());
}

template <class Matrix>
LocalRows<Matrix> read_distinct(const Comm& comm, const InputMatrix& input, bool side_b,
                                const SideReader<Matrix>& reader, Duplicates& copies) {
  const SolveOptions& options = reader.options;
  StageTimes& times = reader.times;
  const RowRange range = rows_for(options, input.rows, side_b, comm);
  agree(comm, [&] {
    const double row_bytes = static_cast<double>(Matrix(1, input.cols).storage_size() * sizeof(*Matrix().data()));
    reader.budget.check(fmt::format("the {} rows of {} this rank reads", range.size(), input.ref.str()),
                        row_bytes * static_cast<double>(range.size()));
  });
  LocalRows<Matrix> rows = times.time("read", [&] { return reader.read(comm, input, range); });
  copies = times.time("duplicates", [&] { return find_duplicates(comm, rows, input.rows); });
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
