// Folder kernels/: the exact kernels every answer is decided by (XOR+popcount, the float64
// reference) and the float32 GEMM filter in front of them.
//
// Exact verification kernels: every pair between two row blocks, keeping the heavy ones.
//
// Brute force runs these on whole blocks; the sketch solver runs them on candidate groups.
// Both report the same pairs with the same inner products, because each pair's inner
// product is computed by the same code in the same order whatever the blocking:
//   binary: d - 2 * popcount(a XOR b), an exact integer;
//   real:   float32 products summed in float64 in 8 fixed lanes (a float32 product is exact
//           in float64, so FMA or not, every code path rounds identically).
// The kernels are compiled for several instruction sets (avx512 with VPOPCNTDQ, avx2,
// popcnt, generic); the best one this CPU runs is chosen at start-up, or the one named by
// the environment variable HIPI_KERNEL. Every set gives identical results (tested).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/bit_matrix.hpp"
#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"

namespace hipi {

/// Which pairs of two blocks to check.
enum class PairFilter {
  All,    // every (i, j)
  Upper,  // only global i < j: the diagonal block of a self-join
};

/// Appends to `out` every heavy pair (a.first + r, b.first + s) between rows r of `a` and
/// rows s of `b` (only rows s in `b_rows`, if given). `a` and `b` must have the same
/// number of columns.
void heavy_pairs(RowsAt<BitMatrix> a, RowsAt<BitMatrix> b, const Threshold& threshold, PairFilter filter,
                 std::vector<Pair>& out, std::optional<RowRange> b_rows = std::nullopt);
void heavy_pairs(RowsAt<RealMatrix> a, RowsAt<RealMatrix> b, const Threshold& threshold, PairFilter filter,
                 std::vector<Pair>& out, std::optional<RowRange> b_rows = std::nullopt);

/// Binary heavy_pairs at high thresholds checks each pair after a prefix of its words and
/// skips the rest when the pair can no longer reach the threshold (early abandon): the same
/// pairs and inner products, less work. On by default; off for tests and measurements
/// (or HIPI_EARLY_ABANDON=off). Returns whether it was on.
bool use_early_abandon(bool on);
/// The fraction of a random binary pair's words heavy_pairs reads at this threshold: the
/// prefix over all words with early abandon, 1 without (what the planner prices).
double early_abandon_work(std::int64_t d, const Threshold& t);

/// Exact inner product of row r of `a` and row s of `b`, by the same code as heavy_pairs.
std::int64_t inner_product(const BitMatrix& a, std::int64_t r, const BitMatrix& b, std::int64_t s);
double inner_product(const RealMatrix& a, std::int64_t r, const RealMatrix& b, std::int64_t s);

/// What a cosine is judged with (Threshold::value): each row's inner product with itself
/// by the reference kernel, for `rows` of `m`.
std::vector<double> row_self_products(const RealMatrix& m, RowRange rows);
/// Their square roots: the norms the bounds scale by.
std::vector<double> row_norms(const RealMatrix& m, RowRange rows);

/// How heavy_pairs checks real blocks: through the float32 GEMM filter (gemm_filter.hpp)
/// where a block is large and safe enough, or always with the float64 reference kernel.
/// Both give the same pairs with the same inner products (tested); the filter is the
/// default, HIPI_REAL_KERNEL=reference (or use_real_kernel) forces the reference.
enum class RealKernel { GemmFilter, Reference };
void use_real_kernel(RealKernel kernel);
RealKernel real_kernel();

/// Name of the kernel set in use ("avx512", "avx2", "popcnt" or "generic").
std::string kernel_name();
/// Names of the kernel sets this CPU can run, fastest first.
std::vector<std::string> runnable_kernels();
/// Switches to the named kernel set (tests and benchmarks); throws InputError if this CPU
/// cannot run it. Not thread-safe: call before any kernel runs.
void use_kernel(const std::string& name);

}  // namespace hipi
