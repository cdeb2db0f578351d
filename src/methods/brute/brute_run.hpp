// Brute force's run step, shared with the methods that run its ring with another check of
// real blocks (the prefix filter): the ring buffers checked against the budget, checkpoints
// and resumption, progress, and the pairs handed to the spill as they grow.
#pragma once

#include <string>

#include "methods/brute/brute.hpp"
#include "methods/solve_method.hpp"

namespace hipi {

/// Collective: this rank's pairs of the whole problem, round the ring; `method` names the
/// method in checkpoints; `check`, if given, checks the real blocks.
template <class Matrix>
MethodResult run_ring(const MethodInput<Matrix>& in, ResumeState& resume, const std::string& method,
                      const RealBlockCheck* check = nullptr);

}  // namespace hipi
