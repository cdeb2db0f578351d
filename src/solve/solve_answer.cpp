#include "solve/solve_answer.hpp"

#include <spdlog/spdlog.h>

#include <boost/mpi/collectives.hpp>
#include <filesystem>
#include <optional>

#include "answer/copy_expansion.hpp"
#include "answer/sample_sort.hpp"
#include "planner/auto_plan.hpp"
#include "solve/resume.hpp"
#include "solve/solve_sparse.hpp"

namespace hipi {

namespace {

// Collective: reads the distinct rows, resumes a checkpoint or (auto) plans, and runs the
// method on this rank's rows.
template <class Matrix>
Outcome solve_rows(const Comm& comm, const SolveInputs& inputs, const Threshold& threshold, const SolveContext& ctx,
                   const ReadRows<Matrix>& read) {
  const SolveOptions& options = ctx.options;
  Outcome out;
  out.method = options.method;
  const SideReader<Matrix> reader{options, ctx.budget, ctx.times, read};
  const LocalRows<Matrix> a_rows = read_distinct<Matrix>(comm, inputs.a, false, reader, out.copies_a);
  std::optional<LocalRows<Matrix>> b_rows;
  if (inputs.b) b_rows = read_distinct<Matrix>(comm, *inputs.b, true, reader, out.copies_b);
  const LocalRows<Matrix>* b = b_rows ? &*b_rows : nullptr;
  // From here on, rows are the distinct rows (all rows when there are no copies).
  const std::int64_t n_a = out.copies_a.distinct(), n_b = b ? out.copies_b.distinct() : n_a;
  MethodScratch scratch;
  const MethodInput<Matrix> in{comm,    a_rows,    b,       n_a,        n_b,      threshold,
                               options, ctx.times, scratch, ctx.budget, ctx.spill};
  if (ctx.spill) ctx.spill->leave_room(ctx.budget, 0);  // the rows are in memory now

  Checkpointer checkpointer(comm, checkpoint_config(comm, inputs, threshold, options, a_rows, b));
  std::optional<Resumed> resumed = checkpointer.load(ctx.budget);
  std::optional<Plan> chosen;
  if (resumed) {
    out.method = parse_method(resumed->state.at("method").get<std::string>());
    out.plan = resumed->state.at("plan");
  } else if (options.method == Method::Auto) {
    AutoPlan plan = plan_auto(in, inputs.a.cols);
    out.plan = std::move(plan.record);
    out.method = plan.chosen.method;
    chosen = std::move(plan.chosen);
    if (options.plan_only) return out;
  }
  ResumeState resume{checkpointer, resumed, out.plan};
  out.result = solve_method(out.method).run(in, chosen ? &*chosen : nullptr, resume);
  return out;
}

// The parameters the output records: the problem's, the method's, the plan, the copies
// (a self-join's copies_b is empty).
nlohmann::ordered_json answer_parameters(const Problem& problem, const Outcome& outcome) {
  nlohmann::ordered_json parameters = {{"mode", mode_name(problem.mode)},
                                       {problem.mode == Mode::Binary ? "rho" : "tau", problem.value},
                                       {"abs", problem.abs},
                                       {"self_join", problem.self_join()}};
  if (problem.cosine) parameters["cosine"] = true;
  if (problem.top_k > 0) parameters["top_k"] = problem.top_k;
  if (problem.any_score) parameters[problem.mode == Mode::Binary ? "rho" : "tau"] = nullptr;
  parameters.update(outcome.result.parameters);
  if (!outcome.plan.is_null()) parameters["plan"] = outcome.plan;
  // Rows that are copies of another were solved once: the output has all their pairs.
  if (!outcome.copies_a.none() || !outcome.copies_b.none())
    parameters["duplicate_rows"] = {{"a", outcome.copies_a.copies()}, {"b", outcome.copies_b.copies()}};
  return parameters;
}

// Collective: true when some rank's pairs are spilled already or too many to sort in
// memory; then every rank's pairs go to disk and the answer is made from them window by
// window (answer/pair_spill.hpp), and `solved` records it.
bool spill_answer(const Comm& comm, Solved& solved) {
  std::vector<Pair>& local = solved.outcome.result.local;
  PairSpill& spill = *solved.spill;
  const bool spills =
      spill.spilled() || spill.past_limit(local.size()) || !solved.budget.fits(sort_bytes(local.size()));
  if (!boost::mpi::all_reduce(comm, spills, std::logical_or<bool>())) return false;
  solved.times.time("spill", [&] { spill.spill(local); });
  const std::int64_t pairs = boost::mpi::all_reduce(comm, spill.pairs(), std::plus<std::int64_t>());
  const std::int64_t most = boost::mpi::all_reduce(comm, spill.pairs(), boost::mpi::maximum<std::int64_t>());
  const SpillLimits limits = SpillLimits::of(solved.budget);
  solved.window_pairs = limits.window;
  const std::int64_t largest_run =
      boost::mpi::all_reduce(comm, spill.largest_run(), boost::mpi::maximum<std::int64_t>());
  solved.parameters["spilled"] = {
      {"pairs", pairs}, {"largest_rank", most}, {"largest_run", largest_run}, {"window_pairs_per_rank", limits.window}};
  solved.predicted_peak = static_cast<double>(resident_bytes()) +
                          3.0 * static_cast<double>(limits.window) * sizeof(Pair) + 48.0 * (1 << 20);
  if (comm.rank() == 0)
    spdlog::info(
        "solve: the answer passes the memory budget ({}): {} pairs spilled to disk in {} (at most {} on a "
        "rank), written in windows of up to {} pairs per rank",
        solved.budget.describe(), pairs, spill.dir(), most, limits.window);
  return true;
}

// Collective: a top-k answer needs no sort across ranks: each rank holds the lists of its
// rows of A, a contiguous block in rank order. Sorted into the output order, with the table.
void answer_top_k(const Comm& comm, const SolveOptions& options, std::int64_t n_a, Solved& solved) {
  const Problem& problem = options.problem;
  std::vector<Pair>& local = solved.outcome.result.local;
  const RowRange rows = rows_for(options, n_a, false, comm);
  solved.times.time("sort", [&] {
    sort_top_k(local, problem.abs);
    solved.knn = knn_table(local, rows, problem.top_k, problem.abs);
  });
  PairSlice slice;
  slice.total = boost::mpi::all_reduce(comm, static_cast<std::int64_t>(local.size()), std::plus<std::int64_t>());
  std::vector<std::int64_t> counts;
  boost::mpi::all_gather(comm, static_cast<std::int64_t>(local.size()), counts);
  for (int r = 0; r < comm.rank(); ++r) slice.offset += counts[r];
  slice.pairs = std::move(local);
  solved.answer = PairStream::owning(std::move(slice));
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
    if (const std::string why = method->refusal(problem); !why.empty()) {
      if (options.method == Method::Auto) continue;
      throw InputError("--method " + method->name() + " " + why);
    }
    method->check(options, ranks);
  }
  if (!(options.delta > 0 && options.delta < 1)) throw InputError("--delta must be in (0, 1)");
  if (options.memory_mib < 0) throw InputError("--memory-mib must be positive (MiB per rank)");
  if (options.components && problem.top_k > 0)
    throw InputError("--components is for a threshold join: the components of a kNN graph are no dedup");
  if (options.components && !problem.self_join())
    throw InputError("--components is for a self-join (no --b): components of the graph of pairs within A");
  if (options.expect_k && *options.expect_k < 1)
    throw InputError("--expect-k must be at least 1, got " + std::to_string(*options.expect_k));
}

std::unique_ptr<Solved> solve_answer(const Comm& comm, const InputMatrix& a, const InputMatrix* b,
                                     const SolveOptions& options, const RowReaders& read) {
  const Problem& problem = options.problem;
  auto owned = std::make_unique<Solved>();
  Solved& solved = *owned;
  solved.budget = MemoryBudget::of(comm, options.memory_mib);
  solved.self_join = b == nullptr;
  const Threshold threshold = problem.threshold(a.cols);
  solved.threshold = threshold;
  spdlog::info("solve: {} x {}{}, d = {}, {} mode, threshold {}{}, method {} on {} ranks", a.rows, b ? b->rows : a.rows,
               b ? "" : " (self-join)", a.cols, mode_name(problem.mode),
               problem.cosine ? (problem.abs ? "|cos| >= " : "cos >= ") : (problem.abs ? "|ip| >= " : "ip >= "),
               threshold.theta, method_name(options.method), comm.size());
  // An answer bound for a file may pass the budget: its pairs are spilled beside the file.
  // A top-k answer holds K pairs a row, checked against the budget before it is found.
  if (!options.out.empty() && !options.plan_only && problem.top_k == 0) {
    const std::filesystem::path dir = std::filesystem::path(options.out).parent_path();
    solved.spill = std::make_unique<PairSpill>(dir.empty() ? "." : dir.string(), SpillLimits::of(solved.budget).held);
  }
  const SolveContext ctx{options, solved.budget, solved.times, solved.spill.get()};
  const SolveInputs inputs{a, b};
  Outcome& outcome = solved.outcome;
  nlohmann::ordered_json densified;  // auto on a sparse input: its choice, when it densified
  std::optional<Outcome> sparse;
  if (reads_sparse(options, a, b)) sparse = solve_sparse(comm, inputs, threshold, ctx, read.sparse, densified);
  if (sparse)
    outcome = std::move(*sparse);
  else
    outcome = problem.mode == Mode::Binary ? solve_rows<BitMatrix>(comm, inputs, threshold, ctx, read.binary)
                                           : solve_rows<RealMatrix>(comm, inputs, threshold, ctx, read.real);
  if (!densified.is_null()) outcome.plan["sparse_or_dense"] = densified;
  if (options.plan_only) return owned;
  solved.parameters = answer_parameters(problem, outcome);
  if (problem.top_k > 0) {
    answer_top_k(comm, options, a.rows, solved);
    return owned;
  }
  if (solved.spill) {
    if (spill_answer(comm, solved)) return owned;
    solved.spill.reset();
  }
  std::vector<Pair>& local = outcome.result.local;
  solved.predicted_peak = static_cast<double>(resident_bytes()) + check_sort_fits(comm, solved.budget, local.size());
  // No rank gathers the answer: each keeps a sorted slice, the pairs of copies made while
  // it is read out.
  solved.answer = solved.times.time("sort", [&] {
    return expand_duplicates(comm, sort_pairs_across(comm, std::move(local)), outcome.copies_a,
                             b ? &outcome.copies_b : nullptr, threshold);
  });
  return owned;
}

}  // namespace hipi
