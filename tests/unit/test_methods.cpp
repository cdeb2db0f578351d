// The registry of solve methods and the planner's pricing of every registered method
// (solve_method.hpp), on synthetic shapes: no MPI.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <set>

#include "hipi/error.hpp"
#include "hipi/plan.hpp"
#include "hipi/solve_method.hpp"

using namespace hipi;

namespace {

MachineProfile machine() {
  MachineProfile m;
  m.gemm_f32_flops = 80e9;
  m.gemm_f64_flops = 40e9;
  m.binary_pairs = 2.9e8;
  m.real_pairs = 2e7;
  m.sketch_coords = 1e9;
  m.exchange_bytes = 2e9;
  m.redistribute_bytes = 3e8;
  return m;
}

// 131072^2 random +-1 rows at d = 256, rho = 0.8: brute force's ground unless hashing is measured.
ProblemShape short_codes() {
  ProblemShape s;
  s.n_a = s.n_b = 131072;
  s.d = 256;
  s.theta = std::ceil(0.8 * 256);
  s.m2 = 256;
  s.ranks = 2;
  return s;
}

}  // namespace

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

TEST(Methods, OnlyHashingIsLimitedToBinaryData) {
  for (const SolveMethod* m : solve_methods()) {
    EXPECT_TRUE(m->serves(Mode::Binary)) << m->name();
    EXPECT_EQ(m->serves(Mode::Real), m->id() != Method::Hash) << m->name();
  }
}

TEST(Methods, ThePlannerPricesEveryRegisteredMethod) {
  ProblemShape s = short_codes();
  s.measured_seconds[Method::Hash] = 1.5;
  const PlanChoice c = choose_plan(s, machine());
  EXPECT_EQ(c.by_method.size() + c.unavailable.size(), solve_methods().size());
  for (std::size_t k = 1; k < c.by_method.size(); ++k) EXPECT_LE(c.by_method[k - 1].seconds, c.by_method[k].seconds);
  EXPECT_EQ(c.best.method, c.by_method.front().method);
  EXPECT_EQ(c.brute.method, Method::Brute);
}

TEST(Methods, MeasuredHashingWinsWhereItIsFastest) {
  ProblemShape s = short_codes();
  const PlanChoice without = choose_plan(s, machine());
  EXPECT_NE(without.best.method, Method::Hash);  // not measured: no plan
  ASSERT_EQ(without.unavailable.size(), 1u);
  EXPECT_NE(without.unavailable[0].find("hash"), std::string::npos);

  s.measured_seconds[Method::Hash] = without.best.seconds / 4;
  const PlanChoice with = choose_plan(s, machine());
  EXPECT_EQ(with.best.method, Method::Hash);
  EXPECT_DOUBLE_EQ(with.best.seconds, without.best.seconds / 4);
  EXPECT_EQ(with.runner_up.method, without.best.method);
  EXPECT_NE(with.why.find("4x faster"), std::string::npos) << with.why;

  s.measured_seconds[Method::Hash] = std::numeric_limits<double>::infinity();  // would scan the index
  const PlanChoice hopeless = choose_plan(s, machine());
  EXPECT_EQ(hopeless.best.method, without.best.method);
  EXPECT_EQ(hopeless.unavailable.size(), 1u);
}
