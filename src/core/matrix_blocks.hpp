// Row blocks: how the rows of a matrix are split over ranks, and the dense containers that
// hold one rank's rows.
//
// The split is pure arithmetic (no MPI), so every rank computes the same answer for any
// rank, and tests check it without MPI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace hipi {

/// Half-open range of global row indices [begin, end).
struct RowRange {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
  bool contains(std::int64_t row) const { return begin <= row && row < end; }
  friend bool operator==(const RowRange&, const RowRange&) = default;
};
}  // namespace hipi

// Two int64 values: sent as a plain MPI datatype, not serialized.
#include <boost/mpi/datatype.hpp>
BOOST_IS_MPI_DATATYPE(hipi::RowRange)
BOOST_IS_BITWISE_SERIALIZABLE(hipi::RowRange)
namespace boost::serialization {
template <class Archive>
void serialize(Archive& ar, hipi::RowRange& r, unsigned) {
  ar& r.begin& r.end;
}
}  // namespace boost::serialization

namespace hipi {

/// Rows of part `index` when `n` rows are cut into `parts` contiguous blocks whose sizes
/// differ by at most one (the first n % parts blocks get the extra row).
RowRange row_block(std::int64_t n, int parts, int index);

/// Rows of a matrix and the global index of its first row (a block checked by a kernel).
template <class Matrix>
struct RowsAt {
  const Matrix& rows;
  std::int64_t first = 0;
};

/// One rank's contiguous rows of a matrix: global rows `range`, values `rows`.
template <class Matrix>
struct LocalRows {
  RowRange range;
  Matrix rows;
};

/// Minimal allocator that aligns storage to a cache line, so vector kernels can use
/// aligned loads on every row (rows are padded to a multiple of 64 bytes).
template <class T>
struct CacheAligned {
  using value_type = T;
  static constexpr std::align_val_t alignment{64};
  CacheAligned() = default;
  template <class U>
  CacheAligned(const CacheAligned<U>&) {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), alignment)); }
  void deallocate(T* p, std::size_t) { ::operator delete(p, alignment); }
  template <class U>
  bool operator==(const CacheAligned<U>&) const {
    return true;
  }
};

/// Row-major float32 rows padded with zeros to a multiple of 16 floats (64 bytes).
class RealMatrix {
 public:
  using value_type = float;
  RealMatrix() = default;
  RealMatrix(std::int64_t rows, std::int64_t cols);

  std::int64_t rows() const { return rows_; }
  std::int64_t cols() const { return cols_; }
  /// Elements from one row to the next (>= cols, padding is zero).
  std::int64_t stride() const { return stride_; }
  float* row(std::int64_t i) { return data_.data() + i * stride_; }
  const float* row(std::int64_t i) const { return data_.data() + i * stride_; }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  /// Number of elements in storage, padding included (what travels between ranks).
  std::size_t storage_size() const { return data_.size(); }
  /// The bytes of one row of `cols` values, padding included, without allocating one (a
  /// declared d can be far past memory: the budget is checked before anything is held).
  static double row_bytes(std::int64_t cols);

 private:
  std::int64_t rows_ = 0, cols_ = 0, stride_ = 0;
  std::vector<float, CacheAligned<float>> data_;
};

}  // namespace hipi
