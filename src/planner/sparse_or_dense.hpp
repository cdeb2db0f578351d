// Auto on a sparse input: solve it sparse (the methods that run on sparse rows, priced by
// their own sample) or densify it and let the dense planner choose (auto_plan.hpp), priced
// here by brute force on the densified rows at this machine's rates. Densifying is not
// priced when the dense rows would pass the memory budget or d is past kMaxDenseD.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>

#include "methods/solve_method.hpp"

namespace hipi {

/// Past this dimension a sparse input is never densified by auto (dense rows of this width
/// cost more to read and multiply than any sparse join of them; calibrating there is slow).
constexpr std::int64_t kMaxDenseD = 16384;

struct SparseOrDense {
  bool densify = false;
  Plan chosen;                    // the sparse plan (when not densified)
  nlohmann::ordered_json record;  // in the output's plan: both prices and why
};

/// Collective: prices both ways for the rows of `in` (a sparse input) and chooses. With
/// in.options.plan_only rank 0 prints the choice.
SparseOrDense plan_sparse_or_dense(const MethodInput<SparseMatrix>& in, std::int64_t d);

}  // namespace hipi
