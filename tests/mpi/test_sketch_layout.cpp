// scatter_to_grid: every value of every rank's group sketches lands where ScaLAPACK's
// block-cyclic layout says it belongs, as S_A (groups as rows, transposed in runs) and as
// S_B^T (groups as columns), on every grid shape of the rank count and with block sizes
// that do and do not divide the dimensions.
#include <gtest/gtest.h>

#include <vector>

#include "core/matrix_blocks.hpp"
#include "methods/sketch/grid.hpp"
#include "parallel/blacs_grid.hpp"

using namespace hipi;

namespace {

double value(std::int64_t group, std::int64_t coord) {
  return double(group) * 1000.0 + double(coord) + 0.5;
}

struct Case {
  std::int64_t groups, d, group_block, coord_block;
};

void check_layout(const Comm& world, GridShape shape, const Case& c) {
  const BlacsGrid grid(world, shape);
  // Uneven contiguous ranges of groups per rank (the last rank may hold none).
  const RowRange mine = row_block(c.groups, world.size(), world.rank());
  std::vector<double> local(std::max<std::int64_t>(1, mine.size() * c.d));
  for (std::int64_t g = mine.begin; g < mine.end; ++g)
    for (std::int64_t k = 0; k < c.d; ++k) local[(g - mine.begin) * c.d + k] = value(g, k);

  for (bool groups_are_rows : {true, false}) {
    const Descriptor desc = groups_are_rows ? describe(grid, c.groups, c.d, c.group_block, c.coord_block)
                                            : describe(grid, c.d, c.groups, c.coord_block, c.group_block);
    std::vector<double> out(std::max<std::int64_t>(1, desc.local_size()), -1.0);
    scatter_to_grid<double>(world, {local.data(), mine.begin, mine.size(), c.d}, {desc, groups_are_rows, out.data()});
    int wrong = 0;
    for (std::int64_t lj = 0; lj < desc.local_cols; ++lj)
      for (std::int64_t li = 0; li < desc.local_rows; ++li) {
        const std::int64_t i = block_cyclic_global(li, desc.mb, desc.my_row, desc.grid_rows);
        const std::int64_t j = block_cyclic_global(lj, desc.nb, desc.my_col, desc.grid_cols);
        const double want = groups_are_rows ? value(i, j) : value(j, i);
        wrong += out[li + lj * desc.ld] != want;
      }
    EXPECT_EQ(wrong, 0) << "grid " << shape.str() << ", " << (groups_are_rows ? "S_A" : "S_B^T") << ", groups "
                        << c.groups << ", d " << c.d << ", blocks " << c.group_block << "/" << c.coord_block;
  }
}

}  // namespace

TEST(SketchLayout, EveryValueLandsInItsBlockCyclicPlace) {
  Comm world;
  const int P = world.size();
  std::vector<GridShape> shapes = {squarest_grid(P), {1, P}, {P, 1}};
  for (const GridShape& shape : shapes)
    for (const Case& c : {Case{37, 20, 4, 8}, Case{100, 33, 16, 33}, Case{64, 64, 3, 64}, Case{5, 40, 32, 7}})
      check_layout(world, shape, c);
}
