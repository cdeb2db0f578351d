#include "planner/choose.hpp"
#include "solve/solver.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <filesystem>
#include <type_traits>

#include "planner/calibrate.hpp"
#include "answer/checkpoint.hpp"
#include "answer/duplicates.hpp"
#include "io/input.hpp"
#include "methods/layout.hpp"
#include "parallel/log.hpp"
#include "runtime/memory.hpp"
#include "io/atomic_file.hpp"
#include "answer/sample_sort.hpp"
#include "io/pair_file.hpp"
#include "answer/pair_spill.hpp"
#include "methods/pricing.hpp"
#include "runtime/stage_times.hpp"
#include "parallel/scalapack.hpp"
#include "solve/solve_answer.hpp"
#include "methods/solve_method.hpp"
#include "methods/sketch/recall/background.hpp"
#include "kernels/exact.hpp"
#include "methods/sketch/sketch_cost.hpp"

namespace hipi {

namespace {

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
          {"method", method_name(options.method)},
          {"seed", options.seed},
          {"ranks", ranks}};
}

// Which rows this rank reads: what the method asked for needs, or auto_rows (layout.hpp).
RowRange rows_for(const SolveOptions& options, std::int64_t n, bool side_b, const Comm& comm) {
  if (options.method != Method::Auto) return solve_method(options.method).rows(n, side_b, options, comm);
  return auto_rows(n, comm.size(), comm.rank());
}

// What every stage of one solve shares.
struct SolveContext {
  const SolveOptions& options;
  const MemoryBudget& budget;
  StageTimes& times;
  PairSpill* spill;  // null when the answer has nowhere to go but memory
};

// Reads `input`'s rows for this rank and collapses exact copies (duplicates.hpp): returns
// this rank's block of the distinct rows, in the layout the method asks for at that size.
template <class Matrix, class Read>
LocalRows<Matrix> read_distinct(const Comm& comm, const InputMatrix& input, bool side_b, const SolveContext& ctx,
                                Read&& read_rows, Duplicates& copies) {
  const SolveOptions& options = ctx.options;
  StageTimes& times = ctx.times;
  const RowRange range = rows_for(options, input.rows, side_b, comm);
  agree(comm, [&] {
    const double row_bytes = static_cast<double>(Matrix(1, input.cols).storage_size() * sizeof(*Matrix().data()));
    ctx.budget.check(fmt::format("the {} rows of {} this rank reads", range.size(), input.ref.str()),
                     row_bytes * static_cast<double>(range.size()));
  });
  LocalRows<Matrix> rows = times.time("read", [&] { return read_rows(comm, input, range); });
  copies = times.time("duplicates", [&] { return find_duplicates(comm, rows, input.rows); });
  if (copies.none()) return rows;
  if (comm.rank() == 0)
    spdlog::info(
        "duplicates: {} of the {} rows of {} are exact copies of {} rows; the methods solve the {} distinct rows",
        copies.copies(), input.rows, input.ref.str(), copies.reps().size(), copies.distinct());
  return times.time("duplicates", [&] {
    return collapse_rows(comm, rows, copies, rows_for(options, copies.distinct(), side_b, comm));
  });
}

void print_plan(const PlanChoice& c, const ProblemShape& shape, const BackgroundSample& bg,
                const NeighbourhoodProbe& probe, const MachineProfile& m) {
  auto describe = [](const Plan& p) {
    std::string s = fmt::format("{} predicted {:.3f} s", method_name(p.method), p.seconds);
    if (!p.detail.empty()) s += " (" + p.detail + ")";
    if (p.method == Method::Sketch)
      s += fmt::format(
          " ({} sketch, groups {}x{}, degree {}, T_det {:.4g} = signal - {:.2f} sigma, {} repetition{}, miss per "
          "pair {:.1e} ({}), {:.3g} candidates per repetition, {})",
          sketch_kind_name(p.sketch), p.group_a, p.group_b, p.degree, p.detect_threshold, p.z, p.reps,
          p.reps == 1 ? "" : "s", p.miss, p.empirical ? "simulated from the sample" : "gaussian model",
          p.candidates_per_rep, p.float32 ? "float32" : "float64");
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
  fmt::print("methods, the fastest plan of each:\n");
  for (const Plan& p : c.by_method) fmt::print("  {}\n", describe(p));
  for (const std::string& u : c.unavailable) fmt::print("  {} (no plan)\n", u);
  fmt::print("chosen:  {}\nrunner-up: {}\nwhy:     {}\n", describe(c.best), describe(c.runner_up), c.why);
  if (!c.alternatives.empty()) fmt::print("other sketch shapes, fastest plan of each:\n");
  for (const Plan& p : c.alternatives) fmt::print("  {}\n", describe(p));
}

template <class Matrix, class Read>
Outcome solve_rows(const Comm& comm, const InputMatrix& a, const InputMatrix* b, const Problem& problem,
                   const Threshold& threshold, const SolveContext& ctx, Read&& read_rows) {
  const SolveOptions& options = ctx.options;
  StageTimes& times = ctx.times;
  Outcome out;
  out.method = options.method;
  const LocalRows<Matrix> a_rows = read_distinct<Matrix>(comm, a, false, ctx, read_rows, out.copies_a);
  std::optional<LocalRows<Matrix>> b_rows;
  if (b) b_rows = read_distinct<Matrix>(comm, *b, true, ctx, read_rows, out.copies_b);
  // From here on, rows are the distinct rows (all rows when there are no copies).
  const std::int64_t n_a = out.copies_a.distinct(), n_b = b ? out.copies_b.distinct() : n_a;
  MethodScratch scratch;
  const MethodInput<Matrix> in{
      comm, a_rows, b ? &*b_rows : nullptr, n_a, n_b, threshold, options, times, scratch, ctx.budget, ctx.spill};

  // A method that checkpoints (asked for, or one auto may choose) can resume this run.
  const bool may_checkpoint =
      !options.plan_only && (options.method == Method::Auto || solve_method(options.method).checkpoints());
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
    out.method = parse_method(resumed->state.at("method").get<std::string>());
    out.plan = resumed->state.at("plan");
  }

  std::optional<Plan> chosen;
  if (options.method == Method::Auto && !resumed) {
    const BackgroundSample bg = times.time("sample", [&] {
      return estimate_background(
          comm, a_rows, n_a, in.b_or_a(), n_b, !b, threshold, options.sketch.sample_rows, options.seed,
          problem.mode == Mode::Binary ? sign_sketch_group_sizes() : std::vector<std::int64_t>{});
    });
    const NeighbourhoodProbe probe = times.time("sample", [&] {
      return probe_neighbourhoods(comm, a_rows, n_a, in.b_or_a(), n_b, !b, threshold, options.seed);
    });
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
    ProblemShape shape;
    shape.n_a = n_a;
    shape.n_b = n_b;
    shape.d = a.cols;
    shape.self_join = !b;
    shape.mode = problem.mode;
    shape.theta = threshold.theta;
    shape.ranks = comm.size();
    shape.m2 = std::max(bg.m2, 1e-300);
    shape.m4 = bg.m4;
    shape.background = &bg.inner_products;
    shape.delta = options.delta;
    shape.sign_noise = &bg.sign_noise;
    shape.partnered_a = probe.fraction_a();
    shape.partnered_b = probe.fraction_b();
    shape.heavy_pairs = probe.heavy_pairs(n_a, !b);
    // Methods that price themselves by timing a sample of their own work.
    for (const SolveMethod* method : solve_methods())
      if (method->serves(problem.mode)) method->measure(in, shape);
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
    chosen = choice.best;
    std::erase_if(scratch.kept, [&](const auto& kept) { return kept.first != out.method; });  // held memory
    spdlog::info("auto: {} chosen, predicted {:.3f} s: {}", method_name(out.method), choice.best.seconds, choice.why);
    if (options.plan_only) {
      if (comm.rank() == 0) print_plan(choice, shape, bg, probe, machine);
      return out;
    }
  }

  ResumeState resume{checkpointer, resumed, out.plan};
  out.result = solve_method(out.method).run(in, chosen ? &*chosen : nullptr, resume);
  return out;
}

}  // namespace

void check_solve_options(const SolveOptions& options, int ranks) {
  const Problem& problem = options.problem;
  problem.check_threshold();
  for (const SolveMethod* method : solve_methods()) {
    if (options.method != Method::Auto && options.method != method->id()) continue;
    if (!method->serves(problem.mode)) {
      if (options.method == Method::Auto) continue;
      throw InputError("--method " + method->name() + " cannot solve " + mode_name(problem.mode) + " data (" +
                       (problem.mode == Mode::Real ? "--tau" : "--rho") + "): " + method->summary());
    }
    method->check(options, ranks);
  }
  if (!(options.delta > 0 && options.delta < 1)) throw InputError("--delta must be in (0, 1)");
  if (options.memory_mib < 0) throw InputError("--memory-mib must be positive (MiB per rank)");
  if (options.expect_k && *options.expect_k < 1)
    throw InputError("--expect-k must be at least 1, got " + std::to_string(*options.expect_k));
}

Solved solve_answer(const Comm& comm, const InputMatrix& a, const InputMatrix* b, const SolveOptions& options,
                    const RowReaders& read) {
  const Problem& problem = options.problem;
  Solved solved;
  solved.budget = MemoryBudget::of(comm, options.memory_mib);
  StageTimes& times = solved.times;
  const Threshold threshold = problem.threshold(a.cols);
  solved.threshold = threshold;
  spdlog::info("solve: {} x {}{}, d = {}, {} mode, threshold {}{}, method {} on {} ranks", a.rows, b ? b->rows : a.rows,
               b ? "" : " (self-join)", a.cols, mode_name(problem.mode),
               problem.abs ? "|ip| >= " : "ip >= ", threshold.theta, method_name(options.method), comm.size());
  // An answer bound for a file may pass the budget: its pairs are spilled beside the file.
  if (!options.out.empty() && !options.plan_only) {
    const std::filesystem::path dir = std::filesystem::path(options.out).parent_path();
    solved.spill = std::make_unique<PairSpill>(dir.empty() ? "." : dir.string(), SpillLimits::of(solved.budget).held);
  }
  const SolveContext ctx{options, solved.budget, times, solved.spill.get()};
  Outcome& outcome = solved.outcome;
  outcome = problem.mode == Mode::Binary ? solve_rows<BitMatrix>(comm, a, b, problem, threshold, ctx, read.binary)
                                         : solve_rows<RealMatrix>(comm, a, b, problem, threshold, ctx, read.real);
  if (options.plan_only) return solved;

  nlohmann::ordered_json& parameters = solved.parameters;
  parameters = {{"mode", mode_name(problem.mode)},
                {problem.mode == Mode::Binary ? "rho" : "tau", problem.value},
                {"abs", problem.abs},
                {"self_join", problem.self_join()}};
  parameters.update(outcome.result.parameters);
  if (!outcome.plan.is_null()) parameters["plan"] = outcome.plan;

  // Rows that are copies of another were solved once: the output has all their pairs.
  if (!outcome.copies_a.none() || !outcome.copies_b.none())
    parameters["duplicate_rows"] = {{"a", outcome.copies_a.copies()}, {"b", b ? outcome.copies_b.copies() : 0}};

  std::vector<Pair>& local = outcome.result.local;
  if (solved.spill) {
    // Spilled, or too many to sort in memory, on any rank: every rank's pairs go to disk
    // and the answer is made from them window by window (pair_spill.hpp).
    const bool spills = solved.spill->spilled() || solved.spill->past_limit(local.size()) ||
                        !solved.budget.fits(sort_bytes(local.size()));
    if (boost::mpi::all_reduce(comm, spills, std::logical_or<bool>())) {
      times.time("spill", [&] { solved.spill->spill(local); });
      const std::int64_t pairs = boost::mpi::all_reduce(comm, solved.spill->pairs(), std::plus<std::int64_t>());
      const std::int64_t most =
          boost::mpi::all_reduce(comm, solved.spill->pairs(), boost::mpi::maximum<std::int64_t>());
      const SpillLimits limits = SpillLimits::of(solved.budget);
      solved.window_pairs = limits.window;
      const std::int64_t largest_run =
          boost::mpi::all_reduce(comm, solved.spill->largest_run(), boost::mpi::maximum<std::int64_t>());
      parameters["spilled"] = {{"pairs", pairs},
                               {"largest_rank", most},
                               {"largest_run", largest_run},
                               {"window_pairs_per_rank", limits.window}};
      solved.predicted_peak = static_cast<double>(resident_bytes()) +
                              3.0 * static_cast<double>(limits.window) * sizeof(Pair) + 48.0 * (1 << 20);
      if (comm.rank() == 0)
        spdlog::info(
            "solve: the answer passes the memory budget ({}): {} pairs spilled to disk in {} (at most {} on a "
            "rank), written in windows of up to {} pairs per rank",
            solved.budget.describe(), pairs, solved.spill->dir(), most, limits.window);
      return solved;
    }
    solved.spill.reset();
  }
  solved.predicted_peak = static_cast<double>(resident_bytes()) + check_sort_fits(comm, solved.budget, local.size());

  // No rank gathers the answer: each keeps a sorted slice, the pairs of copies made while
  // it is read out.
  solved.answer = times.time("sort", [&] {
    return expand_duplicates(comm, sort_pairs_across(comm, std::move(local)), outcome.copies_a,
                             b ? &outcome.copies_b : nullptr, threshold);
  });
  return solved;
}

SolveSummary run_solve(const Comm& comm, const SolveOptions& options) {
  const Problem& problem = options.problem;
  agree(comm, [&] {
    check_solve_options(options, comm.size());
    if (!options.plan_only) check_output_path(options.out, "--out");
    if (!options.report.empty()) check_output_path(options.report, "--report");
    std::vector<NamedPath> inputs{{"--a", problem.a.file}}, outputs;
    if (problem.b) inputs.push_back({"--b", problem.b->file});
    if (!options.plan_only) outputs.push_back({"--out", options.out});
    if (!options.report.empty()) outputs.push_back({"--report", options.report});
    check_outputs_distinct(inputs, outputs);
  });

  if (comm.rank() == 0 && !options.plan_only) {
    remove_stale_temps(options.out);
    remove_stale_temps(checkpoint_path(options.out));
    if (!options.report.empty()) remove_stale_temps(options.report);
  }

  const InputMatrix a = inspect_input(comm, problem.a);
  std::optional<InputMatrix> b;
  if (problem.b) b = inspect_input(comm, *problem.b);
  check_inputs_match(a, b ? &*b : nullptr, problem.mode);
  if (comm.rank() == 0 && problem.mode == Mode::Real &&
      (a.dtype == h5::DType::Float64 || (b && b->dtype == h5::DType::Float64)))
    spdlog::warn("float64 input is rounded to float32; inner products are summed in float64");

  Solved solved = solve_answer(comm, a, b ? &*b : nullptr, options, {read_binary_rows, read_real_rows});
  StageTimes& times = solved.times;
  Outcome& outcome = solved.outcome;
  if (options.plan_only) return {outcome.method, 0, gather_stage_times(comm, times), outcome.plan};
  const Threshold& threshold = solved.threshold;
  const MemoryBudget& budget = solved.budget;
  nlohmann::ordered_json& parameters = solved.parameters;
  PairStream& answer = solved.answer;
  // The largest of what the answer's steps add and what the checks before them saw (the rows,
  // the methods' buffers, memory.hpp).
  const double predicted_peak = std::max(solved.predicted_peak, solved.budget.largest_checked());
  std::int64_t found = answer.total;

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
    const auto& reps = outcome.result.repetitions;
    if (!reps.is_null() && outcome.plan["chosen"].contains("candidates_per_rep")) {
      std::int64_t candidates = 0;
      for (const auto& rep : reps) candidates += rep["candidates"].get<std::int64_t>();
      const double per_rep = outcome.plan["chosen"]["candidates_per_rep"].get<double>();
      compared["candidates"] = {{"predicted", per_rep * reps.size()}, {"measured", candidates}};
    }
    outcome.plan["predicted_vs_measured"] = compared;
    parameters["plan"] = outcome.plan;
    spdlog::info("auto: predicted {:.3f} s, measured {:.3f} s for the planned stages", predicted_total, measured_total);
  }
  // Every rank writes its slice of the output into a temporary file beside it, named by
  // rank 0; rank 0 renames it, and the report, into place only once every rank agrees that
  // the run succeeded. The write is collective, so an error inside it cannot be agreed on:
  // the rank that sees one removes the temporary file and ends the job (main).
  std::optional<AtomicPath> out_file, report_file;
  out_file.emplace(options.out, shared_temp_suffix(comm));
  agree(comm, [] {});  // every rank is here (a rank that failed on the way ended the job)
  OutputAttributes attrs{
      method_name(outcome.method), method_name(options.method), threshold.theta, options.seed,
      outcome.result.grid,         parameters.dump(),           inputs,          timings_before_write.dump()};
  if (solved.spill) {
    // Window by window: each sorted across ranks ("sort") and written ("write").
    SpilledAnswer windows(comm, *solved.spill, outcome.copies_a, b ? &outcome.copies_b : nullptr, threshold,
                          solved.window_pairs);
    double sorting = 0;
    const double start = MPI_Wtime();
    found = write_pair_parts_temp(
        comm, out_file->temp(),
        [&] {
          const double t = MPI_Wtime();
          std::optional<PairStream> part = windows.next();
          sorting += MPI_Wtime() - t;
          return part;
        },
        attrs);
    times.add("sort", sorting);
    times.add("write", MPI_Wtime() - start - sorting);
    if (comm.rank() == 0) spdlog::info("solve: the answer was sorted and written in {} windows", windows.windows());
  } else {
    times.time("write", [&] { write_pairs_temp(comm, out_file->temp(), answer, attrs); });
  }
  SolveSummary summary{outcome.method, found, gather_stage_times(comm, times), outcome.plan};

  if (options.expect_k && found != *options.expect_k && comm.rank() == 0)
    spdlog::warn("solve: --expect-k {} but {} heavy pairs were found{}", *options.expect_k, found,
                 outcome.method == Method::Brute ? " by exact brute force (the count is exact)" : "");
  std::string stages;
  for (const auto& [stage, t] : summary.timings.items())
    stages += fmt::format(" {} {:.3f} s,", stage, t["max"].get<double>());
  stages.pop_back();
  spdlog::info("solve: time per stage (slowest rank):{}", stages);

  const nlohmann::ordered_json peak_rss = gather_peak_rss(comm);
  // Per rank, predicted (at the sort) against measured (the process's peak), in rank order.
  std::vector<double> predicted_by_rank, measured_by_rank;
  boost::mpi::all_gather(comm, predicted_peak / (1 << 20), predicted_by_rank);
  boost::mpi::all_gather(comm, static_cast<double>(peak_resident_bytes()) / (1 << 20), measured_by_rank);
  const double predicted_mib = *std::max_element(predicted_by_rank.begin(), predicted_by_rank.end());
  if (comm.rank() == 0 && peak_rss["max"].get<double>() > budget.mib())
    spdlog::warn("solve: a rank's peak memory, {:.0f} MiB, passed the budget of {:.0f} MiB per rank ({})",
                 peak_rss["max"].get<double>(), budget.mib(), budget.describe());
  spdlog::info("solve: peak memory {:.0f} MiB on the largest rank (mean {:.0f}); exact kernels {}, GEMM on {}",
               peak_rss["max"].get<double>(), peak_rss["mean"].get<double>(), kernel_name(), blas_kernels());
  if (!options.report.empty()) {
    nlohmann::ordered_json report = {{"version", HIPI_VERSION},
                                     {"method", method_name(outcome.method)},
                                     {"requested_method", method_name(options.method)},
                                     {"ranks", comm.size()},
                                     {"grid", outcome.result.grid},
                                     {"inputs", inputs},
                                     {"shape", {{"n_a", a.rows}, {"n_b", b ? b->rows : a.rows}, {"d", a.cols}}},
                                     {"threshold", threshold.theta},
                                     {"parameters", parameters},
                                     {"pairs", found},
                                     {"timings", summary.timings},
                                     {"peak_rss_mib", peak_rss},
                                     {"memory",
                                      {{"budget_mib", budget.mib()},
                                       {"budget", budget.describe()},
                                       {"predicted_peak_mib", predicted_mib},
                                       {"measured_peak_mib", peak_rss["max"]},
                                       {"predicted_by_rank_mib", predicted_by_rank},
                                       {"measured_by_rank_mib", measured_by_rank}}},
                                     {"kernels", {{"exact", kernel_name()}, {"blas", blas_kernels()}}}};
    if (!outcome.result.repetitions.is_null()) report["repetitions"] = outcome.result.repetitions;
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
