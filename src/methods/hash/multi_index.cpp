#include "methods/hash/multi_index.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <numeric>

#include "core/hash.hpp"
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
  // The m substrings have floor(d / m) bits, d mod m of them one more: priced per length,
  // so choose_layout's scan over every m stays cheap at large d.
  const auto table_cost = [&](int length) {
    const double occupancy = static_cast<double>(rows) / std::ldexp(1.0, length);
    return ball_size(length, l.radius) * (1.0 + occupancy * verify);
  };
  const std::int64_t longer = l.d % l.m, shorter = l.m - longer;
  const int length = static_cast<int>(l.d / l.m);
  return static_cast<double>(shorter) * table_cost(length) +
         (longer > 0 ? static_cast<double>(longer) * table_cost(length + 1) : 0.0);
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
constexpr int kDirectoryBits = 16;                           // sparse tables' directories: 256 KiB each at most

// How each table of `rows` indexed rows is stored: dense (offsets per key) while the
// offsets stay within their bounds, else sorted keys behind a directory of `dir_bits`.
struct TableShape {
  bool dense = false;
  int dir_bits = 0;
};
std::vector<TableShape> table_shapes(std::int64_t rows, const SubstringLayout& layout) {
  std::vector<TableShape> shapes(layout.m);
  std::int64_t dense_bytes = 0;
  for (int j = 0; j < layout.m; ++j) {
    const int length = layout.length(j);
    const std::int64_t offsets = (std::int64_t{1} << std::min(length, 62)) + 1;
    if (length <= kDenseBits && offsets <= kDenseOffsetsPerRow * std::max<std::int64_t>(rows, 1024) &&
        dense_bytes + 4 * offsets <= kDenseBytes) {
      dense_bytes += 4 * offsets;
      shapes[j].dense = true;
    } else {
      shapes[j].dir_bits =
          std::min({length, kDirectoryBits, std::max(1, static_cast<int>(std::ceil(std::log2(rows + 1))))});
    }
  }
  return shapes;
}
}  // namespace

std::int64_t MultiIndex::bytes_for(std::int64_t rows, const SubstringLayout& layout) {
  std::int64_t bytes = 4 * rows;  // the keys of the table being built
  const std::vector<TableShape> shapes = table_shapes(rows, layout);
  for (int j = 0; j < layout.m; ++j) {
    const int bits = shapes[j].dense ? layout.length(j) : shapes[j].dir_bits;
    bytes += 4 * rows + 4 * ((std::int64_t{1} << bits) + 1);  // rows by key, offsets
    if (!shapes[j].dense) bytes += 4 * rows;                  // sorted keys
  }
  return bytes;
}

std::int64_t MultiIndex::bytes() const {
  std::int64_t bytes = 0;
  for (const Table& t : tables_)
    bytes += static_cast<std::int64_t>(4 * (t.keys.capacity() + t.offsets.capacity() + t.rows.capacity()));
  return bytes;
}

namespace {
std::atomic<std::int64_t> indexes_built{0};
}  // namespace

std::int64_t MultiIndex::built_count() {
  return indexes_built.load();
}

std::uint64_t MultiIndex::fingerprint(const BitMatrix& rows) {
  return hash_bytes(rows.data(), rows.storage_size() * sizeof(std::uint64_t), static_cast<std::uint64_t>(rows.rows()));
}

MultiIndex::MultiIndex(const BitMatrix& rows, SubstringLayout layout)
    : layout_(layout), tables_(layout.m), fingerprint_(fingerprint(rows)) {
  HIPI_ASSERT(rows.rows() <= kMaxRows);
  ++indexes_built;
  const auto n = static_cast<std::int32_t>(rows.rows());
  std::vector<std::uint32_t> keys(n);
  const std::vector<TableShape> shapes = table_shapes(n, layout_);
  for (int j = 0; j < layout_.m; ++j) {
    const int length = layout_.length(j);
    for (std::int32_t r = 0; r < n; ++r) keys[r] = substring(rows.row(r), layout_.begin(j), length);
    Table& t = tables_[j];
    t.rows.resize(n);
    if (shapes[j].dense) {  // counting sort into CSR buckets
      t.dense = true;
      t.offsets.assign((std::size_t{1} << length) + 1, 0);
      for (std::int32_t r = 0; r < n; ++r) ++t.offsets[keys[r] + 1];
      for (std::size_t k = 1; k < t.offsets.size(); ++k) t.offsets[k] += t.offsets[k - 1];
      std::vector<std::int32_t> next(t.offsets.begin(), t.offsets.end() - 1);
      for (std::int32_t r = 0; r < n; ++r) t.rows[next[keys[r]]++] = r;
      continue;
    }
    // Sorted keys: a counting sort by the directory's top bits, then each directory entry
    // (about one key) sorted by (key, row). A comparison sort of the whole table cost
    // about 6 ms per table of 65536 rows: 1.2 s for the 205 tables of d = 4096, rho = 0.9.
    const int dir_bits = shapes[j].dir_bits;
    t.dir_shift = length - dir_bits;
    t.offsets.assign((std::size_t{1} << dir_bits) + 1, 0);
    for (std::int32_t r = 0; r < n; ++r) ++t.offsets[(keys[r] >> t.dir_shift) + 1];
    for (std::size_t k = 1; k < t.offsets.size(); ++k) t.offsets[k] += t.offsets[k - 1];
    std::vector<std::int32_t> next(t.offsets.begin(), t.offsets.end() - 1);
    for (std::int32_t r = 0; r < n; ++r) t.rows[next[keys[r] >> t.dir_shift]++] = r;
    t.keys.resize(n);
    for (std::size_t e = 0; e + 1 < t.offsets.size(); ++e) {
      const auto first = t.rows.begin() + t.offsets[e], last = t.rows.begin() + t.offsets[e + 1];
      if (last - first > 1)
        std::sort(first, last,
                  [&](std::int32_t x, std::int32_t y) { return keys[x] != keys[y] ? keys[x] < keys[y] : x < y; });
    }
    for (std::int32_t k = 0; k < n; ++k) t.keys[k] = keys[t.rows[k]];
  }
}

void MultiIndex::probe(const std::uint64_t* query, const std::function<void(std::int64_t)>& found) const {
  for (int j = 0; j < layout_.m; ++j) probe_table(j, query, found);
}

}  // namespace hipi
