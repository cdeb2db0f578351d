// Sparse inputs and the sparse join (methods/sparse/), at whatever rank count this runs with:
// the answer equals a naive float64 product of the sparse rows (self-join, A x B, --abs,
// signed values, --cosine, empty rows, rows of one entry, a feature in every row), and the
// same bits as brute force on the densified rows; every malformed CSR group is an agreed
// input error naming it; auto chooses the sparse join where densifying cannot fit.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>

#include "core/random.hpp"
#include "io/hdf5.hpp"
#include "io/input.hpp"
#include "io/sparse_input.hpp"
#include "mpi/fixtures.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

// A sparse matrix as the file holds it.
struct Csr {
  std::int64_t n = 0, d = 0;
  std::vector<std::int64_t> indptr{0};
  std::vector<std::int32_t> indices;
  std::vector<float> data;
};

// Rows of about 12 signed entries over `d` features, frequent features more likely (as words
// are): every 37th row empty, every 41st a single entry, feature 0 in every other row,
// rows 60-99 near-copies of rows 0-39 (heavy pairs to find) and rows 150-159 exact copies of
// rows 0-9 (collapsed before the join, expanded in the answer).
Csr random_csr(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  RandomStream rng(seed, {});
  Csr m;
  m.n = n;
  m.d = d;
  std::vector<std::vector<std::pair<std::int32_t, float>>> rows(static_cast<std::size_t>(n));
  for (std::int64_t r = 0; r < n; ++r) {
    auto& row = rows[r];
    if (r % 37 == 36) continue;
    if (r % 41 == 40) {
      row.emplace_back(static_cast<std::int32_t>(rng.below(static_cast<std::uint64_t>(d))), 1.5f);
      continue;
    }
    if (r >= 150 && r < 160 && r < n) {
      row = rows[r - 150];
      continue;
    }
    if (r >= 60 && r < 100 && !rows[r - 60].empty()) {
      row = rows[r - 60];
      for (auto& [f, v] : row) v = static_cast<float>(v * (1 + 0.05 * rng.uniform()));
      row.emplace_back(static_cast<std::int32_t>(d - 1 - r % 7), 0.1f);
    } else {
      row.emplace_back(0, static_cast<float>(rng.uniform() - 0.3));
      for (int k = 0; k < 12; ++k) {
        const double u = rng.uniform();
        const auto f = static_cast<std::int32_t>(1 + static_cast<std::int64_t>(u * u * u * double(d - 9)));
        row.emplace_back(f, static_cast<float>(2 * rng.uniform() - 1));
      }
    }
    std::sort(row.begin(), row.end());
    row.erase(std::unique(row.begin(), row.end(), [](auto& x, auto& y) { return x.first == y.first; }), row.end());
  }
  for (const auto& row : rows) {
    for (const auto& [f, v] : row) {
      m.indices.push_back(f);
      m.data.push_back(v);
    }
    m.indptr.push_back(static_cast<std::int64_t>(m.indices.size()));
  }
  return m;
}

// Rank 0 writes `m` as a CSR group (int64 indptr, int32 indices, float32 data).
void write_csr(const Comm& comm, const std::string& file, const std::string& group, const Csr& m, bool create,
               const std::function<void(h5::File&)>& spoil = {}) {
  agree(comm, [&] {
    if (comm.rank() != 0) return;
    h5::File f = create ? h5::File::create(file, nullptr) : h5::File::open_write(file, nullptr);
    f.write<std::int64_t>(group + "/indptr", {m.n + 1}, m.indptr);
    f.write<std::int32_t>(group + "/indices", {static_cast<std::int64_t>(m.indices.size())}, m.indices);
    f.write<float>(group + "/data", {static_cast<std::int64_t>(m.data.size())}, m.data);
    f.set_object_attribute(group, "encoding-type", "csr_matrix");
    f.set_object_attribute(group, "shape", std::vector<std::int64_t>{m.n, m.d});
    if (spoil) spoil(f);
    f.close();
  });
}

std::vector<double> dense_row(const Csr& m, std::int64_t r) {
  std::vector<double> x(static_cast<std::size_t>(m.d), 0.0);
  for (std::int64_t k = m.indptr[r]; k < m.indptr[r + 1]; ++k) x[m.indices[k]] = m.data[k];
  return x;
}

// Row r's product with row s of `y` in plain float64, summed in index order (another order
// than the kernel's lanes).
double naive_dot(const Csr& x, std::int64_t r, const Csr& y, std::int64_t s) {
  double sum = 0;
  std::int64_t p = x.indptr[r], q = y.indptr[s];
  while (p < x.indptr[r + 1] && q < y.indptr[s + 1]) {
    if (x.indices[p] == y.indices[q])
      sum += double(x.data[p++]) * double(y.data[q++]);
    else if (x.indices[p] < y.indices[q])
      ++p;
    else
      ++q;
  }
  return sum;
}

// Every pair's value (i < j in a self-join; pairs with a row of zeros have no cosine).
std::map<std::pair<std::int64_t, std::int64_t>, double> naive_values(const Csr& a, const Csr* b, bool cosine) {
  const Csr& y = b ? *b : a;
  std::map<std::pair<std::int64_t, std::int64_t>, double> out;
  for (std::int64_t i = 0; i < a.n; ++i)
    for (std::int64_t j = b ? 0 : i + 1; j < y.n; ++j) {
      double v = naive_dot(a, i, y, j);
      if (cosine) {
        const double norms = std::sqrt(naive_dot(a, i, a, i) * naive_dot(y, j, y, j));
        if (norms == 0) continue;
        v /= norms;
      }
      out[{i, j}] = v;
    }
  return out;
}

// `got` against the naive values: every pair clear of a band around tau the same, each value
// within the band of the naive one.
void expect_naive_answer(const std::vector<Pair>& got,
                         const std::map<std::pair<std::int64_t, std::int64_t>, double>& naive, const Threshold& t,
                         const std::string& what) {
  const double band = 1e-9;
  const auto magnitude = [&](double v) { return t.abs ? std::fabs(v) : v; };
  std::int64_t expected = 0, sure = 0;
  for (const auto& [key, v] : naive) expected += magnitude(v) >= t.theta + band;
  for (const Pair& p : got) {
    const auto it = naive.find({p.i, p.j});
    ASSERT_NE(it, naive.end()) << what << ": " << p.i << " " << p.j;
    EXPECT_NEAR(p.ip, it->second, band) << what << ": " << p.i << " " << p.j;
    EXPECT_GE(magnitude(it->second), t.theta - band) << what;
    sure += magnitude(it->second) >= t.theta + band;
  }
  EXPECT_EQ(sure, expected) << what;
  EXPECT_GT(expected, 10) << what << ": the case has heavy pairs to find";
}

struct JoinCase {
  std::string name;
  double tau;
  bool abs, cosine, two_sides;
};

SolveOptions options_for(const std::string& file, const JoinCase& c, Method method, const std::string& out) {
  SolveOptions o = self_join_options(file, Mode::Real, c.tau, method, out);
  if (c.two_sides) o.problem.b = DatasetRef::parse(file + ":/B", "/B");
  o.problem.abs = c.abs;
  o.problem.cosine = c.cosine;
  o.problem.skip_zero_rows = c.cosine;  // the empty rows have no cosine
  return o;
}

}  // namespace

class SparseJoin : public ::testing::TestWithParam<JoinCase> {};

TEST_P(SparseJoin, EqualsTheNaiveProductAndBruteForceOnTheDenseRows) {
  const JoinCase& c = GetParam();
  Comm world;
  SharedTempDir dir(world);
  const Csr a = random_csr(300, 200, 21), b = random_csr(170, 200, 22);
  const std::string file = dir.path("in.h5");
  write_csr(world, file, "/A", a, true);
  write_csr(world, file, "/B", b, false);
  const test::Solved sparse = solve_and_read(world, options_for(file, c, Method::Sparse, dir.path("sparse.h5")));
  const test::Solved brute = solve_and_read(world, options_for(file, c, Method::Brute, dir.path("brute.h5")));
  if (world.rank() != 0) return;
  EXPECT_EQ(sparse.method, "sparse");
  const Threshold t{c.tau, c.abs, c.cosine};
  expect_naive_answer(sparse.pairs, naive_values(a, c.two_sides ? &b : nullptr, c.cosine), t, c.name);
  // The sparse kernel sums in the dense reference's lanes: the same values, bit for bit.
  EXPECT_TRUE(same_pairs(sparse.pairs, brute.pairs, 0.0));
  EXPECT_GT(sparse.parameters["candidates"].get<std::int64_t>(), sparse.parameters["verified"].get<std::int64_t>())
      << "the bound discards some candidates";
  // Copies collapse as dense rows do: the 10 planted, and the empty rows but one.
  EXPECT_EQ(sparse.parameters["duplicate_rows"], brute.parameters["duplicate_rows"]);
  EXPECT_GE(sparse.parameters["duplicate_rows"]["a"].get<std::int64_t>(), 10) << sparse.parameters.dump();
}

INSTANTIATE_TEST_SUITE_P(Cases, SparseJoin,
                         ::testing::Values(JoinCase{"self_ip", 1.0, false, false, false},
                                           JoinCase{"self_abs", 1.0, true, false, false},
                                           JoinCase{"self_cosine", 0.6, false, true, false},
                                           JoinCase{"self_abs_cosine", 0.5, true, true, false},
                                           JoinCase{"two_sides_ip", 0.8, false, false, true},
                                           JoinCase{"two_sides_cosine", 0.3, true, true, true}),
                         [](const auto& info) { return info.param.name; });

namespace {

struct Malformed {
  std::string name;
  std::function<void(Csr&)> change;      // the arrays written
  std::function<void(h5::File&)> spoil;  // the file after writing
  std::vector<std::string> message_parts;
};

std::vector<Malformed> malformed_cases() {
  return {
      {"indptr_not_from_zero",
       [](Csr& m) {
         for (auto& p : m.indptr) ++p;
       },
       {},
       {"/A", "indptr[0] is 1"}},
      {"indptr_decreasing", [](Csr& m) { std::swap(m.indptr[10], m.indptr[11]); }, {}, {"/A", "indptr decreases"}},
      {"indptr_not_ending_at_nnz", [](Csr& m) { m.indptr.back() -= 1; }, {}, {"/A", "not nnz"}},
      {"index_out_of_range", [](Csr& m) { m.indices[5] = 200; }, {}, {"/A", "column index 200", "outside [0, 200)"}},
      {"index_negative", [](Csr& m) { m.indices[7] = -3; }, {}, {"/A", "column index -3"}},
      {"repeated_index", [](Csr& m) { m.indices[m.indptr[2] + 1] = m.indices[m.indptr[2]]; }, {}, {"/A", "twice"}},
      {"nan", [](Csr& m) { m.data[3] = std::numeric_limits<float>::quiet_NaN(); }, {}, {"/A", "nan", "finite"}},
      {"inf", [](Csr& m) { m.data[4] = std::numeric_limits<float>::infinity(); }, {}, {"/A", "inf", "finite"}},
      {"shape_missing", {}, [](h5::File& f) { f.set_object_attribute("/A", "shape", "300 x 200"); }, {"/A", "shape"}},
      {"shape_rows_wrong",
       {},
       [](h5::File& f) {
         f.set_object_attribute("/A", "shape", std::vector<std::int64_t>{299, 200});
       },
       {"/A", "indptr has 301 elements, 300 expected"}},
      {"csc", {}, [](h5::File& f) { f.set_object_attribute("/A", "encoding-type", "csc_matrix"); }, {"/A", "CSC"}},
      {"no_encoding", {}, [](h5::File& f) { f.set_object_attribute("/A", "encoding-type", "dense"); }, {"/A", "dense"}},
  };
}

}  // namespace

class SparseInputErrors : public ::testing::TestWithParam<Malformed> {};

TEST_P(SparseInputErrors, AreAgreedNamedAndLeaveNoOutput) {
  Comm world;
  SharedTempDir dir(world);
  Csr m = random_csr(300, 200, 23);
  if (GetParam().change) GetParam().change(m);
  const std::string file = dir.path("in.h5");
  write_csr(world, file, "/A", m, true, GetParam().spoil);
  SolveOptions o = self_join_options(file, Mode::Real, 1.0, Method::Sparse, dir.path("out.h5"));
  try {
    run_solve(world, o);
    ADD_FAILURE() << "no error raised";
  } catch (const InputError& e) {
    EXPECT_TRUE(e.collective()) << "every rank must agree on an input error";
    for (const auto& part : GetParam().message_parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "'" << part << "' not in: " << e.what();
  }
  world.barrier();
  EXPECT_FALSE(exists(o.out));
}

INSTANTIATE_TEST_SUITE_P(Cases, SparseInputErrors, ::testing::ValuesIn(malformed_cases()),
                         [](const auto& info) { return info.param.name; });

TEST(SparseInput, DenseSideOfAnotherDimensionAndBinaryModeAreRefused) {
  Comm world;
  SharedTempDir dir(world);
  const std::string file = dir.path("in.h5");
  write_csr(world, file, "/A", random_csr(50, 200, 24), true);
  write_dataset(world, file, "/D", {10, 199}, std::vector<float>(1990, 1.0f), false);
  SolveOptions o = self_join_options(file, Mode::Real, 1.0, Method::Auto, dir.path("out.h5"));
  o.problem.b = DatasetRef::parse(file + ":/D", "/B");
  EXPECT_THROW(run_solve(world, o), InputError);
  SolveOptions binary = self_join_options(file, Mode::Binary, 0.5, Method::Auto, dir.path("out.h5"));
  try {
    run_solve(world, binary);
    ADD_FAILURE() << "binary mode took a sparse input";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("use --tau"), std::string::npos) << e.what();
  }
}

TEST(SparseInput, DenseSideOfTheSameDimensionJoinsASparseOne) {
  Comm world;
  SharedTempDir dir(world);
  const Csr a = random_csr(120, 64, 25), b = random_csr(80, 64, 26);
  std::vector<float> dense;
  for (std::int64_t r = 0; r < b.n; ++r)
    for (const double v : dense_row(b, r)) dense.push_back(static_cast<float>(v));
  const std::string file = dir.path("in.h5");
  write_csr(world, file, "/A", a, true);
  write_csr(world, file, "/B", b, false);
  write_dataset(world, file, "/D", {b.n, b.d}, dense, false);
  const JoinCase c{"mixed", 0.8, false, false, true};
  SolveOptions mixed = options_for(file, c, Method::Sparse, dir.path("mixed.h5"));
  mixed.problem.b = DatasetRef::parse(file + ":/D", "/B");
  const test::Solved got = solve_and_read(world, mixed);
  const test::Solved want = solve_and_read(world, options_for(file, c, Method::Sparse, dir.path("sparse.h5")));
  if (world.rank() == 0) {
    EXPECT_TRUE(same_pairs(got.pairs, want.pairs, 0.0));
  }
}

TEST(SparseInput, AutoSolvesSparseWhereDensifyingCannotAndEqualsBruteForce) {
  Comm world;
  SharedTempDir dir(world);
  // d past what auto densifies: the sparse join, priced and chosen, with the reason recorded.
  const Csr wide = random_csr(400, 20000, 27);
  const std::string file = dir.path("in.h5");
  write_csr(world, file, "/A", wide, true);
  const JoinCase c{"auto", 0.5, false, true, false};
  const test::Solved got = solve_and_read(world, options_for(file, c, Method::Auto, dir.path("auto.h5")));
  if (world.rank() == 0) {
    EXPECT_EQ(got.method, "sparse");
    const auto& choice = got.parameters["plan"]["sparse_or_dense"];
    EXPECT_EQ(choice["chosen"], "sparse");
    EXPECT_NE(choice["why"].get<std::string>().find("past"), std::string::npos) << choice.dump();
    expect_naive_answer(got.pairs, naive_values(wide, nullptr, true), Threshold{0.5, false, true}, "auto");
  }
}

TEST(SparseInput, RowsPastTheDenseTablesUseSortedTablesAndTheMergeKernel) {
  Comm world;
  SharedTempDir dir(world);
  // The same rows spread over d = 2e7 columns (past kDenseFeatures): binary searches and a
  // merge replace the dense tables and the scattered row.
  Csr wide = random_csr(300, 200, 28);
  for (auto& f : wide.indices) f = f * 100001;
  wide.d = 200 * 100001;
  const std::string file = dir.path("in.h5");
  write_csr(world, file, "/A", wide, true);
  const JoinCase c{"wide", 0.6, false, true, false};
  const test::Solved got = solve_and_read(world, options_for(file, c, Method::Sparse, dir.path("wide.h5")));
  if (world.rank() == 0)
    expect_naive_answer(got.pairs, naive_values(wide, nullptr, true), Threshold{0.6, false, true}, "wide");
}

TEST(SparseInput, AnAnswerPastTheBudgetIsSpilledAsItGrows) {
  Comm world;
  SharedTempDir dir(world);
  const Csr a = random_csr(300, 40, 29);  // 40 columns: thousands of pairs pass a low tau
  const std::string file = dir.path("in.h5");
  write_csr(world, file, "/A", a, true);
  const JoinCase c{"spill", 0.3, false, false, false};
  const test::Solved want = solve_and_read(world, options_for(file, c, Method::Brute, dir.path("brute.h5")));
  const ScopedEnv lowered("HIPI_TEST_SPILL_PAIRS", "300");
  const test::Solved got = solve_and_read(world, options_for(file, c, Method::Sparse, dir.path("sparse.h5")));
  if (world.rank() != 0) return;
  EXPECT_GT(want.pairs.size(), 3000u);
  EXPECT_TRUE(same_pairs(got.pairs, want.pairs, 0.0));
  ASSERT_TRUE(got.parameters.contains("spilled"));
  // The join hands its pairs to the spill as they grow: no rank held much past the limit.
  EXPECT_LE(got.parameters["spilled"]["largest_run"].get<std::int64_t>(), 450) << got.parameters.dump();
}

// A CSR group whose file stops being HDF5 between inspection and the read (a copy over it):
// one agreed IoError naming the file, as for dense inputs (test_input_errors.cpp).
TEST(SparseInput, AFileThatCannotBeOpenedAgainIsAnAgreedIoError) {
  Comm world;
  SharedTempDir dir(world);
  const std::string file = dir.path("x.h5");
  write_csr(world, file, "/A", random_csr(40, 30, 7), true);
  const InputMatrix input = inspect_input(world, DatasetRef::parse(file, "/A"));
  ASSERT_TRUE(input.sparse);
  world.barrier();
  if (world.rank() == 0) std::ofstream(file, std::ios::trunc) << "not HDF5 any more";
  world.barrier();
  try {
    read_sparse_rows(world, input, row_block(40, world.size(), world.rank()));
    ADD_FAILURE() << "a CSR group in a file that is no longer HDF5 was read";
  } catch (const IoError& e) {
    EXPECT_TRUE(e.collective());
    EXPECT_NE(std::string(e.what()).find("x.h5: cannot open it again to read its rows"), std::string::npos) << e.what();
  } catch (const Error& e) {
    ADD_FAILURE() << e.what() << " (not an agreed IoError)";
  }
}
