// Multi-index hashing (Norouzi, Punjani and Fleet, CVPR 2012): exact search in Hamming space.
//
// For +-1 rows, <a,b> = d - 2 * hamming(a, b), so <a,b> >= theta exactly when the Hamming
// distance is at most r = floor((d - theta) / 2). Cut the d bits into m disjoint substrings:
// by the pigeonhole principle two rows within distance r agree within floor(r / m) on at
// least one substring. So index each substring of the rows of B (sorted keys), probe every
// key within that radius of each substring of a query, and verify the candidates exactly:
// no pair within r can be missed. Pure (no MPI); the distributed run is in hash_solver.hpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "core/bit_matrix.hpp"

namespace hipi {

/// How the d bits are cut: m substrings of about equal length (at most 32 bits each) and
/// the radius each is probed at.
struct SubstringLayout {
  std::int64_t d = 0;
  int m = 1;
  int radius = 0;  // per substring: floor(r / m)
  std::int64_t begin(int j) const { return d * j / m; }
  int length(int j) const { return static_cast<int>(d * (j + 1) / m - d * j / m); }
};

/// The Hamming radius of a threshold: the largest h with d - 2h >= theta (-1 if none).
std::int64_t hamming_radius(std::int64_t d, double theta);

/// Predicted cost of one query against `rows` indexed rows, in units of one bucket probe:
/// every probed key, plus the candidates the buckets hold (uniform occupancy, rows / 2^s)
/// verified at about (1 + d / 256) probes each.
double query_cost(const SubstringLayout& layout, std::int64_t rows);

/// The layout of least query_cost for `rows` indexed rows, over every m that keeps the
/// substrings at most 32 bits (for a radius of 0 the paper's choice, log2(rows) bits, wins).
SubstringLayout choose_layout(std::int64_t d, std::int64_t hamming_radius, std::int64_t rows);
/// The same with `m` substrings (tests, planner).
SubstringLayout layout_with(std::int64_t d, std::int64_t hamming_radius, int m);

/// Bits [begin, begin + length) of a packed row as an integer (length <= 32).
std::uint32_t substring(const std::uint64_t* row, std::int64_t begin, int length);

namespace detail {
// Calls visit(key) for every key within `radius` bit flips of `key` in `length` bits, each
// once: flips are chosen at increasing bit positions.
template <class Visit>
void ball(std::uint32_t key, int length, int radius, int from, Visit&& visit) {
  visit(key);
  if (radius == 0) return;
  for (int bit = from; bit < length; ++bit) ball(key ^ (1u << bit), length, radius - 1, bit + 1, visit);
}
}  // namespace detail

class MultiIndex {
 public:
  /// Rows are numbered in 32 bits in the tables (half the memory of 64).
  static constexpr std::int64_t kMaxRows = 2147483647;
  /// Indexes every row of `rows` (at most kMaxRows) under `layout`.
  MultiIndex(const BitMatrix& rows, SubstringLayout layout);
  /// Bytes the index of `rows` rows under `layout` holds, with its build's scratch (pure:
  /// the memory budget and the layout price it before it is built).
  static std::int64_t bytes_for(std::int64_t rows, const SubstringLayout& layout);
  /// Bytes its tables hold now.
  std::int64_t bytes() const;
  /// Calls found(row) for every indexed row that agrees with `query` within the layout's
  /// radius on some substring (a row may be reported more than once).
  void probe(const std::uint64_t* query, const std::function<void(std::int64_t)>& found) const;
  /// The same for substring j alone. Probing many queries table by table keeps one
  /// table's arrays in cache (hash_solver.cpp): all tables together rarely fit.
  template <class Found>
  void probe_table(int j, const std::uint64_t* query, Found&& found) const {
    const Table& t = tables_[j];
    const std::uint32_t key = substring(query, layout_.begin(j), layout_.length(j));
    if (t.dense) {
      detail::ball(key, layout_.length(j), layout_.radius, 0, [&](std::uint32_t probe) {
        for (std::int32_t k = t.offsets[probe]; k < t.offsets[probe + 1]; ++k) found(t.rows[k]);
      });
      return;
    }
    detail::ball(key, layout_.length(j), layout_.radius, 0, [&](std::uint32_t probe) {
      const std::uint32_t top = probe >> t.dir_shift;
      const auto first = t.keys.begin() + t.offsets[top], last = t.keys.begin() + t.offsets[top + 1];
      const auto [lo, hi] = std::equal_range(first, last, probe);
      for (auto it = lo; it != hi; ++it) found(t.rows[it - t.keys.begin()]);
    });
  }
  const SubstringLayout& layout() const { return layout_; }
  /// What it indexed: fingerprint(rows) of the rows it was built from.
  std::uint64_t rows_fingerprint() const { return fingerprint_; }
  /// A 64-bit hash of rows' contents (every word, in order): whether an index built earlier
  /// indexed these rows, checked by content and not by their shape alone.
  static std::uint64_t fingerprint(const BitMatrix& rows);
  /// Indexes this process has built (tests count them: auto builds one, not two).
  static std::int64_t built_count();

 private:
  // Short substrings are looked up directly (offsets per key, as CSR) while the offsets
  // stay bounded (2^22 keys, 32 per indexed row, 256 MiB over all tables); the others in
  // sorted keys, through a directory of their top bits (about one key per entry) that
  // leaves a search of a few keys: a plain binary search over all of them took about 16
  // dependent cache misses per probe.
  struct Table {
    std::vector<std::uint32_t> keys;    // sorted (sparse tables only)
    std::vector<std::int32_t> offsets;  // dense: 2^length + 1 per key; sparse: 2^dir_bits + 1 per top bits
    std::vector<std::int32_t> rows;     // by key
    bool dense = false;
    int dir_shift = 0;  // sparse: key >> dir_shift indexes `offsets`
  };
  SubstringLayout layout_;
  std::vector<Table> tables_;
  std::uint64_t fingerprint_ = 0;
};

}  // namespace hipi
