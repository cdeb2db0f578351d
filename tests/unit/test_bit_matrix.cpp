#include <gtest/gtest.h>

#include <vector>

#include "core/bit_matrix.hpp"
#include "core/random.hpp"

using namespace hipi;

TEST(BitMatrix, PackKeepsEveryValueAndZeroPadding) {
  for (std::int64_t d : {1, 63, 64, 65, 129, 600}) {
    const std::int64_t rows = 5;
    RandomStream rng(7, {static_cast<std::uint64_t>(d)});
    std::vector<std::int8_t> v(rows * d);
    for (auto& x : v) x = rng.below(2) ? 1 : -1;
    const BitMatrix m = BitMatrix::pack(v, rows, d);
    EXPECT_EQ(m.stride() % 8, 0);
    EXPECT_GE(m.stride() * 64, d);
    for (std::int64_t i = 0; i < rows; ++i) {
      EXPECT_EQ(reinterpret_cast<std::uintptr_t>(m.row(i)) % 64, 0u);
      for (std::int64_t k = 0; k < d; ++k) ASSERT_EQ(m.value(i, k), v[i * d + k]) << d << " " << i << " " << k;
      // Bits past d are zero, so they never change an inner product.
      for (std::int64_t k = d; k < m.stride() * 64; ++k) ASSERT_EQ((m.row(i)[k / 64] >> (k % 64)) & 1u, 0u);
    }
  }
}
