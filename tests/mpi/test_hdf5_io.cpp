// The HDF5 wrapper under MPI-IO: collective row writes and reads with different row
// splits, zero-row ranks, attributes, dataset lookup and type reporting.
#include <gtest/gtest.h>

#include "io/hdf5.hpp"
#include "mpi/fixtures.hpp"

using namespace hipi;
using namespace hipi::test;

TEST(Hdf5, ParallelRowWritesReadBackUnderAnotherSplit) {
  Comm world;
  SharedTempDir dir(world);
  const std::string path = dir.path("rows.h5");
  const std::int64_t n = 2 * world.size() + 1, cols = 5;  // uneven blocks
  {
    h5::File f = h5::File::create(path, &world);
    f.create_dataset<float>("/M", {n, cols});
    const RowRange mine = row_block(n, world.size(), world.rank());
    std::vector<float> values(mine.size() * cols);
    for (std::int64_t r = 0; r < mine.size(); ++r)
      for (std::int64_t c = 0; c < cols; ++c) values[r * cols + c] = float(100 * (mine.begin + r) + c);
    f.write_rows<float>("/M", mine, values.data());
    f.set_attribute("note", std::string("written by ") + std::to_string(world.size()) + " ranks");
    f.close();
  }
  // Read back reversed: rank r reads the block of rank P-1-r, into a padded stride, and a
  // rank with no rows still takes part in the collective read.
  h5::File f = h5::File::open_read(path, &world);
  const RowRange theirs = world.rank() == 0 && world.size() > 1
                              ? RowRange{0, 0}
                              : row_block(n, world.size(), world.size() - 1 - world.rank());
  const std::int64_t stride = 8;
  std::vector<float> got(std::max<std::int64_t>(theirs.size(), 1) * stride, -1.0f);
  f.read_rows<float>("/M", theirs, cols, got.data(), stride);
  for (std::int64_t r = 0; r < theirs.size(); ++r) {
    for (std::int64_t c = 0; c < cols; ++c) EXPECT_EQ(got[r * stride + c], float(100 * (theirs.begin + r) + c));
    for (std::int64_t c = cols; c < stride; ++c) EXPECT_EQ(got[r * stride + c], -1.0f) << "padding was overwritten";
  }
  EXPECT_EQ(f.string_attribute("note"), "written by " + std::to_string(world.size()) + " ranks");
  const auto info = f.info("/M");
  EXPECT_EQ(info.dims, (std::vector<std::int64_t>{n, cols}));
  EXPECT_EQ(info.dtype, h5::DType::Float32);
  EXPECT_EQ(info.dtype_name, "float32");
}

TEST(Hdf5, DatasetLookupAndTypeNames) {
  Comm world;
  SharedTempDir dir(world);
  const std::string path = dir.path("types.h5");
  write_dataset<std::int32_t>(world, path, "/ints", {2, 2}, {1, 2, 3, 4}, true);
  write_dataset<double>(world, path, "/g/doubles", {3}, {1, 2, 3});
  h5::File f = h5::File::open_read(path, nullptr);
  EXPECT_TRUE(f.has_dataset("/ints"));
  EXPECT_TRUE(f.has_dataset("/g/doubles"));
  EXPECT_FALSE(f.has_dataset("/g"));  // a group, not a dataset
  EXPECT_FALSE(f.has_dataset("/missing/deeper"));
  EXPECT_FALSE(f.has_dataset("ints"));
  EXPECT_EQ(f.info("/ints").dtype_name, "int32");
  EXPECT_EQ(f.info("/ints").dtype, h5::DType::Int32);
  EXPECT_EQ(f.read_all<double>("/g/doubles"), (std::vector<double>{1, 2, 3}));
  EXPECT_THROW(f.string_attribute("absent"), Hdf5Error);
  EXPECT_TRUE(h5::is_hdf5_file(path));
  EXPECT_FALSE(h5::is_hdf5_file(dir.path("nothing.h5")));
}
