// Bit-packed +-1 rows: 64 coordinates per 64-bit word, bit set for -1.
//
// For a, b in {-1,+1}^d packed this way, <a,b> = d - 2 * popcount(a XOR b): the exact
// binary kernel. Rows are padded with zero bits to a multiple of 8 words (64 bytes); zero
// padding XORs to zero, so it never changes an inner product.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/matrix_blocks.hpp"

namespace hipi {

class BitMatrix {
 public:
  using value_type = std::uint64_t;
  BitMatrix() = default;
  BitMatrix(std::int64_t rows, std::int64_t cols);

  /// Packs row-major int8 +-1 values (rows x cols). Values must be +-1 (checked by the
  /// input stage); any negative value is packed as -1.
  static BitMatrix pack(std::span<const std::int8_t> values, std::int64_t rows, std::int64_t cols);

  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  /// Words from one row to the next (>= ceil(cols / 64), padding is zero).
  std::int64_t stride() const { return stride_; }
  std::uint64_t* row(std::int64_t i) { return data_.data() + i * stride_; }
  const std::uint64_t* row(std::int64_t i) const { return data_.data() + i * stride_; }
  std::uint64_t* data() { return data_.data(); }
  const std::uint64_t* data() const { return data_.data(); }
  std::size_t storage_size() const { return data_.size(); }
  /// The bytes of one packed row of `cols` coordinates, padding included, without
  /// allocating one.
  static double row_bytes(std::int64_t cols);

  /// Coordinate k of row i as +1 or -1.
  int value(std::int64_t i, std::int64_t k) const { return (row(i)[k / 64] >> (k % 64)) & 1u ? -1 : +1; }

 private:
  std::int64_t rows_ = 0, cols_ = 0, stride_ = 0;
  std::vector<std::uint64_t, CacheAligned<std::uint64_t>> data_;
};

}  // namespace hipi
