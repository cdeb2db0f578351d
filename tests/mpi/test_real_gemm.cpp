// Real-valued brute force through the GEMM filter (gemm_filter.hpp) against the float64
// reference kernel, end to end at whatever rank count this runs with: the same pairs with
// bit-identical inner products, on data built to sit at the filter's edges.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <limits>

#include "kernels/exact.hpp"
#include "mpi/fixtures.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

struct RealCase {
  const char* name;
  std::vector<float> a, b;  // b empty: self-join
  std::int64_t d;
  double tau;
  bool abs;
};

Solved solve_with(const Comm& world, const SharedTempDir& dir, const RealCase& c, RealKernel kernel) {
  const std::string in = dir.path("in.h5");
  const std::int64_t na = static_cast<std::int64_t>(c.a.size()) / c.d;
  write_dataset(world, in, "/A", {na, c.d}, c.a, true);
  if (!c.b.empty()) write_dataset(world, in, "/B", {static_cast<std::int64_t>(c.b.size()) / c.d, c.d}, c.b);
  SolveOptions o;
  o.problem = {{in, "/A"}, std::nullopt, Mode::Real, c.tau, c.abs};
  if (!c.b.empty()) o.problem.b = DatasetRef{in, "/B"};
  o.method = Method::Brute;
  o.out = dir.path(kernel == RealKernel::Reference ? "reference.h5" : "filtered.h5");
  const RealKernel before = real_kernel();
  use_real_kernel(kernel);
  Solved s = solve_and_read(world, o);
  use_real_kernel(before);
  return s;
}

std::vector<float> plus(std::vector<float> v, float offset) {
  for (float& x : v) x += offset;
  return v;
}

}  // namespace

TEST(RealGemmFilter, BruteForceEqualsTheReferenceKernelBitForBit) {
  Comm world;
  SharedTempDir dir(world);
  const std::int64_t d = 96;
  const std::vector<float> ga = random_normals(700, d, 1), gb = random_normals(500, d, 2);
  std::vector<float> mixed = random_normals(600, d, 3);
  for (std::size_t k = 0; k < mixed.size(); ++k) mixed[k] = std::ldexp(mixed[k], static_cast<int>(k / d % 21) - 10);
  std::vector<RealCase> cases = {
      {"gaussian at 3 sigma", ga, gb, d, 3 * std::sqrt(double(d)), false},
      {"gaussian, abs", ga, gb, d, 3 * std::sqrt(double(d)), true},
      {"self-join", ga, {}, d, 3 * std::sqrt(double(d)), false},
      {"self-join, abs", ga, {}, d, 3 * std::sqrt(double(d)), true},
      {"mixed scales, abs", mixed, gb, d, 1.0, true},
      {"one huge value (the reference path)", ga, gb, d, 20, true},
  };
  cases.back().a[7 * d + 3] = 1e30f;
  // A large common component: inner products near 1e4 d differ in their last bits; the
  // threshold sits at a pair's exact reference value.
  const std::vector<float> ca = plus(random_normals(400, d, 4), 10), cb = plus(random_normals(300, d, 5), 10);
  RealCase common{"common component, tau at a pair's value", ca, cb, d, 0, false};
  common.tau = -1e30;  // every pair
  const Solved all = solve_with(world, dir, common, RealKernel::Reference);
  double at = 0;
  if (world.rank() == 0) {
    std::vector<double> ips;
    for (const Pair& p : all.pairs) ips.push_back(p.ip);
    std::nth_element(ips.begin(), ips.begin() + ips.size() / 2, ips.end());
    at = ips[ips.size() / 2];
  }
  boost::mpi::broadcast(world, at, 0);
  common.tau = at;
  cases.push_back(common);
  for (const RealCase& c : cases) {
    const Solved reference = solve_with(world, dir, c, RealKernel::Reference);
    const Solved filtered = solve_with(world, dir, c, RealKernel::GemmFilter);
    if (world.rank() == 0) {
      EXPECT_GT(reference.pairs.size(), 0u) << c.name;
      EXPECT_TRUE(same_pairs(filtered.pairs, reference.pairs)) << c.name;
    }
  }
}
