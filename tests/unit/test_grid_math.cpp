// Process-grid and block-cyclic arithmetic, without MPI (heFFTe's model): checked against
// direct enumeration of which process holds which index.
#include <gtest/gtest.h>

#include "hipi/blacs_grid.hpp"
#include "hipi/error.hpp"
#include "hipi/scalapack.hpp"

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
