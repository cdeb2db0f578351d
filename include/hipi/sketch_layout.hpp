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

#include "hipi/mpi.hpp"
#include "hipi/scalapack.hpp"

namespace hipi {

/// Collective. `local` holds the sketches of groups [first, first + count), d values each,
/// group-major. They are written into `out`, this rank's part of the matrix described by
/// `target`: with groups as rows (S_A, G x d) or as columns (S_B^T, d x G). The grid of
/// `target` must place rank r at (r / cols, r % cols), as BlacsGrid does.
template <class T>
void scatter_to_grid(const Comm& comm, const T* local, std::int64_t first, std::int64_t count, std::int64_t d,
                     bool groups_are_rows, const Descriptor& target, T* out);

}  // namespace hipi
