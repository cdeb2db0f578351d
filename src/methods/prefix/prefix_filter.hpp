// Folder methods/prefix/: the prefix filter for real data: principal axes, the exact bound on a
// rotated prefix, its measured cost; it runs on brute force's ring.
//
// The prefix filter (DESIGN.md section 8): exact pairs of real blocks from a float32 GEMM of
// the first k rotated coordinates only. With y = Q^T x (x / ||x|| with --cosine),
//     <a, b> <= P32 + ||y_a,tail|| ||y_b,tail|| + R N_a N_b + sqrt(k) 2^-126 (N_a + N_b)
//               + k 2^-100,
// where P32 is the float32 product of the rounded prefixes, the tails' product bounds the
// rest (Cauchy-Schwarz), N bounds the rows' norms (scaled, rotated, rounded), the
// sqrt(k) 2^-126 term is the prefixes' absolute rounding below float32's normal range
// (prefix values under 2^-126 are flushed to 0, so no BLAS sees a subnormal), and
//     R = ||I - Q^T Q|| + 3 eps_rot (1 + ||I - Q^T Q||) + 2^-23 + 2^-47 + gamma32_k (1 + 2^-20)
//         + gamma64_d + 2^-40
// covers the rotation's loss of orthogonality, its float64 rounding
// (eps_rot = 2 d sqrt(d) 2^-53), the prefixes' rounding to float32, the GEMM's rounding,
// and the reference kernel's (gamma_n = n u / (1 - n u)). A pair is ruled out when that
// sum is below tau (|P32| with --abs), less 2^-40 of tau (and of 1 with --cosine) for the
// rounding of the decision; every other pair is decided by the float64 reference kernel on
// the original rows, so the answer is brute force's, pair for pair and value for value.
// The test runs vectorised in float32 on values rounded up to 0 or a normal number, its own
// rounding (relative, and 2^-126 for each flushed operation) in the slack.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "methods/brute/brute.hpp"
#include "methods/prefix/rotation.hpp"

namespace hipi {

/// A block's rows on the principal axes: the first k coordinates in float32, the rest as
/// its norm, and what the bound needs.
struct RotatedRows {
  RealMatrix prefix;         // rows x k
  std::vector<double> tail;  // ||y_tail||, rounded up
  std::vector<double> size;  // an upper bound on the norms of the scaled row, y and its prefix
  std::vector<double> self;  // the reference kernel's <x, x> of each row (what --cosine judges with)
  bool safe = true;          // every size below 2^60 (else the block goes to heavy_pairs)
};

/// Rows `range` of `rows` rotated by `rotation`, keeping k coordinates (scaled to unit
/// norm first when `unit`).
RotatedRows rotate_rows(const RealMatrix& rows, RowRange range, const Rotation& rotation, std::int64_t k, bool unit);

class PrefixCheck : public RealBlockCheck {
 public:
  PrefixCheck(std::shared_ptr<const Rotation> rotation, std::int64_t k, bool unit);
  void pairs(RowsAt<RealMatrix> a, RowsAt<RealMatrix> b, const Threshold& threshold, PairFilter filter,
             std::vector<Pair>& out, RowRange b_rows) const override;
  void top_k(RowsAt<RealMatrix> a, RowsAt<RealMatrix> b, const Threshold& threshold, PairFilter filter,
             const TopKTarget& target, RowRange b_rows) const override;
  std::int64_t k() const { return k_; }
  /// The bytes the filter holds while it checks blocks of a_rows against blocks of b_rows
  /// (the rotated rows, the tiles, the rotation); bytes_for prices it before it exists.
  double bytes(std::int64_t a_rows, std::int64_t b_rows) const override;
  static double bytes_for(std::int64_t a_rows, std::int64_t b_rows, std::int64_t d, std::int64_t k);
  /// The coordinates the method keeps when asked for by name: a quarter, 8 at least, d at most.
  static std::int64_t k_by_name(std::int64_t d) { return std::min(d, std::max<std::int64_t>(8, d / 4)); }
  /// Rows of each side sampled for the principal axes.
  static constexpr std::int64_t kAxisSampleRows = 2048;
  /// Pairs the bound could not rule out, so far (each decided by the reference kernel).
  std::int64_t survivors() const { return survivors_; }

 private:
  const RotatedRows& rotated_a(RowsAt<RealMatrix> a) const;
  template <class Floors, class Survivor>
  void scan(RowsAt<RealMatrix> a, RowsAt<RealMatrix> b, const Threshold& threshold, PairFilter filter, RowRange b_rows,
            const RotatedRows& ra, const RotatedRows& rb, Floors&& floors, Survivor&& survivor) const;
  std::shared_ptr<const Rotation> rotation_;
  std::int64_t k_;
  bool unit_;
  double relative_;  // R above
  // The block of A whose rotation is cached: its storage and its global rows (a freed block's
  // storage may come back for another, so the rows are part of the key).
  mutable const float* cached_for_ = nullptr;
  mutable RowRange cached_rows_{-1, -1};
  mutable RotatedRows cached_;
  mutable std::int64_t survivors_ = 0;
};

}  // namespace hipi
