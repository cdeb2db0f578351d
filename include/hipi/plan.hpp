// The planner: every registered method (solve_method.hpp) prices its plans from this
// machine's measured rates and the data's measured statistics, and the planner picks the
// fastest plan that meets the recall target (DESIGN.md section 3). Here: the shapes and
// plans they share, and the cost models of brute force and of the sketches. Pure
// arithmetic, tested without MPI.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hipi/method.hpp"
#include "hipi/problem.hpp"
#include "hipi/sign_sketch.hpp"

namespace hipi {

/// This machine's rates, per rank (see calibrate.hpp).
struct MachineProfile {
  double gemm_f32_flops = 0;  // p?gemm on the job's grid, flop/s per rank
  double gemm_f64_flops = 0;
  double binary_pairs = 0;        // exact kernel, pairs/s per rank, at the problem's d
  double real_pairs = 0;          // the float64 reference kernel (verify.hpp), on small blocks
  double real_bulk_pairs = 0;     // real blocks of 1024 x 1024 rows (the GEMM filter); 0: as real_pairs
  double sketch_coords = 0;       // sketch build, row-coordinates/s per rank
  double exchange_bytes = 0;      // all-to-all, bytes/s per rank
  double redistribute_bytes = 0;  // sketches into the 2D layout (scatter_to_grid), bytes/s per rank
  std::int64_t calibrated_d = 0;  // the d the kernel rates were measured at
};

/// The problem's size and what the data look like.
struct ProblemShape {
  std::int64_t n_a = 0, n_b = 0, d = 0;
  bool self_join = false;
  Mode mode = Mode::Binary;
  double theta = 0;  // inner-product threshold
  int ranks = 1;
  double m2 = 0;                                       // mean squared background inner product, sampled
  double m4 = 0;                                       // mean fourth power (the noise of degree-2 sketches)
  const std::vector<double>* background = nullptr;     // sampled inner products, for empirical recall
  double delta = 1e-3;                                 // allowed miss probability per heavy pair
  const std::vector<SignNoise>* sign_noise = nullptr;  // binary data: sign-sketch noise per group sizes
  // Fractions of the rows of A and B with at least one heavy partner (probed, stats.hpp):
  // a sketch plan completes those rows against the other side (completion.hpp).
  double partnered_a = 0, partnered_b = 0;
  double heavy_pairs = 0;  // expected heavy pairs in the answer (probed partners per row times rows)
  // Compute time of the methods that price themselves by timing a sample of the work
  // (SolveMethod::measure; multi-index hashing): absent when not measured, infinite where
  // the method cannot beat brute force.
  std::map<Method, double> measured_seconds;
  // Methods that found, before measuring, that they cannot run here (their buffers past the
  // memory budget, a size past a 32-bit limit), and why: not priced.
  std::map<Method, std::string> cannot_run;
};

/// Predicted seconds per stage (the slowest rank's, assuming balance).
struct StagePrediction {
  std::string stage;
  double seconds = 0;
};

struct Plan {
  Method method = Method::Brute;
  SketchKind sketch = SketchKind::Linear;  // sketch plans: GEMM, or majority bits and XOR+popcount
  std::int64_t group_a = 1, group_b = 1;
  int degree = 1;  // feature map: 1 identity, 2 <a,b>^2
  int reps = 1;
  double detect_threshold = 0;
  double z = 0;                   // (theta - detect_threshold) / sigma
  double miss_per_rep = 0;        // probability one repetition misses a given heavy pair
  bool empirical = false;         // miss_per_rep simulated from the sampled background
  double miss = 0;                // after all repetitions
  double candidates_per_rep = 0;  // expected
  bool float32 = true;
  std::vector<StagePrediction> stages;  // for all repetitions
  double seconds = 0;
  std::string detail;  // how the method priced it, for hipi plan (optional)
  nlohmann::ordered_json to_json() const;
};

/// The brute-force plan.
Plan plan_brute(const ProblemShape& shape, const MachineProfile& machine);
/// Predicted seconds of neighbourhood completion: the partnered rows of each side checked
/// against every row of the other side, once over all repetitions.
double completion_seconds(const ProblemShape& shape, const MachineProfile& machine);

/// A sketch plan with the given group sizes, feature degree and detection threshold (z in
/// noise sigmas below the signal theta^degree); repetitions are chosen to bring the miss
/// probability under shape.delta.
Plan plan_sketch(const ProblemShape& shape, const MachineProfile& machine, std::int64_t group_a, std::int64_t group_b,
                 double z, int degree = 1);

/// A sign-sketch plan (binary data; shape.sign_noise must hold (group_a, group_b)): signal
/// gain(g_A) gain(g_B) theta, noise the sampled sketch m2, product priced at the exact
/// kernel's pairs/s over G_A x G_B sketch pairs.
Plan plan_sign_sketch(const ProblemShape& shape, const MachineProfile& machine, std::int64_t group_a,
                      std::int64_t group_b, double z);

/// Group sizes whose sign-sketch noise the planner wants sampled: odd sizes (an even group
/// is no better than the odd one below it) up to 15.
std::vector<std::int64_t> sign_sketch_group_sizes();

/// Sketch plans: searches group sizes (powers of two up to 64), z and the feature degree (2
/// only when m4 is known and d <= 512), and for binary data sign sketches at the sampled
/// group sizes; returns the plans meeting the recall target, fastest first: the fastest,
/// then the fastest of each of the next few shapes. Recall is first modelled as Gaussian
/// (variance from m2 or m4); when shape.background is given, the leading plans (those
/// under `ceiling`) are re-checked by simulation from the sampled inner products (real
/// data are heavy-tailed) and get more repetitions where the simulation misses more often.
std::vector<Plan> search_sketch_plans(const ProblemShape& shape, const MachineProfile& machine, double ceiling);

struct PlanChoice {
  Plan best;
  Plan runner_up;  // the best plan of another method
  Plan brute;
  std::string why;
  std::vector<Plan> by_method;           // the fastest plan of each method that has one, fastest first
  std::vector<Plan> alternatives;        // what else came close (the next sketch shapes)
  std::vector<std::string> unavailable;  // "method: why it has no plan"
};

/// Prices every registered method (solve_methods()) and returns the fastest plan.
PlanChoice choose_plan(const ProblemShape& shape, const MachineProfile& machine);

/// Probability that one repetition misses a heavy pair at exactly the threshold, simulated:
/// the entry is signal + sum of (g_A g_B - 1) background terms t^degree with random signs,
/// t drawn from the sampled inner products; it is missed when |entry| < T_det. Seeded.
double simulated_miss(const std::vector<double>& background, double signal, double detect_threshold,
                      std::int64_t group_a, std::int64_t group_b, int degree, int draws, std::uint64_t seed);

/// Standard normal cumulative distribution.
double normal_cdf(double x);

}  // namespace hipi
