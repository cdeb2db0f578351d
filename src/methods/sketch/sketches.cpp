#include "methods/sketch/sketches.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/random.hpp"
#include "hipi/error.hpp"

namespace hipi {

namespace {
enum Stream : std::uint64_t { kPermutation = 11, kSign = 12 };
}

std::int64_t TiledRows::first_tile(int part) const {
  const std::int64_t base = tiles() / parts, extra = tiles() % parts;
  return part * base + std::min<std::int64_t>(part, extra);
}

RowRange TiledRows::rows(int part) const {
  return {std::min(n, first_tile(part) * tile), std::min(n, first_tile(part + 1) * tile)};
}

int TiledRows::owner_of_tile(std::int64_t t) const {
  const std::int64_t base = tiles() / parts, extra = tiles() % parts;
  const std::int64_t in_larger = extra * (base + 1);  // tiles of the parts holding one more
  return static_cast<int>(t < in_larger ? t / (base + 1) : extra + (t - in_larger) / base);
}

std::int64_t balanced_tile(std::int64_t n, int parts, std::int64_t group, std::int64_t largest) {
  const std::int64_t fits = n / (kTilesPerPart * parts);  // the largest tile that leaves enough tiles
  if (fits >= largest) return std::max(largest, group);
  const std::int64_t unit = fits >= 64 ? 64 : group;
  return std::max(group, fits / unit * unit);
}

Grouping::Grouping(std::int64_t n, std::int64_t group_size, std::int64_t tile, std::uint64_t seed, int repetition,
                   int side)
    : n_(n), g_(group_size), tile_(tile), seed_(seed), repetition_(repetition), side_(side) {
  HIPI_ASSERT(g_ >= 1 && tile_ >= g_);
}

std::int64_t Grouping::groups() const {
  if (n_ == 0) return 0;
  const std::int64_t full_tiles = n_ / tile_, rest = n_ % tile_;
  return full_tiles * groups_per_tile() + (rest + g_ - 1) / g_;
}

RowRange Grouping::groups_of(const TiledRows& tiled, int part) const {
  // Only the last tile can hold fewer groups, and it is the last part's.
  return {std::min(groups(), tiled.first_tile(part) * groups_per_tile()),
          std::min(groups(), tiled.first_tile(part + 1) * groups_per_tile())};
}

int Grouping::owner_of_group(std::int64_t group, const TiledRows& tiled) const {
  return tiled.owner_of_tile(group / groups_per_tile());
}

RandomStream Grouping::stream(std::uint64_t purpose, std::int64_t index) const {
  return RandomStream(seed_, {purpose, static_cast<std::uint64_t>(repetition_), static_cast<std::uint64_t>(side_),
                              static_cast<std::uint64_t>(index)});
}

int Grouping::sign(std::int64_t row) const {
  return stream(kSign, row).next() & 1 ? -1 : 1;
}

std::vector<std::int64_t> Grouping::tile_order(std::int64_t t) const {
  const std::int64_t begin = t * tile_, end = std::min(n_, begin + tile_);
  std::vector<std::int64_t> order(static_cast<std::size_t>(end - begin));
  std::iota(order.begin(), order.end(), begin);
  RandomStream rng(seed_, {kPermutation, static_cast<std::uint64_t>(repetition_), static_cast<std::uint64_t>(side_),
                           static_cast<std::uint64_t>(t)});
  for (std::int64_t i = static_cast<std::int64_t>(order.size()) - 1; i > 0; --i)
    std::swap(order[i], order[rng.below(static_cast<std::uint64_t>(i + 1))]);
  return order;
}

LocalGroups::LocalGroups(const Grouping& grouping, RowRange rows) {
  offsets.push_back(0);
  if (rows.size() == 0) {  // a rank with no tiles (more ranks than tiles)
    groups = {grouping.groups(), grouping.groups()};
    return;
  }
  HIPI_ASSERT(rows.begin % grouping.tile() == 0 && (rows.end % grouping.tile() == 0 || rows.end == grouping.rows()));
  const std::int64_t first_tile = rows.begin / grouping.tile();
  groups = {first_tile * grouping.groups_per_tile(), first_tile * grouping.groups_per_tile()};
  for (std::int64_t t = first_tile; t * grouping.tile() < rows.end; ++t) {
    const auto order = grouping.tile_order(t);
    for (std::size_t start = 0; start < order.size(); start += grouping.group_size()) {
      const std::size_t stop = std::min(order.size(), start + static_cast<std::size_t>(grouping.group_size()));
      members.insert(members.end(), order.begin() + start, order.begin() + stop);
      offsets.push_back(static_cast<std::int64_t>(members.size()));
      ++groups.end;
    }
  }
}

namespace {

// Sketches are accumulated for a batch of groups in a contiguous buffer, then written out:
// for the column-major S_A layout each coordinate then gets kBatch consecutive values (a
// cache line) instead of one scattered write per row.
constexpr std::int64_t kBatch = 16;

template <class T, class AddRow>
void build_batched(const Grouping& grouping, const LocalGroups& groups, std::int64_t d, T* out, SketchStrides strides,
                   AddRow&& add_row) {
  const std::int64_t group_stride = strides.group, coord_stride = strides.coord;
  std::vector<T> buffer(static_cast<std::size_t>(kBatch * d));
  for (std::int64_t k0 = 0; k0 < groups.size(); k0 += kBatch) {
    const std::int64_t batch = std::min(kBatch, groups.size() - k0);
    std::fill(buffer.begin(), buffer.end(), T(0));
    for (std::int64_t q = 0; q < batch; ++q)
      for (std::int64_t m = groups.first_member(k0 + q); m < groups.offsets[k0 + q + 1]; ++m) {
        const std::int64_t row = groups.members[m];
        add_row(row, static_cast<T>(grouping.sign(row)), buffer.data() + q * d);
      }
    if (coord_stride == 1) {
      for (std::int64_t q = 0; q < batch; ++q)
        std::copy(buffer.begin() + q * d, buffer.begin() + (q + 1) * d, out + (k0 + q) * group_stride);
    } else {
      for (std::int64_t c = 0; c < d; ++c)
        for (std::int64_t q = 0; q < batch; ++q) out[(k0 + q) * group_stride + c * coord_stride] = buffer[q * d + c];
    }
  }
}

// Adds sign * phi(x) to acc for one row of values x (d of them).
template <class T, class V>
void add_features(const V* x, std::int64_t d, T sign, const FeatureMap& map, T* acc) {
  if (map.degree == 1) {
    for (std::int64_t c = 0; c < d; ++c) acc[c] += sign * static_cast<T>(x[c]);
    return;
  }
  for (std::int64_t i = 0; i < d; ++i) acc[i] += sign * static_cast<T>(x[i]) * static_cast<T>(x[i]);
  const T weight = sign * static_cast<T>(map.side == 0 ? 2 : 1);
  T* cross = acc + d;
  for (std::int64_t i = 0; i < d; ++i) {
    const T wi = weight * static_cast<T>(x[i]);
    for (std::int64_t j = i + 1; j < d; ++j) *cross++ += wi * static_cast<T>(x[j]);
  }
}

}  // namespace

template <class T>
void build_sketches(RowsAt<BitMatrix> at, const Grouping& grouping, const LocalGroups& groups, T* out,
                    SketchStrides strides, FeatureMap map) {
  const BitMatrix& rows = at.rows;
  const std::int64_t d = rows.cols();
  std::vector<T> x(map.degree == 1 ? 0 : d);
  build_batched(grouping, groups, map.dim(d), out, strides, [&](std::int64_t row, T sign, T* acc) {
    const std::uint64_t* bits = rows.row(row - at.first);
    if (map.degree == 1) {  // one word of bits at a time: the hot path of degree 1
      for (std::int64_t w = 0; w * 64 < d; ++w) {
        const std::uint64_t word = bits[w];
        const std::int64_t n = std::min<std::int64_t>(64, d - w * 64);
        T* a = acc + w * 64;
        for (std::int64_t b = 0; b < n; ++b) a[b] += sign - 2 * sign * static_cast<T>((word >> b) & 1u);
      }
      return;
    }
    for (std::int64_t c = 0; c < d; ++c) x[c] = (bits[c / 64] >> (c % 64)) & 1u ? T(-1) : T(1);
    add_features(x.data(), d, sign, map, acc);
  });
}

template <class T>
void build_sketches(RowsAt<RealMatrix> at, const Grouping& grouping, const LocalGroups& groups, T* out,
                    SketchStrides strides, FeatureMap map) {
  const std::int64_t d = at.rows.cols();
  build_batched(grouping, groups, map.dim(d), out, strides, [&](std::int64_t row, T sign, T* acc) {
    add_features(at.rows.row(row - at.first), d, sign, map, acc);
  });
}

std::vector<double> group_self_terms(const BitMatrix& rows, std::int64_t, const LocalGroups& groups, int degree) {
  std::vector<double> terms(static_cast<std::size_t>(groups.size()));
  const double norm = static_cast<double>(rows.cols());  // |x|^2 = d for +-1 rows
  for (std::int64_t k = 0; k < groups.size(); ++k) terms[k] = groups.count(k) * std::pow(norm, degree);
  return terms;
}

std::vector<double> group_self_terms(const RealMatrix& rows, std::int64_t first_row, const LocalGroups& groups,
                                     int degree) {
  std::vector<double> terms(static_cast<std::size_t>(groups.size()), 0.0);
  for (std::int64_t k = 0; k < groups.size(); ++k)
    for (std::int64_t m = groups.first_member(k); m < groups.offsets[k + 1]; ++m) {
      const float* x = rows.row(groups.members[m] - first_row);
      double norm = 0;
      for (std::int64_t c = 0; c < rows.cols(); ++c) norm += double(x[c]) * double(x[c]);
      terms[k] += std::pow(norm, degree);
    }
  return terms;
}

template void build_sketches<float>(RowsAt<BitMatrix>, const Grouping&, const LocalGroups&, float*, SketchStrides,
                                    FeatureMap);
template void build_sketches<double>(RowsAt<BitMatrix>, const Grouping&, const LocalGroups&, double*, SketchStrides,
                                     FeatureMap);
template void build_sketches<float>(RowsAt<RealMatrix>, const Grouping&, const LocalGroups&, float*, SketchStrides,
                                    FeatureMap);
template void build_sketches<double>(RowsAt<RealMatrix>, const Grouping&, const LocalGroups&, double*, SketchStrides,
                                     FeatureMap);

}  // namespace hipi
