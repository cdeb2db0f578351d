#include "runtime/stage_times.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <boost/mpi/collectives.hpp>

namespace hipi {

void StageTimes::add(const std::string& name, double seconds) {
  for (auto& [stage, total] : stages_)
    if (stage == name) {
      total += seconds;
      return;
    }
  stages_.emplace_back(name, seconds);
}

nlohmann::ordered_json gather_stage_times(const Comm& comm, const StageTimes& times) {
  std::vector<double> mine;
  for (const auto& stage : times.stages()) mine.push_back(stage.second);
  const auto count = boost::mpi::all_reduce(comm, mine.size(), boost::mpi::maximum<std::size_t>());
  HIPI_ASSERT(count == mine.size());
  std::vector<double> most(mine.size()), sum(mine.size());
  boost::mpi::all_reduce(comm, mine.data(), static_cast<int>(mine.size()), most.data(), boost::mpi::maximum<double>());
  boost::mpi::all_reduce(comm, mine.data(), static_cast<int>(mine.size()), sum.data(), std::plus<double>());
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (std::size_t k = 0; k < mine.size(); ++k)
    out[times.stages()[k].first] = {{"max", most[k]}, {"mean", sum[k] / comm.size()}};
  return out;
}

nlohmann::ordered_json gather_peak_rss(const Comm& comm) {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const double mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
  const double max = boost::mpi::all_reduce(comm, mib, boost::mpi::maximum<double>());
  const double sum = boost::mpi::all_reduce(comm, mib, std::plus<double>());
  return {{"max", max}, {"mean", sum / comm.size()}};
}

}  // namespace hipi
