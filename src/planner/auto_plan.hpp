// Auto's plan for one solve: the data's sampled statistics, this machine's rates, each
// method's own measurement and price, and the fastest plan (choose.hpp). `hipi plan`
// prints it; the output records it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "methods/solve_method.hpp"
#include "planner/choose.hpp"

namespace hipi {

struct AutoPlan {
  Plan chosen;
  nlohmann::ordered_json record;  // chosen, runner-up, brute force, why, the sample: in the output
};

/// Collective: samples the rows of `in`, measures or loads this machine's rates at
/// dimension `d`, lets every method that serves the mode measure itself and price its
/// plans, and returns the fastest. With in.options.plan_only rank 0 prints the plan.
/// Only the chosen method's measurement stays in `in.scratch` (it may hold memory).
template <class Matrix>
AutoPlan plan_auto(const MethodInput<Matrix>& in, std::int64_t d);

/// Collective: the profile the user named, else the cached one, with what it lacks of
/// `rates` measured now at dimension `d` (timed as "calibrate").
MachineProfile machine_rates(const Comm& comm, const SolveOptions& options, std::int64_t d, RateSet rates,
                             StageTimes& times);

/// "brute predicted 1.234 s (detail)" and the plan's stages, for hipi plan.
std::string describe(const Plan& p);

}  // namespace hipi
