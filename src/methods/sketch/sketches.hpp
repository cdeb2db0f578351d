// Group sketches (DESIGN.md section 2, steps 2 and 3).
//
// Rows are cut into fixed tiles of `tile` rows. Inside each tile a permutation seeded by
// (seed, repetition, side, tile) forms groups of g rows (the last group of a tile is short
// when g does not divide the tile, so any group size fits tiles read for another), and
// every row gets a sign seeded by (seed, repetition, side, row). Groups and signs are pure
// functions of those keys, never of the number of ranks; ranks own whole tiles
// (TiledRows), so every group lives on one rank.
//
// The sketch of group G is S[G] = sum over rows i in G of s_i * x_i.
#pragma once

#include <cstdint>
#include <vector>

#include "core/bit_matrix.hpp"
#include "core/matrix_blocks.hpp"
#include "core/random.hpp"

namespace hipi {

/// Rows split over ranks in whole tiles, balanced: part r holds tiles [first_tile(r),
/// first_tile(r + 1)), the first tiles() % parts parts one tile more than the others. With
/// at least kTilesPerPart tiles per part (balanced_tile), every part's rows are within 5%
/// of the mean. Groups are block-distributed too (the sketches of a contiguous range of
/// groups per rank, which scatter_to_grid moves to the product's layout).
struct TiledRows {
  std::int64_t n = 0;
  std::int64_t tile = 1;
  int parts = 1;
  std::int64_t tiles() const { return (n + tile - 1) / tile; }
  std::int64_t first_tile(int part) const;
  RowRange rows(int part) const;
  /// The part holding tile `t`, and the part holding global row `row`.
  int owner_of_tile(std::int64_t t) const;
  int owner(std::int64_t row) const { return owner_of_tile(row / tile); }
};

/// Tiles per part that keep the largest part within 5% of the mean: with T >= 21 P tiles
/// (the last one possibly short) the largest part over the mean is at most
/// (T + P - 1) / (T - 1) <= (22 P - 1) / (21 P - 1) <= 1.05.
constexpr std::int64_t kTilesPerPart = 21;

/// The tile for groups of `group` rows when `n` rows are split over `parts` ranks: `largest`
/// rows while that leaves every part kTilesPerPart tiles; otherwise as many rows as does,
/// rounded down to a multiple of 64 (so every group size up to 64 shares it), or of `group`
/// below 64 rows; never less than `group`. A tile of `group` rows is one group: when even
/// that leaves fewer than kTilesPerPart per part, the parts cannot be balanced with whole
/// groups (Layout reports the imbalance).
std::int64_t balanced_tile(std::int64_t n, int parts, std::int64_t group, std::int64_t largest = 1024);

/// The grouping of one side in one repetition.
class Grouping {
 public:
  Grouping(std::int64_t n, std::int64_t group_size, std::int64_t tile, std::uint64_t seed, int repetition, int side);

  std::int64_t rows() const { return n_; }
  std::int64_t group_size() const { return g_; }
  std::int64_t tile() const { return tile_; }
  std::int64_t groups_per_tile() const { return (tile_ + g_ - 1) / g_; }
  /// Number of groups: full tiles give ceil(tile/g) groups, the last tile ceil(rows/g).
  std::int64_t groups() const;
  /// Groups of the rows of part `part` of `TiledRows{n, tile, parts}`: [first, end).
  RowRange groups_of(const TiledRows& tiled, int part) const;
  /// Rank holding group G under `tiled`.
  int owner_of_group(std::int64_t group, const TiledRows& tiled) const;

  /// Random sign (+1 or -1) of a row.
  int sign(std::int64_t row) const;
  /// Rows of a tile in their permuted order: group c of the tile is entries [c*g, c*g+g).
  std::vector<std::int64_t> tile_order(std::int64_t tile_index) const;
  /// A random stream keyed by this grouping's (seed, repetition, side) and by `purpose` and
  /// `index`: randomness that belongs to one group or row of this repetition.
  RandomStream stream(std::uint64_t purpose, std::int64_t index) const;

 private:
  std::int64_t n_, g_, tile_;
  std::uint64_t seed_;
  int repetition_, side_;
};

/// The groups of a contiguous range of whole tiles: the global rows of each group.
struct LocalGroups {
  RowRange groups;                    // global group indices held
  std::vector<std::int64_t> offsets;  // group k's rows are members[offsets[k], offsets[k+1])
  std::vector<std::int64_t> members;  // global row indices

  LocalGroups(const Grouping& grouping, RowRange rows);
  std::int64_t size() const { return groups.size(); }
  std::int64_t first_member(std::int64_t k) const { return offsets[k]; }
  std::int64_t count(std::int64_t k) const { return offsets[k + 1] - offsets[k]; }
};

/// Feature maps (DESIGN.md section 3, amplification). Degree 1 is the identity. Degree 2
/// maps x to [x_i^2 for all i, w * x_i * x_j for i < j], D = d(d+1)/2 features, with w = 2
/// on side A and w = 1 on side B, so that <phi_A(a), phi_B(b)> = <a,b>^2 exactly (integers
/// for +-1 data; no sqrt(2) to round).
struct FeatureMap {
  int degree = 1;
  int side = 0;  // 0: A (weight 2 on cross terms), 1: B (weight 1)
  std::int64_t dim(std::int64_t d) const { return degree == 1 ? d : d * (d + 1) / 2; }
};

/// Where sketch values go: group k, feature c at out[k * group + c * coord] (choose strides
/// for the layout wanted).
struct SketchStrides {
  std::int64_t group = 1, coord = 1;
};

/// Writes the sketches sum s_i * phi(x_i) of `groups` into `out` with `strides`. `rows`
/// holds global rows [rows.first, rows.first + rows.rows.rows()). Features are computed
/// row by row: the n x D feature matrix is never formed.
template <class T>
void build_sketches(RowsAt<BitMatrix> rows, const Grouping& grouping, const LocalGroups& groups, T* out,
                    SketchStrides strides, FeatureMap map = {});
template <class T>
void build_sketches(RowsAt<RealMatrix> rows, const Grouping& grouping, const LocalGroups& groups, T* out,
                    SketchStrides strides, FeatureMap map = {});

/// Sum over rows i in each group of <x_i, x_i>^degree: the self terms on the diagonal of a
/// self-join.
std::vector<double> group_self_terms(const BitMatrix& rows, std::int64_t first_row, const LocalGroups& groups,
                                     int degree = 1);
std::vector<double> group_self_terms(const RealMatrix& rows, std::int64_t first_row, const LocalGroups& groups,
                                     int degree = 1);

}  // namespace hipi
