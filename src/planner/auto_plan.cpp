#include "planner/auto_plan.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "methods/sketch/recall/background.hpp"
#include "methods/sketch/sketch_cost.hpp"
#include "parallel/scalapack.hpp"
#include "planner/calibrate.hpp"

namespace hipi {

namespace {

// What the planner learns from the data before pricing: the background of sampled pairs
// and how many rows have heavy partners (methods/sketch/recall/background.hpp).
struct DataSample {
  BackgroundSample background;
  NeighbourhoodProbe probe;
};

template <class Matrix>
DataSample sample_data(const MethodInput<Matrix>& in) {
  const SolveOptions& options = in.options;
  const bool binary = options.problem.mode == Mode::Binary;
  const SampleSource<Matrix> source{in.comm, in.a,           in.n_a,       in.b_or_a(),
                                    in.n_b,  in.self_join(), in.threshold, options.seed};
  DataSample s;
  // Top-k: no threshold to find heavy partners of, and no sketch to price.
  if (options.problem.top_k > 0) return s;
  s.background = in.times.time("sample", [&] {
    return estimate_background(source, options.sketch.sample_rows,
                               binary ? sign_sketch_group_sizes() : std::vector<std::int64_t>{});
  });
  s.probe = in.times.time("sample", [&] { return probe_neighbourhoods(source); });
  return s;
}

}  // namespace

MachineProfile machine_rates(const Comm& comm, const SolveOptions& options, std::int64_t d, RateSet rates,
                             StageTimes& times) {
  MachineProfile machine;
  agree(comm, [&] {
    if (!options.profile.empty()) machine = scaled_to(load_profile(options.profile), d);
  });
  if (options.profile.empty()) {
    bool calibrated = false;
    const double start = MPI_Wtime();
    machine = machine_profile(comm, {d, squarest_grid(comm.size()), rates, options.profile_cache}, calibrated);
    if (calibrated) times.add("calibrate", MPI_Wtime() - start);  // a cached profile costs nothing to report
  }
  return machine;
}

namespace {

template <class Matrix>
ProblemShape shape_of(const MethodInput<Matrix>& in, std::int64_t d, const DataSample& s) {
  ProblemShape shape;
  shape.n_a = in.n_a;
  shape.n_b = in.n_b;
  shape.d = d;
  shape.self_join = in.self_join();
  shape.mode = in.options.problem.mode;
  shape.theta = in.threshold.theta;
  shape.cosine = in.threshold.cosine;
  shape.top_k = in.options.problem.top_k;
  shape.ranks = in.comm.size();
  shape.m2 = std::max(s.background.m2, 1e-300);
  shape.m4 = s.background.m4;
  shape.background = &s.background.inner_products;
  shape.delta = in.options.delta;
  shape.sign_noise = &s.background.sign_noise;
  shape.partnered_a = s.probe.fraction_a();
  shape.partnered_b = s.probe.fraction_b();
  shape.heavy_pairs = shape.top_k > 0 ? double(in.n_a) * double(std::min(shape.top_k, in.n_b))
                                      : s.probe.heavy_pairs(in.n_a, in.self_join());
  return shape;
}

nlohmann::ordered_json record_of(const PlanChoice& choice, const DataSample& s) {
  const NeighbourhoodProbe& probe = s.probe;
  return {{"chosen", choice.best.to_json()},
          {"runner_up", choice.runner_up.to_json()},
          {"brute", choice.brute.to_json()},
          {"why", choice.why},
          {"background_m2", s.background.m2},
          {"probe",
           {{"rows_a", probe.probed_a},
            {"partnered_a", probe.partnered_a},
            {"partners_a", probe.partners_a},
            {"rows_b", probe.probed_b},
            {"partnered_b", probe.partnered_b},
            {"partners_b", probe.partners_b}}}};
}

}  // namespace

std::string describe(const Plan& p) {
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
}

namespace {

// `hipi plan`: what the planner saw and what each method would cost.
void print_plan(const PlanChoice& c, const ProblemShape& shape, const DataSample& s, const MachineProfile& m) {
  const BackgroundSample& bg = s.background;
  const NeighbourhoodProbe& probe = s.probe;
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

}  // namespace

template <class Matrix>
AutoPlan plan_auto(const MethodInput<Matrix>& in, std::int64_t d) {
  const DataSample sample = sample_data(in);
  const MachineProfile machine = machine_rates(in.comm, in.options, d, rates_priced(in.options.problem.mode), in.times);
  ProblemShape shape = shape_of(in, d, sample);
  // Methods that price themselves by timing a sample of their own work.
  in.times.time("measure", [&] {
    for (const SolveMethod* method : solve_methods())
      if (method->serves(in.options.problem.mode) && method->refusal(in.options.problem).empty())
        method->measure(in, shape);
  });
  const PlanChoice choice = in.times.time("plan", [&] { return choose_plan(shape, machine); });
  std::erase_if(in.scratch.kept, [&](const auto& kept) { return kept.first != choice.best.method; });  // held memory
  spdlog::info("auto: {} chosen, predicted {:.3f} s: {}", method_name(choice.best.method), choice.best.seconds,
               choice.why);
  if (in.options.plan_only && in.comm.rank() == 0) print_plan(choice, shape, sample, machine);
  return {choice.best, record_of(choice, sample)};
}

template AutoPlan plan_auto(const MethodInput<BitMatrix>&, std::int64_t);
template AutoPlan plan_auto(const MethodInput<RealMatrix>&, std::int64_t);

}  // namespace hipi
