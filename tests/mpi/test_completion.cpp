// Neighbourhood completion (completion.hpp) and the miss estimate (miss_estimate.hpp), end to end
// under MPI, on near-duplicate clusters where the repetitions alone lose pairs: several
// heavy pairs share a group pair and their random signs cancel.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/random.hpp"
#include "methods/sketch/recall/background.hpp"
#include "methods/sketch/recall/completion.hpp"
#include "mpi/fixtures.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

using Result = Solved;
constexpr auto solve = solve_and_read;

// Clusters of 2 to 40 rows and a block of 24 identical rows among 1536 (d = 256, members
// about 0.7 d apart in inner product, heavy at rho = 0.5), in A alone or in A and B.
std::string write_clusters(const Comm& world, const SharedTempDir& dir, bool self_join) {
  const std::int64_t n = 1536, d = 256;
  const std::vector<std::int64_t> sizes = {2, 2, 3, 3, 5, 8, 13, 21, 40};
  const std::string file = dir.path(self_join ? "clusters_self.h5" : "clusters.h5");
  write_dataset(world, file, "/A", {n, d}, clustered_signs(n, d, 11, 5, sizes, 0.08, 24), true);
  if (!self_join) write_dataset(world, file, "/B", {n, d}, clustered_signs(n, d, 12, 5, sizes, 0.08, 24));
  return file;
}

struct SketchCase {
  const char* name;
  SketchKind kind;
  std::int64_t group;
  std::optional<double> detect_threshold;
  double z;
};

// Settings at which one repetition loses pairs here (checked below, so the test can fail).
const SketchCase kCases[] = {{"linear 4x4, T_det 100", SketchKind::Linear, 4, 100.0, 0},
                             {"sign 5x5, z 1", SketchKind::Sign, 5, std::nullopt, 1.0}};

}  // namespace

TEST(Completion, EverySketchFindsEveryPairOnClusters) {
  Comm world;
  SharedTempDir dir(world);
  for (bool self_join : {false, true}) {
    const std::string file = write_clusters(world, dir, self_join);
    SolveOptions o;
    o.problem = {{file, "/A"}, std::nullopt, Mode::Binary, 0.5, false};
    if (!self_join) o.problem.b = DatasetRef{file, "/B"};
    o.method = Method::Brute;
    o.out = dir.path("brute.h5");
    const Result brute = solve(world, o);
    for (const SketchCase& c : kCases) {
      o.method = Method::Sketch;
      o.sketch.sketch = c.kind;
      o.sketch.group_a = o.sketch.group_b = c.group;
      o.sketch.detect_threshold = c.detect_threshold;
      o.sketch.z = c.z;
      o.sketch.tile_rows = 128;
      o.sketch.reps = 1;
      o.sketch.complete = false;
      o.out = dir.path("alone.h5");
      const Result alone = solve(world, o);
      o.sketch.complete = true;
      o.out = dir.path("completed.h5");
      const Result completed = solve(world, o);
      if (world.rank() == 0) {
        const std::string where = std::string(c.name) + (self_join ? ", self-join" : ", A x B");
        ASSERT_GT(brute.pairs.size(), 1000u) << where;
        // The instance is hard: the repetition alone loses pairs.
        EXPECT_LT(alone.pairs.size(), brute.pairs.size()) << where;
        EXPECT_FALSE(alone.parameters["miss_bounded"].get<bool>()) << where << ": clusters without completion";
        EXPECT_TRUE(same_pairs(completed.pairs, brute.pairs)) << where;
        // Completion found exactly what the repetition missed (same seed, same repetition).
        const auto missed = static_cast<std::int64_t>(brute.pairs.size() - alone.pairs.size());
        EXPECT_EQ(completed.parameters["found_by_completion"].get<std::int64_t>(), missed) << where;
        // The estimate of what the repetition missed is never below the truth; an absolute
        // detection threshold with one repetition has no model, and says so.
        if (c.detect_threshold) {
          EXPECT_FALSE(completed.parameters["miss_bounded"].get<bool>()) << where;
          EXPECT_TRUE(completed.parameters["missing_estimate"].is_null()) << where;
        } else {
          ASSERT_TRUE(completed.parameters["miss_bounded"].get<bool>()) << where;
          EXPECT_GE(completed.parameters["missing_before_completion_estimate"].get<double>(), double(missed)) << where;
        }
      }
    }
  }
}

// complete_neighbourhoods itself, on structures where one known pair must lead to all.
namespace {

// This rank's tile of `signs` (rows of d values) as the sketch solver holds it.
LocalRows<BitMatrix> my_rows(const Comm& world, const std::vector<std::int8_t>& signs, std::int64_t d,
                             const TiledRows& tiled) {
  const RowRange r = tiled.rows(world.rank());
  return {r, BitMatrix::pack(std::span(signs).subspan(r.begin * d, r.size() * d), r.size(), d)};
}

// Rows of `signs` at `at[0], at[1], ...` made a chain: each a copy of the one before with
// 48 of d = 256 coordinates flipped (inner product 160 with it, about 100 with the one two
// steps away), so at rho = 0.5 (threshold 128) the heavy pairs are exactly the links.
void make_chain(std::vector<std::int8_t>& signs, std::int64_t d, const std::vector<std::int64_t>& at) {
  RandomStream rng(9, {});
  for (std::size_t k = 1; k < at.size(); ++k) {
    std::vector<std::int8_t> row(signs.begin() + at[k - 1] * d, signs.begin() + at[k - 1] * d + d);
    std::vector<std::int64_t> coords(d);
    for (std::int64_t c = 0; c < d; ++c) coords[c] = c;
    for (std::int64_t c = 0; c < 48; ++c) {  // 48 distinct coordinates
      std::swap(coords[c], coords[c + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(d - c)))]);
      row[coords[c]] = static_cast<std::int8_t>(-row[coords[c]]);
    }
    std::copy(row.begin(), row.end(), signs.begin() + at[k] * d);
  }
}

std::vector<Pair> completed_from(const CompletionContext<BitMatrix>& ctx, const Pair& known, CompletionWork& work) {
  std::vector<Pair> pairs;
  if (ctx.tiled_a.owner(known.i) == ctx.comm.rank()) pairs.push_back(known);
  CompletedRows done(ctx.a.range, ctx.b.range);
  work = complete_neighbourhoods(ctx, done, pairs);
  std::vector<Pair> all = gather_answer(ctx.comm, pairs);
  sort_pairs(all);
  return all;
}

}  // namespace

TEST(Completion, OneKnownLinkLeadsAlongTheWholeChain) {
  Comm world;
  const std::int64_t n = 700, d = 256;
  std::vector<std::int8_t> signs = random_signs(n, d, 31);
  std::vector<std::int64_t> at;
  for (std::int64_t k = 0; k < 25; ++k) at.push_back((k * 263 + 17) % n);  // scattered over the ranks
  make_chain(signs, d, at);
  const Threshold t{128, false};
  const std::vector<Pair> want = naive_pairs(signs, static_cast<const std::vector<std::int8_t>*>(nullptr), d, t);
  const TiledRows tiled{n, 64, world.size()};
  const LocalRows<BitMatrix> rows = my_rows(world, signs, d, tiled);
  const CompletionContext<BitMatrix> ctx{world, rows, rows, tiled, tiled, true, t, 4096};  // small batches
  CompletionWork work;
  const std::int64_t i = std::min(at[12], at[13]), j = std::max(at[12], at[13]);
  const std::vector<Pair> got = completed_from(ctx, {i, j, 160}, work);
  if (world.rank() == 0) {
    ASSERT_EQ(want.size(), 24u) << "the heavy pairs are the chain's links";
    EXPECT_TRUE(same_pairs(got, want));
    EXPECT_EQ(work.new_pairs, 23);
    EXPECT_GE(work.rounds, 12) << "each round reaches one link further each way";
  }
}

TEST(Completion, AStarIsCompletedFromItsCentreInB) {
  Comm world;
  const std::int64_t n = 500, d = 256;
  const std::vector<std::int8_t> b = random_signs(n, d, 41);
  std::vector<std::int8_t> a = random_signs(n, d, 42);
  // Rows of A near-copies of row 7 of B: heavy with it, and with each other, but B has no
  // other row like them, so only completing row 7 of B finds them all.
  RandomStream rng(43, {});
  for (std::int64_t r = 3; r < n; r += 37)
    for (std::int64_t k = 0; k < d; ++k)
      a[r * d + k] = rng.below(10) == 0 ? static_cast<std::int8_t>(-b[7 * d + k]) : b[7 * d + k];
  const Threshold t{128, false};
  const std::vector<Pair> want = naive_pairs(a, &b, d, t);
  const TiledRows tiled_a{n, 64, world.size()}, tiled_b{n, 128, world.size()};
  const LocalRows<BitMatrix> rows_a = my_rows(world, a, d, tiled_a), rows_b = my_rows(world, b, d, tiled_b);
  const CompletionContext<BitMatrix> ctx{world, rows_a, rows_b, tiled_a, tiled_b, false, t};
  CompletionWork work;
  const std::vector<Pair> got = completed_from(ctx, want.at(0), work);
  if (world.rank() == 0) {
    ASSERT_EQ(want.size(), 14u);
    EXPECT_TRUE(same_pairs(got, want));
    EXPECT_EQ(work.rows, 2 + 13) << "the known pair's rows, then the star's other rows of A";
  }
}

// The probe that prices completion: exact counts at the two extremes, at any rank count.
TEST(Completion, ProbeCountsRowsWithHeavyPartners) {
  Comm world;
  const std::int64_t n = 900, d = 256;
  const TiledRows tiled{n, 64, world.size()};
  const Threshold t{128, false};
  const std::vector<std::int8_t> same = clustered_signs(n, d, 3, 4, {}, 0.0, n);  // every row one base row
  const LocalRows<BitMatrix> same_rows = my_rows(world, same, d, tiled);
  const NeighbourhoodProbe all = probe_neighbourhoods<BitMatrix>({world, same_rows, n, same_rows, n, true, t, 7});
  EXPECT_EQ(all.probed_a, probe_rows(n));
  EXPECT_EQ(all.partnered_a, all.probed_a);
  EXPECT_EQ(all.partners_a, all.probed_a * (n - 1)) << "a self-join leaves the row itself out";
  EXPECT_EQ(all.fraction_a(), 1.0);
  const std::vector<std::int8_t> a = random_signs(n, d, 5), b = random_signs(n, d, 6);
  const LocalRows<BitMatrix> rows_a = my_rows(world, a, d, tiled), rows_b = my_rows(world, b, d, tiled);
  const NeighbourhoodProbe none = probe_neighbourhoods<BitMatrix>({world, rows_a, n, rows_b, n, false, t, 7});
  EXPECT_EQ(none.probed_b, probe_rows(n));
  EXPECT_EQ(none.fraction_a() + none.fraction_b(), 0.0);
}
