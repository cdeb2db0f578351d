// The prefix filter (methods/prefix/): the same pairs with the same values as the
// reference kernel, block by block at several prefix lengths, including rows built so that
// the tails decide (the bound is tight), a threshold sitting exactly at a pair's value, and
// rows at the ends of float32's range (subnormal against huge, exact zeros); and end to end
// against brute force at whatever rank count this runs with, d from 1 up.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <memory>

#include "core/random.hpp"
#include "kernels/exact.hpp"
#include "kernels/lapack.hpp"
#include "methods/prefix/prefix_filter.hpp"
#include "mpi/fixtures.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

constexpr std::int64_t kD = 64;

// Rows with a decaying spectrum (as embeddings after PCA): coordinate c scaled by
// (c + 1)^-0.8, then turned by a fixed orthogonal matrix; `tails` rows put their energy in
// the last coordinates instead, where only the tail bound sees them.
RealMatrix anisotropic(std::int64_t n, std::uint64_t seed, const std::vector<double>& turn, std::int64_t tails) {
  const std::vector<float> z = random_normals(n, kD, seed);
  RealMatrix m(n, kD);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < kD; ++c) {
      double v = 0;
      for (std::int64_t t = 0; t < kD; ++t) {
        const std::int64_t axis = i < tails ? kD - 1 - t : t;
        v += turn[t * kD + c] * z[i * kD + t] * std::pow(double(axis + 1), -0.8);
      }
      m.row(i)[c] = static_cast<float>(v);
    }
  // Near-copies, so that high thresholds have pairs.
  for (std::int64_t i = 1; i < n; i += 7)
    for (std::int64_t c = 0; c < kD; ++c) m.row(i)[c] = m.row(i - 1)[c] * 1.01f + 0.001f * z[i * kD + c];
  return m;
}

std::vector<double> random_turn(std::uint64_t seed, std::int64_t d = kD) {
  const std::vector<float> g = random_normals(d, d, seed);
  std::vector<double> sym(d * d, 0.0);
  for (std::int64_t i = 0; i < d; ++i)
    for (std::int64_t j = 0; j < d; ++j)
      for (std::int64_t t = 0; t < d; ++t) sym[i * d + j] += double(g[t * d + i]) * g[t * d + j];
  return eigenvectors_descending(sym, d);
}

// The principal axes of the rows, as principal_axes computes them (without the sampling).
std::shared_ptr<const Rotation> axes_of(const RealMatrix& m, bool unit) {
  std::vector<double> x;
  const std::vector<double> norms = row_norms(m, {0, m.rows()});
  for (std::int64_t i = 0; i < m.rows(); ++i)
    for (std::int64_t c = 0; c < kD; ++c) x.push_back(m.row(i)[c] * (unit ? 1 / norms[i] : 1.0));
  auto r = std::make_shared<Rotation>();
  r->d = kD;
  r->q = eigenvectors_descending(gram(x.data(), m.rows(), kD), kD, &r->energy);
  r->orthogonality = 1e-12;
  return r;
}

// The same pairs (in any order: the kernels visit blocks in different orders), the same values.
void expect_same(std::vector<Pair> got, std::vector<Pair> want, const std::string& what) {
  sort_pairs(got);
  sort_pairs(want);
  EXPECT_GT(want.size(), 0u) << what;
  EXPECT_EQ(got, want) << what << ": " << got.size() << " pairs against " << want.size();
}

}  // namespace

TEST(PrefixFilter, EqualsTheReferenceKernelAtEveryPrefixLength) {
  const std::vector<double> turn = random_turn(51);
  const RealMatrix a = anisotropic(300, 52, turn, 40), b = anisotropic(260, 53, turn, 30);
  const RealKernel before = real_kernel();
  use_real_kernel(RealKernel::Reference);
  for (const bool cosine : {true, false}) {
    const auto rotation = axes_of(a, cosine);
    // Thresholds: a high one, one exactly at a pair's reference value, and --abs.
    std::vector<Pair> all;
    const Threshold every{-1e300, false, cosine};
    heavy_pairs({a, 0}, {b, 0}, every, PairFilter::All, all);
    std::vector<double> values;
    for (const Pair& p : all) values.push_back(p.ip);
    std::sort(values.begin(), values.end());
    const double at = values[values.size() - 200];
    for (const Threshold t : {Threshold{at, false, cosine}, Threshold{cosine ? 0.9 : at, true, cosine}}) {
      std::vector<Pair> want;
      heavy_pairs({a, 1000}, {b, 5}, t, PairFilter::All, want);
      for (std::int64_t k : {4, 8, 16, 32, 48}) {
        const PrefixCheck check(rotation, k, cosine);
        std::vector<Pair> got;
        check.pairs({a, 1000}, {b, 5}, t, PairFilter::All, got, {0, b.rows()});
        expect_same(got, want, "k " + std::to_string(k) + (cosine ? " cosine" : "") + (t.abs ? " abs" : ""));
      }
    }
    // The diagonal block of a self-join, in chunks of B's rows.
    const Threshold t{cosine ? 0.95 : at, false, cosine};
    std::vector<Pair> want, got;
    heavy_pairs({a, 0}, {a, 0}, t, PairFilter::Upper, want);
    const PrefixCheck check(rotation, 16, cosine);
    for (std::int64_t s0 = 0; s0 < a.rows(); s0 += 70)
      check.pairs({a, 0}, {a, 0}, t, PairFilter::Upper, got, {s0, std::min(a.rows(), s0 + 70)});
    expect_same(got, want, std::string("self-join") + (cosine ? " cosine" : ""));
  }
  use_real_kernel(before);
}

TEST(PrefixFilter, WrongAxesCostSpeedNeverPairs) {
  // Any orthogonal matrix keeps the bound exact: the identity here, far from the axes.
  const std::vector<double> turn = random_turn(54);
  const RealMatrix a = anisotropic(200, 55, turn, 0);
  auto identity = std::make_shared<Rotation>();
  identity->d = kD;
  identity->q.assign(kD * kD, 0.0);
  for (std::int64_t c = 0; c < kD; ++c) identity->q[c * kD + c] = 1;
  identity->energy.assign(kD, 1.0);
  const Threshold t{0.9, false, true};
  std::vector<Pair> want, got;
  heavy_pairs({a, 0}, {a, 0}, t, PairFilter::Upper, want);
  PrefixCheck(identity, 8, true).pairs({a, 0}, {a, 0}, t, PairFilter::Upper, got, {0, a.rows()});
  expect_same(got, want, "identity");
}

TEST(PrefixFilter, TheMethodEqualsBruteForceEndToEnd) {
  Comm world;
  SharedTempDir dir(world);
  const std::vector<double> turn = random_turn(56);
  const RealMatrix m = anisotropic(900, 57, turn, 50);
  std::vector<float> values;
  for (std::int64_t i = 0; i < m.rows(); ++i) values.insert(values.end(), m.row(i), m.row(i) + kD);
  const std::string in = dir.path("in.h5");
  write_dataset(world, in, "/A", {450, kD}, std::vector<float>(values.begin(), values.begin() + 450 * kD), true);
  write_dataset(world, in, "/B", {450, kD}, std::vector<float>(values.begin() + 450 * kD, values.end()));
  for (const bool cosine : {true, false})
    for (const bool self : {true, false}) {
      std::vector<Pair> answers[2];
      for (const Method method : {Method::Brute, Method::Prefix}) {
        SolveOptions o = self_join_options(in, Mode::Real, cosine ? 0.9 : 0.02, method, dir.path("out.h5"));
        o.problem.cosine = cosine;
        if (!self) o.problem.b = DatasetRef{in, "/B"};
        answers[method == Method::Prefix] = solve_and_read(world, o).pairs;
      }
      if (world.rank() == 0)
        expect_same(answers[1], answers[0], std::string(cosine ? "cosine" : "ip") + (self ? " self-join" : " A x B"));
    }
}

// Rows at the ends of float32's range, as the bound must hold there: rows of A of norm
// about 1e17 (and half of them near 2^59, below the 2^60 past which rows go to the
// reference kernel) against rows of B whose coordinates are small
// multiples of 2^-149 (subnormal: rounding them is an absolute error, not a relative one),
// exact zeros among them, and tiny rows against tiny rows. Thresholds at quantiles of the
// true values and exactly at one of them: the prefix filter finds the reference's pairs.
TEST(PrefixFilter, HoldsOnSubnormalHugeAndZeroRows) {
  constexpr std::int64_t d = 32, n = 64;
  const std::vector<float> za = random_normals(n, d, 61), zb = random_normals(n, d, 62);
  RealMatrix huge(n, d), tiny(n, d), tiny2(n, d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t c = 0; c < d; ++c) {
      huge.row(i)[c] = static_cast<float>(za[i * d + c] * (i % 2 == 0 ? 0x1p56 : 1e17 / std::sqrt(double(d))));
      const double m = std::round(4 * zb[i * d + c]);  // a few units of 2^-149, some of them 0
      tiny.row(i)[c] = i % 9 == 4 ? 0.0f : static_cast<float>(m * 0x1p-149);
      tiny2.row(i)[c] = static_cast<float>(std::round(300 * za[((i + 7) % n) * d + c]) * 0x1p-149);
    }
  auto turn = std::make_shared<Rotation>();
  turn->d = d;
  turn->q = random_turn(63, d);
  turn->energy.assign(d, 1.0);
  turn->orthogonality = 1e-12;
  const RealKernel before = real_kernel();
  use_real_kernel(RealKernel::Reference);
  const std::pair<const RealMatrix*, const RealMatrix*> sides[] = {{&huge, &tiny}, {&tiny, &huge}, {&tiny2, &tiny}};
  for (const auto& [a, b] : sides)
    for (const bool cosine : {false, true}) {
      std::vector<Pair> all;
      heavy_pairs({*a, 0}, {*b, 0}, Threshold{-1e300, false, cosine}, PairFilter::All, all);
      std::vector<double> values;
      for (const Pair& p : all)
        if (!std::isnan(p.ip)) values.push_back(p.ip);
      std::sort(values.begin(), values.end());
      ASSERT_GT(values.size(), 100u);
      for (const double q : {0.5, 0.9, 0.99}) {
        const double at = values[static_cast<std::size_t>(q * double(values.size() - 1))];
        for (const Threshold t : {Threshold{at, false, cosine}, Threshold{std::fabs(at), true, cosine}}) {
          if (t.abs && !(t.theta > 0)) continue;
          std::vector<Pair> want;
          heavy_pairs({*a, 0}, {*b, 0}, t, PairFilter::All, want);
          for (std::int64_t k : {1, 4, 16, 31}) {
            const PrefixCheck check(turn, k, cosine);
            std::vector<Pair> got;
            check.pairs({*a, 0}, {*b, 0}, t, PairFilter::All, got, {0, b->rows()});
            expect_same(got, want,
                        "k " + std::to_string(k) + " quantile " + std::to_string(q) + (cosine ? " cosine" : "") +
                            (t.abs ? " abs" : "") +
                            (a == &huge   ? " huge x tiny"
                             : b == &huge ? " tiny x huge"
                                          : " tiny x tiny"));
          }
        }
      }
    }
  use_real_kernel(before);
}

// Named by hand at any d (auto leaves small d to brute force): the prefix is never longer
// than the rows, and the answer is brute force's, in every mode.
TEST(PrefixFilter, TheMethodAtSmallDEqualsBruteForce) {
  Comm world;
  SharedTempDir dir(world);
  for (const std::int64_t d : {1, 2, 4, 5, 7, 9}) {
    const std::vector<float> values = random_normals(300, d, 70 + d);
    const std::string in = dir.path("small.h5");
    write_dataset(world, in, "/A", {300, d}, values, true);
    std::vector<Pair> all;
    const double sigma = std::sqrt(double(d));
    for (const bool cosine : {false, true})
      for (const bool abs : {false, true}) {
        std::vector<Pair> answers[2];
        for (const Method method : {Method::Brute, Method::Prefix}) {
          SolveOptions o = self_join_options(in, Mode::Real, cosine ? 0.8 : 1.2 * sigma, method, dir.path("out.h5"));
          o.problem.cosine = cosine;
          o.problem.abs = abs;
          answers[method == Method::Prefix] = solve_and_read(world, o).pairs;
        }
        if (world.rank() == 0)
          expect_same(answers[1], answers[0],
                      "d " + std::to_string(d) + (cosine ? " cosine" : " ip") + (abs ? " abs" : ""));
      }
  }
}
