// Folder runtime/: what a long run watches: the memory budget, progress lines and the watchdog,
// stage times.
//
// The memory budget of a rank (--memory-mib): what one rank may hold, checked before the
// steps that would pass it, so that a job too large for its ranks is refused with the sizes
// instead of being killed by the kernel's OOM killer partway through.
//
// Checked today: the rows a rank reads (before reading them), brute force's ring buffers,
// multi-index hashing's tables and ring buffers (before the sample or the run builds them),
// the linear sketch's buffers (layout.hpp) and the pairs of the answer a rank holds before
// they are sorted (the sort holds them about three times over). When `hipi solve` writes a
// file, pairs past the budget are spilled to disk instead (pair_spill.hpp): brute force and
// hashing spill as they find them; the sketch holds every pair it verified and stops after
// the repetition that took a rank past the budget. Not checked at run time: the
// sign sketch's ring; the report shows predicted against measured peak RSS per rank so the
// gap is visible.
#pragma once

#include <cstdint>
#include <string>

#include "parallel/mpi.hpp"

namespace hipi {

/// The default budget: this fraction of the node's memory, shared by the ranks on the node.
constexpr double kDefaultMemoryFraction = 0.8;

struct MemoryBudget {
  std::int64_t bytes = 0;
  bool by_default = true;  // not given: kDefaultMemoryFraction of the node over its ranks
  int node_ranks = 1;      // ranks on this rank's node

  /// Collective: `mib` MiB when positive, otherwise the default for this rank's node.
  static MemoryBudget of(const Comm& comm, std::int64_t mib);
  double mib() const { return static_cast<double>(bytes) / (1 << 20); }
  /// Throws InputError naming `what` when this rank's resident memory now plus `more_bytes`
  /// would pass the budget. Not collective: call inside agree().
  void check(const std::string& what, double more_bytes) const;
  /// Throws InputError naming `what` (what this rank has come to hold) when its resident
  /// memory now is past the budget. Not collective: call inside agree().
  void check_held(const std::string& what) const;
  /// True when this rank's resident memory now plus `more_bytes` is within the budget.
  bool fits(double more_bytes) const;
  /// How the budget was set, for messages: "--memory-mib 1536" or "the default: 80% of ...".
  std::string describe() const;
  /// The most this rank was to hold at any check() or check_held() so far (resident then
  /// plus what was checked), in bytes: the report's predicted peak covers every checked step.
  double largest_checked() const { return largest_checked_; }

  mutable double largest_checked_ = 0;  // not part of the budget: what its checks saw
};

/// Collective: the pairs of the answer a rank holds are kept until they are sorted, and the
/// sort holds about twice as many again at its peak, the write 48 MiB of buffers. Throws an
/// agreed InputError when that would pass the budget on any rank; returns the bytes it
/// adds on this rank.
double check_sort_fits(const Comm& comm, const MemoryBudget& budget, std::size_t pairs_held);
/// What the sort and the write add to `pairs_held` pairs, in bytes (check_sort_fits).
double sort_bytes(std::size_t pairs_held);

/// This process's resident memory now, and its peak so far, in bytes (Linux /proc, getrusage).
std::int64_t resident_bytes();
std::int64_t peak_resident_bytes();

}  // namespace hipi
