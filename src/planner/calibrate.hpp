// `hipi calibrate`: measures, in about a second, the rates the planner needs on this
// machine and this job's process grid: p?gemm through the BLAS that ScaLAPACK uses, the
// exact kernels at a given d, the sketch build, and all-to-all bandwidth. A first solve
// measures only the rates its plans read, in short bursts (a few tenths of a second).
#pragma once

#include <string>

#include "methods/pricing.hpp"
#include "parallel/blacs_grid.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// How long each rate is measured: Full (hipi calibrate) on blocks like the solver's for
/// about a tenth of a second each; Quick (a first solve) on smaller blocks in short bursts.
enum class CalibrationDepth { Quick, Full };

/// Collective. The rates `rates` per rank at dimension d on a grid of this shape (the
/// others 0). Warns (rank 0) when the float32 GEMM runs far below what the CPU's vector
/// instructions allow.
MachineProfile calibrate(const Comm& comm, std::int64_t d, GridShape shape, RateSet rates = RateSet::all(),
                         CalibrationDepth depth = CalibrationDepth::Full);

/// The profile's kernel rates moved from the d they were measured at to `d` (exact checks
/// cost in proportion to the words or floats of a row).
MachineProfile scaled_to(const MachineProfile& profile, std::int64_t d);

/// What auto asks of machine_profile: `rates` at dimension d on a grid of this shape;
/// `use_cache` false (--no-profile-cache) skips the cache.
struct ProfileRequest {
  std::int64_t d = 0;
  GridShape shape;
  RateSet rates = RateSet::all();
  bool use_cache = true;
};

/// Collective. The profile auto uses when no --profile is given: the one cached for this
/// machine and launch layout (key: rank 0's host and CPU, the BLAS and exact kernels, the
/// ranks and ranks per node, the grid), with the requested rates it lacks measured now in
/// short bursts and saved back to the cache. The cache is $HIPI_CACHE_DIR, else
/// $XDG_CACHE_HOME/hipi, else ~/.cache/hipi. A cache that cannot be read or written only
/// warns. `calibrated` tells whether this call measured anything.
MachineProfile machine_profile(const Comm& comm, const ProfileRequest& request, bool& calibrated);

/// Collective (every rank calls it); rank 0 removes the profile auto caches for this
/// communicator's size (if any), saying
/// `why`: a run whose own stages contradict the rates it was priced with (a calibration
/// taken on a busy machine) makes the next run measure again instead of trusting them.
void forget_cached_profile(const Comm& comm, const std::string& why);

/// TOML files of profiles. load_profile throws InputError naming the file and key.
void save_profile(const std::string& path, const MachineProfile& profile);
MachineProfile load_profile(const std::string& path);

}  // namespace hipi
