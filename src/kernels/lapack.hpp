// The dense linear algebra the prefix filter needs from the system BLAS and LAPACK, wrapped
// once: a symmetric eigendecomposition and a float64 product of row blocks.
#pragma once

#include <cstdint>
#include <vector>

namespace hipi {

/// Eigenvectors of the symmetric d x d matrix `sym` (column-major; only its lower triangle
/// is read), as the columns of a d x d column-major matrix, by decreasing eigenvalue
/// (LAPACK dsyev). `values`, if given, receives the eigenvalues in the same order.
std::vector<double> eigenvectors_descending(std::vector<double> sym, std::int64_t d,
                                            std::vector<double>* values = nullptr);

/// X^T X for X (rows x d, row-major): d x d, column-major (BLAS dgemm).
std::vector<double> gram(const double* x, std::int64_t rows, std::int64_t d);

/// Y (rows x k, row-major) = X (rows x d, row-major) * Q[:, :k] (Q d x d column-major), in
/// float64 (BLAS dgemm).
void multiply_rows(const double* x, std::int64_t rows, std::int64_t d, const double* q, std::int64_t k, double* y);

}  // namespace hipi
