#include "planner/sparse_or_dense.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/mpi/collectives.hpp>
#include <limits>

#include "methods/brute/brute_cost.hpp"
#include "planner/auto_plan.hpp"

namespace hipi {

namespace {

ProblemShape shape_of(const MethodInput<SparseMatrix>& in, std::int64_t d) {
  ProblemShape shape;
  shape.n_a = in.n_a;
  shape.n_b = in.n_b;
  shape.d = d;
  shape.self_join = in.self_join();
  shape.mode = Mode::Real;
  shape.theta = in.threshold.theta;
  shape.cosine = in.threshold.cosine;
  shape.top_k = in.options.problem.top_k;
  shape.ranks = in.comm.size();
  return shape;
}

// Why the input cannot be densified here, or nothing.
std::string densify_refused(const MethodInput<SparseMatrix>& in, std::int64_t d) {
  if (d > kMaxDenseD) return fmt::format("d = {} is past {}", d, kMaxDenseD);
  const double row_bytes = static_cast<double>((d + 15) / 16 * 64);
  const double rows = static_cast<double>(in.a.range.size() + (in.b ? in.b->range.size() : 0));
  const bool fits = boost::mpi::all_reduce(in.comm, in.budget.fits(row_bytes * rows), std::logical_and<bool>());
  if (!fits) return fmt::format("the dense rows would pass the memory budget ({})", in.budget.describe());
  return {};
}

// The fastest plan of the methods that run on sparse rows, or why there is none.
Pricing price_sparse(const MethodInput<SparseMatrix>& in, ProblemShape& shape) {
  Pricing best;
  for (const SolveMethod* m : solve_methods()) {
    if (!m->sparse_rows() || !m->serves(Mode::Real)) continue;
    if (const std::string why = m->refusal(in.options.problem); !why.empty()) {
      best.why_none += (best.why_none.empty() ? "" : "; ") + m->name() + " " + why;
      continue;
    }
    m->measure(in, shape);
    Pricing p = m->price(shape, MachineProfile{}, std::numeric_limits<double>::infinity());
    if (p.plans.empty()) {
      best.why_none += (best.why_none.empty() ? "" : "; ") + m->name() + ": " + p.why_none;
      continue;
    }
    if (best.plans.empty() || p.plans.front().seconds < best.plans.front().seconds) best.plans = {p.plans.front()};
  }
  return best;
}

void print_choice(const MethodInput<SparseMatrix>& in, const ProblemShape& shape, const Pricing& sparse,
                  const std::optional<Plan>& dense, const std::string& refused, const std::string& why) {
  const std::int64_t entries =
      boost::mpi::all_reduce(in.comm, in.a.rows.nnz() + (in.b ? in.b->rows.nnz() : 0), std::plus<std::int64_t>());
  if (in.comm.rank() != 0) return;
  fmt::print("data:    {} x {}{}, d = {}, sparse: {} entries ({:.3g} per row), theta = {}\n", shape.n_a, shape.n_b,
             shape.self_join ? " (self-join)" : "", shape.d, entries,
             static_cast<double>(entries) / static_cast<double>(shape.n_a + (in.b ? shape.n_b : 0)), shape.theta);
  fmt::print("sparse:  {}\n", sparse.plans.empty() ? "no plan: " + sparse.why_none : describe(sparse.plans.front()));
  fmt::print("densify: {}\n", dense ? "as " + describe(*dense) : "not priced: " + refused);
  fmt::print("why:     {}\n", why);
  if (dense) fmt::print("(densified rows go to the dense planner, which may find faster than brute force)\n");
}

}  // namespace

SparseOrDense plan_sparse_or_dense(const MethodInput<SparseMatrix>& in, std::int64_t d) {
  ProblemShape shape = shape_of(in, d);
  const Pricing sparse = in.times.time("measure", [&] { return price_sparse(in, shape); });
  const std::string refused = densify_refused(in, d);
  std::optional<Plan> dense;
  if (refused.empty())
    dense = plan_brute(shape, machine_rates(in.comm, in.options, d, rates_for_brute(Mode::Real), in.times));
  if (sparse.plans.empty() && !dense)
    throw InputError(fmt::format("no method can solve this sparse input: {}; densifying: {}", sparse.why_none, refused),
                     /*collective=*/true);
  SparseOrDense out;
  out.densify = sparse.plans.empty() || (dense && dense->seconds < sparse.plans.front().seconds);
  std::string why;
  if (sparse.plans.empty())
    why = "densified: the sparse methods have no plan (" + sparse.why_none + ")";
  else if (!dense)
    why = "sparse: densifying is not possible here (" + refused + ")";
  else
    why = fmt::format("{}: predicted {:.3f} s sparse against {:.3f} s densified", out.densify ? "densified" : "sparse",
                      sparse.plans.front().seconds, dense->seconds);
  out.record = {
      {"chosen", out.densify ? "densify" : method_name(sparse.plans.front().method)},
      {"sparse", sparse.plans.empty() ? nlohmann::ordered_json(sparse.why_none) : sparse.plans.front().to_json()},
      {"densify", dense ? dense->to_json() : nlohmann::ordered_json(refused)},
      {"why", why}};
  if (!out.densify) out.chosen = sparse.plans.front();
  spdlog::info("auto: {}", why);
  if (in.options.plan_only) print_choice(in, shape, sparse, dense, refused, why);
  return out;
}

}  // namespace hipi
