// hipi generate at this rank count: the file holds exactly the rows of the pure row
// functions (so it is the same for every rank count), and brute force recovers the truth.
#include <gtest/gtest.h>

#include "io/generate.hpp"
#include "io/pair_file.hpp"
#include "mpi/fixtures.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

// Rows the generator must have written, from the pure functions alone.
std::vector<float> expected_rows(const GenerateOptions& o, int side) {
  const std::int64_t n = side == 0 ? o.n : o.rows_b();
  const int target_side = o.self_join ? 0 : 1;
  const auto pairs = planted_pairs(o);
  std::vector<float> rows(n * o.d), source(o.d);
  for (std::int64_t r = 0; r < n; ++r) background_row(o, side, r, rows.data() + r * o.d);
  if (side == target_side)
    for (std::size_t p = 0; p < pairs.size(); ++p) {
      background_row(o, 0, pairs[p].source, source.data());
      planted_row(o, static_cast<std::int64_t>(p), source.data(), rows.data() + pairs[p].target * o.d);
    }
  return rows;
}

}  // namespace

TEST(Generate, BinaryFileIsThePureRowsAndSolveFindsExactlyThePlantedPairs) {
  Comm world;
  SharedTempDir dir(world);
  GenerateOptions o;
  o.out = dir.path("inst.h5");
  o.n = 301;
  o.n_b = 257;
  o.d = 256;  // background |ip| rarely reaches 0.5 * 256 = 128 (8 sigma)
  o.k = 7;
  o.value = 0.5;
  o.seed = 99;
  run_generate(world, o);
  if (world.rank() == 0) {
    h5::File f = h5::File::open_read(o.out, nullptr);
    EXPECT_EQ(f.info("/A").dtype, h5::DType::Int8);
    for (int side : {0, 1}) {
      const auto got = f.read_all<float>(side == 0 ? "/A" : "/B");
      EXPECT_EQ(got, expected_rows(o, side)) << "side " << side;
    }
  }
  SolveOptions s;
  s.problem = {{o.out, "/A"}, DatasetRef{o.out, "/B"}, Mode::Binary, 0.5, false};
  s.out = dir.path("found.h5");
  run_solve(world, s);
  if (world.rank() == 0) {
    const auto want = read_truth(o.out);
    ASSERT_EQ(want.size(), 7u);
    for (const Pair& p : want) EXPECT_GE(p.ip, 128);
    EXPECT_TRUE(same_pairs(read_pairs_file(s.out), want));
  }
}

TEST(Generate, SelfJoinAndRealInstancesContainTheirTruth) {
  Comm world;
  SharedTempDir dir(world);
  for (Mode mode : {Mode::Binary, Mode::Real}) {
    GenerateOptions o;
    o.out = dir.path("self.h5");
    o.n = 150;
    o.d = 128;
    o.k = 5;
    o.mode = mode;
    o.value = mode == Mode::Binary ? 0.6 : 100.0;
    o.self_join = true;
    run_generate(world, o);
    if (world.rank() == 0) {
      h5::File f = h5::File::open_read(o.out, nullptr);
      EXPECT_FALSE(f.has_dataset("/B"));
      EXPECT_EQ(f.read_all<float>("/A"), expected_rows(o, 0));
    }
    SolveOptions s;
    s.problem = {{o.out, "/A"}, std::nullopt, mode, o.value, false};
    s.out = dir.path("self_found.h5");
    run_solve(world, s);
    if (world.rank() == 0) {
      const auto found = read_pairs_file(s.out);
      for (const Pair& t : read_truth(o.out)) {
        EXPECT_LT(t.i, t.j);
        const bool present = std::any_of(found.begin(), found.end(),
                                         [&](const Pair& p) { return p.i == t.i && p.j == t.j && p.ip == t.ip; });
        EXPECT_TRUE(present) << mode_name(mode) << " planted (" << t.i << ", " << t.j << ") not found";
      }
    }
  }
}

TEST(Generate, ImpossibleOptionsAreAgreedInputErrors) {
  Comm world;
  SharedTempDir dir(world);
  GenerateOptions o;
  o.out = dir.path("bad.h5");
  o.n = 10;
  o.d = 8;
  o.k = 11;  // more planted pairs than rows
  try {
    run_generate(world, o);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_NE(std::string(e.what()).find("--k"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(exists(o.out));
}
