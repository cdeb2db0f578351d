// Multi-index hashing without MPI: the probe finds every row within the Hamming radius
// (the pigeonhole guarantee), whatever the cut of the bits.
#include <gtest/gtest.h>

#include <set>
#include <tuple>

#include "core/random.hpp"
#include "methods/hash/multi_index.hpp"

using namespace hipi;

namespace {

std::int64_t hamming(const BitMatrix& x, std::int64_t r, const BitMatrix& y, std::int64_t s) {
  std::int64_t h = 0;
  for (std::int64_t k = 0; k < x.cols(); ++k) h += x.value(r, k) != y.value(s, k);
  return h;
}

}  // namespace

TEST(MultiIndex, HammingRadiusOfAThreshold) {
  EXPECT_EQ(hamming_radius(256, 205), 25);  // 256 - 2*25 = 206 >= 205; 204 < 205
  EXPECT_EQ(hamming_radius(256, 206), 25);
  EXPECT_EQ(hamming_radius(256, 256), 0);
  EXPECT_EQ(hamming_radius(256, 257), -1);
  EXPECT_EQ(hamming_radius(10, -100), 55);
}

TEST(MultiIndex, SubstringReadsBitsAcrossWordBoundaries) {
  std::vector<std::uint64_t> row = {0xF000000000000000ull, 0x5ull};
  EXPECT_EQ(substring(row.data(), 60, 8), 0x5Fu);  // bits 60..63 = 1111, 64..67 = 0101
  EXPECT_EQ(substring(row.data(), 0, 32), 0u);
  EXPECT_EQ(substring(row.data(), 62, 4), 0x7u);
}

TEST(MultiIndex, ProbeFindsEveryRowWithinTheRadius) {
  for (std::int64_t d : {16, 64, 100, 256}) {
    const std::int64_t n = 400;
    std::vector<std::int8_t> values(static_cast<std::size_t>((n + 1) * d));
    RandomStream rng(7, {static_cast<std::uint64_t>(d)});
    for (auto& v : values) v = rng.below(2) ? 1 : -1;
    // Rows near the query (the last row) at every distance up to d/3.
    for (std::int64_t r = 0; r < n; r += 2)
      for (std::int64_t k = 0; k < d; ++k)
        values[r * d + k] =
            rng.below(static_cast<std::uint64_t>(3 * (r % 7 + 1))) ? values[n * d + k] : -values[n * d + k];
    const BitMatrix all = BitMatrix::pack(values, n + 1, d);
    BitMatrix rows(n, d);
    std::copy(all.data(), all.data() + n * all.stride(), rows.data());
    std::vector<std::int64_t> distance(n);
    for (std::int64_t s = 0; s < n; ++s) distance[s] = hamming(all, n, rows, s);
    for (std::int64_t radius : {std::int64_t{0}, d / 16, d / 8, d / 4})
      for (int m : {1, 2, 3, 5, 8}) {
        if ((d + m - 1) / m > 32) continue;  // substrings are at most 32 bits
        const MultiIndex index(rows, layout_with(d, radius, m));
        std::set<std::int64_t> found;
        index.probe(all.row(n), [&](std::int64_t s) { found.insert(s); });
        for (std::int64_t s = 0; s < n; ++s) {
          if (distance[s] <= radius) {
            EXPECT_TRUE(found.count(s)) << "d " << d << " m " << m << " radius " << radius << " row " << s;
          }
        }
      }
  }
}

TEST(MultiIndex, LayoutIsTheCheapestCutWithSubstringsOfAtMost32Bits) {
  for (auto [d, radius, rows] : {std::tuple<std::int64_t, std::int64_t, std::int64_t>{256, 25, 65536},
                                 {256, 0, 65536},
                                 {1024, 102, 1 << 20},
                                 {4096, 10, 1 << 30},
                                 {8, 0, 100}}) {
    const SubstringLayout l = choose_layout(d, radius, rows);
    EXPECT_LE(l.length(0), 32);
    EXPECT_EQ(l.radius, radius / l.m);
    for (int m = static_cast<int>((d + 31) / 32); m <= std::min<std::int64_t>(d, 512); ++m)
      EXPECT_LE(query_cost(l, rows), query_cost(layout_with(d, radius, m), rows)) << "d " << d << " m " << m;
  }
  // Radius 0: one probe per substring, so longer substrings (fewer rows per bucket) win
  // until they reach 32 bits.
  EXPECT_EQ(choose_layout(256, 0, 65536).m, 8);
}

// query_cost prices the m tables by their two lengths at once: it must equal the sum of
// each table priced alone (a one-table layout of that length and the same per-table radius;
// no indexed rows, so that only the probed keys count, not d's verification cost).
TEST(MultiIndex, QueryCostIsTheSumOverEveryTable) {
  for (auto [d, radius, m] :
       {std::tuple<std::int64_t, std::int64_t, int>{256, 25, 11}, {4096, 1024, 200}, {1000, 31, 32}, {64, 3, 4}}) {
    const SubstringLayout l = layout_with(d, radius, m);
    const std::int64_t rows = 0;
    double each = 0;
    for (int j = 0; j < m; ++j) each += query_cost(layout_with(l.length(j), l.radius, 1), rows);
    EXPECT_NEAR(query_cost(l, rows), each, 1e-9 * each) << "d " << d << " m " << m;
  }
}

// The budget prices the index before it is built: bytes_for must be what the tables then
// hold (plus the build's keys), for dense tables (short substrings), sorted ones (long),
// and a mix of both (substrings of 20 and 21 bits over 50000 rows: 2^21 offsets pass the
// cap of 32 per row, 2^20 do not).
TEST(MultiIndex, BytesForIsWhatTheTablesHold) {
  for (const auto& [n, d, m] :
       {std::tuple<std::int64_t, std::int64_t, int>{3000, 64, 4}, {3000, 256, 8}, {50000, 250, 12}, {100, 1024, 32}}) {
    BitMatrix rows(n, d);
    RandomStream rng(11, {static_cast<std::uint64_t>(n)});
    for (std::int64_t w = 0; w < n * rows.stride(); ++w) rows.data()[w] = rng.next();
    const SubstringLayout layout = layout_with(d, 2, m);
    const MultiIndex index(rows, layout);
    EXPECT_EQ(MultiIndex::bytes_for(n, layout), index.bytes() + 4 * n) << "n " << n << " d " << d << " m " << m;
  }
}
