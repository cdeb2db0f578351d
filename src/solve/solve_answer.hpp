// The core every solve shares, from input rows to the sorted answer: checks the options,
// reads (through the readers given: HDF5 files for `hipi solve`, the caller's arrays for
// the library, hipi.hpp), collapses copies, plans, runs the method, and sorts the pairs
// across ranks. run_solve writes the answer to a file; find_heavy_pairs returns it.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "answer/duplicates.hpp"
#include "answer/pair_spill.hpp"
#include "answer/top_k.hpp"
#include "io/input.hpp"
#include "io/pair_file.hpp"
#include "methods/solve_method.hpp"
#include "runtime/memory.hpp"
#include "runtime/stage_times.hpp"
#include "solve/distinct_rows.hpp"

namespace hipi {

/// Throws InputError for options no method can take (not collective: call inside agree()).
void check_solve_options(const SolveOptions& options, int ranks);

/// How this rank gets its block `range` of an input's rows (collective), by mode; sparse
/// rows for the methods that run on them (a sparse input is densified for the others).
struct RowReaders {
  ReadRows<BitMatrix> binary;
  ReadRows<RealMatrix> real;
  ReadRows<SparseMatrix> sparse;
};

/// What every stage of one solve shares.
struct SolveContext {
  const SolveOptions& options;
  const MemoryBudget& budget;
  StageTimes& times;
  PairSpill* spill;  // null when the answer has nowhere to go but memory
};

/// What the method found, before the answer is sorted.
struct Outcome {
  Method method = Method::Auto;
  MethodResult result;
  nlohmann::ordered_json plan;
  Duplicates copies_a, copies_b;  // the methods solved the distinct rows: result is in their indices
};

struct Solved {
  // The answer's stream refers to `outcome` (its copies) and `spill`: a Solved stays where
  // it was made (solve_answer returns it owned), never copied or moved.
  Solved() = default;
  Solved(const Solved&) = delete;
  Solved& operator=(const Solved&) = delete;
  StageTimes times;
  MemoryBudget budget;
  bool self_join = false;
  Threshold threshold;
  Outcome outcome;
  nlohmann::ordered_json parameters;  // recorded with the answer (the output's attribute)
  PairStream answer;                  // this rank's slice, sorted by (i, j), copies expanded
  double predicted_peak = 0;          // bytes: resident at the sort plus what the sort adds
  // Set when the answer passed the budget: every rank's pairs are in it, not in `answer`;
  // SpilledAnswer makes the output from it in windows of `window_pairs` per rank.
  std::unique_ptr<PairSpill> spill;
  std::int64_t window_pairs = 0;
  std::optional<KnnTable> knn;  // top-k: this rank's rows' lists as FAISS lays them out
};

/// Collective. `a` and `b` (null in a self-join) describe the inputs (agreed metadata);
/// options are checked. With options.plan_only it returns after planning (no answer).
std::unique_ptr<Solved> solve_answer(const Comm& comm, const InputMatrix& a, const InputMatrix* b,
                                     const SolveOptions& options, const RowReaders& read);

}  // namespace hipi
