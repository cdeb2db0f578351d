// Folder solve/: the pipeline of one solve: read and collapse, plan or resume, run the method, sort
// or spill, write, report.
//
// `hipi solve`: from input datasets to the output file, for every method.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/problem.hpp"
#include "hipi/method.hpp"
#include "methods/solve_options.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// What a run did, on every rank.
struct SolveSummary {
  Method method = Method::Auto;  // the method that ran (or, for plan_only, would run)
  std::int64_t pairs = 0;        // heavy pairs written
  nlohmann::ordered_json timings;
  nlohmann::ordered_json plan;  // auto: the chosen plan, runner-up and brute force, predicted
};

/// Collective: checks the inputs (every rank agrees on any error), finds every heavy pair,
/// and writes options.out atomically (and options.report, if set). With Method::Auto the
/// planner prices every registered method from sampled statistics and this machine's
/// rates and runs the fastest; with plan_only it stops there.
SolveSummary run_solve(const Comm& comm, const SolveOptions& options);

}  // namespace hipi
