// hipi solve --method brute against a naive in-memory answer, at whatever rank count this
// test runs with (CTest runs it at 1, 2, 3 and 4): equal to the same reference at every
// rank count means identical output across rank counts.
#include <gtest/gtest.h>

#include "io/pair_file.hpp"
#include "methods/brute/brute.hpp"
#include "mpi/fixtures.hpp"
#include "solve/solver.hpp"

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
  options.method = Method::Brute;
  const SolveSummary summary = run_solve(world, options);
  EXPECT_EQ(summary.method, Method::Brute);

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

// Stopping brute force at any unit boundary and resuming with the pairs found so far gives
// the uninterrupted answer: the units skipped are exactly the units done, for A x B and for
// the self-join (whose ring has P/2 + 1 steps and a split half-way step at even P).
namespace {

LocalRows<BitMatrix> block_of(const Comm& world, const std::vector<std::int8_t>& signs, std::int64_t n,
                              std::int64_t d) {
  const RowRange r = row_block(n, world.size(), world.rank());
  return {r, BitMatrix::pack(std::span(signs).subspan(r.begin * d, r.size() * d), r.size(), d)};
}

// Every rank's pairs, sorted, on rank 0 (empty elsewhere).
std::vector<Pair> sorted_union(const Comm& world, const std::vector<Pair>& local) {
  return gather_answer(world, local);
}

}  // namespace

TEST(BruteSchedule, StoppingAtAnyUnitAndResumingGivesTheUninterruptedAnswer) {
  Comm world;
  const std::int64_t n = 3000, d = 64;
  const double unit = 1e6;  // coordinate products per unit: several chunks per ring step
  const auto a = random_signs(n, d, 21), b = random_signs(n, d, 22);
  const Threshold t{16, false};
  const auto rows_a = block_of(world, a, n, d), rows_b = block_of(world, b, n, d);
  for (bool self : {false, true}) {
    const auto run = [&](BruteSchedule s) {
      s.unit_products = unit;
      return self ? brute_force_self(world, rows_a, t, std::move(s))
                  : brute_force(world, rows_a, rows_b, t, std::move(s));
    };
    std::int64_t total = 0;
    BruteSchedule count;
    count.at_boundary = [&](std::int64_t, std::int64_t all, const std::vector<Pair>&) { total = all; };
    const std::vector<Pair> full = sorted_union(world, run(std::move(count)));
    if (world.rank() == 0) {
      ASSERT_GT(full.size(), 100u) << "the threshold should leave many pairs";
    }
    ASSERT_GE(total, 2 * (self ? world.size() / 2 + 1 : world.size())) << "want several chunks per step";
    for (std::int64_t stop_at = 1; stop_at < total; ++stop_at) {
      std::vector<Pair> saved;
      BruteSchedule first;
      first.at_boundary = [&](std::int64_t done, std::int64_t, const std::vector<Pair>& found) {
        if (done < stop_at) return;
        saved = found;
        throw StoppedError("stop", /*collective=*/true);
      };
      EXPECT_THROW(run(std::move(first)), StoppedError);
      std::int64_t first_unit = -1;
      BruteSchedule resume;
      resume.skip_units = stop_at;
      resume.resumed_pairs = saved;
      resume.at_boundary = [&](std::int64_t done, std::int64_t, const std::vector<Pair>&) {
        if (first_unit < 0) first_unit = done;
      };
      EXPECT_EQ(sorted_union(world, run(std::move(resume))), full)
          << (self ? "self-join" : "A x B") << ", stopped after unit " << stop_at;
      EXPECT_EQ(first_unit, stop_at + 1) << "the resumed run must start at the first unit not done";
    }
  }
}
