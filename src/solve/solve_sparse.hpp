// Solving on sparse rows: the methods that run on them (methods/sparse/), asked for by
// name or chosen by auto over densifying the input (planner/sparse_or_dense.hpp).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>

#include "solve/resume.hpp"
#include "solve/solve_answer.hpp"

namespace hipi {

/// Whether a solve reads sparse rows first: real mode, and the method asked for runs on
/// them, or auto with a sparse input.
bool reads_sparse(const SolveOptions& options, const InputMatrix& a, const InputMatrix* b);

/// Collective: reads this rank's sparse rows and solves them; or, when auto finds
/// densifying faster, returns nothing and sets `densified` to its reasons (the dense
/// solve then reads the rows again, dense).
std::optional<Outcome> solve_sparse(const Comm& comm, const SolveInputs& inputs, const Threshold& threshold,
                                    const SolveContext& ctx, const ReadRows<SparseMatrix>& read,
                                    nlohmann::ordered_json& densified);

}  // namespace hipi
