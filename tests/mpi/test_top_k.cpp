// Top-k (--top-k K): each row's K best against a naive answer from the reference kernel with
// the tie rule (score descending, then the smaller j), pair for pair and value for value, at
// every rank count the suite runs (1-4): the same file whatever the ranks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "answer/checkpoint.hpp"
#include "answer/top_k.hpp"
#include "fixtures.hpp"
#include "hipi/error.hpp"
#include "io/pair_file.hpp"
#include "kernels/exact.hpp"
#include "methods/brute/top_k_ring.hpp"

namespace hipi::test {

namespace {

// Rows as the kernels hold them.
RealMatrix real_rows(const std::vector<float>& v, std::int64_t n, std::int64_t d) {
  RealMatrix m(n, d);
  for (std::int64_t r = 0; r < n; ++r) std::copy(v.begin() + r * d, v.begin() + (r + 1) * d, m.row(r));
  return m;
}

// The naive answer: every pair by the reference kernel, each row's K best by the tie rule,
// only those reaching `floor` (the threshold, or -infinity), j != i in a self-join; sorted
// in the output order.
template <class Matrix>
std::vector<Pair> naive_top_k(const Matrix& a, const Matrix& b, bool self_join, const Threshold& t, std::int64_t k) {
  std::vector<double> self_a, self_b;
  if constexpr (std::is_same_v<Matrix, RealMatrix>)
    if (t.cosine) self_a = row_self_products(a, {0, a.rows()}), self_b = row_self_products(b, {0, b.rows()});
  std::vector<Pair> out;
  for (std::int64_t i = 0; i < a.rows(); ++i) {
    std::vector<Pair> row;
    for (std::int64_t j = 0; j < b.rows(); ++j) {
      if (self_join && i == j) continue;
      const double ip = static_cast<double>(inner_product(a, i, b, j));
      const double v = t.cosine ? t.value(ip, self_a[i], self_b[j]) : ip;
      if ((t.abs ? std::fabs(v) : v) >= t.theta) row.push_back({i, j, v});
    }
    sort_top_k(row, t.abs);
    row.resize(std::min<std::size_t>(row.size(), static_cast<std::size_t>(k)));
    out.insert(out.end(), row.begin(), row.end());
  }
  return out;
}

struct KnnFile {
  std::vector<Pair> pairs;
  std::vector<std::int64_t> indices;
  std::vector<double> scores;
  std::int64_t top_k = 0;
};

// Collective: solves `o` and reads the file back on rank 0.
KnnFile solve_knn(const Comm& comm, const SolveOptions& o) {
  run_solve(comm, o);
  KnnFile r;
  if (comm.rank() == 0) {
    r.pairs = read_pairs_file(o.out);
    h5::File f = h5::File::open_read(o.out, nullptr);
    r.indices = f.read_all<std::int64_t>("/knn_indices");
    r.scores = f.read_all<double>("/knn_scores");
    r.top_k = f.int_attribute("top_k");
  }
  return r;
}

// The table the file must hold beside `want` (sorted in the output order).
void expect_table(const KnnFile& got, const std::vector<Pair>& want, std::int64_t n_a, std::int64_t k, bool abs) {
  std::vector<std::int64_t> indices(static_cast<std::size_t>(n_a * k), -1);
  std::vector<double> scores(static_cast<std::size_t>(n_a * k), -std::numeric_limits<double>::infinity());
  std::int64_t row = -1, at = 0;
  for (const Pair& p : want) {
    if (p.i != row) row = p.i, at = 0;
    indices[static_cast<std::size_t>(p.i * k + at)] = p.j;
    scores[static_cast<std::size_t>(p.i * k + at++)] = abs ? std::fabs(p.ip) : p.ip;
  }
  EXPECT_EQ(got.top_k, k);
  EXPECT_EQ(got.indices, indices);
  EXPECT_EQ(got.scores, scores);
}

struct Case {
  std::string name;
  std::vector<float> a, b;  // b empty: self-join
  std::int64_t d = 0;
  std::int64_t k = 10;
  bool cosine = false, abs = false;
  std::optional<double> tau;
};

std::vector<float> scaled_columns(std::vector<float> v, std::int64_t d) {
  for (std::size_t t = 0; t < v.size(); ++t) v[t] *= static_cast<float>(std::pow(0.8, double(t % d)));
  return v;
}

// Small integers: many exact ties at every rank of a row's list.
std::vector<float> small_integers(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  std::vector<float> v = random_normals(n, d, seed);
  for (float& x : v) x = std::round(x);
  return v;
}

// Clusters, each row a centre plus small noise, and some rows exact copies of others.
std::vector<float> clustered(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  std::vector<float> centres = random_normals(20, d, seed), noise = random_normals(n, d, seed + 1), v(n * d);
  for (std::int64_t r = 0; r < n; ++r)
    for (std::int64_t t = 0; t < d; ++t) v[r * d + t] = centres[(r % 20) * d + t] + 0.1f * noise[r * d + t];
  for (std::int64_t r = 0; r + 7 < n; r += 50)
    std::copy(v.begin() + r * d, v.begin() + (r + 1) * d, v.begin() + (r + 7) * d);
  return v;
}

Case make(std::string name, std::vector<float> a, std::vector<float> b, std::int64_t d, std::int64_t k = 10,
          bool cosine = false, bool abs = false, std::optional<double> tau = std::nullopt) {
  return {std::move(name), std::move(a), std::move(b), d, k, cosine, abs, tau};
}

std::vector<Case> real_cases() {
  const std::int64_t d = 24;
  std::vector<Case> c;
  c.push_back(make("gaussian_self", random_normals(700, d, 1), {}, d));
  c.push_back(make("gaussian_a_x_b", random_normals(500, d, 2), random_normals(650, d, 3), d, 7));
  c.push_back(make("clustered_cosine_self", clustered(800, d, 4), {}, d, 10, true));
  c.push_back(make("anisotropic_abs", scaled_columns(random_normals(600, d, 5), d), {}, d, 5, false, true));
  c.push_back(make("integer_ties_self", small_integers(600, d, 6), {}, d, 12));
  c.push_back(make("threshold_self", random_normals(600, d, 7), {}, d, 10, false, false, 6.0));
  c.push_back(make("cosine_threshold_a_x_b", clustered(400, d, 8), clustered(300, d, 9), d, 10, true, false, 0.9));
  c.push_back(make("k_past_rows", random_normals(120, d, 10), random_normals(90, d, 11), d, 100));
  c.push_back(make("k_one_self", clustered(700, d, 12), {}, d, 1, true));
  // Fewer rows than ranks: some ranks hold no row of A (the prefix filter crashed there).
  c.push_back(make("three_rows_a_x_b", random_normals(3, d, 13), random_normals(37, d, 14), d, 5));
  c.push_back(make("two_rows_self", random_normals(2, d, 15), {}, d, 3, true));
  return c;
}

}  // namespace

class TopKReal : public ::testing::TestWithParam<Case> {};

TEST_P(TopKReal, EqualsTheNaiveAnswerForEveryMethodAndKernel) {
  Comm world;
  const Case& c = GetParam();
  SharedTempDir dir(world);
  const std::string file = dir.path("in.h5");
  const std::int64_t n_a = static_cast<std::int64_t>(c.a.size()) / c.d;
  const std::int64_t n_b = c.b.empty() ? n_a : static_cast<std::int64_t>(c.b.size()) / c.d;
  write_dataset<float>(world, file, "/A", {n_a, c.d}, c.a, true);
  if (!c.b.empty()) write_dataset<float>(world, file, "/B", {n_b, c.d}, c.b);
  const RealMatrix a = real_rows(c.a, n_a, c.d), b = c.b.empty() ? a : real_rows(c.b, n_b, c.d);
  Threshold t{c.tau.value_or(-std::numeric_limits<double>::infinity()), c.abs, c.cosine};
  const std::vector<Pair> want = naive_top_k(a, b, c.b.empty(), t, c.k);
  for (const Method method : {Method::Brute, Method::Prefix, Method::Auto})
    for (const RealKernel kernel : {RealKernel::GemmFilter, RealKernel::Reference}) {
      use_real_kernel(kernel);
      SolveOptions o = self_join_options(file, Mode::Real, c.tau.value_or(0), method, dir.path("out.h5"));
      if (!c.b.empty()) o.problem.b = DatasetRef{file, "/B"};
      o.problem.top_k = c.k;
      o.problem.any_score = !c.tau;
      o.problem.cosine = c.cosine;
      o.problem.abs = c.abs;
      o.profile_cache = false;
      const KnnFile got = solve_knn(world, o);
      use_real_kernel(RealKernel::GemmFilter);
      if (world.rank() != 0) continue;
      const std::string what = method_name(method) + std::string(kernel == RealKernel::Reference ? " reference" : "");
      EXPECT_TRUE(same_pairs(got.pairs, want)) << what;
      // same_pairs compares (i, j) order and values; the output order is by score.
      EXPECT_EQ(got.pairs.size(), want.size()) << what;
      expect_table(got, want, n_a, c.k, c.abs);
    }
}

INSTANTIATE_TEST_SUITE_P(Cases, TopKReal, ::testing::ValuesIn(real_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(TopKBinary, EqualsTheNaiveAnswerWithItsManyTies) {
  Comm world;
  const std::int64_t n = 900, d = 96;
  SharedTempDir dir(world);
  const std::string file = dir.path("in.h5");
  // Clusters of near-copies and exact copies among random rows: many tied scores.
  const auto a = clustered_signs(n, d, 31, 32, {40, 30, 20, 20}, 0.1, 25);
  auto b = random_signs(700, d, 33, &a);
  for (std::int64_t r = 0; r < 700; r += 7)  // negated near-copies: heavy only with --abs
    for (std::int64_t t = 0; t < d; ++t) b[r * d + t] = static_cast<std::int8_t>(-b[r * d + t]);
  write_dataset<std::int8_t>(world, file, "/A", {n, d}, a, true);
  write_dataset<std::int8_t>(world, file, "/B", {700, d}, b);
  const BitMatrix ma = BitMatrix::pack(std::span(a), n, d), mb = BitMatrix::pack(std::span(b), 700, d);
  for (const bool self : {true, false})
    for (const std::int64_t k : {1, 10, 50})
      for (const std::optional<double> rho : {std::optional<double>(), std::optional<double>(0.25)}) {
        // --abs at one K: rows far apart (-d) rank with rows alike (+d).
        const bool abs = k == 10;
        Threshold t{rho ? std::ceil(*rho * d - 1e-9) : -std::numeric_limits<double>::infinity(), abs, false};
        const std::vector<Pair> want = naive_top_k(ma, self ? ma : mb, self, t, k);
        SolveOptions o = self_join_options(file, Mode::Binary, rho.value_or(0), Method::Auto, dir.path("out.h5"));
        if (!self) o.problem.b = DatasetRef{file, "/B"};
        o.problem.top_k = k;
        o.problem.any_score = !rho;
        o.problem.abs = abs;
        o.profile_cache = false;
        const KnnFile got = solve_knn(world, o);
        if (world.rank() != 0) continue;
        EXPECT_TRUE(same_pairs(got.pairs, want)) << (self ? "self-join" : "A x B") << ", k " << k;
        expect_table(got, want, n, k, abs);
      }
}

TEST(TopKRing, StoppingAtAnyUnitAndResumingGivesTheUninterruptedAnswer) {
  Comm world;
  const std::int64_t n = 3000, d = 64, k = 8;
  const auto signs = random_signs(n, d, 41), other = random_signs(n, d, 42);
  const RowRange mine = row_block(n, world.size(), world.rank());
  const auto block = [&](const std::vector<std::int8_t>& v) {
    return LocalRows<BitMatrix>{mine,
                                BitMatrix::pack(std::span(v).subspan(mine.begin * d, mine.size() * d), mine.size(), d)};
  };
  const LocalRows<BitMatrix> a = block(signs), b = block(other);
  const Threshold t{-std::numeric_limits<double>::infinity(), false, false};
  for (const bool self : {true, false}) {
    const auto run = [&](BruteSchedule s) {
      s.unit_products = 2e4;  // several chunks a step
      s.saves = true;
      return top_k_ring(world, a, self ? nullptr : &b, t, {k, t.theta}, std::move(s));
    };
    std::int64_t total = 0;
    BruteSchedule count;
    count.at_boundary = [&](std::int64_t, std::int64_t all, std::vector<Pair>&) { total = all; };
    const std::vector<Pair> full = gather_answer(world, run(std::move(count)));
    ASSERT_GE(total, 2 * (self ? world.size() / 2 + 1 : world.size())) << "want several chunks per step";
    for (std::int64_t stop_at = 1; stop_at < total; ++stop_at) {
      std::vector<Pair> saved;
      BruteSchedule first;
      first.at_boundary = [&](std::int64_t done, std::int64_t, std::vector<Pair>& held) {
        if (done < stop_at) return;
        saved = held;
        throw StoppedError("stop", /*collective=*/true);
      };
      EXPECT_THROW(run(std::move(first)), StoppedError);
      // A checkpoint hands its pairs back in even shares, not to the ranks that saved them:
      // here all of them to the last rank.
      std::vector<Pair> all = all_gather_vector(world, saved);
      BruteSchedule resume;
      resume.skip_units = stop_at;
      if (world.rank() == world.size() - 1) resume.resumed_pairs = all;
      EXPECT_EQ(gather_answer(world, run(std::move(resume))), full)
          << (self ? "self-join" : "A x B") << ", stopped after unit " << stop_at;
    }
  }
}

TEST(TopKLists, KeepTheKBestWithTiesToTheSmallerJInAnyOfferOrder) {
  const std::int64_t k = 3;
  std::vector<Pair> offers{{0, 5, 2.0}, {0, 9, 3.0}, {0, 1, 2.0}, {0, 4, 3.0}, {0, 2, 1.0}, {0, 7, 2.0}};
  std::vector<Pair> want{{0, 4, 3.0}, {0, 9, 3.0}, {0, 1, 2.0}};
  std::sort(offers.begin(), offers.end(), [](const Pair& x, const Pair& y) { return x.j < y.j; });
  do {
    TopKLists lists({0, 1}, k, -std::numeric_limits<double>::infinity(), false);
    for (const Pair& p : offers) lists.offer(0, p.j, p.ip);
    std::vector<Pair> got = lists.pairs();
    sort_top_k(got, false);
    ASSERT_EQ(got, want);
    EXPECT_EQ(lists.floor(0), 2.0);
  } while (std::next_permutation(offers.begin(), offers.end(), [](const Pair& x, const Pair& y) { return x.j < y.j; }));
  TopKLists nan_and_floor({10, 11}, 2, 1.5, true);
  nan_and_floor.offer(0, 1, std::numeric_limits<double>::quiet_NaN());
  nan_and_floor.offer(0, 2, -1.0);  // |value| 1 is below the floor 1.5
  nan_and_floor.offer(0, 3, -2.0);
  EXPECT_EQ(nan_and_floor.pairs(), (std::vector<Pair>{{10, 3, -2.0}}));
}

TEST(TopKOptions, BadKIsAnInputError) {
  Problem p;
  p.mode = Mode::Real;
  p.any_score = true;
  for (const std::int64_t k : {0, -1}) {
    p.top_k = k;
    EXPECT_THROW(p.check_threshold(), InputError) << k;
  }
  p.top_k = 5;
  EXPECT_NO_THROW(p.check_threshold());
}

}  // namespace hipi::test
