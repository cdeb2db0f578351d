// Brute force's cost model: every pair once, at the exact kernel's bulk rate (binary pairs
// read only the words early abandon leaves).
#pragma once

#include "methods/pricing.hpp"

namespace hipi {

/// The brute-force plan.
Plan plan_brute(const ProblemShape& shape, const MachineProfile& machine);

}  // namespace hipi
