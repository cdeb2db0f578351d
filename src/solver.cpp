#include "hipi/solver.hpp"

#include <boost/mpi/collectives.hpp>
#include <filesystem>
#include <type_traits>

#include "hipi/brute.hpp"
#include "hipi/calibrate.hpp"
#include "hipi/checkpoint.hpp"
#include "hipi/fault.hpp"
#include "hipi/hash_solver.hpp"
#include "hipi/input.hpp"
#include "hipi/log.hpp"
#include "hipi/output.hpp"
#include "hipi/plan.hpp"
#include "hipi/progress.hpp"
#include "hipi/report.hpp"
#include "hipi/scalapack.hpp"
#include "hipi/sketch.hpp"
#include "hipi/verify.hpp"

namespace hipi {

namespace {

// Under auto the rows are read before the plan exists: whole tiles of 1024 rows suit brute
// force (any contiguous split) and every power-of-two group size the planner considers.
constexpr std::int64_t kAutoTile = 1024;

// What a checkpoint must share with this run to be resumed by it: the inputs (the data's
// checksum is added by the Checkpointer), the problem, the options that decide the
// answer and the work split, and the ranks.
nlohmann::ordered_json checkpoint_key(const InputMatrix& a, const InputMatrix* b, const Problem& problem,
                                      const Threshold& threshold, const SolveOptions& options, int ranks) {
  const auto input = [](const InputMatrix& in) {
    std::error_code ec;
    const auto bytes = std::filesystem::file_size(in.ref.file, ec);
    return nlohmann::ordered_json{{"dataset", in.ref.str()},
                                  {"rows", in.rows},
                                  {"columns", in.cols},
                                  {"file_bytes", ec ? -1 : static_cast<std::int64_t>(bytes)}};
  };
  return {{"version", HIPI_VERSION},
          {"a", input(a)},
          {"b", b ? input(*b) : nlohmann::ordered_json()},
          {"mode", mode_name(problem.mode)},
          {"threshold", threshold.theta},
          {"abs", problem.abs},
          {"method", options.method},
          {"seed", options.seed},
          {"ranks", ranks}};
}

// Which rows this rank reads for a method.
RowRange rows_for(const std::string& method, std::int64_t n, std::int64_t group, const SketchOptions& o,
                  const Comm& comm) {
  if (method == "brute" || method == "hash") return row_block(n, comm.size(), comm.rank());
  if (method == "sketch") return sketch_rows(n, group, o, comm.size(), comm.rank());
  return TiledRows{n, kAutoTile, comm.size()}.rows(comm.rank());
}

struct Outcome {
  std::string method;
  std::vector<Pair> local;
  std::string grid;
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();
  nlohmann::ordered_json repetitions;
  nlohmann::ordered_json plan;
};

void print_plan(const PlanChoice& c, const ProblemShape& shape, const BackgroundSample& bg,
                const NeighbourhoodProbe& probe, const MachineProfile& m) {
  auto describe = [](const Plan& p) {
    std::string s = fmt::format("{} predicted {:.3f} s", p.method, p.seconds);
    if (p.method == "sketch")
      s += fmt::format(
          " ({} sketch, groups {}x{}, degree {}, T_det {:.4g} = signal - {:.2f} sigma, {} repetition{}, miss per "
          "pair {:.1e} ({}), {:.3g} candidates per repetition, {})",
          p.sketch, p.group_a, p.group_b, p.degree, p.detect_threshold, p.z, p.reps, p.reps == 1 ? "" : "s", p.miss,
          p.empirical ? "simulated from the sample" : "gaussian model", p.candidates_per_rep,
          p.float32 ? "float32" : "float64");
    std::string stages;
    for (const auto& st : p.stages) stages += fmt::format(" {} {:.3f},", st.stage, st.seconds);
    if (!stages.empty()) stages.pop_back();
    return s + "\n      stages:" + stages;
  };
  fmt::print("data:    {} x {}{}, d = {}, theta = {}, m2 = {:.4g} from {} sampled pairs (theta^2/m2 = {:.3g})\n",
             shape.n_a, shape.n_b, shape.self_join ? " (self-join)" : "", shape.d, shape.theta, bg.m2, bg.pairs,
             shape.theta * shape.theta / bg.m2);
  fmt::print("probe:   {} of {} sampled rows of A have heavy partners ({} in all){}\n", probe.partnered_a,
             probe.probed_a, probe.partners_a,
             shape.self_join ? ""
                             : fmt::format("; {} of {} rows of B ({} in all)", probe.partnered_b, probe.probed_b,
                                           probe.partners_b));
  fmt::print(
      "machine: per rank, GEMM {:.1f} GFLOP/s float32, {:.1f} float64; exact checks {:.3g} pairs/s; "
      "all-to-all {:.2g} B/s\n",
      m.gemm_f32_flops / 1e9, m.gemm_f64_flops / 1e9, shape.mode == Mode::Binary ? m.binary_pairs : m.real_pairs,
      m.exchange_bytes);
  if (shape.hash_seconds > 0)
    fmt::print("hash:    exact multi-index hashing {}\n",
               std::isfinite(shape.hash_seconds)
                   ? fmt::format("predicted {:.3f} s (timed on {} sampled queries per rank)", shape.hash_seconds,
                                 kHashSampleQueries)
                   : std::string("not priced: at this threshold a query would scan much of the index"));
  fmt::print("chosen:  {}\nrunner-up: {}\nwhy:     {}\n", describe(c.best), describe(c.runner_up), c.why);
  if (!c.alternatives.empty()) fmt::print("other sketch shapes, fastest plan of each:\n");
  for (const Plan& p : c.alternatives) fmt::print("  {}\n", describe(p));
}

template <class Matrix, class Read>
Outcome solve_rows(const Comm& comm, const InputMatrix& a, const InputMatrix* b, const Problem& problem,
                   const Threshold& threshold, const SolveOptions& options, StageTimes& times, Read&& read_rows) {
  Outcome out;
  out.method = options.method;
  SketchOptions sketch = options.sketch;
  sketch.expect_k = options.expect_k;
  const LocalRows<Matrix> a_rows = times.time(
      "read", [&] { return read_rows(comm, a, rows_for(options.method, a.rows, sketch.group_a, sketch, comm)); });
  std::optional<LocalRows<Matrix>> b_rows;
  if (b)
    b_rows = times.time(
        "read", [&] { return read_rows(comm, *b, rows_for(options.method, b->rows, sketch.group_b, sketch, comm)); });
  const LocalRows<Matrix>& b_or_a = b ? *b_rows : a_rows;
  const std::int64_t n_b = b ? b->rows : a.rows;

  // Brute force (asked for, or chosen by auto) can resume from a checkpoint of this run.
  const bool may_checkpoint = !options.plan_only && options.method != "sketch";
  Checkpointer checkpointer(
      comm, {checkpoint_path(options.out), may_checkpoint ? options.checkpoint_interval : 0,
             checkpoint_key(a, b, problem, threshold, options, comm.size()), [&] {
               std::vector<std::pair<const void*, std::size_t>> rows{
                   {a_rows.rows.data(), a_rows.rows.storage_size() * sizeof(*a_rows.rows.data())}};
               if (b)
                 rows.emplace_back(b_rows->rows.data(), b_rows->rows.storage_size() * sizeof(*b_rows->rows.data()));
               return data_checksum(comm, rows);
             }});
  std::optional<Resumed> resumed = checkpointer.load();
  if (resumed) {
    out.method = resumed->state.at("method").get<std::string>();
    out.plan = resumed->state.at("plan");
  }

  if (options.method == "auto" && !resumed) {
    const BackgroundSample bg = times.time("sample", [&] {
      return estimate_background(
          comm, a_rows, a.rows, b_or_a, n_b, !b, threshold, sketch.sample_rows, options.seed,
          problem.mode == Mode::Binary ? sign_sketch_group_sizes() : std::vector<std::int64_t>{});
    });
    const NeighbourhoodProbe probe = times.time(
        "sample", [&] { return probe_neighbourhoods(comm, a_rows, a.rows, b_or_a, n_b, !b, threshold, options.seed); });
    double hash_seconds = 0;
    if constexpr (std::is_same_v<Matrix, BitMatrix>)
      hash_seconds =
          times.time("sample", [&] { return predict_hash_seconds(comm, a_rows, a.rows, b_or_a, threshold); });
    MachineProfile machine;
    agree(comm, [&] {
      if (!options.profile.empty()) machine = scaled_to(load_profile(options.profile), a.cols);
    });
    if (options.profile.empty()) {
      bool calibrated = false;
      const double start = MPI_Wtime();
      machine = machine_profile(comm, a.cols, squarest_grid(comm.size()), options.profile_cache, calibrated);
      if (calibrated) times.add("calibrate", MPI_Wtime() - start);  // a cached profile costs nothing to report
    }
    ProblemShape shape{a.rows,       n_b,
                       a.cols,       !b,
                       problem.mode, threshold.theta,
                       comm.size(),  std::max(bg.m2, 1e-300),
                       bg.m4,        &bg.inner_products,
                       options.delta};
    shape.sign_noise = &bg.sign_noise;
    shape.partnered_a = probe.fraction_a();
    shape.partnered_b = probe.fraction_b();
    shape.heavy_pairs = probe.heavy_pairs(a.rows, !b);
    shape.hash_seconds = hash_seconds;
    const PlanChoice choice = times.time("plan", [&] { return choose_plan(shape, machine); });
    out.plan = {{"chosen", choice.best.to_json()},
                {"runner_up", choice.runner_up.to_json()},
                {"brute", choice.brute.to_json()},
                {"why", choice.why},
                {"background_m2", bg.m2},
                {"probe",
                 {{"rows_a", probe.probed_a},
                  {"partnered_a", probe.partnered_a},
                  {"partners_a", probe.partners_a},
                  {"rows_b", probe.probed_b},
                  {"partnered_b", probe.partnered_b},
                  {"partners_b", probe.partners_b}}}};
    out.method = choice.best.method;
    spdlog::info("auto: {} chosen, predicted {:.3f} s: {}", out.method, choice.best.seconds, choice.why);
    if (options.plan_only) {
      if (comm.rank() == 0) print_plan(choice, shape, bg, probe, machine);
      return out;
    }
    if (out.method == "sketch") {
      sketch.sketch = choice.best.sketch == "sign" ? SketchKind::Sign : SketchKind::Linear;
      sketch.group_a = choice.best.group_a;
      sketch.group_b = choice.best.group_b;
      sketch.reps = choice.best.reps;
      sketch.degree = choice.best.degree;
      sketch.max_reps = std::max(4 * choice.best.reps, 16);
      sketch.plan_meets_delta = true;
      sketch.model_miss_per_rep = choice.best.miss_per_rep;
      sketch.detect_threshold = choice.best.detect_threshold;
      sketch.tile_rows = kAutoTile;
    }
  }

  if (out.method == "hash") {
    if constexpr (std::is_same_v<Matrix, BitMatrix>) {
      out.grid = "ring of " + std::to_string(comm.size());
      const HashRun run =
          times.time("compute", [&] { return hash_solve(comm, a_rows, b ? &*b_rows : nullptr, threshold); });
      out.local = run.pairs;
      out.parameters["substrings"] = run.layout.m;
      out.parameters["substring_radius"] = run.layout.radius;
      out.parameters["hamming_radius"] = hamming_radius(a.cols, threshold.theta);
      out.parameters["candidates"] = boost::mpi::all_reduce(comm, run.candidates, std::plus<std::int64_t>());
    }
    return out;
  }
  if (out.method == "brute") {
    out.grid = "ring of " + std::to_string(comm.size());
    checkpointer.set_state({{"method", out.method}, {"plan", out.plan}});
    BruteSchedule schedule;
    Progress progress("brute", comm.rank());
    if (resumed) {
      schedule.skip_units = resumed->units_done;
      schedule.resumed_pairs = std::move(resumed->pairs);
      progress.resumed_at(resumed->units_done);
    }
    schedule.at_boundary = [&](std::int64_t done, std::int64_t total, const std::vector<Pair>& found) {
      fault_point("unit");
      progress.update(done, total, checkpointer.at_boundary(done, total, found));
    };
    // Stop signals wait for the next unit boundary only where a checkpoint can be saved.
    const DeferredStops deferred(checkpointer.enabled());
    out.local = times.time("compute", [&] {
      return b ? brute_force(comm, a_rows, *b_rows, threshold, std::move(schedule))
               : brute_force_self(comm, a_rows, threshold, std::move(schedule));
    });
    return out;
  }
  // A hand-set z has the Gaussian model's miss probability per repetition (a pair at the
  // threshold is missed when the noise takes it below T_det); an absolute threshold has none.
  if (!sketch.model_miss_per_rep && !sketch.detect_threshold) sketch.model_miss_per_rep = normal_cdf(-sketch.z);
  SketchRun run =
      sketch_solve<Matrix>(comm, a_rows, a.rows, b ? &*b_rows : nullptr, n_b, threshold, sketch, options.seed, times);
  out.local = std::move(run.pairs);
  out.grid = run.grid;
  auto& p = out.parameters;
  p["sketch"] = sketch.sketch == SketchKind::Sign ? "sign" : "linear";
  p["group_size_a"] = sketch.group_a;
  p["group_size_b"] = b ? sketch.group_b : sketch.group_a;
  p["degree"] = sketch.degree;
  p["reps"] = sketch.reps;
  p["detect_threshold"] = run.detect_threshold;
  if (!sketch.detect_threshold) {
    p["z"] = sketch.z;
    p["background_m2"] = run.background.m2;
    p["background_m4"] = run.background.m4;
    if (sketch.sketch == SketchKind::Sign)
      p["sign_sketch_m2"] = run.background.sign_m2(sketch.group_a, b ? sketch.group_b : sketch.group_a);
    p["background_pairs_sampled"] = run.background.pairs;
  }
  p["block_size"] = sketch.block_size;
  p["k_block"] = sketch.k_block;
  p["tile_rows_a"] = sketch.tile_for(sketch.group_a);
  p["reps_run"] = run.reps_run;
  p["stopped"] = run.stopped;
  p["completion"] = sketch.complete;
  p["found_by_completion"] = run.found_by_completion;
  p["miss_bounded"] = run.miss_bounded;
  p["missing_estimate"] = run.miss_bounded ? nlohmann::ordered_json(run.missing_estimate) : nlohmann::ordered_json();
  p["missing_basis"] = run.missing_basis;
  // What the repetitions alone would have missed: the pairs completion found, plus those
  // estimated still missing. Known exactly up to the estimate.
  p["missing_before_completion_estimate"] =
      run.miss_bounded ? nlohmann::ordered_json(double(run.found_by_completion) + run.missing_estimate)
                       : nlohmann::ordered_json();
  p["largest_panel_elements"] = run.largest_panel_elements;
  p["c_elements"] = run.c_elements;
  out.repetitions = std::move(run.repetitions);
  return out;
}

}  // namespace

SolveSummary run_solve(const Comm& comm, const SolveOptions& options) {
  const Problem& problem = options.problem;
  agree(comm, [&] {
    problem.check_threshold();
    if (!options.plan_only) check_output_path(options.out, "--out");
    if (!options.report.empty()) check_output_path(options.report, "--report");
    std::vector<NamedPath> inputs{{"--a", problem.a.file}}, outputs;
    if (problem.b) inputs.push_back({"--b", problem.b->file});
    if (!options.plan_only) outputs.push_back({"--out", options.out});
    if (!options.report.empty()) outputs.push_back({"--report", options.report});
    check_outputs_distinct(inputs, outputs);
    if (options.method == "sketch" || options.method == "auto") options.sketch.check(comm.size());
    if (options.method == "hash" && problem.mode != Mode::Binary)
      throw InputError("--method hash searches Hamming space: it needs binary data (--rho), not --tau");
    if (!(options.delta > 0 && options.delta < 1)) throw InputError("--delta must be in (0, 1)");
    if (options.expect_k && *options.expect_k < 1)
      throw InputError("--expect-k must be at least 1, got " + std::to_string(*options.expect_k));
  });

  if (comm.rank() == 0 && !options.plan_only) {
    remove_stale_temps(options.out);
    remove_stale_temps(checkpoint_path(options.out));
    if (!options.report.empty()) remove_stale_temps(options.report);
  }

  StageTimes times;
  const InputMatrix a = inspect_input(comm, problem.a);
  std::optional<InputMatrix> b;
  if (problem.b) b = inspect_input(comm, *problem.b);
  check_inputs_match(a, b ? &*b : nullptr);
  for (const InputMatrix* in : {&a, b ? static_cast<const InputMatrix*>(&*b) : nullptr})
    if (in && in->dtype == h5::DType::UInt8 && problem.mode == Mode::Real)
      throw InputError(in->ref.str() + ": packed bits hold +-1 data; use --rho (binary mode), not --tau",
                       /*collective=*/true);
  if (comm.rank() == 0 && problem.mode == Mode::Real &&
      (a.dtype == h5::DType::Float64 || (b && b->dtype == h5::DType::Float64)))
    spdlog::warn("float64 input is rounded to float32; inner products are summed in float64");

  const Threshold threshold = problem.threshold(a.cols);
  spdlog::info("solve: {} x {}{}, d = {}, {} mode, threshold {}{}, method {} on {} ranks", a.rows, b ? b->rows : a.rows,
               b ? "" : " (self-join)", a.cols, mode_name(problem.mode),
               problem.abs ? "|ip| >= " : "ip >= ", threshold.theta, options.method, comm.size());

  const InputMatrix* b_input = b ? &*b : nullptr;
  Outcome outcome = problem.mode == Mode::Binary
                        ? solve_rows<BitMatrix>(comm, a, b_input, problem, threshold, options, times, read_binary_rows)
                        : solve_rows<RealMatrix>(comm, a, b_input, problem, threshold, options, times, read_real_rows);
  if (options.plan_only) return {outcome.method, 0, gather_stage_times(comm, times), outcome.plan};

  nlohmann::ordered_json parameters = {{"mode", mode_name(problem.mode)},
                                       {problem.mode == Mode::Binary ? "rho" : "tau", problem.value},
                                       {"abs", problem.abs},
                                       {"self_join", problem.self_join()}};
  parameters.update(outcome.parameters);
  if (!outcome.plan.is_null()) parameters["plan"] = outcome.plan;

  std::vector<Pair> pairs = times.time("gather", [&] { return gather_pairs(comm, outcome.local); });
  std::int64_t found = static_cast<std::int64_t>(pairs.size());
  boost::mpi::broadcast(comm, found, 0);

  const std::string inputs = problem.b ? fmt::format("{} {}", problem.a.str(), problem.b->str()) : problem.a.str();
  // The write is timed but its own time cannot be in the file it writes: the file carries
  // the stages before it; the JSON report carries all of them.
  const nlohmann::ordered_json timings_before_write = gather_stage_times(comm, times);
  if (!outcome.plan.is_null()) {
    // Predicted against measured, stage by stage (the slowest rank's time) and candidates.
    nlohmann::ordered_json compared = nlohmann::ordered_json::object();
    double predicted_total = 0, measured_total = 0;
    for (const auto& [stage, predicted] : outcome.plan["chosen"]["stages"].items()) {
      const double measured =
          timings_before_write.contains(stage) ? timings_before_write[stage]["max"].get<double>() : 0.0;
      compared[stage] = {{"predicted", predicted}, {"measured", measured}};
      predicted_total += predicted.get<double>();
      measured_total += measured;
    }
    compared["total"] = {{"predicted", predicted_total}, {"measured", measured_total}};
    if (outcome.method == "sketch") {
      std::int64_t candidates = 0;
      for (const auto& rep : outcome.repetitions) candidates += rep["candidates"].get<std::int64_t>();
      const double per_rep = outcome.plan["chosen"]["candidates_per_rep"].get<double>();
      compared["candidates"] = {{"predicted", per_rep * outcome.repetitions.size()}, {"measured", candidates}};
    }
    outcome.plan["predicted_vs_measured"] = compared;
    parameters["plan"] = outcome.plan;
    spdlog::info("auto: predicted {:.3f} s, measured {:.3f} s for the planned stages", predicted_total, measured_total);
  }
  // Rank 0 writes the output and the report to temporary files beside them; they are
  // renamed into place only once every rank agrees that the run succeeded.
  std::optional<AtomicPath> out_file, report_file;
  agree(comm, [&] {
    times.time("write", [&] {
      if (comm.rank() != 0) return;
      OutputAttributes attrs{outcome.method,    options.method, threshold.theta,
                             options.seed,      comm.size(),    outcome.grid,
                             parameters.dump(), inputs,         timings_before_write.dump()};
      write_pairs_temp(out_file.emplace(options.out), pairs, attrs);
    });
  });
  SolveSummary summary{outcome.method, found, gather_stage_times(comm, times), outcome.plan};

  if (options.expect_k && found != *options.expect_k && comm.rank() == 0)
    spdlog::warn("solve: --expect-k {} but {} heavy pairs were found{}", *options.expect_k, found,
                 outcome.method == "brute" ? " by exact brute force (the count is exact)" : "");
  std::string stages;
  for (const auto& [stage, t] : summary.timings.items())
    stages += fmt::format(" {} {:.3f} s,", stage, t["max"].get<double>());
  stages.pop_back();
  spdlog::info("solve: time per stage (slowest rank):{}", stages);

  const nlohmann::ordered_json peak_rss = gather_peak_rss(comm);
  spdlog::info("solve: peak memory {:.0f} MiB on the largest rank (mean {:.0f}); exact kernels {}, GEMM on {}",
               peak_rss["max"].get<double>(), peak_rss["mean"].get<double>(), kernel_name(), blas_kernels());
  if (!options.report.empty()) {
    nlohmann::ordered_json report = {{"version", HIPI_VERSION},
                                     {"method", outcome.method},
                                     {"requested_method", options.method},
                                     {"ranks", comm.size()},
                                     {"grid", outcome.grid},
                                     {"inputs", inputs},
                                     {"shape", {{"n_a", a.rows}, {"n_b", b ? b->rows : a.rows}, {"d", a.cols}}},
                                     {"threshold", threshold.theta},
                                     {"parameters", parameters},
                                     {"pairs", found},
                                     {"timings", summary.timings},
                                     {"peak_rss_mib", peak_rss},
                                     {"kernels", {{"exact", kernel_name()}, {"blas", blas_kernels()}}}};
    if (!outcome.repetitions.is_null()) report["repetitions"] = outcome.repetitions;
    if (!summary.plan.is_null()) report["plan"] = summary.plan;
    agree(comm, [&] {
      if (comm.rank() == 0) write_text_temp(report_file.emplace(options.report), report.dump(2) + "\n", "report");
    });
  }
  agree(comm, [&] {
    if (comm.rank() != 0) return;
    out_file->commit();
    if (report_file) report_file->commit();
    // The output at this path replaces whatever a checkpoint beside it was working towards.
    std::error_code ec;
    std::filesystem::remove(checkpoint_path(options.out), ec);
  });
  spdlog::info("solve: {} heavy pairs written to {}", found, options.out);
  return summary;
}

}  // namespace hipi
