#include "solve/report.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <vector>

#include "kernels/exact.hpp"
#include "parallel/scalapack.hpp"

namespace hipi {

bool prediction_missed(const nlohmann::ordered_json& compared) {
  if (!compared.contains("total")) return false;
  const double predicted = compared["total"]["predicted"].get<double>(),
               measured = compared["total"]["measured"].get<double>();
  // Under a second start-up and small stages decide; past it a factor of 2 is a miss.
  return std::max(predicted, measured) > 1.0 && (measured > 2 * predicted || predicted > 2 * measured);
}

nlohmann::ordered_json predicted_vs_measured(const nlohmann::ordered_json& plan, const nlohmann::ordered_json& timings,
                                             const nlohmann::ordered_json& repetitions) {
  // Stage by stage (the slowest rank's time), then the candidates.
  nlohmann::ordered_json compared = nlohmann::ordered_json::object();
  double predicted_total = 0, measured_total = 0;
  for (const auto& [stage, predicted] : plan["chosen"]["stages"].items()) {
    const double measured = timings.contains(stage) ? timings[stage]["max"].get<double>() : 0.0;
    compared[stage] = {{"predicted", predicted}, {"measured", measured}};
    predicted_total += predicted.get<double>();
    measured_total += measured;
  }
  compared["total"] = {{"predicted", predicted_total}, {"measured", measured_total}};
  if (!repetitions.is_null() && plan["chosen"].contains("candidates_per_rep")) {
    std::int64_t candidates = 0;
    for (const auto& rep : repetitions) candidates += rep["candidates"].get<std::int64_t>();
    const double per_rep = plan["chosen"]["candidates_per_rep"].get<double>();
    compared["candidates"] = {{"predicted", per_rep * repetitions.size()}, {"measured", candidates}};
  }
  spdlog::info("auto: predicted {:.3f} s, measured {:.3f} s for the planned stages", predicted_total, measured_total);
  return compared;
}

namespace {

// Per rank, predicted (at the sort) against measured (the process's peak), in rank order.
struct PeakMemory {
  nlohmann::ordered_json rss;  // {"max", "mean"} MiB
  std::vector<double> predicted_by_rank, measured_by_rank;
  double predicted_mib = 0;  // the largest rank's
};

PeakMemory gather_peak_memory(const Comm& comm, double predicted_peak) {
  PeakMemory peak;
  peak.rss = gather_peak_rss(comm);
  boost::mpi::all_gather(comm, predicted_peak / (1 << 20), peak.predicted_by_rank);
  boost::mpi::all_gather(comm, static_cast<double>(peak_resident_bytes()) / (1 << 20), peak.measured_by_rank);
  peak.predicted_mib = *std::max_element(peak.predicted_by_rank.begin(), peak.predicted_by_rank.end());
  return peak;
}

void log_stage_times(const nlohmann::ordered_json& timings) {
  std::string stages;
  for (const auto& [stage, t] : timings.items()) stages += fmt::format(" {} {:.3f} s,", stage, t["max"].get<double>());
  stages.pop_back();
  spdlog::info("solve: time per stage (slowest rank):{}", stages);
}

}  // namespace

nlohmann::ordered_json finish_report(const Comm& comm, const SolveRecord& record) {
  const Solved& solved = record.solved;
  const Outcome& outcome = solved.outcome;
  const MemoryBudget& budget = solved.budget;
  log_stage_times(record.summary.timings);
  // The largest of what the answer's steps add and what the checks before them saw (the rows,
  // the methods' buffers, runtime/memory.hpp).
  const PeakMemory peak = gather_peak_memory(comm, std::max(solved.predicted_peak, budget.largest_checked()));
  if (comm.rank() == 0 && peak.rss["max"].get<double>() > budget.mib())
    spdlog::warn("solve: a rank's peak memory, {:.0f} MiB, passed the budget of {:.0f} MiB per rank ({})",
                 peak.rss["max"].get<double>(), budget.mib(), budget.describe());
  spdlog::info("solve: peak memory {:.0f} MiB on the largest rank (mean {:.0f}); exact kernels {}, GEMM on {}",
               peak.rss["max"].get<double>(), peak.rss["mean"].get<double>(), kernel_name(), blas_kernels());
  const InputMatrix& a = record.a;
  nlohmann::ordered_json report = {
      {"version", HIPI_VERSION},
      {"method", method_name(outcome.method)},
      {"requested_method", method_name(record.options.method)},
      {"ranks", comm.size()},
      {"grid", outcome.result.grid},
      {"inputs", record.inputs},
      {"shape", {{"n_a", a.rows}, {"n_b", record.b ? record.b->rows : a.rows}, {"d", a.cols}}},
      {"threshold", solved.threshold.theta},
      {"parameters", solved.parameters},
      {"pairs", record.summary.pairs},
      {"timings", record.summary.timings},
      {"peak_rss_mib", peak.rss},
      {"memory",
       {{"budget_mib", budget.mib()},
        {"budget", budget.describe()},
        {"predicted_peak_mib", peak.predicted_mib},
        {"measured_peak_mib", peak.rss["max"]},
        {"predicted_by_rank_mib", peak.predicted_by_rank},
        {"measured_by_rank_mib", peak.measured_by_rank}}},
      {"kernels", {{"exact", kernel_name()}, {"blas", blas_kernels()}}}};
  if (!outcome.result.repetitions.is_null()) report["repetitions"] = outcome.result.repetitions;
  if (!record.summary.plan.is_null()) report["plan"] = record.summary.plan;
  return report;
}

}  // namespace hipi
