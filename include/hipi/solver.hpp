// `hipi solve`: from input datasets to the output file, for every method.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "hipi/mpi.hpp"
#include "hipi/problem.hpp"
#include "hipi/sketch_solver.hpp"

namespace hipi {

struct SolveOptions {
  Problem problem;
  std::string out;               // output HDF5 file
  std::string method = "auto";   // auto | brute | sketch
  SketchOptions sketch;          // used by the sketch method
  std::uint64_t seed = 1;
  std::string report;            // JSON report path; empty for none
};

/// What a run did, on every rank.
struct SolveSummary {
  std::string method;            // the method that ran
  std::int64_t pairs = 0;        // heavy pairs written
  nlohmann::ordered_json timings;
};

/// Collective: checks the inputs (every rank agrees on any error), finds every heavy pair,
/// and writes options.out atomically (and options.report, if set).
SolveSummary run_solve(const Comm& comm, const SolveOptions& options);

}  // namespace hipi
