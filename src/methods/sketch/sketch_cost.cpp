#include "methods/sketch/sketch_cost.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/random.hpp"
#include "kernels/exact.hpp"
#include "methods/sketch/sign.hpp"

namespace hipi {

namespace {

// Constants measured on this project's machines (65536^2, d = 4096, 2 ranks):
// detection scans every entry of C once, vectorised: 0.17-0.3 ns per entry per rank
// (8192^2 binary groups at d = 4096, 4096 x 8192 real groups at d = 1024);
constexpr double kDetectSecondsPerEntry = 3e-10;
// each candidate costs about 0.35 us to route and 0.7 us to verify beyond its exact checks
// (packing rows, lookups, small-matrix set-up);
constexpr double kRouteSecondsPerCandidate = 3.5e-7;
constexpr double kVerifySecondsPerCandidate = 7e-7;
// rows of B from other ranks are packed, exchanged and unpacked at about 0.8 GB/s per rank
// (97 MB of d = 16384 rows in 0.13 s, three passes over fresh buffers: not the all-to-all's
// own rate); a rank's own rows are copied once, three times as fast;
constexpr double kRouteBytesPerSecond = 8e8;
// fresh sketch and layout buffers are first written at about 1 GB/s per rank (page faults),
// and so is the buffer of one panel of C (SketchOptions::panel_mib, 64 MiB by default).
constexpr double kFirstTouchBytesPerSecond = 1e9;
constexpr double kPanelBytes = 64.0 * 1048576;
// Sign sketches are built at about 3.5 ns per row and 64-bit word (bit-sliced counters)
// plus 0.5 us per group (signs, set-up), per rank: measured at d = 4096, groups of 1 to 13.
constexpr double kSignSketchSecondsPerWord = 3.5e-9;
constexpr double kSignSketchSecondsPerGroup = 5e-7;
// Every heavy pair a repetition verifies costs about 0.45 us per rank to merge into the
// answer and count for the miss estimate, and completion handles each pair of a completed
// row about 0.25 us per rank beyond its exact check (routing, sorting, merging): measured
// on clustered self-joins of 16384 rows (314200 pairs) and 131072 rows (596113 pairs).
constexpr double kCollectSecondsPerPair = 4.5e-7;
constexpr double kCompletionSecondsPerPair = 2.5e-7;
// A repetition costs at least this much in collectives and set-up.
constexpr double kRepOverheadSeconds = 0.01;
constexpr int kMaxReps = 64;
// Sketch shapes `hipi plan` lists beside the chosen one.
constexpr std::size_t kAlternatives = 4;
// Detection thresholds tried: z from 0.5 to 8 noise sigmas in steps of 0.05. Candidates
// fall about 10% per step near z = 3, where one-repetition plans sit.
constexpr int kZSteps = 151;
double z_of(int step) {
  return 0.5 + 0.05 * step;
}

bool fits_float32(const ProblemShape& s, std::int64_t ga, std::int64_t gb, int degree) {
  // As sketch_solve: real sketches are float32; binary ones while their integers are exact.
  return s.mode == Mode::Real || double(ga) * double(gb) * std::pow(double(s.d), degree) < double(1 << 24);
}

// Repetitions that bring a per-repetition miss probability under delta.
int reps_for(double miss_per_rep, const ProblemShape& s) {
  int reps = 1;
  if (miss_per_rep >= 1)
    reps = kMaxReps + 1;  // hopeless
  else if (miss_per_rep > 0)
    reps = std::max(1, static_cast<int>(std::ceil(std::log(s.delta) / std::log(miss_per_rep))));
  return reps;
}

// Gaussian detection: one repetition misses a heavy pair when signal +- noise N(0, sigma^2)
// lands inside (-t, t); an entry without one passes with probability 2 * Phi(-t / sigma).
struct Detection {
  double miss = 0, false_rate = 1;
};
Detection gaussian_detection(double signal, double sigma, double t) {
  if (t <= 0) return {0.0, 1.0};
  return {normal_cdf((t - signal) / sigma) - normal_cdf((-t - signal) / sigma), 2.0 * normal_cdf(-t / sigma)};
}

// Routing `candidates` group pairs, per rank: each rank fetches every B group its
// candidates name once, G_B (1 - exp(-c / (P G_B))) groups of g_B rows in expectation,
// 1/P of them its own. The other rows move at the slower of the calibrated all-to-all
// (what a cluster's network allows) and the rate of packing and unpacking them measured
// here.
double route_seconds(const ProblemShape& s, const MachineProfile& m, double candidates, std::int64_t gb,
                     double groups_b) {
  const double rows_bytes = s.mode == Mode::Binary ? double(s.d) / 8 : 4.0 * double(s.d);
  const double per_rank = candidates / s.ranks;
  const double groups_fetched = groups_b > 0 ? groups_b * -std::expm1(-per_rank / groups_b) : 0.0;
  const double rate = std::min(m.exchange_bytes > 0 ? m.exchange_bytes : kRouteBytesPerSecond, kRouteBytesPerSecond);
  const double own = 1.0 / s.ranks;
  return groups_fetched * double(gb) * rows_bytes * ((1 - own) / rate + own / (3 * kRouteBytesPerSecond)) +
         per_rank * kRouteSecondsPerCandidate;
}
double verify_seconds(const ProblemShape& s, const MachineProfile& m, double candidates, double checks) {
  return checks / s.ranks / pairs_rate(s, m) + candidates / s.ranks * kVerifySecondsPerCandidate;
}

// Sets the plan's stages from their per-repetition times (plus the fixed per-repetition
// overhead and the collection of the heavy pairs found), adds the completion of the
// partnered rows (once, whatever the repetitions), and its total; a plan needing more than
// kMaxReps repetitions never wins.
void set_stages(Plan& p, std::vector<StagePrediction> per_rep, const ProblemShape& s, const MachineProfile& m) {
  per_rep.push_back({"overhead", kRepOverheadSeconds});
  per_rep.push_back({"collect", s.heavy_pairs / s.ranks * kCollectSecondsPerPair});
  p.seconds = 0;
  for (auto& st : per_rep) {
    st.seconds *= p.reps;
    p.seconds += st.seconds;
  }
  per_rep.push_back({"complete", completion_seconds(s, m)});
  p.seconds += per_rep.back().seconds;
  p.stages = std::move(per_rep);
  if (p.reps > kMaxReps) p.seconds = std::numeric_limits<double>::infinity();
}

}  // namespace

double completion_seconds(const ProblemShape& s, const MachineProfile& m) {
  const double n_b = s.self_join ? double(s.n_a) : double(s.n_b);
  const double checks = s.partnered_a * double(s.n_a) * n_b + (s.self_join ? 0.0 : s.partnered_b * n_b * double(s.n_a));
  // Each heavy pair is found again from both of its rows.
  return checks / s.ranks / bulk_pairs_rate(s, m) + 2 * s.heavy_pairs / s.ranks * kCompletionSecondsPerPair;
}

double simulated_miss(const std::vector<double>& background, const DetectionCase& c, int draws, std::uint64_t seed) {
  const double signal = c.signal, t = c.detect_threshold;
  const std::int64_t ga = c.group_a, gb = c.group_b;
  const int degree = c.degree;
  if (background.empty() || t <= 0) return 0.0;
  RandomStream rng(seed, {31, static_cast<std::uint64_t>(ga), static_cast<std::uint64_t>(gb)});
  const std::int64_t terms = ga * gb - 1;
  int missed = 0;
  for (int k = 0; k < draws; ++k) {
    double entry = signal;
    for (std::int64_t q = 0; q < terms; ++q) {
      const double ip = background[rng.below(background.size())];
      entry += (rng.next() & 1 ? 1.0 : -1.0) * (degree == 1 ? ip : ip * ip);
    }
    missed += std::abs(entry) < t;
  }
  return double(missed) / draws;
}

Plan plan_sketch(const ProblemShape& s, const MachineProfile& m, std::int64_t ga, std::int64_t gb, double z,
                 int degree) {
  Plan p;
  p.method = Method::Sketch;
  p.group_a = ga;
  p.group_b = s.self_join ? ga : gb;
  gb = p.group_b;
  p.z = z;
  p.degree = degree;
  const double signal = degree == 1 ? s.theta : s.theta * s.theta;
  const double sigma = std::sqrt(double(ga) * double(gb) * (degree == 1 ? s.m2 : s.m4));
  p.detect_threshold = signal - z * sigma;
  const Detection det = gaussian_detection(signal, sigma, p.detect_threshold);
  p.miss_per_rep = det.miss;
  const double false_rate = det.false_rate;
  p.reps = reps_for(p.miss_per_rep, s);
  p.miss = std::pow(p.miss_per_rep, p.reps);
  p.float32 = fits_float32(s, ga, gb, degree);
  const double D = degree == 1 ? double(s.d) : double(s.d) * double(s.d + 1) / 2;  // features per row

  const double G_A = std::ceil(double(s.n_a) / ga), G_B = s.self_join ? G_A : std::ceil(double(s.n_b) / gb);
  const double entries = s.self_join ? G_A * (G_A + 1) / 2 : G_A * G_B;
  const double flops = 2.0 * D * entries;
  const double gemm_rate = (p.float32 ? m.gemm_f32_flops : m.gemm_f64_flops) * s.ranks;
  const double elem = p.float32 ? 4.0 : 8.0;
  // False candidates, plus the entries holding heavy pairs (at most one each).
  p.candidates_per_rep = entries * false_rate + std::min(s.heavy_pairs, entries);
  const double checks = p.candidates_per_rep * double(ga) * double(gb);
  const double sketch_bytes = (G_A + (s.self_join && degree == 1 ? 0 : G_B)) * D * elem / s.ranks;
  const double per_rep_sketch = double(s.n_a + (s.self_join ? 0 : s.n_b)) * D / s.ranks / m.sketch_coords +
                                2 * sketch_bytes / kFirstTouchBytesPerSecond;  // local and 2D copies
  const double per_rep_redistribute = sketch_bytes / m.redistribute_bytes;
  const double per_rep_gemm = flops / gemm_rate;
  const double per_rep_panel = std::min(entries / s.ranks * elem, kPanelBytes) / kFirstTouchBytesPerSecond;
  const double per_rep_detect = entries / s.ranks * kDetectSecondsPerEntry;
  const double per_rep_route = route_seconds(s, m, p.candidates_per_rep, gb, G_B);
  const double per_rep_verify = verify_seconds(s, m, p.candidates_per_rep, checks);
  set_stages(p,
             {{"sketch", per_rep_sketch},
              {"redistribute", per_rep_redistribute},
              {"panel", per_rep_panel},
              {"gemm", per_rep_gemm},
              {"detect", per_rep_detect},
              {"route", per_rep_route},
              {"verify", per_rep_verify}},
             s, m);
  return p;
}

std::vector<std::int64_t> sign_sketch_group_sizes() {
  return {1, 3, 5, 7, 9, 11, 13, 15};
}

Plan plan_sign_sketch(const ProblemShape& s, const MachineProfile& m, std::int64_t ga, std::int64_t gb, double z) {
  Plan p;
  p.method = Method::Sketch;
  p.sketch = SketchKind::Sign;
  p.group_a = ga;
  p.group_b = s.self_join ? ga : gb;
  gb = p.group_b;
  p.z = z;
  double m2 = -1;
  if (s.mode == Mode::Binary && s.sign_noise)
    for (const SignNoise& n : *s.sign_noise)
      if (n.group_a == ga && n.group_b == gb) m2 = n.m2;
  if (!(m2 > 0)) {
    p.seconds = std::numeric_limits<double>::infinity();
    return p;
  }
  const double signal = majority_gain(ga) * majority_gain(gb) * s.theta, sigma = std::sqrt(m2);
  p.detect_threshold = signal - z * sigma;
  const Detection det = gaussian_detection(signal, sigma, p.detect_threshold);
  p.miss_per_rep = det.miss;
  p.reps = reps_for(p.miss_per_rep, s);
  p.miss = std::pow(p.miss_per_rep, p.reps);

  const double G_A = std::ceil(double(s.n_a) / ga), G_B = s.self_join ? G_A : std::ceil(double(s.n_b) / gb);
  const double entries = s.self_join ? G_A * (G_A - 1) / 2 : G_A * G_B;
  p.candidates_per_rep = entries * det.false_rate + std::min(s.heavy_pairs, entries);
  // A self-join also verifies every group against itself: the pairs the sketch never compares.
  const double diagonal = s.self_join ? G_A : 0.0;
  const double checks = p.candidates_per_rep * double(ga) * double(gb) + diagonal * double(ga) * double(ga - 1) / 2;
  const double words = std::ceil(double(s.d) / 64);
  const double per_rep_sketch = (double(s.n_a + (s.self_join ? 0 : s.n_b)) * words * kSignSketchSecondsPerWord +
                                 (G_A + (s.self_join ? 0 : G_B)) * kSignSketchSecondsPerGroup) /
                                s.ranks;
  const double per_rep_product = entries / s.ranks / m.binary_pairs;
  const double per_rep_route = route_seconds(s, m, p.candidates_per_rep + diagonal, gb, G_B);
  const double per_rep_verify = verify_seconds(s, m, p.candidates_per_rep + diagonal, checks);
  set_stages(
      p,
      {{"sketch", per_rep_sketch}, {"product", per_rep_product}, {"route", per_rep_route}, {"verify", per_rep_verify}},
      s, m);
  return p;
}

std::vector<Plan> search_sketch_plans(const ProblemShape& s, const MachineProfile& m, double ceiling) {
  std::vector<Plan> plans;
  for (std::int64_t ga = 1; ga <= 64 && ga <= s.n_a; ga *= 2)
    for (std::int64_t gb = 1; gb <= 64 && gb <= (s.self_join ? s.n_a : s.n_b); gb *= 2) {
      if (s.self_join && gb != ga) continue;
      if (ga * gb < 2) continue;  // no compression: brute force does the same work better
      for (int degree = 1; degree <= (s.m4 > 0 && s.d <= 512 ? 2 : 1); ++degree)
        for (int step = 0; step < kZSteps; ++step) {
          Plan p = plan_sketch(s, m, ga, gb, z_of(step), degree);
          if (std::isfinite(p.seconds)) plans.push_back(std::move(p));
        }
    }
  if (s.mode == Mode::Binary && s.sign_noise)
    for (std::int64_t ga : sign_sketch_group_sizes())
      for (std::int64_t gb : sign_sketch_group_sizes()) {
        if ((s.self_join && gb != ga) || ga * gb < 2 || ga > s.n_a || gb > (s.self_join ? s.n_a : s.n_b)) continue;
        for (int step = 0; step < kZSteps; ++step) {
          Plan p = plan_sign_sketch(s, m, ga, gb, z_of(step));
          if (std::isfinite(p.seconds)) plans.push_back(std::move(p));
        }
      }
  std::sort(plans.begin(), plans.end(), [](const Plan& x, const Plan& y) { return x.seconds < y.seconds; });
  // The Gaussian model can flatter heavy-tailed data: re-check the leading plans by
  // simulation from the sampled background, repricing those that need more repetitions.
  if (s.background && !s.background->empty()) {
    const std::size_t checked = std::min<std::size_t>(plans.size(), 24);
    for (std::size_t k = 0; k < checked; ++k) {
      Plan& p = plans[k];
      // Repricing only adds repetitions: a plan already slower than brute force cannot win.
      if (p.seconds >= ceiling) break;
      // Sign plans already use noise measured on sketches of sampled groups.
      if (p.sketch == SketchKind::Sign) continue;
      const double signal = p.degree == 1 ? s.theta : s.theta * s.theta;
      const double simulated =
          simulated_miss(*s.background, {signal, p.detect_threshold, p.group_a, p.group_b, p.degree}, 20000, 1);
      if (simulated > p.miss_per_rep) {
        Plan repriced = plan_sketch(s, m, p.group_a, p.group_b, p.z, p.degree);
        const int reps = reps_for(simulated, s);
        const double scale = double(reps) / repriced.reps;
        repriced.seconds = 0;
        for (auto& st : repriced.stages) {
          if (st.stage != "complete") st.seconds *= scale;  // completion runs once, whatever the repetitions
          repriced.seconds += st.seconds;
        }
        if (reps > kMaxReps) repriced.seconds = std::numeric_limits<double>::infinity();
        repriced.reps = reps;
        repriced.miss_per_rep = simulated;
        repriced.miss = std::pow(simulated, reps);
        p = repriced;
      }
      p.empirical = true;
    }
    std::sort(plans.begin(), plans.begin() + checked,
              [](const Plan& x, const Plan& y) { return x.seconds < y.seconds; });
  }
  if (plans.empty()) return plans;
  // The fastest, then what else came close: the fastest plan of each other (sketch, g_A,
  // g_B, degree).
  std::vector<Plan> out{plans.front()};
  const auto same_shape = [](const Plan& p, const Plan& q) {
    return q.sketch == p.sketch && q.group_a == p.group_a && q.group_b == p.group_b && q.degree == p.degree;
  };
  for (const Plan& p : plans) {
    if (out.size() == kAlternatives + 1) break;
    if (std::none_of(out.begin(), out.end(), [&](const Plan& q) { return same_shape(p, q); })) out.push_back(p);
  }
  return out;
}

}  // namespace hipi
