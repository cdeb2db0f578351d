// Per-stage timings and the JSON run report (`--report R.json`).
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "core/fault.hpp"
#include "parallel/mpi.hpp"
#include "runtime/progress.hpp"

namespace hipi {

/// Wall-clock seconds per named stage on this rank, in the order the stages ran.
class StageTimes {
 public:
  /// Runs `stage` and records its duration under `name`; returns what it returns. Every
  /// stage is also a fault point (fault.hpp) under its name.
  template <class F>
  decltype(auto) time(const std::string& name, F&& stage) {
    fault_point(name);
    heartbeat(name);
    struct Record {
      StageTimes& times;
      const std::string& name;
      std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
      ~Record() { times.add(name, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()); }
    } record{*this, name};
    return stage();
  }
  void add(const std::string& name, double seconds);
  const std::vector<std::pair<std::string, double>>& stages() const { return stages_; }

 private:
  std::vector<std::pair<std::string, double>> stages_;
};

/// Collective: {"stage": {"max": s, "mean": s}, ...} over all ranks, in stage order. The
/// max is what the job waited for; max against mean shows imbalance. Every rank must have
/// timed the same stages in the same order.
nlohmann::ordered_json gather_stage_times(const Comm& comm, const StageTimes& times);

/// Collective: this process's peak resident memory (getrusage's ru_maxrss) over all
/// ranks, {"max": MiB, "mean": MiB}.
nlohmann::ordered_json gather_peak_rss(const Comm& comm);

}  // namespace hipi
