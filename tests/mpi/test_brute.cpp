// hipi solve --method brute against a naive in-memory answer, at whatever rank count this
// test runs with (CTest runs it at 1, 2, 3 and 4): equal to the same reference at every
// rank count means identical output across rank counts.
#include <gtest/gtest.h>

#include "hipi/output.hpp"
#include "hipi/solver.hpp"
#include "mpi/fixtures.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

struct Case {
  std::string name;
  Mode mode;
  bool self_join;
  bool abs;
  std::int64_t na, nb, d;
  double value;  // rho or tau
};

std::vector<Case> cases() {
  return {
      {"binary", Mode::Binary, false, false, 97, 61, 70, 0.3},
      {"binary_abs", Mode::Binary, false, true, 97, 61, 70, 0.3},
      {"binary_self", Mode::Binary, true, false, 103, 0, 65, 0.3},
      {"binary_self_abs", Mode::Binary, true, true, 50, 0, 130, 0.25},
      {"binary_fewer_rows_than_ranks", Mode::Binary, false, false, 2, 3, 9, 0.1},
      {"binary_self_fewer_rows_than_ranks", Mode::Binary, true, false, 3, 0, 5, 0.2},
      {"real", Mode::Real, false, false, 80, 45, 20, 8.0},
      {"real_abs", Mode::Real, false, true, 80, 45, 20, 8.0},
      {"real_self", Mode::Real, true, false, 90, 0, 33, 10.0},
      {"real_negative_tau", Mode::Real, false, false, 30, 20, 4, -1.0},
  };
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class BruteForce : public ::testing::TestWithParam<Case> {};

template <class T>
void check_case(const Case& c, const std::vector<T>& a, const std::vector<T>* b) {
  Comm world;
  SharedTempDir dir(world);
  const std::string in = dir.path("in.h5"), out = dir.path("out.h5");
  write_dataset(world, in, "/A", {c.na, c.d}, a, /*create=*/true);
  if (b) write_dataset(world, in, "/data/B", {c.nb, c.d}, *b);

  SolveOptions options;
  options.problem.a = {in, "/A"};
  if (b) options.problem.b = DatasetRef{in, "/data/B"};
  options.problem.mode = c.mode;
  options.problem.value = c.value;
  options.problem.abs = c.abs;
  options.out = out;
  options.method = "brute";
  const SolveSummary summary = run_solve(world, options);
  EXPECT_EQ(summary.method, "brute");

  const Threshold t = options.problem.threshold(c.d);
  const auto want = naive_pairs(a, b, c.d, t);
  EXPECT_EQ(summary.pairs, static_cast<std::int64_t>(want.size()));
  if (world.rank() == 0) {
    EXPECT_TRUE(same_pairs(read_pairs_file(out), want, c.mode == Mode::Real ? 1e-9 : 0.0)) << c.name;
    h5::File f = h5::File::open_read(out, nullptr);
    EXPECT_EQ(f.string_attribute("method"), "brute");
    EXPECT_EQ(f.int_attribute("ranks"), world.size());
    EXPECT_EQ(f.double_attribute("threshold"), t.theta);
  }
}

}  // namespace

TEST_P(BruteForce, EqualsNaiveAllPairs) {
  const Case& c = GetParam();
  if (c.mode == Mode::Binary) {
    const auto a = random_signs(c.na, c.d, 1);
    const auto b = random_signs(c.nb, c.d, 2, &a);
    if (c.self_join) {
      // Rows 4k of A copy earlier rows: heavy pairs inside A.
      auto self = random_signs(c.na, c.d, 3, &a);
      check_case<std::int8_t>(c, self, nullptr);
    } else {
      check_case<std::int8_t>(c, a, &b);
    }
  } else {
    const auto a = random_normals(c.na, c.d, 4);
    const auto b = random_normals(c.nb, c.d, 5);
    check_case<float>(c, a, c.self_join ? nullptr : &b);
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, BruteForce, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// The threshold is inclusive: a pair at exactly rho*d is heavy, one step below is not.
TEST(BruteForceThreshold, PairAtThresholdIsFoundOneBelowIsNot) {
  Comm world;
  SharedTempDir dir(world);
  const std::int64_t d = 64;
  std::vector<std::int8_t> a(2 * d, 1), b(2 * d, 1);
  for (int k = 0; k < 16; ++k) b[k] = -1;                 // <a0,b0> = 64 - 32 = 32 = 0.5 * d
  for (int k = 0; k < 17; ++k) b[d + k] = -1;             // <a0,b1> = 30
  for (std::int64_t k = 0; k < d; k += 2) a[d + k] = -1;  // row a1 is balanced: <a1, b> ~ 0
  const std::string in = dir.path("edge.h5"), out = dir.path("edge_out.h5");
  write_dataset(world, in, "/A", {2, d}, a, true);
  write_dataset(world, in, "/B", {2, d}, b);
  SolveOptions o;
  o.problem = {{in, "/A"}, DatasetRef{in, "/B"}, Mode::Binary, 0.5, false};
  o.out = out;
  run_solve(world, o);
  if (world.rank() == 0) {
    EXPECT_EQ(read_pairs_file(out), (std::vector<Pair>{{0, 0, 32.0}}));
  }
}
