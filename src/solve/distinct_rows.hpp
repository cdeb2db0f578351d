// The first step of a solve: each rank reads its rows of an input and exact copies are
// collapsed (answer/duplicates.hpp), in the split of rows the method asks for.
#pragma once

#include <cstdint>
#include <functional>

#include "answer/duplicates.hpp"
#include "io/input.hpp"
#include "methods/solve_options.hpp"
#include "runtime/memory.hpp"
#include "runtime/stage_times.hpp"

namespace hipi {

/// How this rank gets its block `range` of an input's rows (collective).
template <class Matrix>
using ReadRows = std::function<LocalRows<Matrix>(const Comm&, const InputMatrix&, RowRange)>;

/// The rows this rank reads of an n-row side: what the method asked for needs, or auto's
/// split (methods/layout.hpp).
RowRange rows_for(const SolveOptions& options, std::int64_t n, bool side_b, const Comm& comm);

/// This rank's rows of zeros: the first (global index; -1 for none) and how many.
struct ZeroRows {
  std::int64_t first = -1;
  std::int64_t count = 0;
};
/// Collective: a cosine has no value for a row of zeros. Any on any rank is an agreed input
/// error naming the first, unless `skip` (--skip-zero-rows): they then pair with nothing
/// (the log counts them).
void refuse_zero_rows(const Comm& comm, const InputMatrix& input, ZeroRows mine, bool skip);

/// What reading one side needs besides the communicator.
template <class Matrix>
struct SideReader {
  const SolveOptions& options;
  const MemoryBudget& budget;  // the rows are checked against it before they are read
  StageTimes& times;           // "read" and "duplicates"
  const ReadRows<Matrix>& read;
};

/// Collective: reads `input`'s rows for this rank (`side_b`: the B side) and collapses exact
/// copies: returns this rank's block of the distinct rows and sets `copies`.
template <class Matrix>
LocalRows<Matrix> read_distinct(const Comm& comm, const InputMatrix& input, bool side_b,
                                const SideReader<Matrix>& reader, Duplicates& copies);

}  // namespace hipi
