#include "core/matrix_blocks.hpp"

#include <algorithm>

#include "hipi/error.hpp"

namespace hipi {

namespace {
std::int64_t round_up(std::int64_t x, std::int64_t m) {
  return (x + m - 1) / m * m;
}
}  // namespace

RowRange row_block(std::int64_t n, int parts, int index) {
  HIPI_ASSERT(parts > 0 && index >= 0 && index < parts && n >= 0);
  const std::int64_t base = n / parts, extra = n % parts;
  const std::int64_t begin = index * base + std::min<std::int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

RealMatrix::RealMatrix(std::int64_t rows, std::int64_t cols)
    : rows_(rows),
      cols_(cols),
      stride_(round_up(std::max<std::int64_t>(cols, 1), 16)),
      data_(static_cast<std::size_t>(rows * stride_), 0.0f) {}

double RealMatrix::row_bytes(std::int64_t cols) {
  return double(round_up(std::max<std::int64_t>(cols, 1), 16)) * sizeof(float);
}

}  // namespace hipi
