// The GEMM filter for real data (DESIGN.md section 8): float32 GEMM selects the pairs that
// could pass, the float64 reference kernel (kernels/exact.hpp) decides, so the output is the
// reference's, bit for bit, at close to SGEMM speed.
//
// The bound. C32 = fl(A B^T) from the system BLAS's SGEMM. For rows a, b of d float32
// values, whatever order the BLAS sums in (blocked, vectorised, with or without FMA),
//     |C32 - a.b| <= gamma32_d * sum_t |a_t b_t| <= gamma32_d * ||a|| ||b||,
//     gamma_d = d u / (1 - d u), u = 2^-24 (float32),
// while no product or partial sum overflows or underflows (Higham, Accuracy and Stability
// of Numerical Algorithms, 2nd ed., section 3.1: the inner-product bound holds for any
// order of evaluation; an FMA only removes roundings). The reference sums the exact
// float64 products in float64, so |ip64 - a.b| <= gamma64_d ||a|| ||b|| with u = 2^-53.
// A pair the reference passes (ip64 >= tau) therefore has
//     C32 >= tau - E,   E = (gamma32_d + gamma64_d) ||a|| ||b|| + d 2^-125,
// (the last term covers additions whose result is subnormal being flushed to zero, at
// most 2^-126 each), and every entry with C32 >= tau - E (|C32| with --abs) is re-checked
// by the reference kernel. E is computed in float64 and enlarged by 2^-20 of itself to
// cover the rounding of the norms.
//
// Safe rows. The bound needs no overflow or underflow: a block is filtered only when every
// row has ||x|| < 2^62 (so every partial sum stays below 2^124, far from float32's 2^128)
// and every non-zero |x_t| >= 2^-60 (so every non-zero product is at least 2^-120, a
// normal float32), and d < 2^20. Any other block goes to the reference kernel whole.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "kernels/exact.hpp"

namespace hipi {

/// E / (||a|| ||b||) for rows of length d: gamma32_d + gamma64_d, enlarged by 2^-20.
double gemm_filter_relative_bound(std::int64_t d);
/// The absolute part of E: d 2^-125.
double gemm_filter_absolute_bound(std::int64_t d);

/// The largest float no greater than t (x >= t in double implies x >= it), and the smallest
/// no less than t: what a float32 test may compare with to stay on the safe side.
float float_at_most(double t);
float float_at_least(double t);

/// Whether every row of `m` in `rows` is safe for the filter (see above).
bool gemm_filter_safe(const RealMatrix& m, RowRange rows);

/// heavy_pairs (kernels/exact.hpp) for real blocks through the filter: the same pairs with the same
/// inner products. Returns false, having done nothing, when the blocks are not safe.
bool gemm_filter_pairs(RowsAt<RealMatrix> a, RowsAt<RealMatrix> b, const Threshold& threshold, PairFilter filter,
                       std::vector<Pair>& out, RowRange b_rows);

struct TopKTarget;  // kernels/top_k.hpp
/// top_k_pairs (kernels/top_k.hpp) for real blocks through the filter, each pair tested
/// against its rows' own floors: the same pairs offered with the same values. Returns
/// false, having done nothing, when the blocks are not safe.
bool gemm_filter_top_k(RowsAt<RealMatrix> a, RowsAt<RealMatrix> b, const Threshold& threshold, PairFilter filter,
                       const TopKTarget& target, RowRange b_rows);

/// C = A B^T for rows `a_rows` of `a` (m of them) and `b_rows` of `b` (n), column-major
/// m x n with leading dimension m, by the system BLAS's SGEMM (what the filter computes;
/// for tests).
void sgemm_rows(const RealMatrix& a, RowRange a_rows, const RealMatrix& b, RowRange b_rows, float* c);

}  // namespace hipi
