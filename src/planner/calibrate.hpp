// `hipi calibrate`: measures, in about a second, the rates the planner needs on this
// machine and this job's process grid: p?gemm through the BLAS that ScaLAPACK uses, the
// exact kernels at a given d, the sketch build, and all-to-all bandwidth.
#pragma once

#include <string>

#include "methods/pricing.hpp"
#include "parallel/blacs_grid.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// Collective. Rates per rank at dimension d on a grid of this shape. Warns (rank 0) when
/// the float32 GEMM runs far below what the CPU's vector instructions allow.
MachineProfile calibrate(const Comm& comm, std::int64_t d, GridShape shape);

/// The profile's kernel rates moved from the d they were measured at to `d` (exact checks
/// cost in proportion to the words or floats of a row).
MachineProfile scaled_to(const MachineProfile& profile, std::int64_t d);

/// Collective. The profile auto uses when no --profile is given: the one cached for this
/// machine and launch layout (key: rank 0's host and CPU, the BLAS and exact kernels, the
/// ranks and ranks per node, the grid), or a fresh calibration at d, saved to the cache.
/// The cache is $HIPI_CACHE_DIR, else $XDG_CACHE_HOME/hipi, else ~/.cache/hipi; `use_cache`
/// false (--no-profile-cache) skips it. A cache that cannot be read or written only warns.
/// `calibrated` tells whether this call calibrated.
MachineProfile machine_profile(const Comm& comm, std::int64_t d, GridShape shape, bool use_cache, bool& calibrated);

/// TOML files of profiles. load_profile throws InputError naming the file and key.
void save_profile(const std::string& path, const MachineProfile& profile);
MachineProfile load_profile(const std::string& path);

}  // namespace hipi
