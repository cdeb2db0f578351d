#include "runtime/memory.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "core/problem.hpp"

namespace hipi {

namespace {
// Ranks sharing this rank's node (MPI_COMM_TYPE_SHARED).
int ranks_on_node(const Comm& comm) {
  MPI_Comm node;
  HIPI_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node));
  const Comm owned(node, boost::mpi::comm_take_ownership);
  return owned.size();
}

double node_bytes() {
  return static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

MemoryBudget MemoryBudget::of(const Comm& comm, std::int64_t mib) {
  const int on_node = ranks_on_node(comm);  // collective: every rank calls it, whatever `mib`
  if (mib > 0) return {mib << 20, false, on_node};
  return {static_cast<std::int64_t>(kDefaultMemoryFraction * node_bytes() / on_node), true, on_node};
}

std::string MemoryBudget::describe() const {
  if (!by_default) return fmt::format("--memory-mib {}", bytes >> 20);
  return fmt::format("the default: {:.0f}% of this node's {:.1f} GiB over its {} rank{}; set --memory-mib",
                     kDefaultMemoryFraction * 100, node_bytes() / (1 << 30), node_ranks, node_ranks == 1 ? "" : "s");
}

bool MemoryBudget::fits(double more_bytes) const {
  return static_cast<double>(resident_bytes()) + more_bytes <= static_cast<double>(bytes);
}

void MemoryBudget::check(const std::string& what, double more_bytes) const {
  const double now = static_cast<double>(resident_bytes());
  largest_checked_ = std::max(largest_checked_, now + more_bytes);
  if (now + more_bytes <= static_cast<double>(bytes)) return;
  throw InputError(
      fmt::format("{}: {:.1f} MiB more on a rank that holds {:.0f} MiB already ({:.0f} MiB in all) is "
                  "past the budget of {:.0f} MiB per rank ({}); use more ranks (or nodes), or a larger budget",
                  what, more_bytes / (1 << 20), now / (1 << 20), (now + more_bytes) / (1 << 20), mib(), describe()));
}

void MemoryBudget::check_held(const std::string& what) const {
  const double now = static_cast<double>(resident_bytes());
  largest_checked_ = std::max(largest_checked_, now);
  if (now <= static_cast<double>(bytes)) return;
  throw InputError(fmt::format("{}: the rank holds {:.0f} MiB, past the budget of {:.0f} MiB per rank ({})", what,
                               now / (1 << 20), mib(), describe()));
}

double sort_bytes(std::size_t pairs_held) {
  return 2.0 * static_cast<double>(pairs_held * sizeof(Pair)) + 48.0 * (1 << 20);
}

double check_sort_fits(const Comm& comm, const MemoryBudget& budget, std::size_t pairs_held) {
  const double more = sort_bytes(pairs_held);
  agree(comm, [&] { budget.check(fmt::format("sorting the {} heavy pairs this rank holds", pairs_held), more); });
  return more;
}

std::int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * ::sysconf(_SC_PAGESIZE);
}

std::int64_t peak_resident_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<std::int64_t>(usage.ru_maxrss) * 1024;  // KiB on Linux
}

}  // namespace hipi
