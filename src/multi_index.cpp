#include "hipi/multi_index.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <numeric>

#include "hipi/error.hpp"

namespace hipi {

std::int64_t hamming_radius(std::int64_t d, double theta) {
  if (theta > static_cast<double>(d)) return -1;
  return static_cast<std::int64_t>(std::floor((static_cast<double>(d) - theta) / 2));
}

namespace {

// Keys within `radius` bit flips of a key of `length` bits: sum of C(length, k), k <= radius.
double ball_size(int length, int radius) {
  double total = 0, term = 1;
  for (int k = 0; k <= radius && k <= length; ++k) {
    total += term;
    term = term * (length - k) / (k + 1);
  }
  return total;
}

}  // namespace

SubstringLayout layout_with(std::int64_t d, std::int64_t hamming_radius, int m) {
  HIPI_ASSERT(m >= 1 && d >= 1 && hamming_radius >= 0);
  SubstringLayout l;
  l.d = d;
  l.m = m;
  l.radius = static_cast<int>(hamming_radius / m);
  HIPI_ASSERT(l.length(0) <= 32 && l.length(m - 1) <= 32);
  return l;
}

double query_cost(const SubstringLayout& l, std::int64_t rows) {
  const double verify = 1.0 + static_cast<double>(l.d) / 256.0;
  double cost = 0;
  for (int j = 0; j < l.m; ++j) {  // lengths differ by at most one bit
    const double occupancy = static_cast<double>(rows) / std::ldexp(1.0, l.length(j));
    cost += ball_size(l.length(j), l.radius) * (1.0 + occupancy * verify);
  }
  return cost;
}

SubstringLayout choose_layout(std::int64_t d, std::int64_t hamming_radius, std::int64_t rows) {
  SubstringLayout best = layout_with(d, hamming_radius, static_cast<int>(std::max<std::int64_t>(1, (d + 31) / 32)));
  double best_cost = query_cost(best, rows);
  for (std::int64_t m = best.m + 1; m <= d && m <= 4096; ++m) {
    const SubstringLayout l = layout_with(d, hamming_radius, static_cast<int>(m));
    if (const double c = query_cost(l, rows); c < best_cost) {
      best = l;
      best_cost = c;
    }
  }
  return best;
}

std::uint32_t substring(const std::uint64_t* row, std::int64_t begin, int length) {
  const std::int64_t word = begin / 64, shift = begin % 64;
  std::uint64_t bits = row[word] >> shift;
  if (shift + length > 64) bits |= row[word + 1] << (64 - shift);
  return static_cast<std::uint32_t>(length == 32 ? bits & 0xffffffffull : bits & ((1ull << length) - 1));
}

namespace {
constexpr int kDenseBits = 22;                               // 16 MiB of offsets per table at most
constexpr std::int64_t kDenseOffsetsPerRow = 32;             // and at most 32 offsets per indexed row
constexpr std::int64_t kDenseBytes = std::int64_t{1} << 28;  // and 256 MiB over all tables
}  // namespace

MultiIndex::MultiIndex(const BitMatrix& rows, SubstringLayout layout) : layout_(layout), tables_(layout.m) {
  HIPI_ASSERT(rows.rows() <= INT_MAX);
  const auto n = static_cast<std::int32_t>(rows.rows());
  std::vector<std::uint32_t> keys(n);
  std::int64_t dense_bytes = 0;
  for (int j = 0; j < layout_.m; ++j) {
    const int length = layout_.length(j);
    for (std::int32_t r = 0; r < n; ++r) keys[r] = substring(rows.row(r), layout_.begin(j), length);
    Table& t = tables_[j];
    t.rows.resize(n);
    const std::int64_t offsets = (std::int64_t{1} << std::min(length, 62)) + 1;
    if (length <= kDenseBits && offsets <= kDenseOffsetsPerRow * std::max<std::int64_t>(n, 1024) &&
        dense_bytes + 4 * offsets <= kDenseBytes) {
      dense_bytes += 4 * offsets;  // counting sort into CSR buckets
      t.offsets.assign((std::size_t{1} << length) + 1, 0);
      for (std::int32_t r = 0; r < n; ++r) ++t.offsets[keys[r] + 1];
      for (std::size_t k = 1; k < t.offsets.size(); ++k) t.offsets[k] += t.offsets[k - 1];
      std::vector<std::int32_t> next(t.offsets.begin(), t.offsets.end() - 1);
      for (std::int32_t r = 0; r < n; ++r) t.rows[next[keys[r]]++] = r;
      continue;
    }
    std::vector<std::int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::int32_t x, std::int32_t y) { return keys[x] < keys[y]; });
    t.keys.resize(n);
    for (std::int32_t k = 0; k < n; ++k) {
      t.keys[k] = keys[order[k]];
      t.rows[k] = order[k];
    }
  }
}

namespace {

// Calls visit(key) for every key within `radius` bit flips of `key` in `length` bits, each
// once: flips are chosen at increasing bit positions.
template <class Visit>
void ball(std::uint32_t key, int length, int radius, int from, Visit&& visit) {
  visit(key);
  if (radius == 0) return;
  for (int bit = from; bit < length; ++bit) ball(key ^ (1u << bit), length, radius - 1, bit + 1, visit);
}

}  // namespace

void MultiIndex::probe(const std::uint64_t* query, const std::function<void(std::int64_t)>& found) const {
  for (int j = 0; j < layout_.m; ++j) {
    const Table& t = tables_[j];
    const std::uint32_t key = substring(query, layout_.begin(j), layout_.length(j));
    if (!t.offsets.empty()) {
      ball(key, layout_.length(j), layout_.radius, 0, [&](std::uint32_t probe) {
        for (std::int32_t k = t.offsets[probe]; k < t.offsets[probe + 1]; ++k) found(t.rows[k]);
      });
      continue;
    }
    ball(key, layout_.length(j), layout_.radius, 0, [&](std::uint32_t probe) {
      const auto [lo, hi] = std::equal_range(t.keys.begin(), t.keys.end(), probe);
      for (auto it = lo; it != hi; ++it) found(t.rows[it - t.keys.begin()]);
    });
  }
}

}  // namespace hipi
