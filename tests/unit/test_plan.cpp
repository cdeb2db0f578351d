// The planner's cost and recall model, and its choices, on synthetic machine profiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include "core/random.hpp"
#include "hipi/error.hpp"
#include "kernels/exact.hpp"
#include "methods/brute/brute_cost.hpp"
#include "methods/pricing.hpp"
#include "methods/sketch/sketch_cost.hpp"
#include "methods/solve_method.hpp"
#include "planner/choose.hpp"

using namespace hipi;

namespace {

MachineProfile this_kind_of_machine() {
  MachineProfile m;
  m.gemm_f32_flops = 80e9;  // roughly what p?gemm reaches per rank here
  m.gemm_f64_flops = 40e9;
  m.binary_pairs = 2.9e8 * 4096 / 4096;
  m.real_pairs = 2e7;
  m.sketch_coords = 1e9;
  m.exchange_bytes = 2e9;
  m.redistribute_bytes = 3e8;
  return m;
}

ProblemShape binary(std::int64_t n, std::int64_t d, double rho) {
  ProblemShape s;
  s.n_a = s.n_b = n;
  s.d = d;
  s.theta = std::ceil(rho * d);
  s.m2 = double(d);  // random +-1 background
  s.ranks = 2;
  return s;
}

// Real data, n = 65536, d = 4096, theta 8 noise sd of a 4x4 group pair above zero.
ProblemShape real_far_above_noise() {
  ProblemShape s = binary(65536, 4096, 0.5);
  s.mode = Mode::Real;
  s.theta = 8 * std::sqrt(16.0 * 4096);
  return s;
}

// The predicted seconds of a plan's stage, by name.
double stage(const Plan& p, const std::string& name) {
  for (const StagePrediction& st : p.stages)
    if (st.stage == name) return st.seconds;
  ADD_FAILURE() << "no stage " << name;
  return 0;
}

}  // namespace

TEST(Plan, NormalCdf) {
  EXPECT_NEAR(normal_cdf(0), 0.5, 1e-15);
  EXPECT_NEAR(normal_cdf(-2), 0.02275013194817921, 1e-12);
  EXPECT_NEAR(normal_cdf(3) + normal_cdf(-3), 1.0, 1e-15);
}

TEST(Plan, MissProbabilityFollowsZAndRepetitionsMeetDelta) {
  const ProblemShape s = binary(65536, 4096, 0.5);
  for (double z : {1.0, 2.0, 3.0}) {
    const Plan p = plan_sketch(s, this_kind_of_machine(), 4, 4, z);
    // theta is 8 sigma at 4 x 4 groups: the far tail adds nothing visible.
    EXPECT_NEAR(p.miss_per_rep, normal_cdf(-z), 1e-9) << z;
    EXPECT_LE(p.miss, s.delta);
    if (p.reps > 1) {
      EXPECT_GT(std::pow(p.miss_per_rep, p.reps - 1), s.delta) << "one repetition too many";
    }
    EXPECT_DOUBLE_EQ(p.detect_threshold, s.theta - z * std::sqrt(16.0 * s.m2));
  }
}

TEST(Plan, StagesAddUpAndFalseCandidatesFollowTheThreshold) {
  const ProblemShape s = binary(65536, 4096, 0.5);
  const Plan loose = plan_sketch(s, this_kind_of_machine(), 4, 4, 6.0);  // T_det = 2 sigma
  const Plan tight = plan_sketch(s, this_kind_of_machine(), 4, 4, 2.0);  // T_det = 6 sigma
  double sum = 0;
  for (const auto& st : loose.stages) sum += st.seconds;
  EXPECT_NEAR(sum, loose.seconds, 1e-12 * sum);
  const double entries = 16384.0 * 16384.0;
  EXPECT_NEAR(loose.candidates_per_rep / entries, 2 * normal_cdf(-2.0), 1e-12);
  EXPECT_NEAR(tight.candidates_per_rep / entries, 2 * normal_cdf(-6.0), 1e-12);
  EXPECT_TRUE(loose.float32);
}

TEST(Plan, ChoosesBruteForceWhenHeavyPairsHideInTheBackground) {
  // rho^2 d = 0.09 * 64 = 5.8: at any compression the noise swamps theta.
  const PlanChoice c = choose_plan(binary(20000, 64, 0.3), this_kind_of_machine());
  EXPECT_EQ(c.best.method, Method::Brute);
  EXPECT_FALSE(c.why.empty());
}

TEST(Plan, ChoosesTheSketchWhenGemmIsFarCheaperThanExactChecks) {
  // Real data at d = 4096: an exact check costs 50 ns, a GEMM flop 1/80e9 s.
  const ProblemShape s = real_far_above_noise();
  const PlanChoice c = choose_plan(s, this_kind_of_machine());
  ASSERT_EQ(c.best.method, Method::Sketch);
  EXPECT_LT(c.best.seconds, c.brute.seconds);
  EXPECT_TRUE(c.best.float32) << "real sketches are float32 (candidates are verified in float64)";
  EXPECT_LE(c.best.miss, s.delta);
  EXPECT_EQ(c.runner_up.method, Method::Brute);
}

// hipi plan lists what came close: other shapes only, each once, slowest last, and none
// faster than the chosen plan.
TEST(Plan, AlternativesAreTheFastestPlanOfEachOtherShape) {
  const ProblemShape s = real_far_above_noise();
  const PlanChoice c = choose_plan(s, this_kind_of_machine());
  ASSERT_EQ(c.best.method, Method::Sketch);
  ASSERT_EQ(c.alternatives.size(), 4u);
  const auto shape = [](const Plan& p) { return std::make_tuple(p.sketch, p.group_a, p.group_b, p.degree); };
  for (std::size_t k = 0; k < c.alternatives.size(); ++k) {
    const Plan& p = c.alternatives[k];
    EXPECT_NE(shape(p), shape(c.best));
    EXPECT_GE(p.seconds, c.best.seconds);
    if (k > 0) {
      EXPECT_GE(p.seconds, c.alternatives[k - 1].seconds);
    }
    for (std::size_t q = 0; q < k; ++q) EXPECT_NE(shape(p), shape(c.alternatives[q]));
    // The fastest of its shape: no z does better with these groups.
    for (int step = 0; step <= 150; ++step) {
      const Plan other = plan_sketch(s, this_kind_of_machine(), p.group_a, p.group_b, 0.5 + 0.05 * step, p.degree);
      EXPECT_GE(other.seconds, p.seconds - 1e-12) << "z " << other.z;
    }
  }
}

TEST(Plan, SelfJoinUsesOneGroupSizeAndHalfTheProduct) {
  ProblemShape s = binary(32768, 4096, 0.5);
  const Plan full = plan_sketch(s, this_kind_of_machine(), 4, 4, 3.0);
  s.self_join = true;
  const Plan half = plan_sketch(s, this_kind_of_machine(), 4, 8, 3.0);
  EXPECT_EQ(half.group_b, 4);
  EXPECT_NEAR(stage(half, "gemm") / stage(full, "gemm"), 0.5, 0.01);  // gemm
}

TEST(Plan, DegreeTwoMultipliesTheProductByDPlusOneOverTwoAndUsesM4) {
  ProblemShape s = binary(65536, 64, 0.5);
  s.m4 = 3.0 * 64 * 64;  // random +-1: E[ip^4] = 3d^2 - 2d, about 3d^2
  const Plan one = plan_sketch(s, this_kind_of_machine(), 4, 4, 3.0, 1);
  const Plan two = plan_sketch(s, this_kind_of_machine(), 4, 4, 3.0, 2);
  EXPECT_EQ(two.degree, 2);
  EXPECT_NEAR(stage(two, "gemm") / two.reps / (stage(one, "gemm") / one.reps), 65.0 / 2.0, 1e-9);
  EXPECT_DOUBLE_EQ(two.detect_threshold, 32.0 * 32.0 - 3.0 * std::sqrt(16.0 * s.m4));
}

// An entry holding a heavy pair has g_A g_B - 1 background terms: with a Gaussian
// background, a threshold of theta - sqrt(4 m2) is missed with probability
// Phi(-sqrt(4 m2) / sqrt(3 m2)) = 0.124 (the planner's 4-term sigma is a little
// conservative). Bound: 20000 draws estimate it with sd 0.0023; |difference| < 0.015 is
// over 6 sd.
TEST(Plan, SimulatedMissAgreesWithTheGaussianModelOnGaussianData) {
  RandomStream rng(3, {});
  std::vector<double> background(65536);
  for (auto& t : background) t = 32.0 * rng.normal();  // m2 = 1024
  const double sigma = std::sqrt(4 * 1024.0), theta = 300;
  const double simulated = simulated_miss(background, {theta, theta - sigma, 2, 2, 1}, 20000, 1);
  EXPECT_NEAR(simulated, normal_cdf(-sigma / std::sqrt(3 * 1024.0)), 0.015);
}

// Heavy tails: most background pairs are zero and a few are nearly as large as theta,
// with the same m2 (1024). One such term of the wrong sign drags a heavy entry under the
// threshold: the simulation loses more pairs than the Gaussian model expects, and the
// planner answers with more repetitions.
TEST(Plan, HeavyTailedBackgroundGetsMoreRepetitions) {
  RandomStream rng(4, {});
  std::vector<double> heavy(65536);
  for (auto& t : heavy) t = rng.below(71) == 0 ? (rng.below(2) ? 1 : -1) * 270.0 : 0.0;  // 270^2 / 71 = 1027
  ProblemShape s = binary(65536, 1024, 0.5);
  s.theta = 300;
  s.mode = Mode::Real;
  s.m2 = 1024;
  const Plan gaussian = plan_sketch(s, this_kind_of_machine(), 8, 8, 1.0);
  const double simulated = simulated_miss(heavy, {s.theta, gaussian.detect_threshold, 8, 8, 1}, 20000, 1);
  EXPECT_GT(simulated, 1.5 * gaussian.miss_per_rep) << "large terms push entries over and under the threshold";
  s.background = &heavy;
  const PlanChoice with_sample = choose_plan(s, this_kind_of_machine());
  ASSERT_EQ(with_sample.best.method, Method::Sketch);
  EXPECT_TRUE(with_sample.best.empirical);
  EXPECT_LE(with_sample.best.miss, s.delta);
  const double resimulated = simulated_miss(
      heavy, {s.theta, with_sample.best.detect_threshold, with_sample.best.group_a, with_sample.best.group_b, 1}, 20000,
      1);
  EXPECT_NEAR(with_sample.best.miss_per_rep, std::max(resimulated, with_sample.best.miss_per_rep), 1e-12)
      << "the chosen plan's miss rate is at least the simulated one";
}

namespace {
// Sign-sketch noise of random +-1 rows: sketches are uniform random bits, m2 = d.
std::vector<SignNoise> random_sign_noise(std::int64_t d) {
  std::vector<SignNoise> out;
  for (std::int64_t ga : sign_sketch_group_sizes())
    for (std::int64_t gb : sign_sketch_group_sizes()) out.push_back({ga, gb, double(d)});
  return out;
}
}  // namespace

TEST(Plan, SignSketchPricesTheProductAtTheExactKernelRate) {
  ProblemShape s = binary(65536, 4096, 0.5);
  const auto noise = random_sign_noise(4096);
  s.sign_noise = &noise;
  const MachineProfile m = this_kind_of_machine();
  const Plan p = plan_sign_sketch(s, m, 13, 1, 3.0);
  EXPECT_EQ(p.sketch, SketchKind::Sign);
  // Signal gain(13) * gain(1) * 2048 = 924/4096 * 2048 = 462; sd sqrt(4096) = 64.
  EXPECT_NEAR(p.detect_threshold, 462 - 3 * 64, 1e-9);
  const double entries = std::ceil(65536.0 / 13) * 65536;
  double product = 0;
  for (const auto& st : p.stages)
    if (st.stage == "product") product = st.seconds;
  EXPECT_NEAR(product, p.reps * entries / 2 / m.binary_pairs, 1e-9);
  // Without sampled noise for these sizes there is no plan.
  EXPECT_TRUE(std::isfinite(plan_sign_sketch(s, m, 13, 3, 3.0).seconds));
  s.sign_noise = nullptr;
  EXPECT_TRUE(std::isinf(plan_sign_sketch(s, m, 13, 1, 3.0).seconds));
}

TEST(Plan, ChoosesSignSketchOnStronglyCorrelatedBinaryData) {
  // n = 65536, d = 4096, rho = 0.5: brute force checks 4.3e9 pairs; a 13x1 sign sketch
  // compares 3.3e8 sketch pairs at the same rate with signal 7 sd.
  ProblemShape s = binary(65536, 4096, 0.5);
  const auto noise = random_sign_noise(4096);
  s.sign_noise = &noise;
  const PlanChoice c = choose_plan(s, this_kind_of_machine());
  EXPECT_EQ(c.best.method, Method::Sketch);
  EXPECT_EQ(c.best.sketch, SketchKind::Sign);
  EXPECT_LT(c.best.seconds * 4, c.brute.seconds);
  EXPECT_LE(c.best.miss, s.delta);
  // Real data never get a sign plan.
  s.mode = Mode::Real;
  EXPECT_NE(choose_plan(s, this_kind_of_machine()).best.sketch, SketchKind::Sign);
}

// Completion (completion.hpp) checks every partnered row against the other side, once: a
// sketch plan pays (partnered rows) x n / (ranks x pair rate), whatever its repetitions.
TEST(Plan, CompletionIsPricedFromThePartneredRows) {
  ProblemShape s = real_far_above_noise();
  const MachineProfile m = this_kind_of_machine();
  ASSERT_EQ(choose_plan(s, m).best.method, Method::Sketch);
  s.partnered_a = s.partnered_b = 0.01;
  const double expected = 2 * 0.01 * 65536.0 * 65536.0 / 2 / m.real_pairs;
  EXPECT_NEAR(completion_seconds(s, m), expected, 1e-9 * expected);
  const Plan p = plan_sketch(s, m, 4, 4, 3.0);
  EXPECT_NEAR(stage(p, "complete"), expected, 1e-9 * expected) << "not multiplied by the repetitions";
  s.self_join = true;
  EXPECT_NEAR(completion_seconds(s, m), expected / 2, 1e-9 * expected);
  s.self_join = false;
  // Known heavy pairs: each is a candidate entry and is found again by completion from
  // both of its rows; every plan pays for them.
  s.heavy_pairs = 1e5;
  const Plan with_pairs = plan_sketch(s, m, 4, 4, 3.0);
  EXPECT_NEAR(with_pairs.candidates_per_rep - p.candidates_per_rep, 1e5, 1e-6);
  EXPECT_GT(completion_seconds(s, m), expected);
  EXPECT_GT(with_pairs.seconds, p.seconds);
  // Every row partnered (a block of identical rows): completion alone costs brute force
  // twice over, and brute force is chosen.
  s.self_join = false;
  s.partnered_a = s.partnered_b = 1;
  EXPECT_EQ(choose_plan(s, m).best.method, Method::Brute);
}

// The buffer of one panel of C is faulted in every repetition: min(C per rank, 64 MiB) at
// the first-touch rate, a stage of its own.
TEST(Plan, TheFirstTouchOfTheCPanelIsPriced) {
  const ProblemShape s = real_far_above_noise();
  const Plan small = plan_sketch(s, this_kind_of_machine(), 64, 64, 3.0);
  const double entries = std::ceil(65536.0 / 64) * std::ceil(65536.0 / 64);
  EXPECT_NEAR(stage(small, "panel"), entries / 2 * 4 / 1e9 * small.reps, 1e-12);
  const Plan large = plan_sketch(s, this_kind_of_machine(), 2, 2, 3.0);
  EXPECT_NEAR(stage(large, "panel"), 64.0 * 1048576 / 1e9 * large.reps, 1e-12) << "capped at one panel";
}

TEST(PlanBrute, PricesTheWordsEarlyAbandonReads) {
  const MachineProfile m = this_kind_of_machine();
  // d = 1024: at rho 0.2 every word is read; at rho 0.8, 5 of 16 (the check after 320
  // coordinates rules out a random pair: 820 - (1024 - 320) >= 5 sqrt(320)).
  const double low = plan_brute(binary(1 << 16, 1024, 0.2), m).seconds;
  const double high = plan_brute(binary(1 << 16, 1024, 0.8), m).seconds;
  EXPECT_NEAR(high / low, 5.0 / 16.0, 1e-12);
  EXPECT_DOUBLE_EQ(early_abandon_work(1024, Threshold{std::ceil(0.2 * 1024), false}), 1.0);
  EXPECT_DOUBLE_EQ(early_abandon_work(1024, Threshold{std::ceil(0.8 * 1024), true}), 5.0 / 16.0);
}

// The registry of methods (solve_method.hpp) and the planner's pricing of all of them.
TEST(Methods, EveryMethodIsRegisteredOnceUnderItsName) {
  std::set<Method> ids;
  std::set<std::string> names;
  for (const SolveMethod* m : solve_methods()) {
    EXPECT_TRUE(ids.insert(m->id()).second) << m->name();
    EXPECT_TRUE(names.insert(m->name()).second) << m->name();
    EXPECT_NE(m->id(), Method::Auto);
    EXPECT_EQ(&solve_method(m->id()), m);
    EXPECT_EQ(parse_method(m->name()), m->id());
    EXPECT_EQ(method_name(m->id()), m->name());
    EXPECT_FALSE(m->summary().empty());
  }
  for (Method id : {Method::Brute, Method::Sketch, Method::Hash}) EXPECT_EQ(ids.count(id), 1u) << id;
  EXPECT_EQ(parse_method("auto"), Method::Auto);
  EXPECT_THROW(parse_method("bogus"), InputError);
  EXPECT_THROW(solve_method(Method::Auto), InternalError);
}

TEST(Methods, HashingServesOnlyBinaryDataAndThePrefixFilterAndTheSparseJoinOnlyReal) {
  for (const SolveMethod* m : solve_methods()) {
    EXPECT_EQ(m->serves(Mode::Binary), m->id() != Method::Prefix && m->id() != Method::Sparse) << m->name();
    EXPECT_EQ(m->serves(Mode::Real), m->id() != Method::Hash) << m->name();
  }
}

TEST(Methods, ThePlannerPricesEveryRegisteredMethod) {
  ProblemShape s = binary(131072, 256, 0.8);  // short codes: brute force's ground unless hashing is measured
  s.measured_seconds[Method::Hash] = 1.5;
  const PlanChoice c = choose_plan(s, this_kind_of_machine());
  EXPECT_EQ(c.by_method.size() + c.unavailable.size(), solve_methods().size());
  for (std::size_t k = 1; k < c.by_method.size(); ++k) EXPECT_LE(c.by_method[k - 1].seconds, c.by_method[k].seconds);
  EXPECT_EQ(c.best.method, c.by_method.front().method);
  EXPECT_EQ(c.brute.method, Method::Brute);
}

TEST(Methods, MeasuredHashingWinsWhereItIsFastest) {
  ProblemShape s = binary(131072, 256, 0.8);
  const PlanChoice without = choose_plan(s, this_kind_of_machine());
  EXPECT_NE(without.best.method, Method::Hash);            // not measured: no plan
  const auto hash_unavailable = [](const PlanChoice& c) {  // the prefix filter is unavailable for binary data
    return std::count_if(c.unavailable.begin(), c.unavailable.end(),
                         [](const std::string& u) { return u.rfind("hash:", 0) == 0; });
  };
  ASSERT_EQ(hash_unavailable(without), 1);

  s.measured_seconds[Method::Hash] = without.best.seconds / 4;
  const PlanChoice with = choose_plan(s, this_kind_of_machine());
  EXPECT_EQ(with.best.method, Method::Hash);
  EXPECT_DOUBLE_EQ(with.best.seconds, without.best.seconds / 4);
  EXPECT_EQ(with.runner_up.method, without.best.method);
  EXPECT_NE(with.why.find("4x faster"), std::string::npos) << with.why;

  s.measured_seconds[Method::Hash] = std::numeric_limits<double>::infinity();  // would scan the index
  const PlanChoice hopeless = choose_plan(s, this_kind_of_machine());
  EXPECT_EQ(hopeless.best.method, without.best.method);
  EXPECT_EQ(hash_unavailable(hopeless), 1);
}
