// `hipi solve`: from input datasets to the output file, for every method.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "hipi/method.hpp"
#include "hipi/mpi.hpp"
#include "hipi/problem.hpp"
#include "hipi/sketch_solver.hpp"

namespace hipi {

struct SolveOptions {
  Problem problem;
  std::string out;  // output HDF5 file
  Method method = Method::Auto;
  SketchOptions sketch;  // used by the sketch method
  std::uint64_t seed = 1;
  std::string report;                    // JSON report path; empty for none
  double delta = 1e-3;                   // auto: allowed miss probability per heavy pair
  std::string profile;                   // auto: machine profile (hipi calibrate); empty: cached or calibrate now
  bool profile_cache = true;             // auto without a profile: reuse and keep a cached one (calibrate.hpp)
  bool plan_only = false;                // hipi plan: choose and print the plan, compute nothing
  std::optional<std::int64_t> expect_k;  // the caller knows how many heavy pairs there are
  double checkpoint_interval = 300;      // brute force: seconds between checkpoints; 0 none (checkpoint.hpp)
  std::int64_t memory_mib = 0;           // budget per rank in MiB; 0: the default (memory.hpp)
};

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
