// Sparse rows: one rank's rows of a sparse matrix in compressed sparse row form.
//
// Real data only. Within a row the column indices are strictly increasing (the reader
// sorts them and refuses repeats) and every stored value is non-zero and finite, so a row
// is its support and the exact kernels (kernels/exact.hpp) merge two rows in one pass.
// Values are float32, as dense rows are (float64 input is rounded once, with a warning):
// the answer is one whichever way auto solves it, sparse or densified.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/matrix_blocks.hpp"

namespace hipi {

class SparseMatrix {
 public:
  using value_type = float;
  SparseMatrix() = default;
  /// `rows` empty rows of dimension `cols`; fill them with append_row.
  SparseMatrix(std::int64_t rows, std::int64_t cols);
  /// The non-zero entries of dense rows.
  static SparseMatrix from_dense(const RealMatrix& dense);

  std::int64_t rows() const { return static_cast<std::int64_t>(indptr_.size()) - 1; }
  std::int64_t cols() const { return cols_; }
  std::int64_t nnz() const { return static_cast<std::int64_t>(indices_.size()); }

  /// Row r's column indices and values.
  std::span<const std::int64_t> indices(std::int64_t r) const {
    return {indices_.data() + indptr_[r], static_cast<std::size_t>(indptr_[r + 1] - indptr_[r])};
  }
  std::span<const float> values(std::int64_t r) const {
    return {values_.data() + indptr_[r], static_cast<std::size_t>(indptr_[r + 1] - indptr_[r])};
  }

  /// Builds row by row: clear(), then append(index, value) for each entry of a row in
  /// increasing index order, then end_row().
  void clear(std::int64_t cols);
  void append(std::int64_t index, float value) {
    indices_.push_back(index);
    values_.push_back(value);
  }
  void end_row() { indptr_.push_back(nnz()); }
  void reserve(std::int64_t rows, std::int64_t nnz);

  /// The three arrays (what travels between ranks).
  std::vector<std::int64_t>& indptr() { return indptr_; }
  std::vector<std::int64_t>& indices() { return indices_; }
  std::vector<float>& values() { return values_; }
  const std::vector<std::int64_t>& indptr() const { return indptr_; }
  const std::vector<std::int64_t>& indices() const { return indices_; }
  const std::vector<float>& values() const { return values_; }

  /// Bytes held for `rows` rows of `nnz` entries (what the memory budget is checked with).
  static double bytes_for(std::int64_t rows, std::int64_t nnz) {
    return 8.0 * static_cast<double>(rows + 1) + 12.0 * static_cast<double>(nnz);
  }

 private:
  std::int64_t cols_ = 0;
  std::vector<std::int64_t> indptr_{0};
  std::vector<std::int64_t> indices_;
  std::vector<float> values_;
};

}  // namespace hipi
