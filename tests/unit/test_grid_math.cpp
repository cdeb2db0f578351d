// Process-grid and block-cyclic arithmetic, without MPI (heFFTe's model): checked against
// direct enumeration of which process holds which index.
#include <gtest/gtest.h>

#include "hipi/error.hpp"
#include "methods/sketch/grid.hpp"
#include "parallel/blacs_grid.hpp"
#include "parallel/scalapack.hpp"

using namespace hipi;

TEST(GridShape, SquarestUsesEveryRankWithRowsAtLeastCols) {
  EXPECT_EQ(squarest_grid(1), (GridShape{1, 1}));
  EXPECT_EQ(squarest_grid(2), (GridShape{2, 1}));
  EXPECT_EQ(squarest_grid(3), (GridShape{3, 1}));
  EXPECT_EQ(squarest_grid(4), (GridShape{2, 2}));
  EXPECT_EQ(squarest_grid(12), (GridShape{4, 3}));
  EXPECT_EQ(squarest_grid(1000), (GridShape{40, 25}));
  for (int p = 1; p <= 64; ++p) {
    const GridShape g = squarest_grid(p);
    EXPECT_EQ(g.rows * g.cols, p);
    EXPECT_GE(g.rows, g.cols);
  }
}

TEST(GridShape, ParseAcceptsPxQMatchingTheRankCount) {
  EXPECT_EQ(parse_grid("2x3", 6), (GridShape{2, 3}));
  EXPECT_EQ(parse_grid("4X1", 4), (GridShape{4, 1}));
  EXPECT_THROW(parse_grid("2x2", 6), InputError);
  EXPECT_THROW(parse_grid("2 by 3", 6), InputError);
  EXPECT_THROW(parse_grid("0x6", 0), InputError);
  // 4294967298 = 2^32 + 2 wraps to 2 in a 32-bit int: it must not pass for a 2x1 grid.
  EXPECT_THROW(parse_grid("4294967298x1", 2), InputError);
  EXPECT_THROW(parse_grid("1x99999999999999999999", 2), InputError);
  EXPECT_THROW(parse_grid("2x3x1", 6), InputError);
}

TEST(BlockCyclic, CountsAndGlobalIndicesMatchEnumeration) {
  for (std::int64_t n : {0, 1, 7, 64, 100, 257})
    for (std::int64_t nb : {1, 3, 16, 64})
      for (int procs = 1; procs <= 5; ++procs) {
        std::vector<std::vector<std::int64_t>> held(procs);
        for (std::int64_t i = 0; i < n; ++i) held[(i / nb) % procs].push_back(i);
        for (int p = 0; p < procs; ++p) {
          ASSERT_EQ(block_cyclic_count(n, nb, p, procs), static_cast<std::int64_t>(held[p].size()))
              << n << " " << nb << " " << p << "/" << procs;
          for (std::size_t l = 0; l < held[p].size(); ++l) {
            ASSERT_EQ(block_cyclic_global(static_cast<std::int64_t>(l), nb, p, procs), held[p][l]);
            ASSERT_EQ(block_cyclic_owner(held[p][l], nb, procs), p);
            ASSERT_EQ(block_cyclic_local(held[p][l], nb, procs), static_cast<std::int64_t>(l));
          }
        }
      }
}

// product_grid against its cost written out by hand for small cases: a self-join keeps the
// taller grid, a wider B turns the grid wide, and many panels (S_A broadcast per panel)
// turn it tall again.
TEST(ProductGrid, BroadcastsTheLeastOfTheTwoSketches) {
  const std::int64_t nb = 256, roomy = std::int64_t{1} << 30;
  EXPECT_EQ(product_grid(1, 1000, 1000, nb, roomy), (GridShape{1, 1}));
  EXPECT_EQ(product_grid(2, 4096, 4096, nb, roomy), (GridShape{2, 1})) << "a tie goes to the taller grid";
  EXPECT_EQ(product_grid(2, 4096, 8192, nb, roomy), (GridShape{1, 2})) << "4096 * 1 < 8192 * 1";
  EXPECT_EQ(product_grid(2, 8192, 4096, nb, roomy), (GridShape{2, 1}));
  EXPECT_EQ(product_grid(4, 4096, 4096, nb, roomy), (GridShape{2, 2})) << "2 * 4096 < 3 * 4096";
  // Panels of one block column: G_B / (256 * 2) = 16 panels make 1x2's S_A broadcasts dear.
  EXPECT_EQ(panel_width(4096, nb, GridShape{1, 2}, 1), 512);
  EXPECT_EQ(product_grid(2, 4096, 8192, nb, 1), (GridShape{2, 1}));
  for (int p = 1; p <= 12; ++p) {
    const GridShape g = product_grid(p, 3000, 5000, 64, 1 << 20);
    EXPECT_EQ(g.rows * g.cols, p);
  }
}

TEST(ProductGrid, PanelWidthIsABlockMultipleThatFitsTheBudget) {
  // 2x1, 1000 rows of C: at most 512 local rows; 512 * 256 elements fit one block column.
  EXPECT_EQ(panel_width(1000, 256, GridShape{2, 1}, 512 * 256 * 3), 3 * 256);
  EXPECT_EQ(panel_width(1000, 256, GridShape{2, 3}, 512 * 256 * 3), 3 * 256 * 3);
  EXPECT_EQ(panel_width(1000, 256, GridShape{2, 1}, 1), 256) << "at least one block column";
}
