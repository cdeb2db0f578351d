// Every input error of DESIGN.md section 5: detected before any compute, agreed by every
// rank (a collective InputError, exit status 2 from main), named by file, dataset and
// problem, and no output file left behind.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include "io/hdf5.hpp"
#include "io/input.hpp"
#include "mpi/fixtures.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

struct ErrorCase {
  std::string name;
  // Writes the input files into the directory and fills in the options.
  std::function<void(const Comm&, const SharedTempDir&, SolveOptions&)> setup;
  std::vector<std::string> message_parts;  // each must appear in the message
};

SolveOptions binary_options(const std::string& a, const std::string& b) {
  SolveOptions o;
  o.problem.a = DatasetRef::parse(a, "/A");
  if (!b.empty()) o.problem.b = DatasetRef::parse(b, "/B");
  o.problem.mode = Mode::Binary;
  o.problem.value = 0.5;
  return o;
}

std::vector<std::int8_t> signs(std::int64_t n) {
  return std::vector<std::int8_t>(n, 1);
}

std::vector<ErrorCase> cases() {
  return {
      {"missing_file",
       [](const Comm&, const SharedTempDir& d, SolveOptions& o) { o = binary_options(d.path("none.h5"), ""); },
       {"none.h5", "no such file"}},
      {"not_hdf5",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         if (c.rank() == 0) std::ofstream(d.path("text.h5")) << "just text\n";
         c.barrier();
         o = binary_options(d.path("text.h5"), "");
       },
       {"text.h5", "not an HDF5 file"}},
      {"missing_dataset",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         write_dataset(c, d.path("a.h5"), "/A", {4, 8}, signs(32), true);
         o = binary_options(d.path("a.h5") + ":/Z", "");
       },
       {"a.h5", "/Z", "no dataset"}},
      {"three_dimensions",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         write_dataset(c, d.path("a.h5"), "/A", {2, 2, 2}, signs(8), true);
         o = binary_options(d.path("a.h5"), "");
       },
       {"a.h5:/A", "3 dimensions", "2-D"}},
      {"wrong_dtype",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         write_dataset<std::int32_t>(c, d.path("a.h5"), "/A", {2, 2}, {1, 1, 1, 1}, true);
         o = binary_options(d.path("a.h5"), "");
       },
       {"a.h5:/A", "int32", "int8, float32, float64, or uint8 packed bits"}},
      {"zero_rows",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         write_dataset(c, d.path("a.h5"), "/A", {0, 8}, signs(0), true);
         o = binary_options(d.path("a.h5"), "");
       },
       {"a.h5:/A", "zero rows"}},
      {"zero_columns",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         write_dataset(c, d.path("a.h5"), "/A", {5, 0}, signs(0), true);
         o = binary_options(d.path("a.h5"), "");
       },
       {"a.h5:/A", "zero columns"}},
      {"dimension_mismatch",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         write_dataset(c, d.path("ab.h5"), "/A", {4, 8}, signs(32), true);
         write_dataset(c, d.path("ab.h5"), "/B", {4, 9}, signs(36));
         o = binary_options(d.path("ab.h5"), d.path("ab.h5"));
       },
       {"ab.h5:/A", "ab.h5:/B", "8 columns", "9", "same dimension"}},
      {"binary_value_not_sign_in_last_row",  // found by the last rank alone, agreed by all
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         auto v = signs(7 * 8);
         v[6 * 8 + 2] = 0;
         write_dataset(c, d.path("a.h5"), "/A", {7, 8}, v, true);
         o = binary_options(d.path("a.h5"), "");
       },
       {"a.h5:/A", "row 6, column 2 holds 0", "+1 or -1"}},
      {"binary_value_not_sign_in_a_full_word",  // int8 rows are checked 64 values at a time
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         auto v = signs(6 * 130);
         v[4 * 130 + 100] = 3;
         write_dataset(c, d.path("a.h5"), "/A", {6, 130}, v, true);
         o = binary_options(d.path("a.h5"), "");
       },
       {"a.h5:/A", "row 4, column 100 holds 3", "+1 or -1"}},
      {"packed_bits_attribute_is_an_array",  // read into one integer's room, it hid the cause
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         agree(c, [&] {
           if (c.rank() != 0) return;
           h5::File f = h5::File::create(d.path("p.h5"), nullptr);
           f.write<std::uint8_t>("/A", {4, 3}, std::vector<std::uint8_t>(12, 0));
           f.set_object_attribute("/A", "bits", std::vector<std::int64_t>{21, 21});
           f.close();
         });
         o = binary_options(d.path("p.h5"), "");
       },
       {"p.h5:/A", "needs an integer attribute 'bits'"}},
      {"binary_float_value",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         std::vector<float> v(16, -1.0f);
         v[5] = 0.5f;
         write_dataset(c, d.path("a.h5"), "/A", {2, 8}, v, true);
         write_dataset(c, d.path("a.h5"), "/B", {2, 8}, std::vector<float>(16, 1.0f));
         o = binary_options(d.path("a.h5"), d.path("a.h5"));
       },
       {"a.h5:/A", "row 0, column 5 holds 0.5"}},
      {"real_nan",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         std::vector<float> v(9 * 3, 1.0f);
         v[8 * 3 + 1] = std::nanf("");
         write_dataset(c, d.path("a.h5"), "/A", {9, 3}, v, true);
         o = binary_options(d.path("a.h5"), "");
         o.problem.mode = Mode::Real;
         o.problem.value = 1.0;
       },
       {"a.h5:/A", "row 8, column 1 holds nan", "finite"}},
      {"real_inf_in_float64_b",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         std::vector<double> v(4 * 3, 1.0);
         v[2] = -INFINITY;
         write_dataset(c, d.path("ab.h5"), "/A", {4, 3}, std::vector<double>(12, 1.0), true);
         write_dataset(c, d.path("ab.h5"), "/B", {4, 3}, v);
         o = binary_options(d.path("ab.h5"), d.path("ab.h5"));
         o.problem.mode = Mode::Real;
         o.problem.value = 1.0;
       },
       {"ab.h5:/B", "row 0, column 2 holds -inf"}},
      {"real_float64_beyond_float32",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         std::vector<double> v(4 * 3, 1.0);
         v[7] = 1e300;  // finite, but float32 holds at most 3.4e38
         write_dataset(c, d.path("a.h5"), "/A", {4, 3}, v, true);
         o = binary_options(d.path("a.h5"), "");
         o.problem.mode = Mode::Real;
         o.problem.value = 1.0;
       },
       {"a.h5:/A", "row 2, column 1 holds 1e+300", "float32"}},
      {"rows_beyond_memory",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         // Declared 2^40 rows (2^46 bytes), never written: the file stays small.
         agree(c, [&] {
           if (c.rank() != 0) return;
           h5::File f = h5::File::create(d.path("huge.h5"), nullptr);
           f.create_dataset<std::int8_t>("/A", {std::int64_t{1} << 40, 64});
           f.close();
         });
         o = binary_options(d.path("huge.h5"), "");
       },
       {"huge.h5:/A", "rows of", "past the budget", "MiB per rank", "more ranks"}},
      {"rho_out_of_range",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         write_dataset(c, d.path("a.h5"), "/A", {4, 8}, signs(32), true);
         o = binary_options(d.path("a.h5"), "");
         o.problem.value = 1.5;
       },
       {"--rho", "(0, 1]", "1.5"}},
      {"abs_with_nonpositive_tau",
       [](const Comm& c, const SharedTempDir& d, SolveOptions& o) {
         write_dataset(c, d.path("a.h5"), "/A", {4, 8}, std::vector<float>(32, 1.0f), true);
         o = binary_options(d.path("a.h5"), "");
         o.problem.mode = Mode::Real;
         o.problem.value = 0;
         o.problem.abs = true;
       },
       {"--tau", "--abs"}},
  };
}

void PrintTo(const ErrorCase& c, std::ostream* os) {
  *os << c.name;
}

class InputErrors : public ::testing::TestWithParam<ErrorCase> {};

}  // namespace

TEST_P(InputErrors, AreAgreedNamedAndLeaveNoOutput) {
  Comm world;
  SharedTempDir dir(world);
  SolveOptions options;
  GetParam().setup(world, dir, options);
  options.out = dir.path("out.h5");
  try {
    run_solve(world, options);
    ADD_FAILURE() << "no error raised";
  } catch (const InputError& e) {
    EXPECT_TRUE(e.collective()) << "every rank must agree on an input error";
    EXPECT_EQ(exit_status(e.kind()), 2);
    for (const auto& part : GetParam().message_parts)
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << "'" << part << "' not in: " << e.what();
  }
  world.barrier();
  EXPECT_FALSE(exists(options.out));
  // Every HDF5 object opened on the way to the error was closed (RAII handles on every path).
  EXPECT_EQ(h5::open_objects(), 0) << "HDF5 objects left open";
}

INSTANTIATE_TEST_SUITE_P(Cases, InputErrors, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

// An input rewritten between its inspection and the end of its read (here: grown by a byte,
// and only touched): every rank ends with the same IoError, exit status 1, naming the file.
// Unchanged, the same check passes.
TEST(InputChanged, WhileItIsReadIsAnAgreedIoError) {
  Comm world;
  SharedTempDir dir(world);
  const std::string file = dir.path("a.h5");
  write_dataset(world, file, "/A", {6, 64}, signs(6 * 64), true);
  for (const bool grow : {false, true}) {
    const InputMatrix input = inspect_input(world, DatasetRef::parse(file, "/A"));
    const LocalRows<BitMatrix> rows = read_binary_rows(world, input, row_block(6, world.size(), world.rank()));
    EXPECT_NO_THROW(check_input_unchanged(world, input));
    world.barrier();
    if (world.rank() == 0) {
      if (grow) {
        std::ofstream(file, std::ios::app) << '\0';
      } else {
        namespace fs = std::filesystem;
        fs::last_write_time(file, fs::last_write_time(file) + std::chrono::seconds(5));
      }
    }
    world.barrier();
    try {
      check_input_unchanged(world, input);
      ADD_FAILURE() << "a changed input passed (grow " << grow << ")";
    } catch (const IoError& e) {
      EXPECT_TRUE(e.collective());
      EXPECT_EQ(exit_status(e.kind()), 1);
      const std::string message = e.what();
      EXPECT_NE(message.find("a.h5: input changed while hipi was reading it"), std::string::npos) << message;
      EXPECT_NE(message.find(grow ? "its size went from" : "it was modified"), std::string::npos) << message;
    }
  }
}

// An input that stops being HDF5 between its inspection and the read of its rows (truncated
// by a copy over it): one agreed IoError naming the file, not a raw HDF5 error on each rank,
// for binary and real reads alike (the sparse read: test_sparse.cpp).
TEST(InputChanged, AFileThatCannotBeOpenedAgainIsAnAgreedIoError) {
  Comm world;
  SharedTempDir dir(world);
  const std::string file = dir.path("a.h5");
  write_dataset(world, file, "/A", {6, 64}, signs(6 * 64), true);
  const InputMatrix input = inspect_input(world, DatasetRef::parse(file, "/A"));
  world.barrier();
  if (world.rank() == 0) std::ofstream(file, std::ios::trunc) << "not HDF5 any more";
  world.barrier();
  const RowRange mine = row_block(6, world.size(), world.rank());
  const std::vector<std::function<void()>> reads = {[&] { read_binary_rows(world, input, mine); },
                                                    [&] { read_real_rows(world, input, mine); }};
  for (std::size_t k = 0; k < reads.size(); ++k) {
    try {
      reads[k]();
      ADD_FAILURE() << "read " << k << " of a file that is no longer HDF5 passed";
    } catch (const IoError& e) {
      EXPECT_TRUE(e.collective()) << k;
      const std::string message = e.what();
      EXPECT_NE(message.find("a.h5: cannot open it again to read its rows"), std::string::npos) << message;
    } catch (const Error& e) {
      ADD_FAILURE() << "read " << k << ": " << e.what() << " (not an agreed IoError)";
    }
  }
}
