// Injected faults, for tests of the error paths (never set in production).
//
// HIPI_INJECT_FAULT=POINT:RANK[:stop|:usr1] makes rank RANK fail at the named point: it
// throws an IoError naming the rank and the point, or with `:stop` raises SIGSTOP on itself
// (a hung rank, for --stall-timeout), or with `:usr1` SIGUSR1 (a stop request, for
// checkpoints). Brute force's unit boundaries are the point `unit`. Every timed stage is a point under its stage name
// (read, sample, plan, compute, sketch, product, route, verify, collect, complete, write, ...); a few points sit inside
// collective file access, where an unwinding rank used to hang the others: read-file, generate-write; the spilled
// answer (pair_spill.hpp) has `spill` (a run written) and `window` (each window of the output). The variable is
// read once, at the first point.
#pragma once

#include <string_view>

namespace hipi {

/// Fails here if HIPI_INJECT_FAULT names this point and this process's rank in
/// MPI_COMM_WORLD; otherwise does nothing (one comparison after the first call).
void fault_point(std::string_view point);

}  // namespace hipi
