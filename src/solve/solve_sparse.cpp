#include "solve/solve_sparse.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "planner/sparse_or_dense.hpp"
#include "solve/distinct_rows.hpp"

namespace hipi {

namespace {

// Collective: this rank's block of an input's distinct rows, sparse, checked against the
// budget first; with --cosine rows without entries are refused or skipped
// (refuse_zero_rows). Copies are collapsed as for dense rows (solve/distinct_rows.hpp): text
// repeats whole paragraphs (licences, boilerplate), and a group of k copies would cost k^2/2
// exact checks, and k checks against each of its neighbours.
LocalRows<SparseMatrix> read_side(const Comm& comm, const InputMatrix& input, const SolveContext& ctx,
                                  const ReadRows<SparseMatrix>& read, Duplicates& copies) {
  const RowRange range = row_block(input.rows, comm.size(), comm.rank());
  agree(comm, [&] {
    // Sparse: about this rank's share of the entries; densified (a dense side): its rows.
    const double bytes = input.sparse ? SparseMatrix::bytes_for(range.size(), input.nnz / comm.size() + 1)
                                      : static_cast<double>(range.size()) * input.cols * 16.0;
    ctx.budget.check(fmt::format("the {} rows of {} this rank reads", range.size(), input.ref.str()), bytes);
  });
  LocalRows<SparseMatrix> rows = ctx.times.time("read", [&] {
    LocalRows<SparseMatrix> read_rows = read(comm, input, range);
    check_input_unchanged(comm, input);
    return read_rows;
  });
  const Problem& problem = ctx.options.problem;
  if (problem.cosine) {
    ZeroRows zero;
    for (std::int64_t r = 0; r < rows.rows.rows(); ++r) {
      if (!rows.rows.indices(r).empty()) continue;
      if (zero.first < 0) zero.first = range.begin + r;
      ++zero.count;
    }
    refuse_zero_rows(comm, input, zero, problem.skip_zero_rows);
  }
  copies = ctx.times.time("duplicates", [&] { return find_duplicates(comm, rows, input.rows, ctx.budget); });
  if (copies.none()) return rows;
  if (comm.rank() == 0)
    spdlog::info(
        "duplicates: {} of the {} rows of {} are exact copies of {} rows; the methods solve the {} distinct rows",
        copies.copies(), input.rows, input.ref.str(), copies.reps().size(), copies.distinct());
  return ctx.times.time("duplicates", [&] {
    return collapse_rows(comm, rows, copies, row_block(copies.distinct(), comm.size(), comm.rank()));
  });
}

}  // namespace

bool reads_sparse(const SolveOptions& options, const InputMatrix& a, const InputMatrix* b) {
  if (options.problem.mode != Mode::Real) return false;
  if (options.method != Method::Auto) return solve_method(options.method).sparse_rows();
  return a.sparse || (b && b->sparse);
}

std::optional<Outcome> solve_sparse(const Comm& comm, const SolveInputs& inputs, const Threshold& threshold,
                                    const SolveContext& ctx, const ReadRows<SparseMatrix>& read,
                                    nlohmann::ordered_json& densified) {
  const SolveOptions& options = ctx.options;
  Outcome out;
  out.method = options.method;
  const LocalRows<SparseMatrix> a_rows = read_side(comm, inputs.a, ctx, read, out.copies_a);
  std::optional<LocalRows<SparseMatrix>> b_rows;
  if (inputs.b) b_rows = read_side(comm, *inputs.b, ctx, read, out.copies_b);
  const LocalRows<SparseMatrix>* b = b_rows ? &*b_rows : nullptr;
  // From here on, rows are the distinct rows. The sparse join saves no checkpoints.
  const std::int64_t n_a = out.copies_a.distinct(), n_b = b ? out.copies_b.distinct() : n_a;
  MethodScratch scratch;
  const MethodInput<SparseMatrix> in{comm,    a_rows,    b,       n_a,        n_b,      threshold,
                                     options, ctx.times, scratch, ctx.budget, ctx.spill};
  if (ctx.spill) ctx.spill->leave_room(ctx.budget, 0);  // the rows are in memory now
  std::optional<Plan> chosen;
  if (options.method == Method::Auto) {
    SparseOrDense choice = plan_sparse_or_dense(in, inputs.a.cols);
    if (choice.densify) {
      densified = std::move(choice.record);
      return std::nullopt;
    }
    out.method = choice.chosen.method;
    out.plan = {{"chosen", choice.chosen.to_json()}, {"why", choice.record["why"]}, {"sparse_or_dense", choice.record}};
    chosen = std::move(choice.chosen);
    if (options.plan_only) return out;
  }
  // The sparse join keeps no checkpoint; one beside the output is another run's.
  CheckpointConfig config;
  config.path = checkpoint_path(options.out);
  config.inspect = !options.out.empty();
  Checkpointer no_checkpoints(comm, std::move(config));
  no_checkpoints.refuse_existing("the sparse join keeps no checkpoint");
  std::optional<Resumed> none;
  ResumeState resume{no_checkpoints, none, out.plan};
  out.result = solve_method(out.method).run(in, chosen ? &*chosen : nullptr, resume);
  return out;
}

}  // namespace hipi
