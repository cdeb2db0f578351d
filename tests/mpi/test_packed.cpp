// Packed-bit input: uint8 rows of numpy.packbits(A < 0, axis=1) with an attribute bits = d
// read into the same bits as the int8 rows they pack, so every method gives the same
// output; bad packed data is an input error naming the dataset.
#include <gtest/gtest.h>

#include "io/generate.hpp"
#include "io/hdf5.hpp"
#include "io/input.hpp"
#include "mpi/fixtures.hpp"
#include "solve/solver.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

// numpy.packbits(signs < 0, axis=1): coordinate k in bit 7 - k % 8 of byte k / 8.
std::vector<std::uint8_t> packbits(const std::vector<std::int8_t>& signs, std::int64_t d) {
  const std::int64_t rows = static_cast<std::int64_t>(signs.size()) / d, bytes = (d + 7) / 8;
  std::vector<std::uint8_t> out(static_cast<std::size_t>(rows * bytes), 0);
  for (std::int64_t r = 0; r < rows; ++r)
    for (std::int64_t k = 0; k < d; ++k)
      if (signs[r * d + k] < 0) out[r * bytes + k / 8] |= static_cast<std::uint8_t>(0x80 >> (k % 8));
  return out;
}

// Rank 0 writes `values` as /NAME uint8 [rows, cols] with attribute bits (if given).
void write_packed(const Comm& c, const std::string& file, const std::string& name, std::int64_t rows, std::int64_t cols,
                  const std::vector<std::uint8_t>& values, std::optional<std::int64_t> bits, bool create) {
  agree(c, [&] {
    if (c.rank() != 0) return;
    h5::File f = create ? h5::File::create(file, nullptr) : h5::File::open_write(file, nullptr);
    f.write<std::uint8_t>(name, {rows, cols}, values);
    if (bits) f.set_dataset_attribute(name, "bits", *bits);
    f.close();
  });
}

}  // namespace

TEST(PackedInput, ReadsTheSameBitsAsInt8ForEveryWidth) {
  Comm world;
  SharedTempDir dir(world);
  for (std::int64_t d : {1, 7, 8, 9, 63, 64, 65, 200}) {
    const std::int64_t n = 37;
    const auto signs = random_signs(n, d, 100 + d);
    const std::string file = dir.path("d" + std::to_string(d) + ".h5");
    write_dataset(world, file, "/A", {n, d}, signs, true);
    write_packed(world, file, "/P", n, (d + 7) / 8, packbits(signs, d), d, false);
    const InputMatrix plain = inspect_input(world, {file, "/A"}), packed = inspect_input(world, {file, "/P"});
    EXPECT_EQ(packed.cols, d);
    EXPECT_EQ(packed.rows, n);
    const RowRange mine = row_block(n, world.size(), world.rank());
    const auto a = read_binary_rows(world, plain, mine), p = read_binary_rows(world, packed, mine);
    ASSERT_EQ(a.rows.storage_size(), p.rows.storage_size());
    for (std::size_t w = 0; w < a.rows.storage_size(); ++w)
      ASSERT_EQ(a.rows.data()[w], p.rows.data()[w]) << "d = " << d << ", word " << w;
  }
}

TEST(PackedInput, GeneratedPackedFileSolvesToTheInt8FilesOutput) {
  Comm world;
  SharedTempDir dir(world);
  GenerateOptions o;
  o.n = 300;
  o.n_b = 260;
  o.d = 250;  // not a multiple of 8: the last byte has padding
  o.k = 6;
  o.value = 0.6;
  o.seed = 5;
  o.out = dir.path("int8.h5");
  run_generate(world, o);
  o.packed = true;
  o.out = dir.path("packed.h5");
  run_generate(world, o);
  for (const char* method : {"brute", "sketch"}) {
    Solved results[2];
    for (int k = 0; k < 2; ++k) {
      SolveOptions s;
      const std::string in = dir.path(k == 0 ? "int8.h5" : "packed.h5");
      s.problem.a = {in, "/A"};
      s.problem.b = DatasetRef{in, "/B"};
      s.problem.mode = Mode::Binary;
      s.problem.value = 0.6;
      s.method = parse_method(method);
      s.sketch.sketch = SketchKind::Sign;
      s.out = dir.path(std::string(method) + std::to_string(k) + ".h5");
      results[k] = solve_and_read(world, s);
    }
    EXPECT_EQ(results[0].pairs, results[1].pairs) << method;
    if (world.rank() == 0) {
      EXPECT_EQ(results[0].pairs.size(), 6u) << method;
    }
  }
}

TEST(PackedInput, BadPackedDataIsAnInputErrorNamingTheDataset) {
  Comm world;
  SharedTempDir dir(world);
  const std::string file = dir.path("bad.h5");
  const std::int64_t n = 5, d = 12;  // 2 bytes per row, 4 padding bits
  std::vector<std::uint8_t> values(n * 2, 0);
  write_packed(world, file, "/nobits", n, 2, values, std::nullopt, true);
  write_packed(world, file, "/wide", n, 2, values, 20, false);
  values[2 * 3 + 1] = 0x01;  // row 3: a padding bit
  write_packed(world, file, "/padding", n, 2, values, d, false);
  const auto message = [&](const std::string& dataset, Mode mode = Mode::Binary) -> std::string {
    SolveOptions s;
    s.problem.a = {file, dataset};
    s.problem.mode = mode;
    s.problem.value = mode == Mode::Binary ? 0.5 : 1.0;
    s.method = Method::Brute;
    s.out = dir.path("out.h5");
    try {
      run_solve(world, s);
    } catch (const InputError& e) {
      EXPECT_TRUE(e.collective());
      EXPECT_FALSE(exists(s.out));
      return e.what();
    }
    return "no error";
  };
  EXPECT_NE(message("/nobits").find("bad.h5:/nobits: a uint8 dataset is read as packed bits and needs an integer "
                                    "attribute 'bits'"),
            std::string::npos);
  EXPECT_NE(message("/wide").find("bad.h5:/wide: attribute bits = 20 does not fit 2 bytes per row"), std::string::npos);
  EXPECT_NE(message("/padding").find("bad.h5:/padding: row 3 has padding bits set past bit 12"), std::string::npos);
  write_packed(world, file, "/good", n, 2, std::vector<std::uint8_t>(n * 2, 0), d, false);
  EXPECT_NE(message("/good", Mode::Real).find("packed bits hold +-1 data; use --rho"), std::string::npos);
}
