// What a solve tells its user at the end: predicted against measured stages, the stage
// times and peak memory in the log, and the JSON report (--report).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "solve/solve_answer.hpp"
#include "solve/solver.hpp"

namespace hipi {

/// The auto plan's predicted stages (and candidates) beside the measured ones: `timings`
/// are the gathered stage times, `repetitions` the sketch's per-repetition record (null
/// otherwise). Logs the totals.
nlohmann::ordered_json predicted_vs_measured(const nlohmann::ordered_json& plan, const nlohmann::ordered_json& timings,
                                             const nlohmann::ordered_json& repetitions);
/// Whether predicted_vs_measured's total was off by more than a factor of 2 (past 1 s).
bool prediction_missed(const nlohmann::ordered_json& compared);

/// What the report says of one finished solve.
struct SolveRecord {
  const SolveOptions& options;
  const InputMatrix& a;
  const InputMatrix* b;  // null in a self-join
  const Solved& solved;
  const SolveSummary& summary;
  std::string inputs;  // "a.h5:/A b.h5:/B"
};

/// Collective: logs the stage times and every rank's peak memory against the budget, and
/// returns the JSON report (every rank; rank 0 writes it).
nlohmann::ordered_json finish_report(const Comm& comm, const SolveRecord& record);

}  // namespace hipi
