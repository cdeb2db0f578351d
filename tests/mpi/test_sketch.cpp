// The sketch solver against brute force on planted instances at fixed seeds, at whatever
// rank count CTest runs this with (1 to 4). Groups, signs and the sampled m2 do not depend
// on the rank count, so each fixed-seed case gives the same answer at every rank count.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "io/generate.hpp"
#include "io/pair_file.hpp"
#include "methods/sketch/grid.hpp"
#include "methods/sketch/sign.hpp"
#include "mpi/fixtures.hpp"
#include "parallel/scalapack.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

struct SolveResult {
  std::vector<Pair> pairs;  // on rank 0
  nlohmann::json parameters, report;
  std::string grid, method;
};

GenerateOptions instance(const std::string& path, Mode mode, bool self_join) {
  GenerateOptions o;
  o.out = path;
  o.n = 700;
  o.n_b = self_join ? 0 : 500;
  o.d = mode == Mode::Binary ? 256 : 128;
  o.k = 8;
  o.mode = mode;
  o.value = mode == Mode::Binary ? 0.5 : 120.0;
  o.self_join = self_join;
  o.seed = 21;
  return o;
}

SketchOptions small_sketch() {
  SketchOptions s;
  s.group_a = s.group_b = 2;  // binary d = 256: sigma = sqrt(4 * 256) = 32, theta = 128 = 4 sigma
  s.z = 2;                    // T_det = 64: a heavy pair is missed in one repetition w.p. ~ Phi(-2)
  s.reps = 3;                 // ... so in all three w.p. ~ 1e-5 per pair
  s.tile_rows = 64;
  s.block_size = 16;
  return s;
}

SolveResult solve(const Comm& world, const GenerateOptions& g, const SharedTempDir& dir, const std::string& method,
                  const SketchOptions& sketch, double value) {
  SolveOptions o;
  o.problem = {{g.out, "/A"},
               g.self_join ? std::nullopt : std::optional<DatasetRef>(DatasetRef{g.out, "/B"}),
               g.mode,
               value,
               false};
  o.out = dir.path(method + ".h5");
  o.report = dir.path(method + ".json");
  o.method = parse_method(method);
  o.sketch = sketch;
  run_solve(world, o);
  SolveResult r;
  if (world.rank() == 0) {
    r.pairs = read_pairs_file(o.out);
    h5::File f = h5::File::open_read(o.out, nullptr);
    r.parameters = nlohmann::json::parse(f.string_attribute("parameters"));
    r.grid = f.string_attribute("grid");
    r.method = f.string_attribute("method");
    std::ifstream(o.report) >> r.report;
  }
  return r;
}

std::vector<GridShape> grids(int P) {
  std::vector<GridShape> out{squarest_grid(P)};
  if (P > 1) out.push_back({P, 1});
  if (P == 4) out.push_back({1, 4});
  return out;
}

}  // namespace

TEST(Sketch, EqualsBruteForceForEveryGridShapeAndTwoBlockSizes) {
  Comm world;
  SharedTempDir dir(world);
  const GenerateOptions g = instance(dir.path("bin.h5"), Mode::Binary, false);
  run_generate(world, g);
  const SolveResult brute = solve(world, g, dir, "brute", {}, g.value);
  if (world.rank() == 0) {
    ASSERT_GE(brute.pairs.size(), 8u) << "the planted pairs must be heavy";
  }
  for (const GridShape& shape : grids(world.size()))
    for (std::int64_t nb : {8, 32}) {
      SketchOptions s = small_sketch();
      s.grid = shape.str();
      s.block_size = nb;
      const SolveResult sketch = solve(world, g, dir, "sketch", s, g.value);
      if (world.rank() == 0) {
        EXPECT_TRUE(same_pairs(sketch.pairs, brute.pairs)) << "grid " << shape.str() << " block " << nb;
        EXPECT_EQ(sketch.grid, shape.str());
        EXPECT_EQ(sketch.method, "sketch");
        // Bound: m2 of random +-1 pairs is d = 256; 256 x 256 sampled pairs estimate it with
        // sd ~ 0.6% (ip^2 has variance ~ 2 d^2): within 5% always holds for this seed.
        EXPECT_NEAR(sketch.parameters["background_m2"].get<double>() / 256.0, 1.0, 0.05);
        EXPECT_DOUBLE_EQ(sketch.parameters["detect_threshold"].get<double>(),
                         128 - 2 * std::sqrt(4 * sketch.parameters["background_m2"].get<double>()));
      }
    }
}

TEST(Sketch, DifferentGroupSizesForAAndB) {
  Comm world;
  SharedTempDir dir(world);
  const GenerateOptions g = instance(dir.path("bin.h5"), Mode::Binary, false);
  run_generate(world, g);
  const SolveResult brute = solve(world, g, dir, "brute", {}, g.value);
  SketchOptions s = small_sketch();
  s.group_a = 4;
  s.group_b = 1;  // sigma = 32 again
  const SolveResult sketch = solve(world, g, dir, "sketch", s, g.value);
  if (world.rank() == 0) {
    EXPECT_TRUE(same_pairs(sketch.pairs, brute.pairs));
    EXPECT_EQ(sketch.report["repetitions"][0]["groups"][0].get<std::int64_t>(), 700 / 4);
    EXPECT_EQ(sketch.report["repetitions"][0]["groups"][1].get<std::int64_t>(), 500);
  }
}

TEST(Sketch, SelfJoinEqualsBruteForce) {
  Comm world;
  SharedTempDir dir(world);
  const GenerateOptions g = instance(dir.path("self.h5"), Mode::Binary, true);
  run_generate(world, g);
  const SolveResult brute = solve(world, g, dir, "brute", {}, g.value);
  const SolveResult sketch = solve(world, g, dir, "sketch", small_sketch(), g.value);
  if (world.rank() == 0) {
    ASSERT_GE(brute.pairs.size(), 8u);
    EXPECT_TRUE(same_pairs(sketch.pairs, brute.pairs));
    for (const Pair& p : sketch.pairs) EXPECT_LT(p.i, p.j);
  }
  // The diagonal entry C[G,G] holds the self terms sum |x_i|^2 = 2 * 256 = 512 on top of
  // 2<x_i,x_j> (sd ~ 32). With them subtracted exactly, a detection threshold of 400 lets
  // through almost nothing; without, all 350 diagonal entries would be candidates.
  SketchOptions high = small_sketch();
  high.reps = 1;
  high.detect_threshold = 400;
  const SolveResult strict = solve(world, g, dir, "sketch", high, g.value);
  if (world.rank() == 0) {
    EXPECT_LT(strict.report["repetitions"][0]["candidates"].get<std::int64_t>(), 10);
  }
}

TEST(Sketch, RealValuedInstanceEqualsBruteForce) {
  Comm world;
  SharedTempDir dir(world);
  const GenerateOptions g = instance(dir.path("real.h5"), Mode::Real, false);
  run_generate(world, g);
  SketchOptions s = small_sketch();  // d = 128: sigma = sqrt(4 * 128) = 22.6, tau = 120 = 5.3 sigma
  const SolveResult brute = solve(world, g, dir, "brute", {}, g.value);
  const SolveResult sketch = solve(world, g, dir, "sketch", s, g.value);
  if (world.rank() == 0) {
    ASSERT_GE(brute.pairs.size(), 8u);
    EXPECT_TRUE(same_pairs(sketch.pairs, brute.pairs));
  }
}

// Planted binary pairs have <a,b> = d - 2*floor(d(1-rho)/2) = 128 = rho*d exactly at
// rho = 0.5: found. At rho = 129/256 the threshold is 129 and the same pairs, one step
// (2) below it, are not reported.
TEST(Sketch, PairsAtTheThresholdAreFoundPairsOneStepBelowAreNot) {
  Comm world;
  SharedTempDir dir(world);
  const GenerateOptions g = instance(dir.path("edge.h5"), Mode::Binary, false);
  run_generate(world, g);
  const SolveResult at = solve(world, g, dir, "sketch", small_sketch(), 0.5);
  const SolveResult above = solve(world, g, dir, "sketch", small_sketch(), 129.0 / 256.0);
  const SolveResult above_brute = solve(world, g, dir, "brute", {}, 129.0 / 256.0);
  if (world.rank() == 0) {
    h5::File f = h5::File::open_read(g.out, nullptr);
    const auto truth_ip = f.read_all<double>("/truth_ip");
    ASSERT_EQ(truth_ip.size(), 8u);
    for (double ip : truth_ip) EXPECT_EQ(ip, 128.0);
    EXPECT_EQ(at.pairs.size(), 8u);
    for (const Pair& p : at.pairs) EXPECT_EQ(p.ip, 128.0);
    EXPECT_TRUE(above.pairs.empty());
    EXPECT_TRUE(same_pairs(above.pairs, above_brute.pairs));
  }
}

// The product stage holds one panel of C at a time: with a tiny panel budget the panels
// are one block column per process column, and no rank ever allocates more than that.
TEST(Sketch, NeverHoldsTheWholeProductMatrix) {
  Comm world;
  SharedTempDir dir(world);
  const GenerateOptions g = instance(dir.path("mem.h5"), Mode::Binary, false);
  run_generate(world, g);
  SketchOptions s = small_sketch();
  s.reps = 1;
  s.panel_mib = 0.001;
  const SolveResult brute = solve(world, g, dir, "brute", {}, g.value);
  const SolveResult sketch = solve(world, g, dir, "sketch", s, g.value);
  if (world.rank() == 0) {
    const std::int64_t G_A = 350, G_B = 250;
    const GridShape shape = parse_grid(sketch.grid, world.size());
    EXPECT_EQ(shape, product_grid(world.size(), G_A, G_B, s.block_size, 1)) << "a panel budget of one block column";
    EXPECT_EQ(sketch.report["grid"], sketch.grid);
    const std::int64_t one_panel = block_cyclic_count(G_A, s.block_size, 0, shape.rows) * s.block_size;
    EXPECT_EQ(sketch.parameters["c_elements"].get<std::int64_t>(), G_A * G_B);
    EXPECT_LE(sketch.parameters["largest_panel_elements"].get<std::int64_t>(), one_panel);
    EXPECT_LT(sketch.parameters["largest_panel_elements"].get<std::int64_t>() * world.size(), G_A * G_B);
    EXPECT_EQ(sketch.report["repetitions"][0]["panels"].get<int>(),
              (G_B + s.block_size * shape.cols - 1) / (s.block_size * shape.cols));
    EXPECT_TRUE(same_pairs(sketch.pairs, brute.pairs));
  }
}

// Degree-2 amplification: C sums <a,b>^2, and the same pairs come out as with brute force,
// for A x B and for a self-join (whose diagonal self terms are |x|^4).
TEST(Sketch, DegreeTwoEqualsBruteForce) {
  Comm world;
  SharedTempDir dir(world);
  for (bool self : {false, true}) {
    GenerateOptions g = instance(dir.path(self ? "deg2_self.h5" : "deg2.h5"), Mode::Binary, self);
    g.d = 48;
    g.value = 0.75;  // theta = 36; background ip sd ~ 7
    run_generate(world, g);
    SketchOptions s = small_sketch();
    s.degree = 2;
    s.z = 2;
    const SolveResult brute = solve(world, g, dir, "brute", {}, g.value);
    const SolveResult sketch = solve(world, g, dir, "sketch", s, g.value);
    if (world.rank() == 0) {
      ASSERT_GE(brute.pairs.size(), 8u);
      EXPECT_TRUE(same_pairs(sketch.pairs, brute.pairs)) << (self ? "self-join" : "A x B");
      EXPECT_EQ(sketch.parameters["degree"].get<int>(), 2);
      // T_det = theta^2 - z * sqrt(g_A g_B m4) with m4 sampled.
      EXPECT_DOUBLE_EQ(sketch.parameters["detect_threshold"].get<double>(),
                       36.0 * 36.0 - 2 * std::sqrt(4 * sketch.report["parameters"]["background_m4"].get<double>()));
    }
  }
}

// Sign sketches (binary data): majority bits per group compared by the exact kernel
// around the ring. At d = 1024, rho = 0.5 (theta = 512) and background sd sqrt(d) = 32,
// groups 3x3 carry signal gain(3)^2 * 512 = 128 = 4 sd and groups 5x1 carry
// gain(5) * 512 = 192 = 6 sd. With z = 2 one repetition misses a planted pair with
// probability about Phi(-2) = 0.023, three repetitions about 1e-5: the planted pairs are
// all found at these fixed seeds, for A x B, unequal groups and a self-join.
TEST(Sketch, SignSketchEqualsBruteForce) {
  Comm world;
  SharedTempDir dir(world);
  for (bool self : {false, true}) {
    GenerateOptions g = instance(dir.path(self ? "sign_self.h5" : "sign.h5"), Mode::Binary, self);
    g.d = 1024;
    run_generate(world, g);
    const SolveResult brute = solve(world, g, dir, "brute", {}, g.value);
    for (auto [ga, gb] : {std::pair<std::int64_t, std::int64_t>{3, 3}, {5, 1}}) {
      if (self && ga != gb) continue;
      SketchOptions s = small_sketch();
      s.sketch = SketchKind::Sign;
      s.group_a = ga;
      s.group_b = gb;
      s.tile_rows = 100;  // groups of 3 leave a short group of 1 at each tile's end
      const SolveResult sketch = solve(world, g, dir, "sketch", s, g.value);
      if (world.rank() == 0) {
        ASSERT_GE(brute.pairs.size(), 8u);
        EXPECT_TRUE(same_pairs(sketch.pairs, brute.pairs)) << (self ? "self-join " : "A x B ") << ga << "x" << gb;
        EXPECT_EQ(sketch.parameters["sketch"].get<std::string>(), "sign");
        const double m2 = sketch.parameters["sign_sketch_m2"].get<double>();
        // Bound: random rows give sketch m2 = d = 1024; ~256 x 256 sampled sketch pairs
        // estimate it within 10% (sd ~ 2%).
        EXPECT_NEAR(m2 / 1024.0, 1.0, 0.1);
        EXPECT_DOUBLE_EQ(sketch.parameters["detect_threshold"].get<double>(),
                         majority_gain(ga) * majority_gain(gb) * 512 - 2 * std::sqrt(m2));
        // Candidates: entries pass with probability 2 Phi(-T/sigma) (T = 2 sd for 3x3,
        // 4 sd for 5x1); a self-join adds each group against itself. 1.5x that plus 20 bounds
        // the count at these seeds.
        const double G_A = sketch.report["repetitions"][0]["groups"][0].get<double>();
        const double G_B = sketch.report["repetitions"][0]["groups"][1].get<double>();
        const double z_false = sketch.parameters["detect_threshold"].get<double>() / std::sqrt(m2);
        const double expected =
            (self ? G_A * (G_A - 1) / 2 : G_A * G_B) * std::erfc(z_false / std::sqrt(2.0)) + (self ? G_A : 0);
        for (const auto& rep : sketch.report["repetitions"])
          EXPECT_LT(rep["candidates"].get<double>(), 1.5 * expected + 20) << "expected about " << expected;
      }
    }
  }
}

TEST(Sketch, SignSketchOfRealDataIsAnAgreedInputError) {
  Comm world;
  SharedTempDir dir(world);
  const GenerateOptions g = instance(dir.path("real_sign.h5"), Mode::Real, false);
  run_generate(world, g);
  SketchOptions s = small_sketch();
  s.sketch = SketchKind::Sign;
  try {
    solve(world, g, dir, "sketch", s, g.value);
    ADD_FAILURE() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("binary"), std::string::npos) << e.what();
  }
}

// In a self-join the sign sketch never compares a group with itself: those pairs come from
// verifying every group against itself. With one group holding every row and a detection
// threshold nothing reaches, that path alone must find all of brute force's pairs.
TEST(Sketch, SignSketchSelfJoinVerifiesPairsInsideEachGroup) {
  Comm world;
  SharedTempDir dir(world);
  GenerateOptions g = instance(dir.path("sign_one_group.h5"), Mode::Binary, true);
  g.n = 300;
  run_generate(world, g);
  const SolveResult brute = solve(world, g, dir, "brute", {}, g.value);
  SketchOptions s = small_sketch();
  s.sketch = SketchKind::Sign;
  s.group_a = s.group_b = 300;
  s.tile_rows = 300;
  s.reps = 1;
  s.detect_threshold = 1e9;
  const SolveResult sketch = solve(world, g, dir, "sketch", s, g.value);
  if (world.rank() == 0) {
    ASSERT_GE(brute.pairs.size(), 8u);
    EXPECT_TRUE(same_pairs(sketch.pairs, brute.pairs));
    EXPECT_EQ(sketch.report["repetitions"][0]["candidates"].get<std::int64_t>(), 0);
  }
}
