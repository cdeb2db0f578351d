// Detection (DESIGN.md section 2, step 5): the entries of one local panel of C = S_A S_B^T
// whose magnitude reaches T_det become candidates. Nearly every block of a column holds
// none and is passed over by a vectorised scan against a threshold no larger than T_det in
// C's own type; the rest take the exact test entry by entry in double, with a self-join's
// diagonal self terms subtracted. Pure: tested without MPI.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "parallel/scalapack.hpp"

namespace hipi {

/// The largest T no greater than t: |x| >= t (in double) implies |x| >= scan_threshold(t).
template <class T>
T scan_threshold(double t) {
  T s = static_cast<T>(t);
  while (static_cast<double>(s) > t) s = std::nextafter(s, -std::numeric_limits<T>::infinity());
  return s;
}

/// Whether any of x[0, n) has |x| >= t: a branch-free count the compiler vectorises.
template <class T>
bool any_at_least(const T* x, std::int64_t n, T t) {
  std::int64_t hits = 0;
  for (std::int64_t i = 0; i < n; ++i) hits += std::abs(x[i]) >= t;
  return hits != 0;
}

/// What makes an entry of C a candidate.
struct DetectionRule {
  double threshold = 0;                             // T_det: |C[g, h]| >= T_det
  bool self_join = false;                           // only g <= h; C[g, g] less self_terms[g]
  const std::vector<double>* self_terms = nullptr;  // per group of A, self-joins only
};

/// Calls emit(g, h) for every candidate of this rank's part of a panel of C: columns
/// first_col.. of C, block-cyclic as `desc` says, stored column-major in `c` (leading
/// dimension desc.ld). Returns the number of candidates.
template <class T, class Emit>
std::int64_t detect_panel(const T* c, const Descriptor& desc, std::int64_t first_col, const DetectionRule& rule,
                          Emit&& emit) {
  const T t_scan = scan_threshold<T>(rule.threshold);
  std::int64_t found = 0;
  for (std::int64_t lj = 0; lj < desc.local_cols; ++lj) {
    const std::int64_t h = first_col + block_cyclic_global(lj, desc.nb, desc.my_col, desc.grid_cols);
    const T* column = c + lj * desc.ld;
    for (std::int64_t li0 = 0; li0 < desc.local_rows; li0 += desc.mb) {
      const std::int64_t li1 = std::min(desc.local_rows, li0 + desc.mb);
      const std::int64_t g0 = block_cyclic_global(li0, desc.mb, desc.my_row, desc.grid_rows);
      if (rule.self_join && g0 > h) continue;  // below the diagonal: G > H for the whole block
      const bool off_diagonal = !rule.self_join || g0 + (li1 - li0) <= h;
      if (off_diagonal && !any_at_least(column + li0, li1 - li0, t_scan)) continue;
      for (std::int64_t li = li0; li < li1; ++li) {
        const std::int64_t g = g0 + (li - li0);
        if (rule.self_join && g > h) continue;
        double v = static_cast<double>(column[li]);
        if (rule.self_join && g == h) v -= (*rule.self_terms)[g];
        if (std::abs(v) >= rule.threshold) {
          emit(g, h);
          ++found;
        }
      }
    }
  }
  return found;
}

}  // namespace hipi
