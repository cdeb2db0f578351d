// The sketches' cost model (DESIGN.md section 3): group sizes, detection threshold,
// repetitions and feature degree searched for the fastest plan that meets the recall target.
#pragma once

#include <cstdint>
#include <vector>

#include "methods/pricing.hpp"

namespace hipi {

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

/// A heavy pair's entry of C as detection sees it: its signal, among the background terms of
/// a group pair of g_A x g_B rows under a feature map of this degree, against T_det.
struct DetectionCase {
  double signal = 0;
  double detect_threshold = 0;
  std::int64_t group_a = 1, group_b = 1;
  int degree = 1;
};

/// Probability that one repetition misses a heavy pair at exactly the threshold, simulated:
/// the entry is signal + sum of (g_A g_B - 1) background terms t^degree with random signs,
/// t drawn from the sampled inner products; it is missed when |entry| < T_det. Seeded.
double simulated_miss(const std::vector<double>& background, const DetectionCase& c, int draws, std::uint64_t seed);

}  // namespace hipi
