#include "core/bit_matrix.hpp"

#include <algorithm>

#include "hipi/error.hpp"

namespace hipi {

namespace {
std::int64_t round_up(std::int64_t x, std::int64_t m) {
  return (x + m - 1) / m * m;
}
}  // namespace

BitMatrix::BitMatrix(std::int64_t rows, std::int64_t cols)
    : rows_(rows),
      cols_(cols),
      stride_(round_up(round_up(std::max<std::int64_t>(cols, 1), 64) / 64, 8)),
      data_(static_cast<std::size_t>(rows * stride_), 0u) {}

double BitMatrix::row_bytes(std::int64_t cols) {
  return double(round_up(round_up(std::max<std::int64_t>(cols, 1), 64) / 64, 8)) * sizeof(std::uint64_t);
}

BitMatrix BitMatrix::pack(std::span<const std::int8_t> values, std::int64_t rows, std::int64_t cols) {
  HIPI_ASSERT(static_cast<std::int64_t>(values.size()) == rows * cols);
  BitMatrix m(rows, cols);
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::int8_t* src = values.data() + i * cols;
    std::uint64_t* dst = m.row(i);
    for (std::int64_t k = 0; k < cols; ++k) dst[k / 64] |= static_cast<std::uint64_t>(src[k] < 0) << (k % 64);
  }
  return m;
}

}  // namespace hipi
