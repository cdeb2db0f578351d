#include "kernels/lapack.hpp"

#include <algorithm>
#include <climits>
#include <string>

#include "hipi/error.hpp"

extern "C" {
void dsyev_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
            const int* lwork, int* info);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha,
            const double* a, const int* lda, const double* b, const int* ldb, const double* beta, double* c,
            const int* ldc);
}

namespace hipi {

std::vector<double> eigenvectors_descending(std::vector<double> sym, std::int64_t d, std::vector<double>* values) {
  HIPI_ASSERT(d > 0 && d <= INT_MAX && static_cast<std::int64_t>(sym.size()) == d * d);
  const int n = static_cast<int>(d);
  std::vector<double> w(d);
  int info = 0, lwork = -1;
  double size = 0;
  dsyev_("V", "L", &n, sym.data(), &n, w.data(), &size, &lwork, &info);  // workspace query
  lwork = std::max(1, static_cast<int>(size));
  std::vector<double> work(lwork);
  dsyev_("V", "L", &n, sym.data(), &n, w.data(), work.data(), &lwork, &info);
  if (info != 0) throw InternalError("dsyev failed with INFO = " + std::to_string(info));
  // dsyev orders eigenvalues ascending: reverse the columns.
  std::vector<double> q(sym.size());
  for (std::int64_t c = 0; c < d; ++c) std::copy_n(sym.begin() + (d - 1 - c) * d, d, q.begin() + c * d);
  if (values) values->assign(w.rbegin(), w.rend());
  return q;
}

std::vector<double> gram(const double* x, std::int64_t rows, std::int64_t d) {
  HIPI_ASSERT(rows <= INT_MAX && d <= INT_MAX);
  std::vector<double> c(static_cast<std::size_t>(d * d), 0.0);
  if (rows == 0) return c;
  const int n = static_cast<int>(d), k = static_cast<int>(rows);
  const double one = 1, zero = 0;
  // Row-major X is column-major X^T (d x rows): C = X^T (X^T)^T.
  dgemm_("N", "T", &n, &n, &k, &one, x, &n, x, &n, &zero, c.data(), &n);
  return c;
}

void multiply_rows(const double* x, std::int64_t rows, std::int64_t d, const double* q, std::int64_t k, double* y) {
  if (rows == 0 || k == 0) return;
  HIPI_ASSERT(rows <= INT_MAX && d <= INT_MAX && k <= INT_MAX);
  const int m = static_cast<int>(rows), n = static_cast<int>(k), inner = static_cast<int>(d);
  const double one = 1, zero = 0;
  // Row-major X (rows x d) is column-major X^T (d x rows); Y^T (k x rows) = Q[:, :k]^T X^T.
  dgemm_("T", "N", &n, &m, &inner, &one, q, &inner, x, &inner, &zero, y, &n);
}

}  // namespace hipi
