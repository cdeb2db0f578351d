// The group-sketch solver as a method (solver.hpp): linear sketches multiplied by
// ScaLAPACK GEMM or sign sketches compared by the popcount kernel, priced by the search of
// sketch_cost.hpp over group sizes, detection thresholds and feature degrees.
#include <fmt/format.h>

#include <optional>
#include <sstream>
#include <type_traits>

#include "answer/duplicates.hpp"
#include "methods/layout.hpp"
#include "methods/sketch/sketch_cost.hpp"
#include "methods/sketch/solver.hpp"
#include "methods/solve_method.hpp"
#include "parallel/row_exchange.hpp"

namespace hipi {

namespace {

// The sketch's options for this run: auto's plan when it chose one (on the rows auto read,
// auto_rows), else the options as given.
SketchOptions sketch_options(const SolveOptions& options, const Plan* plan) {
  SketchOptions sketch = options.sketch;
  sketch.expect_k = options.expect_k;
  if (plan) {
    sketch.sketch = plan->sketch;
    sketch.group_a = plan->group_a;
    sketch.group_b = plan->group_b;
    sketch.reps = plan->reps;
    sketch.degree = plan->degree;
    sketch.max_reps = std::max(4 * plan->reps, 16);
    sketch.plan_meets_delta = true;
    sketch.model_miss_per_rep = plan->miss_per_rep;
    sketch.detect_threshold = plan->detect_threshold;
    sketch.tile_rows = 0;
  }
  // A hand-set z has the Gaussian model's miss probability per repetition (a pair at the
  // threshold is missed when the noise takes it below T_det); an absolute threshold has none.
  if (!sketch.model_miss_per_rep && !sketch.detect_threshold) sketch.model_miss_per_rep = normal_cdf(-sketch.z);
  return sketch;
}

// The rows in the sketch's tiles. Auto read its rows before the group sizes were known:
// they move when those differ (only when n < 1344 x ranks; a no-op otherwise).
template <class Matrix>
struct TiledInput {
  std::optional<LocalRows<Matrix>> moved_a, moved_b;
  const LocalRows<Matrix>* a = nullptr;
  const LocalRows<Matrix>* b = nullptr;  // null in a self-join

  TiledInput(const MethodInput<Matrix>& in, const SketchOptions& sketch) {
    const int P = in.comm.size(), rank = in.comm.rank();
    moved_a = in.times.time(
        "relayout", [&] { return relayout_rows(in.comm, in.a, sketch_rows(in.n_a, sketch.group_a, sketch, P, rank)); });
    if (in.b)
      moved_b = in.times.time("relayout", [&] {
        return relayout_rows(in.comm, *in.b, sketch_rows(in.n_b, sketch.group_b, sketch, P, rank));
      });
    a = moved_a ? &*moved_a : &in.a;
    b = in.b ? (moved_b ? &*moved_b : in.b) : nullptr;
  }
  TiledInput(const TiledInput&) = delete;  // a and b may point into it
};

// The linear product's inner block and grid, from the layout (methods/layout.hpp), its
// buffers checked against the budget (the rows are held already, and the answer is checked
// as it grows: recall/repetitions.cpp).
template <class Matrix>
void fit_linear_layout(const MethodInput<Matrix>& in, SketchOptions& sketch) {
  LayoutQuery query;
  query.n_a = in.n_a;
  query.n_b = in.n_b;
  query.d = in.a.rows.cols();
  query.self_join = in.self_join();
  query.mode = std::is_same_v<Matrix, BitMatrix> ? Mode::Binary : Mode::Real;
  query.method = Method::Sketch;
  query.ranks = in.comm.size();
  query.sketch = sketch;
  query.budget_bytes = static_cast<double>(in.budget.bytes);
  const Layout layout = layout_of(query);
  sketch.k_block = layout.k_block;
  sketch.grid = layout.grid.str();
  const double working = layout.bytes_of(BufferUse::Working);
  agree(in.comm, [&] {
    in.budget.check(
        fmt::format("the sketch's buffers on a {} grid (sketches, S_A, S_B^T, a panel of C)", layout.grid.str()),
        working);
  });
}

// What the output records of a sketch run.
nlohmann::ordered_json sketch_parameters(const SketchOptions& sketch, const SketchRun& run, std::int64_t tile_rows_a,
                                         bool self_join) {
  nlohmann::ordered_json p;
  const std::int64_t group_b = self_join ? sketch.group_a : sketch.group_b;
  p["sketch"] = sketch_kind_name(sketch.sketch);
  p["group_size_a"] = sketch.group_a;
  p["group_size_b"] = group_b;
  p["degree"] = sketch.degree;
  p["reps"] = sketch.reps;
  p["detect_threshold"] = run.detect_threshold;
  if (!sketch.detect_threshold) {
    p["z"] = sketch.z;
    p["background_m2"] = run.background.m2;
    p["background_m4"] = run.background.m4;
    if (sketch.sketch == SketchKind::Sign) p["sign_sketch_m2"] = run.background.sign_m2(sketch.group_a, group_b);
    p["background_pairs_sampled"] = run.background.pairs;
  }
  p["block_size"] = sketch.block_size;
  p["k_block"] = sketch.k_block;
  p["tile_rows_a"] = tile_rows_a;
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
  return p;
}

class SketchMethod : public SolveMethodOf<SketchMethod> {
 public:
  Method id() const override { return Method::Sketch; }
  std::string name() const override { return "sketch"; }
  std::string summary() const override { return "group sketches + product + exact verification"; }

  void check(const SolveOptions& options, int ranks) const override { options.sketch.check(ranks); }

  std::string refuses(const Problem& problem) const override {
    if (problem.cosine)
      return "does not take --cosine: its sketches add the rows as they are, and a cosine needs them normalised (use "
             "--method brute, or auto)";
    return {};
  }

  RowRange rows(std::int64_t n, bool side_b, const SolveOptions& options, const Comm& comm) const override {
    const SketchOptions& o = options.sketch;
    return sketch_rows(n, side_b ? o.group_b : o.group_a, o, comm.size(), comm.rank());
  }

  Pricing price(const ProblemShape& shape, const MachineProfile& machine, double ceiling) const override {
    if (shape.cosine) return {{}, "does not take --cosine"};
    Pricing pricing{search_sketch_plans(shape, machine, ceiling), {}};
    if (pricing.plans.empty()) {
      std::ostringstream why;
      why << "no sketch plan reaches the recall target (theta^2 / m2 = " << shape.theta * shape.theta / shape.m2
          << " is too small to separate heavy pairs from the background)";
      pricing.why_none = why.str();
    }
    return pricing;
  }

  template <class Matrix>
  MethodResult run_rows(const MethodInput<Matrix>& in, const Plan* plan, ResumeState&) const {
    SketchOptions sketch = sketch_options(in.options, plan);
    const TiledInput<Matrix> rows(in, sketch);
    if (sketch.sketch == SketchKind::Linear) fit_linear_layout(in, sketch);
    const bool self_join = in.self_join();
    SketchRun run = sketch_solve<Matrix>({in.comm, *rows.a, in.n_a, self_join ? *rows.a : *rows.b, in.n_b, self_join,
                                          in.threshold, sketch, in.options.seed, in.times, &in.budget});
    MethodResult out;
    out.local = std::move(run.pairs);
    out.grid = run.grid;
    out.parameters = sketch_parameters(sketch, run, sketch.tile_for(sketch.group_a, in.n_a, in.comm.size()), self_join);
    out.repetitions = std::move(run.repetitions);
    return out;
  }
};

}  // namespace

const SolveMethod& sketch_method() {
  static const SketchMethod method;
  return method;
}

}  // namespace hipi
