// What a solve was asked for: the problem, the method and its options, the budget. Every
// method reads its options from here (methods/solve_method.hpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/problem.hpp"
#include "hipi/method.hpp"
#include "methods/sketch/solver.hpp"

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
  bool components = false;               // self-join: /components, each row's smallest row in its component
};

}  // namespace hipi
