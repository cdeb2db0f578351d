#include "kernels/sparse_exact.hpp"

#include <cmath>

namespace hipi {

double sparse_dot(std::span<const std::int64_t> a_index, std::span<const float> a_value,
                  std::span<const std::int64_t> b_index, std::span<const float> b_value) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  std::size_t p = 0, q = 0;
  while (p < a_index.size() && q < b_index.size()) {
    const std::int64_t x = a_index[p], y = b_index[q];
    if (x == y) {
      lane[x & 7] += static_cast<double>(a_value[p]) * static_cast<double>(b_value[q]);
      ++p;
      ++q;
    } else if (x < y) {
      ++p;
    } else {
      ++q;
    }
  }
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

double sparse_dot(const ScatteredRow& a, std::span<const std::int64_t> b_index, std::span<const float> b_value) {
  double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (std::size_t q = 0; q < b_index.size(); ++q) {
    const std::int64_t k = b_index[q];
    if (a.holds(k)) lane[k & 7] += static_cast<double>(a.value[k]) * static_cast<double>(b_value[q]);
  }
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

std::vector<double> row_self_products(const SparseMatrix& m, RowRange rows) {
  std::vector<double> self(static_cast<std::size_t>(rows.size()));
  for (std::int64_t r = rows.begin; r < rows.end; ++r) self[r - rows.begin] = sparse_dot(m, r, m, r);
  return self;
}

std::vector<double> row_norms(const SparseMatrix& m, RowRange rows) {
  std::vector<double> norms = row_self_products(m, rows);
  for (double& n : norms) n = std::sqrt(n);
  return norms;
}

}  // namespace hipi
