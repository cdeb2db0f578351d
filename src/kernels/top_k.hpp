// The exact kernels for top-k (--top-k): every pair between two row blocks is scored by the
// same code as heavy_pairs (kernels/exact.hpp), and offered to the lists of its rows when
// it can still enter one (answer/top_k.hpp). The float32 GEMM filter prunes against each
// row's own floor instead of one threshold: a pair whose float32 product, widened by the
// filter's error bound, cannot reach the lower of its two rows' floors is not computed.
#pragma once

#include <functional>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "kernels/exact.hpp"

namespace hipi {

/// Where the kernels send pairs. Floors are scores (|value| with --abs) that a pair must
/// reach to be wanted, read afresh as the lists fill.
struct TopKTarget {
  const double* floor_a = nullptr;  // row r of the block of A
  const double* floor_b = nullptr;  // row s of the block of B; null: B's rows keep no lists here
  /// Pair (global i, global j) with its value (inner product or cosine), for both lists.
  std::function<void(std::int64_t i, std::int64_t j, double value)> offer;
  double floor(std::int64_t r, std::int64_t s) const {
    const double fa = floor_a[r];
    return floor_b && floor_b[s] < fa ? floor_b[s] : fa;
  }
};

/// Offers `target` every pair (a.first + r, b.first + s), s in `b_rows`, whose score may
/// reach the lower of its rows' floors, with its exact value.
void top_k_pairs(RowsAt<BitMatrix> a, RowsAt<BitMatrix> b, const Threshold& threshold, PairFilter filter,
                 const TopKTarget& target, RowRange b_rows);
void top_k_pairs(RowsAt<RealMatrix> a, RowsAt<RealMatrix> b, const Threshold& threshold, PairFilter filter,
                 const TopKTarget& target, RowRange b_rows);

}  // namespace hipi
