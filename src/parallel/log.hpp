// Logging: spdlog to standard error. Rank 0 reports progress; the other ranks stay quiet
// unless something goes wrong, so a 1000-rank job prints one log, not a thousand.
#pragma once

#include <spdlog/spdlog.h>

#include "parallel/mpi.hpp"

namespace hipi {

/// verbosity: 0 warnings and errors only, 1 progress (default), 2 debug detail.
void init_logging(const Comm& comm, int verbosity);

}  // namespace hipi
