// --components: each row's smallest row index in its connected component of the heavy-pair
// graph, against one union-find over the pairs: the merge across ranks alone (a long path
// in shuffled order needs many hooking rounds), and end to end from the output file, with
// exact copies, and with a spilled answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <numeric>

#include "answer/components.hpp"
#include "core/random.hpp"
#include "io/hdf5.hpp"
#include "mpi/fixtures.hpp"
#include "solve/solve_answer.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

// One union-find over every pair, the smallest row as each root.
std::vector<std::int64_t> naive_components(std::int64_t n, const std::vector<Pair>& pairs) {
  std::vector<std::int64_t> up(n);
  std::iota(up.begin(), up.end(), 0);
  const auto find = [&](std::int64_t x) {
    while (up[x] != x) x = up[x] = up[up[x]];
    return x;
  };
  for (const Pair& p : pairs) {
    const std::int64_t a = find(p.i), b = find(p.j);
    up[std::max(a, b)] = std::min(a, b);
  }
  std::vector<std::int64_t> label(n);
  for (std::int64_t x = 0; x < n; ++x) label[x] = find(x);
  return label;
}

// Components of two or more rows, and the rows that are not their component's smallest.
std::pair<std::int64_t, std::int64_t> groups_and_dropped(const std::vector<std::int64_t>& label) {
  std::vector<std::int64_t> roots;
  std::int64_t dropped = 0;
  for (std::size_t x = 0; x < label.size(); ++x)
    if (label[x] != static_cast<std::int64_t>(x)) {
      ++dropped;
      roots.push_back(label[x]);
    }
  std::sort(roots.begin(), roots.end());
  return {std::unique(roots.begin(), roots.end()) - roots.begin(), dropped};
}

}  // namespace

TEST(Components, MergingEveryRanksPairsEqualsOneUnionFind) {
  Comm world;
  const std::int64_t n = 6000;
  RandomStream rng(31, {});
  std::vector<Pair> all;
  // A path through 3000 rows in shuffled order: each rank holds a scattered part of it.
  std::vector<std::int64_t> order(3000);
  std::iota(order.begin(), order.end(), 2000);
  for (std::size_t k = order.size() - 1; k > 0; --k) std::swap(order[k], order[rng.below(k + 1)]);
  for (std::size_t k = 0; k + 1 < order.size(); ++k) all.push_back({order[k], order[k + 1], 1.0});
  // Random pairs among the first 2000 rows: many small components and a few large ones.
  for (int k = 0; k < 1500; ++k) {
    const auto i = static_cast<std::int64_t>(rng.below(2000)), j = static_cast<std::int64_t>(rng.below(2000));
    if (i != j) all.push_back({std::min(i, j), std::max(i, j), 1.0});
  }
  ComponentBuilder builder(n);
  std::vector<Pair> mine;
  for (std::size_t k = 0; k < all.size(); ++k)
    if (static_cast<int>(k % world.size()) == world.rank() || k % 7 == 0) mine.push_back(all[k]);  // some on every rank
  builder.add(mine.data(), mine.size());
  const ComponentLabels got = builder.finish(world, MemoryBudget::of(world, 0));
  EXPECT_EQ(got.rows, row_block(n, world.size(), world.rank()));
  std::vector<std::int64_t> labels;
  boost::mpi::gather(world, got.labels.data(), static_cast<int>(got.labels.size()), labels, 0);
  if (world.rank() != 0) return;
  const std::vector<std::int64_t> want = naive_components(n, all);
  EXPECT_EQ(labels, want);
  EXPECT_EQ(std::make_pair(got.groups, got.rows_dropped), groups_and_dropped(want));
  EXPECT_EQ(want[order.back()], 2000);  // the whole path under its smallest row
}

TEST(Components, TheOutputsComponentsAreThoseOfItsPairsWithCopiesAndSpilled) {
  Comm world;
  SharedTempDir dir(world);
  const std::int64_t n = 1500, d = 64;
  // Near-duplicate clusters, 30 rows that are one base row exactly (copies, collapsed and
  // expanded), and a background that pairs with nothing at rho 0.6.
  const std::vector<std::int8_t> rows = clustered_signs(n, d, 41, 42, {2, 3, 5, 8, 13, 40}, 0.08, 30);
  const std::string in = dir.path("in.h5");
  write_dataset(world, in, "/A", {n, d}, rows, true);
  for (const bool spill : {false, true}) {
    const ScopedEnv lowered("HIPI_TEST_SPILL_PAIRS", spill ? "50" : "0");
    SolveOptions o = self_join_options(in, Mode::Binary, 0.6, Method::Brute, dir.path("out.h5"));
    o.components = true;
    const test::Solved got = solve_and_read(world, o);
    if (world.rank() != 0) continue;
    EXPECT_EQ(got.parameters.contains("spilled"), spill);
    EXPECT_TRUE(got.parameters.contains("duplicate_rows"));
    h5::File file = h5::File::open_read(dir.path("out.h5"), nullptr);
    const std::vector<std::int64_t> labels = file.read_all<std::int64_t>("/components");
    const std::vector<std::int64_t> want = naive_components(n, got.pairs);
    EXPECT_EQ(labels, want) << (spill ? "spilled" : "in memory");
    const auto [groups, dropped] = groups_and_dropped(want);
    EXPECT_GE(groups, 6);
    EXPECT_EQ(file.dataset_int_attribute("/components", "groups"), groups);
    EXPECT_EQ(file.dataset_int_attribute("/components", "rows_dropped"), dropped);
  }
}

TEST(Components, NeedASelfJoin) {
  Comm world;
  SolveOptions o = self_join_options("x.h5", Mode::Binary, 0.5, Method::Brute, "out.h5");
  o.components = true;
  EXPECT_NO_THROW(check_solve_options(o, world.size()));
  o.problem.b = DatasetRef{"x.h5", "/B"};
  EXPECT_THROW(check_solve_options(o, world.size()), InputError);
}

// What --components holds past the labels is priced before the pairs are added: the
// union-find's map of parents and the merge's edges, about 190 bytes a row the pairs touch
// (at most twice the pairs, at most every row). Of 2 * 10^6 rows, with a budget 128 MiB
// above what the rank holds, 10^5 pairs fit (38 MB and the labels' 32 MB at most) and 10^6
// are refused (2 * 10^6 rows, 380 MB), on every rank alike.
TEST(Components, TheUnionFindIsPricedBeforeThePairsAreAdded) {
  Comm world;
  const ComponentBuilder builder(2000000);
  MemoryBudget budget = MemoryBudget::of(world, 0);
  budget.bytes = resident_bytes() + (std::int64_t{128} << 20);
  EXPECT_NO_THROW(builder.check_fits(world, budget, 100000));
  try {
    builder.check_fits(world, budget, 1000000);
    ADD_FAILURE() << "10^6 pairs' union-find fitted in 128 MiB";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("the components' union-find over up to 2000000 rows"), std::string::npos)
        << e.what();
  }
  // A small problem's rows bound it, whatever the pairs.
  const ComponentBuilder small(1000);
  EXPECT_NO_THROW(small.check_fits(world, budget, 1000000000));
}
