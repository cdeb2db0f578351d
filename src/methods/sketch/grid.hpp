// Moving group sketches from the ranks that built them into the 2D block-cyclic layout of
// the product (DESIGN.md section 2, step 4).
//
// Each rank holds the sketches of a contiguous range of groups, group-major (group k's d
// values contiguous). One all-to-all sends every block-sized chunk of a sketch to the
// process that owns it in the target layout. ScaLAPACK's p?gemr2d does the same job, but
// measured here it fell from about 800 MB/s to 175 MB/s per rank between 32768 and 65536
// rows (d = 4096), against about 10 GB/s for the all-to-all.
#pragma once

#include <cstdint>
#include <vector>

#include "parallel/mpi.hpp"
#include "parallel/scalapack.hpp"

namespace hipi {

/// Columns of C = S_A S_B^T per panel when each rank may hold `panel_elements` of it: a
/// multiple of block * cols (so panels start on process column 0, aligned with C's
/// layout), at least one such multiple. `rows_of_c` is G_A.
std::int64_t panel_width(std::int64_t rows_of_c, std::int64_t block, GridShape shape, std::int64_t panel_elements);

/// The process grid for C = S_A S_B^T (G_A x G_B, computed in column panels) on `ranks`.
/// With the whole d in one inner block, S_A lives on one process column and S_B^T on one
/// process row; p?gemm broadcasts S_A along the process rows for every panel and each
/// panel of S_B^T down the process columns once. The grid minimises what is broadcast,
/// panels * G_A * (cols - 1) + G_B * (rows - 1), ties going to the taller grid.
/// Every grid of `ranks`, the least broadcast first (product_grid's order).
std::vector<GridShape> product_grids(int ranks, std::int64_t groups_a, std::int64_t groups_b, std::int64_t block,
                                     std::int64_t panel_elements);
GridShape product_grid(int ranks, std::int64_t groups_a, std::int64_t groups_b, std::int64_t block,
                       std::int64_t panel_elements);

/// The sketches of groups [first, first + count) on this rank, d values each, group-major.
template <class T>
struct GroupSketches {
  const T* values;
  std::int64_t first = 0, count = 0, d = 0;
};

/// This rank's part `out` of the matrix `desc` describes, with groups as rows (S_A, G x d)
/// or as columns (S_B^T, d x G). The grid of `desc` must place rank r at
/// (r / cols, r % cols), as BlacsGrid does.
template <class T>
struct GridTarget {
  const Descriptor& desc;
  bool groups_are_rows = true;
  T* out;
};

/// Collective. Writes every rank's `local` sketches into their places in `target`.
template <class T>
void scatter_to_grid(const Comm& comm, const GroupSketches<T>& local, const GridTarget<T>& target);

}  // namespace hipi
