#include "solve/solver.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/mpi/collectives.hpp>
#include <filesystem>
#include <optional>

#include "answer/components.hpp"
#include "answer/pair_spill.hpp"
#include "io/atomic_file.hpp"
#include "io/input.hpp"
#include "io/pair_file.hpp"
#include "io/sparse_input.hpp"
#include "planner/calibrate.hpp"
#include "solve/report.hpp"
#include "solve/solve_answer.hpp"

namespace hipi {

namespace {

// Collective: every rank agrees that the options are valid and the outputs writable and
// distinct from the inputs; rank 0 then removes what killed runs left beside the outputs.
void check_paths(const Comm& comm, const SolveOptions& options) {
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
}

// Collective: writes the answer into `temp` ("sort" and "write" timed); returns its pairs.
// `components`, if given, sees every pair written.
std::int64_t write_answer(const Comm& comm, Solved& solved, const std::string& temp, const OutputAttributes& attrs,
                          ComponentBuilder* components) {
  StageTimes& times = solved.times;
  const auto watched = [&](PairStream s) { return components ? observed(std::move(s), *components) : s; };
  if (!solved.spill) {
    PairStream answer = watched(std::move(solved.answer));
    times.time("write", [&] {
      write_pairs_temp(comm, temp, answer, attrs);
      if (const std::optional<KnnTable>& t = solved.knn)
        write_knn_temp(comm, temp, {t->rows, attrs.rows_a, t->k, t->indices.data(), t->scores.data()});
    });
    return answer.total;
  }
  // Window by window: each sorted across ranks ("sort") and written ("write").
  const Outcome& outcome = solved.outcome;
  SpilledAnswer windows(comm, *solved.spill, outcome.copies_a, solved.self_join ? nullptr : &outcome.copies_b,
                        solved.threshold, solved.window_pairs);
  double sorting = 0;
  const double start = MPI_Wtime();
  const std::int64_t found = write_pair_parts_temp(
      comm, temp,
      [&] {
        const double t = MPI_Wtime();
        std::optional<PairStream> part = windows.next();
        sorting += MPI_Wtime() - t;
        if (part) part = watched(std::move(*part));
        return part;
      },
      attrs);
  times.add("sort", sorting);
  times.add("write", MPI_Wtime() - start - sorting);
  if (comm.rank() == 0) spdlog::info("solve: the answer was sorted and written in {} windows", windows.windows());
  return found;
}

// Collective: when the plan missed by more than 2x, every stage shown against its prediction
// and the cached profile dropped (its rates may be a busy machine's: the next run measures
// them again). Rank 0's verdict, so that every rank makes the same (collective) calls.
void review_prediction(const Comm& comm, const SolveOptions& options, const nlohmann::ordered_json& compared) {
  bool missed = prediction_missed(compared);
  boost::mpi::broadcast(comm, missed, 0);
  if (!missed) return;
  if (comm.rank() == 0)
    for (const auto& [stage, pm] : compared.items())
      if (stage != "candidates")  // a count, not seconds
        spdlog::warn("auto: {}: predicted {:.3f} s, measured {:.3f} s", stage, pm["predicted"].get<double>(),
                     pm["measured"].get<double>());
  if (options.profile.empty() && options.profile_cache)
    forget_cached_profile(comm, "the run's stages missed the plan's prediction by more than 2x");
}

// Collective: the components of the pairs written, added to the file at `temp`, logged.
void add_components(const Comm& comm, ComponentBuilder& builder, Solved& solved, const std::string& temp) {
  const ComponentLabels labels = solved.times.time("components", [&] { return builder.finish(comm, solved.budget); });
  solved.times.time("write", [&] { write_components(comm, temp, labels); });
  if (comm.rank() == 0)
    spdlog::info(
        "components: {} components of two or more rows; keeping the smallest row of each drops {} rows "
        "(/components)",
        labels.groups, labels.rows_dropped);
}

// Collective: top-k without --rho or --tau takes packed bits (on either side) as +-1 rows,
// binary mode without asking; the options are checked again for it (--cosine, a method by
// name), on every rank alike.
void mode_of_inputs(const Comm& comm, const InputMatrix& a, const InputMatrix* b, SolveOptions& options) {
  const Problem& problem = options.problem;
  if (!problem.any_score || problem.mode != Mode::Real) return;
  if (a.dtype != h5::DType::UInt8 && !(b && b->dtype == h5::DType::UInt8)) return;
  options.problem.mode = Mode::Binary;
  agree(comm, [&] { check_solve_options(options, comm.size()); });
}

}  // namespace

SolveSummary run_solve(const Comm& comm, const SolveOptions& given) {
  SolveOptions options = given;
  const Problem& problem = options.problem;
  check_paths(comm, options);
  const InputMatrix a = inspect_input(comm, problem.a);
  std::optional<InputMatrix> b;
  if (problem.b) b = inspect_input(comm, *problem.b);
  mode_of_inputs(comm, a, b ? &*b : nullptr, options);
  check_inputs_match(a, b ? &*b : nullptr, problem.mode);
  if (comm.rank() == 0 && problem.mode == Mode::Real &&
      (a.dtype == h5::DType::Float64 || (b && b->dtype == h5::DType::Float64)))
    spdlog::warn("float64 input is rounded to float32; inner products are summed in float64");

  const std::unique_ptr<Solved> owned =
      solve_answer(comm, a, b ? &*b : nullptr, options, {read_binary_rows, read_real_rows, read_sparse_rows});
  Solved& solved = *owned;
  Outcome& outcome = solved.outcome;
  if (options.plan_only) return {outcome.method, 0, gather_stage_times(comm, solved.times), outcome.plan};

  const std::string inputs = problem.b ? fmt::format("{} {}", problem.a.str(), problem.b->str()) : problem.a.str();
  // The write is timed but its own time cannot be in the file it writes: the file carries
  // the stages before it; the JSON report carries all of them.
  const nlohmann::ordered_json timings_before_write = gather_stage_times(comm, solved.times);
  if (!outcome.plan.is_null()) {
    outcome.plan["predicted_vs_measured"] =
        predicted_vs_measured(outcome.plan, timings_before_write, outcome.result.repetitions);
    review_prediction(comm, options, outcome.plan["predicted_vs_measured"]);
    solved.parameters["plan"] = outcome.plan;
  }
  // Every rank writes its slice of the output into a temporary file beside it, named by
  // rank 0; rank 0 renames it, and the report, into place only once every rank agrees that
  // the run succeeded. The write is collective, so an error inside it cannot be agreed on:
  // the rank that sees one removes the temporary file and ends the job (main).
  std::optional<AtomicPath> out_file, report_file;
  out_file.emplace(options.out, shared_temp_suffix(comm));
  agree(comm, [] {});  // every rank is here (a rank that failed on the way ended the job)
  const OutputAttributes attrs{method_name(outcome.method),
                               method_name(options.method),
                               solved.threshold.theta,
                               options.seed,
                               outcome.result.grid,
                               solved.parameters.dump(),
                               inputs,
                               timings_before_write.dump(),
                               problem.cosine ? "cosine" : "inner_product",
                               a.rows,
                               b ? b->rows : a.rows};
  std::optional<ComponentBuilder> components;
  if (options.components) {
    components.emplace(a.rows);
    // Spilled, a rank's pairs come window by window, slices of the whole answer that may
    // touch any row.
    components->check_fits(comm, solved.budget, solved.spill ? a.rows : solved.answer.count);
  }
  const std::int64_t found = write_answer(comm, solved, out_file->temp(), attrs, components ? &*components : nullptr);
  if (components) add_components(comm, *components, solved, out_file->temp());
  const SolveSummary summary{outcome.method, found, gather_stage_times(comm, solved.times), outcome.plan};

  if (options.expect_k && found != *options.expect_k && comm.rank() == 0)
    spdlog::warn("solve: --expect-k {} but {} heavy pairs were found{}", *options.expect_k, found,
                 outcome.method == Method::Brute ? " by exact brute force (the count is exact)" : "");
  const nlohmann::ordered_json report = finish_report(comm, {options, a, b ? &*b : nullptr, solved, summary, inputs});
  if (!options.report.empty())
    agree(comm, [&] {
      if (comm.rank() == 0) write_text_temp(report_file.emplace(options.report), report.dump(2) + "\n", "report");
    });
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
