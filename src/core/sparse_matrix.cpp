#include "core/sparse_matrix.hpp"

namespace hipi {

SparseMatrix::SparseMatrix(std::int64_t rows, std::int64_t cols) : cols_(cols) {
  indptr_.assign(static_cast<std::size_t>(rows) + 1, 0);
}

SparseMatrix SparseMatrix::from_dense(const RealMatrix& dense) {
  SparseMatrix out;
  out.clear(dense.cols());
  for (std::int64_t r = 0; r < dense.rows(); ++r) {
    const float* x = dense.row(r);
    for (std::int64_t k = 0; k < dense.cols(); ++k)
      if (x[k] != 0) out.append(k, x[k]);
    out.end_row();
  }
  return out;
}

void SparseMatrix::clear(std::int64_t cols) {
  cols_ = cols;
  indptr_.assign(1, 0);
  indices_.clear();
  values_.clear();
}

void SparseMatrix::reserve(std::int64_t rows, std::int64_t nnz) {
  indptr_.reserve(static_cast<std::size_t>(rows) + 1);
  indices_.reserve(static_cast<std::size_t>(nnz));
  values_.reserve(static_cast<std::size_t>(nnz));
}

}  // namespace hipi
