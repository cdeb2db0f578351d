#include "hipi/solver.hpp"

#include <boost/mpi/collectives.hpp>

#include "hipi/brute.hpp"
#include "hipi/input.hpp"
#include "hipi/log.hpp"
#include "hipi/output.hpp"
#include "hipi/report.hpp"

namespace hipi {

namespace {

ProgressFn ring_progress(const std::string& method) {
  return [method](int done, int steps) { spdlog::info("{}: ring step {}/{} done", method, done, steps); };
}

// Reads this rank's blocks and runs brute force; Matrix selects binary or real data.
template <class Matrix, class Read>
std::vector<Pair> run_brute(const Comm& comm, const InputMatrix& a, const InputMatrix* b, const Threshold& threshold,
                            StageTimes& times, Read&& read_rows) {
  const int P = comm.size(), rank = comm.rank();
  const LocalRows<Matrix> a_rows = times.time("read", [&] { return read_rows(comm, a, row_block(a.rows, P, rank)); });
  if (!b) {
    return times.time("compute", [&] { return brute_force_self(comm, a_rows, a.rows, threshold, ring_progress("brute")); });
  }
  const LocalRows<Matrix> b_rows = times.time("read", [&] { return read_rows(comm, *b, row_block(b->rows, P, rank)); });
  return times.time("compute", [&] { return brute_force(comm, a_rows, b_rows, b->rows, threshold, ring_progress("brute")); });
}

// Reads this rank's tile-aligned blocks and runs the sketch solver.
template <class Matrix, class Read>
SketchRun run_sketch(const Comm& comm, const InputMatrix& a, const InputMatrix* b, const Threshold& threshold,
                     const SolveOptions& options, StageTimes& times, Read&& read_rows) {
  const int P = comm.size(), rank = comm.rank();
  const SketchOptions& o = options.sketch;
  const LocalRows<Matrix> a_rows =
      times.time("read", [&] { return read_rows(comm, a, sketch_rows(a.rows, o.group_a, o, P, rank)); });
  if (!b) return sketch_solve<Matrix>(comm, a_rows, a.rows, nullptr, a.rows, threshold, o, options.seed, times);
  const LocalRows<Matrix> b_rows =
      times.time("read", [&] { return read_rows(comm, *b, sketch_rows(b->rows, o.group_b, o, P, rank)); });
  return sketch_solve<Matrix>(comm, a_rows, a.rows, &b_rows, b->rows, threshold, o, options.seed, times);
}

}  // namespace

SolveSummary run_solve(const Comm& comm, const SolveOptions& options) {
  const Problem& problem = options.problem;
  agree(comm, [&] {
    problem.check_threshold();
    if (options.method == "sketch") options.sketch.check(comm.size());
    check_output_path(options.out, "--out");
    if (!options.report.empty()) check_output_path(options.report, "--report");
  });

  StageTimes times;
  const InputMatrix a = inspect_input(comm, problem.a);
  std::optional<InputMatrix> b;
  if (problem.b) b = inspect_input(comm, *problem.b);
  check_inputs_match(a, b ? &*b : nullptr);
  if (comm.rank() == 0 && problem.mode == Mode::Real &&
      (a.dtype == h5::DType::Float64 || (b && b->dtype == h5::DType::Float64)))
    spdlog::warn("float64 input is rounded to float32; inner products are summed in float64");

  const Threshold threshold = problem.threshold(a.cols);
  // Until the planner exists, auto means brute force: exact, and never slower than a
  // sketch whose group sizes and thresholds nobody chose.
  const std::string method = options.method == "sketch" ? "sketch" : "brute";
  spdlog::info("solve: {} x {}{}, d = {}, {} mode, threshold {}{}, method {} on {} ranks", a.rows,
               b ? b->rows : a.rows, b ? "" : " (self-join)", a.cols, mode_name(problem.mode),
               problem.abs ? "|ip| >= " : "ip >= ", threshold.theta, method, comm.size());

  const InputMatrix* b_input = b ? &*b : nullptr;
  std::vector<Pair> local;
  std::string grid = "ring of " + std::to_string(comm.size());
  nlohmann::ordered_json parameters = {{"mode", mode_name(problem.mode)},
                                       {problem.mode == Mode::Binary ? "rho" : "tau", problem.value},
                                       {"abs", problem.abs},
                                       {"self_join", problem.self_join()}};
  nlohmann::ordered_json repetitions;
  if (method == "brute") {
    local = problem.mode == Mode::Binary ? run_brute<BitMatrix>(comm, a, b_input, threshold, times, read_binary_rows)
                                         : run_brute<RealMatrix>(comm, a, b_input, threshold, times, read_real_rows);
  } else {
    SketchRun run = problem.mode == Mode::Binary
                        ? run_sketch<BitMatrix>(comm, a, b_input, threshold, options, times, read_binary_rows)
                        : run_sketch<RealMatrix>(comm, a, b_input, threshold, options, times, read_real_rows);
    local = std::move(run.pairs);
    grid = run.grid;
    const SketchOptions& o = options.sketch;
    parameters["group_size_a"] = o.group_a;
    parameters["group_size_b"] = problem.self_join() ? o.group_a : o.group_b;
    parameters["reps"] = o.reps;
    parameters["detect_threshold"] = run.detect_threshold;
    if (!o.detect_threshold) {
      parameters["z"] = o.z;
      parameters["background_m2"] = run.background.m2;
      parameters["background_pairs_sampled"] = run.background.pairs;
    }
    parameters["block_size"] = o.block_size;
    parameters["tile_rows_a"] = o.tile_for(o.group_a);
    parameters["largest_panel_elements"] = run.largest_panel_elements;
    parameters["c_elements"] = run.c_elements;
    repetitions = std::move(run.repetitions);
  }

  std::vector<Pair> pairs = times.time("gather", [&] { return gather_pairs(comm, local); });
  std::int64_t found = static_cast<std::int64_t>(pairs.size());
  boost::mpi::broadcast(comm, found, 0);
  const std::string inputs = problem.b ? fmt::format("{} {}", problem.a.str(), problem.b->str()) : problem.a.str();
  // The write is timed but its own time cannot be in the file it writes: the file carries
  // the stages before it; the JSON report carries all of them.
  const nlohmann::ordered_json timings_before_write = gather_stage_times(comm, times);
  agree(comm, [&] {
    times.time("write", [&] {
      if (comm.rank() != 0) return;
      OutputAttributes attrs{method,       options.method, threshold.theta,    options.seed,
                             comm.size(),  grid,
                             parameters.dump(), inputs, timings_before_write.dump()};
      write_pairs_file(options.out, pairs, attrs);
    });
  });
  SolveSummary summary{method, found, gather_stage_times(comm, times)};
  spdlog::info("solve: {} heavy pairs written to {}", found, options.out);
  std::string stages;
  for (const auto& [stage, t] : summary.timings.items()) stages += fmt::format(" {} {:.3f} s,", stage, t["max"].get<double>());
  stages.pop_back();
  spdlog::info("solve: time per stage (slowest rank):{}", stages);

  if (!options.report.empty()) {
    nlohmann::ordered_json report = {{"version", HIPI_VERSION},
                                     {"method", method},
                                     {"requested_method", options.method},
                                     {"ranks", comm.size()},
                                     {"inputs", inputs},
                                     {"shape", {{"n_a", a.rows}, {"n_b", b ? b->rows : a.rows}, {"d", a.cols}}},
                                     {"threshold", threshold.theta},
                                     {"parameters", parameters},
                                     {"pairs", found},
                                     {"timings", summary.timings}};
    if (!repetitions.is_null()) report["repetitions"] = repetitions;
    agree(comm, [&] {
      if (comm.rank() == 0) write_json_report(options.report, report);
    });
  }
  return summary;
}

}  // namespace hipi
