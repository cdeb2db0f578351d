// ScaLAPACK for hipi: the one place that calls ScaLAPACK/PBLAS (descinit, p?gemm,
// p?gemr2d). Block-cyclic index arithmetic is pure and tested without MPI.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "parallel/blacs_grid.hpp"

namespace hipi {

/// Elements of a dimension of size n, block size nb, held by process coordinate `proc` of
/// `procs` (first block on coordinate 0): ScaLAPACK's NUMROC.
std::int64_t block_cyclic_count(std::int64_t n, std::int64_t nb, int proc, int procs);
/// Global index of local index `local` on coordinate `proc`: ScaLAPACK's INDXL2G (0-based).
std::int64_t block_cyclic_global(std::int64_t local, std::int64_t nb, int proc, int procs);
/// Coordinate holding global index `global`, and its local index there (INDXG2P, INDXG2L).
inline int block_cyclic_owner(std::int64_t global, std::int64_t nb, int procs) {
  return static_cast<int>((global / nb) % procs);
}
inline std::int64_t block_cyclic_local(std::int64_t global, std::int64_t nb, int procs) {
  return global / nb / procs * nb + global % nb;
}

/// A distributed m x n matrix described for ScaLAPACK on a grid, block mb x nb, first block
/// on process (0, 0), stored column-major locally with leading dimension ld.
struct Descriptor {
  std::array<int, 9> desc{};
  std::int64_t m = 0, n = 0, mb = 1, nb = 1;
  std::int64_t local_rows = 0, local_cols = 0, ld = 1;
  int grid_rows = 1, grid_cols = 1, my_row = 0, my_col = 0;
  std::int64_t local_size() const { return local_rows * local_cols; }
};

/// Describes an m x n matrix with mb x nb blocks on `grid` (ScaLAPACK's DESCINIT; its INFO
/// is checked and a failure thrown as ScalapackError).
Descriptor describe(const BlacsGrid& grid, std::int64_t m, std::int64_t n, std::int64_t mb, std::int64_t nb);

/// A distributed matrix as this rank holds it: its local part and the descriptor that
/// places it in the whole.
template <class T>
struct Distributed {
  T* local;
  const Descriptor& desc;
};

/// The sizes of C (m x n) = A (m x k) * B (k x n).
struct GemmSize {
  std::int64_t m = 0, n = 0, k = 0;
};

/// C (m x n) = A[:, :k] * B[:k, b_col : b_col + n], no transposes (P?GEMM "N","N";
/// DESIGN.md section 4: N,T runs 2.4x slower). Indices 0-based.
template <class T>
void gemm_nn(GemmSize size, Distributed<const T> a, Distributed<const T> b, std::int64_t b_col, Distributed<T> c);

/// The BLAS kernels ScaLAPACK's GEMM runs on: "OpenBLAS <core>" (e.g. "OpenBLAS SkylakeX",
/// the core OpenBLAS chose for this CPU or was told by OPENBLAS_CORETYPE), or "unknown"
/// when the system BLAS is not OpenBLAS.
std::string blas_kernels();

}  // namespace hipi
