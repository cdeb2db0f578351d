// Folder planner/: auto: the data's sampled statistics, this machine's rates (calibration and its
// cache), every method priced, the choice.
//
// The planner's choice: every registered method (methods/solve_method.hpp) prices its plans
// for the problem's shape and this machine, and the fastest plan runs (DESIGN.md section 3).
#pragma once

#include <string>
#include <vector>

#include "methods/pricing.hpp"

namespace hipi {

struct PlanChoice {
  Plan best;
  Plan runner_up;  // the best plan of another method
  Plan brute;
  std::string why;
  std::vector<Plan> by_method;           // the fastest plan of each method that has one, fastest first
  std::vector<Plan> alternatives;        // what else came close (the next sketch shapes)
  std::vector<std::string> unavailable;  // "method: why it has no plan"
};

/// Prices every registered method (solve_methods()) and returns the fastest plan.
PlanChoice choose_plan(const ProblemShape& shape, const MachineProfile& machine);

}  // namespace hipi
