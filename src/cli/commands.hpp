// Folder cli/: the hipi executable, a thin layer over solve/ and io/: CLI11 options, TOML configs,
// dispatch.
//
// The hipi command line: subcommands, their options, and dispatch.
#pragma once

#include "parallel/mpi.hpp"

namespace hipi::cli {

/// Parses argv (every rank identically), runs the subcommand and returns the exit status.
/// Usage errors and --help are printed by rank 0 only. Other errors are thrown.
int run(const Comm& comm, int argc, char** argv);

}  // namespace hipi::cli
