#include <gtest/gtest.h>

#include <cstdint>

#include "core/matrix_blocks.hpp"

using namespace hipi;

TEST(RowBlock, BlocksTileTheRowsInOrderWithSizesWithinOne) {
  for (std::int64_t n : {0, 1, 2, 5, 7, 100, 1001})
    for (int parts = 1; parts <= 9; ++parts) {
      std::int64_t next = 0, smallest = n, largest = 0;
      for (int p = 0; p < parts; ++p) {
        const RowRange r = row_block(n, parts, p);
        EXPECT_EQ(r.begin, next) << n << " " << parts << " " << p;
        next = r.end;
        smallest = std::min(smallest, r.size());
        largest = std::max(largest, r.size());
        EXPECT_EQ(row_block(n, parts, 0).size(), largest) << "block 0 must be a largest block";
      }
      EXPECT_EQ(next, n);
      EXPECT_LE(largest - smallest, 1);
    }
}

TEST(RealMatrix, RowsArePaddedAlignedAndZeroed) {
  RealMatrix m(3, 17);
  EXPECT_EQ(m.stride(), 32);
  EXPECT_EQ(m.storage_size(), 3u * 32u);
  for (std::int64_t i = 0; i < 3; ++i) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.row(i)) % 64, 0u);
    for (std::int64_t k = 0; k < m.stride(); ++k) EXPECT_EQ(m.row(i)[k], 0.0f);
  }
}
