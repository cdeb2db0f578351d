// The float64 reference kernel on sparse rows (core/sparse_matrix.hpp).
//
// The same arithmetic as the dense reference (exact.hpp): float32 products, exact in
// float64, summed in 8 lanes (lane l takes the columns k = l mod 8 in increasing k) and the
// lanes combined in the same fixed order. A column one row lacks adds +0 to its lane, which
// changes nothing, so a pair's inner product and cosine are the same bits whether its rows
// are sparse or densified: auto may solve either way and the answer is one.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/sparse_matrix.hpp"

namespace hipi {

/// Exact inner product of two sparse rows (indices increasing).
double sparse_dot(std::span<const std::int64_t> a_index, std::span<const float> a_value,
                  std::span<const std::int64_t> b_index, std::span<const float> b_value);

/// A sparse row scattered over its d columns: its value at each (0 elsewhere) and a bit per
/// column that it holds (a bit map of d = 1e6 columns fits in a core's L2 cache; the values
/// do not, and most columns of the other row are not in this one).
struct ScatteredRow {
  const float* value;
  const std::uint64_t* present;
  bool holds(std::int64_t k) const { return (present[k >> 6] >> (k & 63)) & 1; }
};

/// The same product with `a` scattered: one pass over b's entries, no merge. Identical bits:
/// the same products join the same lanes in the same order.
double sparse_dot(const ScatteredRow& a, std::span<const std::int64_t> b_index, std::span<const float> b_value);

/// Row r of `a` with row s of `b`.
inline double sparse_dot(const SparseMatrix& a, std::int64_t r, const SparseMatrix& b, std::int64_t s) {
  return sparse_dot(a.indices(r), a.values(r), b.indices(s), b.values(s));
}

/// The name the other kernels use (kernels/exact.hpp), for code written over row types.
inline double inner_product(const SparseMatrix& a, std::int64_t r, const SparseMatrix& b, std::int64_t s) {
  return sparse_dot(a, r, b, s);
}

/// What a cosine is judged with (Threshold::value): each row's product with itself, for `rows`.
std::vector<double> row_self_products(const SparseMatrix& m, RowRange rows);
/// Their square roots: the norms the bounds scale by.
std::vector<double> row_norms(const SparseMatrix& m, RowRange rows);

}  // namespace hipi
