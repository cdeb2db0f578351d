// --cosine: <a,b> / (||a|| ||b||) >= tau, norms and decision in float64 on the stored values,
// end to end at whatever rank count this runs with. Rows scaled by any positive factors
// give the unit rows' answer; a pair exactly at the threshold is kept; the GEMM filter and
// the reference kernel agree bit for bit; zero rows are refused or skipped; exact copies
// expand with the cosine of a row with itself.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <map>

#include "core/random.hpp"
#include "kernels/exact.hpp"
#include "mpi/fixtures.hpp"
#include "solve/solve_answer.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

constexpr std::int64_t kD = 48;

// Clustered real rows, as embeddings are: 40 centres, each row a centre plus noise, with
// rows 0-9 repeated at the end (exact copies). Unit rows when `unit`.
std::vector<float> clustered_rows(std::int64_t n, bool unit) {
  const std::vector<float> centres = random_normals(40, kD, 11), noise = random_normals(n, kD, 12);
  RandomStream pick(13, {});
  std::vector<float> rows(static_cast<std::size_t>((n + 10) * kD));
  for (std::int64_t i = 0; i < n; ++i) {
    const std::int64_t c = static_cast<std::int64_t>(pick.below(40));
    double norm = 0;
    for (std::int64_t k = 0; k < kD; ++k) {
      const float v = centres[c * kD + k] + 0.4f * noise[i * kD + k];
      rows[i * kD + k] = v;
      norm += double(v) * v;
    }
    if (unit)
      for (std::int64_t k = 0; k < kD; ++k) rows[i * kD + k] = static_cast<float>(rows[i * kD + k] / std::sqrt(norm));
  }
  std::copy(rows.begin(), rows.begin() + 10 * kD, rows.begin() + n * kD);
  return rows;
}

// Every row times its own factor: random in [1e-3, 1e3], or a random power of two.
std::vector<float> scaled(std::vector<float> rows, bool powers_of_two) {
  RandomStream rng(14, {});
  const std::int64_t n = static_cast<std::int64_t>(rows.size()) / kD;
  for (std::int64_t i = 0; i < n; ++i) {
    const double f =
        powers_of_two ? std::ldexp(1.0, static_cast<int>(rng.below(41)) - 20) : std::pow(10.0, 6 * rng.uniform() - 3);
    for (std::int64_t k = 0; k < kD; ++k) rows[i * kD + k] = static_cast<float>(rows[i * kD + k] * f);
  }
  return rows;
}

// The self-join's cosines in plain float64 loops (another summation order than the kernel's).
std::map<std::pair<std::int64_t, std::int64_t>, double> naive_cosines(const std::vector<float>& rows) {
  const std::int64_t n = static_cast<std::int64_t>(rows.size()) / kD;
  std::vector<double> norm(n);
  for (std::int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (std::int64_t k = 0; k < kD; ++k) s += double(rows[i * kD + k]) * rows[i * kD + k];
    norm[i] = std::sqrt(s);
  }
  std::map<std::pair<std::int64_t, std::int64_t>, double> out;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      double s = 0;
      for (std::int64_t k = 0; k < kD; ++k) s += double(rows[i * kD + k]) * rows[j * kD + k];
      if (norm[i] > 0 && norm[j] > 0) out[{i, j}] = s / (norm[i] * norm[j]);
    }
  return out;
}

test::Solved solve_cosine(const Comm& world, const SharedTempDir& dir, const std::vector<float>& rows, double tau,
                          const std::string& name) {
  const std::string in = dir.path(name + "-in.h5");
  write_dataset(world, in, "/A", {static_cast<std::int64_t>(rows.size()) / kD, kD}, rows, true);
  SolveOptions o = self_join_options(in, Mode::Real, tau, Method::Brute, dir.path(name + ".h5"));
  o.problem.cosine = true;
  return solve_and_read(world, o);
}

// The pairs of `got` against every naive cosine: the same set but for pairs within `band`
// of tau, each value within `band` of the naive one.
void expect_naive_answer(const test::Solved& got, const std::vector<float>& rows, double tau, double band) {
  const auto naive = naive_cosines(rows);
  std::int64_t expected = 0, near = 0;
  for (const auto& [key, c] : naive) {
    expected += c >= tau + band;
    near += std::fabs(c - tau) < band;
  }
  std::int64_t sure = 0;
  for (const Pair& p : got.pairs) {
    const auto it = naive.find({p.i, p.j});
    ASSERT_NE(it, naive.end()) << p.i << " " << p.j;
    EXPECT_NEAR(p.ip, it->second, band) << p.i << " " << p.j;
    EXPECT_GE(it->second, tau - band) << p.i << " " << p.j;
    sure += it->second >= tau + band;
  }
  EXPECT_EQ(sure, expected) << near << " pairs within the band";
  EXPECT_GT(expected, 20);  // the case has heavy pairs to find
}

}  // namespace

TEST(Cosine, RowsScaledByAnyPositiveFactorsGiveTheUnitRowsAnswer) {
  Comm world;
  SharedTempDir dir(world);
  const double tau = 0.9;
  const std::vector<float> unit = clustered_rows(600, true);
  const test::Solved base = solve_cosine(world, dir, unit, tau, "unit");
  // Powers of two scale every product and norm exactly: the same cosines, bit for bit.
  const test::Solved pow2 = solve_cosine(world, dir, scaled(unit, true), tau, "pow2");
  // Other factors round each coordinate once (relative 2^-24), which moves a cosine by at
  // most about 2 * 2^-24 (6e-8): outside a band of 1e-6 around tau the pairs are the same.
  const std::vector<float> any = scaled(unit, false);
  const test::Solved other = solve_cosine(world, dir, any, tau, "any");
  if (world.rank() != 0) return;
  EXPECT_EQ(pow2.pairs, base.pairs);
  expect_naive_answer(base, unit, tau, 1e-9);
  expect_naive_answer(other, any, tau, 1e-9);
  std::map<std::pair<std::int64_t, std::int64_t>, double> by_key;
  for (const Pair& p : base.pairs) by_key[{p.i, p.j}] = p.ip;
  std::int64_t compared = 0;
  for (const Pair& p : other.pairs) {
    const auto it = by_key.find({p.i, p.j});
    if (std::fabs(p.ip - tau) < 1e-6) continue;
    ASSERT_NE(it, by_key.end()) << p.i << " " << p.j;
    EXPECT_NEAR(p.ip, it->second, 1e-6);
    ++compared;
  }
  EXPECT_GE(compared + 20, static_cast<std::int64_t>(base.pairs.size()));
  EXPECT_EQ(base.parameters.value("cosine", false), true);
}

TEST(Cosine, APairExactlyAtTheThresholdIsKeptByTheFilterAndTheReference) {
  Comm world;
  SharedTempDir dir(world);
  const std::vector<float> rows = scaled(clustered_rows(300, false), false);
  // The kernel's own value of one pair: the threshold set exactly there.
  RealMatrix m(2, kD);
  std::copy(rows.begin() + 5 * kD, rows.begin() + 6 * kD, m.row(0));
  std::copy(rows.begin() + 77 * kD, rows.begin() + 78 * kD, m.row(1));
  const std::vector<double> self = row_self_products(m, {0, 2});
  const Threshold t{0, false, true};
  const double at = t.value(inner_product(m, 0, m, 1), self[0], self[1]);
  for (RealKernel kernel : {RealKernel::GemmFilter, RealKernel::Reference}) {
    const RealKernel before = real_kernel();
    use_real_kernel(kernel);
    const test::Solved s = solve_cosine(world, dir, rows, at, kernel == RealKernel::Reference ? "reference" : "filter");
    use_real_kernel(before);
    if (world.rank() != 0) continue;
    const auto it = std::find_if(s.pairs.begin(), s.pairs.end(), [](const Pair& p) { return p.i == 5 && p.j == 77; });
    ASSERT_NE(it, s.pairs.end()) << "the pair at the threshold, kernel " << static_cast<int>(kernel);
    EXPECT_EQ(it->ip, at);
    for (const Pair& p : s.pairs) EXPECT_GE(p.ip, at);
  }
}

TEST(Cosine, TheGemmFilterEqualsTheReferenceKernelBitForBit) {
  Comm world;
  SharedTempDir dir(world);
  const std::vector<float> rows = scaled(clustered_rows(500, false), false);
  std::map<RealKernel, test::Solved> got;
  for (RealKernel kernel : {RealKernel::GemmFilter, RealKernel::Reference}) {
    const RealKernel before = real_kernel();
    use_real_kernel(kernel);
    got[kernel] = solve_cosine(world, dir, rows, 0.8, kernel == RealKernel::Reference ? "reference" : "filter");
    use_real_kernel(before);
  }
  if (world.rank() != 0) return;
  EXPECT_GT(got[RealKernel::Reference].pairs.size(), 100u);
  EXPECT_EQ(got[RealKernel::GemmFilter].pairs, got[RealKernel::Reference].pairs);
}

TEST(Cosine, ZeroRowsAreAnInputErrorUnlessSkipped) {
  Comm world;
  SharedTempDir dir(world);
  std::vector<float> rows = clustered_rows(200, false);
  std::fill(rows.begin() + 33 * kD, rows.begin() + 34 * kD, 0.0f);
  std::fill(rows.begin() + 150 * kD, rows.begin() + 151 * kD, 0.0f);
  const std::string in = dir.path("zeros.h5");
  write_dataset(world, in, "/A", {static_cast<std::int64_t>(rows.size()) / kD, kD}, rows, true);
  SolveOptions o = self_join_options(in, Mode::Real, 0.9, Method::Brute, dir.path("out.h5"));
  o.problem.cosine = true;
  try {
    run_solve(world, o);
    ADD_FAILURE() << "a zero row was accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("row 33 is all zeros"), std::string::npos) << e.what();
  }
  o.problem.skip_zero_rows = true;
  const test::Solved s = solve_and_read(world, o);
  if (world.rank() != 0) return;
  for (const Pair& p : s.pairs) EXPECT_TRUE(p.i != 33 && p.j != 33 && p.i != 150 && p.j != 150);
  expect_naive_answer(s, rows, 0.9, 1e-9);
}

TEST(Cosine, BinaryModeAndTheSketchRefuseIt) {
  Comm world;
  Problem binary{{"x.h5", "/A"}, std::nullopt, Mode::Binary, 0.5, false};
  binary.cosine = true;
  EXPECT_THROW(binary.check_threshold(), InputError);
  Problem real{{"x.h5", "/A"}, std::nullopt, Mode::Real, 1.5, false};
  real.cosine = true;
  EXPECT_THROW(real.check_threshold(), InputError);  // a cosine is at most 1
  SolveOptions o = self_join_options("x.h5", Mode::Real, 0.9, Method::Sketch, "out.h5");
  o.problem.cosine = true;
  EXPECT_THROW(check_solve_options(o, world.size()), InputError);
  o.method = Method::Auto;
  EXPECT_NO_THROW(check_solve_options(o, world.size()));
}

// Rows that are bitwise copies of each other, or power-of-two multiples (exact in float32),
// have cosine exactly 1, and negated ones exactly -1: at --tau 1 every such pair is found,
// at --tau -1 every pair of all, by every exact method and kernel, through the copies'
// expansion too; no cosine passes 1 or falls below -1.
TEST(Cosine, ParallelRowsHaveCosineExactlyOne) {
  Comm world;
  SharedTempDir dir(world);
  const std::vector<float> base = random_normals(6, kD, 21);
  const double factors[] = {1, 2, 0.5, 4, 0x1p-20, 0x1p20};
  std::vector<float> copies, multiples, signs;
  for (std::int64_t r = 0; r < 6; ++r)
    for (int k = 0; k < 6; ++k)
      for (std::int64_t c = 0; c < kD; ++c) {
        const float v = base[r * kD + c];
        if (k < 4) copies.push_back(v);
        multiples.push_back(static_cast<float>(v * factors[k]));
        if (k < 5) signs.push_back(k % 2 ? -v : v);
      }
  struct Case {
    const char* name;
    const std::vector<float>& rows;
    double tau;
    std::size_t want;  // pairs
  };
  const Case cases[] = {{"copies", copies, 1.0, 6 * 6},
                        {"power-of-two multiples", multiples, 1.0, 6 * 15},
                        {"negated rows", signs, -1.0, 30 * 29 / 2}};
  for (const Case& c : cases)
    for (const Method method : {Method::Brute, Method::Prefix})
      for (const RealKernel kernel : {RealKernel::GemmFilter, RealKernel::Reference}) {
        const std::string in = dir.path("parallel.h5");
        write_dataset(world, in, "/A", {static_cast<std::int64_t>(c.rows.size()) / kD, kD}, c.rows, true);
        SolveOptions o = self_join_options(in, Mode::Real, c.tau, method, dir.path("parallel-out.h5"));
        o.problem.cosine = true;
        const RealKernel before = real_kernel();
        use_real_kernel(kernel);
        const test::Solved s = solve_and_read(world, o);
        use_real_kernel(before);
        if (world.rank() != 0) continue;
        const std::string what = std::string(c.name) + ", " + method_name(method) +
                                 (kernel == RealKernel::Reference ? ", reference" : ", filter");
        EXPECT_EQ(s.pairs.size(), c.want) << what;
        for (const Pair& p : s.pairs) {
          EXPECT_LE(p.ip, 1.0) << what;
          EXPECT_GE(p.ip, -1.0) << what;
          if (c.tau == 1.0) {
            EXPECT_EQ(p.ip, 1.0) << what << ": " << p.i << " " << p.j;
          }
        }
      }
}
