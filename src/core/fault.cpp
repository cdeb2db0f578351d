#include "core/fault.hpp"

#include <mpi.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <string>

#include "hipi/error.hpp"

namespace hipi {

namespace {

struct Fault {
  std::string point;
  int rank = -1;
  int raise = 0;  // a signal to raise instead of throwing: SIGSTOP (stop) or SIGUSR1 (usr1)
};

std::optional<Fault> parse(const char* spec) {
  if (!spec || !*spec) return std::nullopt;
  const std::string text(spec);
  const auto colon = text.find(':');
  if (colon == std::string::npos)
    throw InputError("HIPI_INJECT_FAULT='" + text + "': expected POINT:RANK[:stop|:usr1]");
  Fault f;
  f.point = text.substr(0, colon);
  std::string rest = text.substr(colon + 1);
  if (const auto second = rest.find(':'); second != std::string::npos) {
    const std::string action = rest.substr(second + 1);
    if (action != "stop" && action != "usr1")
      throw InputError("HIPI_INJECT_FAULT='" + text + "': the actions are 'stop' and 'usr1'");
    f.raise = action == "stop" ? SIGSTOP : SIGUSR1;
    rest = rest.substr(0, second);
  }
  char* end = nullptr;
  const long rank = std::strtol(rest.c_str(), &end, 10);
  if (rest.empty() || *end || rank < 0)
    throw InputError("HIPI_INJECT_FAULT='" + text + "': RANK must be a rank number");
  f.rank = static_cast<int>(rank);
  return f;
}

const std::optional<Fault>& configured() {
  static const std::optional<Fault> fault = parse(std::getenv("HIPI_INJECT_FAULT"));
  return fault;
}

int world_rank() {
  int initialized = 0, rank = 0;
  MPI_Initialized(&initialized);
  if (initialized) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  return rank;
}

}  // namespace

void fault_point(std::string_view point) {
  const auto& fault = configured();
  if (!fault || fault->point != point || fault->rank != world_rank()) return;
  if (fault->raise) {
    std::raise(fault->raise);
    return;
  }
  throw IoError("injected fault at " + fault->point + " on rank " + std::to_string(fault->rank));
}

}  // namespace hipi
