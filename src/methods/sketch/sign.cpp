#include "methods/sketch/sign.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include "hipi/error.hpp"
#include "kernels/exact.hpp"

namespace hipi {

namespace {

enum Stream : std::uint64_t { kTie = 13, kNoiseSample = 14 };

// Bit-sliced comparison of 64 counters with a constant: counter bit l of lane b is bit b of
// level[l]. Returns the lanes whose count is > c and those whose count == c.
struct Comparison {
  std::uint64_t greater = 0, equal = ~0ull;
};
Comparison compare(const std::uint64_t* level, int levels, std::int64_t c) {
  Comparison r;
  for (int l = levels - 1; l >= 0; --l) {
    if ((c >> l) & 1) {
      r.equal &= level[l];
    } else {
      r.greater |= r.equal & level[l];
      r.equal &= ~level[l];
    }
  }
  if (c >> levels) r.greater = r.equal = 0;  // c exceeds every count that fits
  return r;
}

}  // namespace

double majority_gain(std::int64_t g) {
  HIPI_ASSERT(g >= 1);
  // Odd g: the other g-1 members tie, C(g-1, (g-1)/2) / 2^(g-1). Even g: the other g-1
  // sum to +-1 and the member makes (or breaks) a tie that a coin settles, which is worth
  // half of deciding: 2 * C(g-1, g/2) / 2^(g-1) / 2. Both are C(g-1, floor(g/2)) / 2^(g-1).
  const std::int64_t m = g - 1, k = g / 2;
  const double log_choose = std::lgamma(double(m) + 1) - std::lgamma(double(k) + 1) - std::lgamma(double(m - k) + 1);
  return std::exp(log_choose - double(m) * std::log(2.0));
}

BitMatrix build_sign_sketches(const BitMatrix& rows, std::int64_t first_row, const Grouping& grouping,
                              const LocalGroups& groups) {
  const std::int64_t d = rows.cols(), words = (d + 63) / 64;
  BitMatrix out(groups.size(), d);
  const std::uint64_t last_mask = d % 64 == 0 ? ~0ull : (1ull << (d % 64)) - 1;  // padding stays zero
  std::vector<const std::uint64_t*> member_rows;
  std::vector<std::uint64_t> flips;  // all ones for a member with sign -1
  for (std::int64_t k = 0; k < groups.size(); ++k) {
    const std::int64_t count = groups.count(k);
    member_rows.clear();
    flips.clear();
    for (std::int64_t m = groups.first_member(k); m < groups.offsets[k + 1]; ++m) {
      const std::int64_t row = groups.members[m];
      member_rows.push_back(rows.row(row - first_row));
      flips.push_back(grouping.sign(row) < 0 ? ~0ull : 0);
    }
    const int levels = std::bit_width(static_cast<std::uint64_t>(count));
    HIPI_ASSERT(levels <= 32);
    const bool can_tie = count % 2 == 0;
    RandomStream ties = grouping.stream(kTie, groups.groups.begin + k);
    std::uint64_t* sketch = out.row(k);
    for (std::int64_t w = 0; w < words; ++w) {
      // Count, per coordinate, the members whose signed value is -1 (bit set).
      std::uint64_t level[32];
      std::fill_n(level, levels, 0);
      for (std::size_t q = 0; q < member_rows.size(); ++q) {
        std::uint64_t carry = member_rows[q][w] ^ flips[q];
        for (int l = 0; l < levels; ++l) {
          const std::uint64_t next = level[l] & carry;
          level[l] ^= carry;
          carry = next;
        }
      }
      // Majority -1 when more than half are -1; exactly half is a tie.
      const Comparison c = compare(level, levels, count / 2);
      std::uint64_t bits = c.greater;
      if (can_tie) bits |= c.equal & ties.next();
      sketch[w] = w + 1 == words ? bits & last_mask : bits;
    }
  }
  return out;
}

BitMatrix sample_sign_sketches(const BitMatrix& sample, std::int64_t g, std::uint64_t seed, int side) {
  const std::int64_t n = sample.rows(), tile = std::max(n, g);
  const int partitions = static_cast<int>(std::min<std::int64_t>(g, 64));
  std::vector<BitMatrix> parts;
  std::int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    const Grouping grouping(n, g, tile, splitmix64(seed ^ kNoiseSample), p, side);
    parts.push_back(build_sign_sketches(sample, 0, grouping, LocalGroups(grouping, {0, n})));
    total += parts.back().rows();
  }
  BitMatrix all(total, sample.cols());
  std::int64_t at = 0;
  for (const BitMatrix& part : parts)
    for (std::int64_t r = 0; r < part.rows(); ++r, ++at)
      std::copy(part.row(r), part.row(r) + part.stride(), all.row(at));
  return all;
}

double mean_square_inner_product(const BitMatrix& a, const BitMatrix& b) {
  HIPI_ASSERT(a.cols() == b.cols());
  // A few rows of B at a time into one reused buffer small enough for the allocator's heap
  // (under its 128 KiB mmap threshold): the pairs at once took a fresh mapping per call,
  // about 270 MB of page faults over the sampled group sizes, or none, by whether the
  // allocator's threshold happened to have grown: a sample stage of 0.06 s or 0.2 s on
  // identical runs. The sum is exact either way (binary inner products are integers, their
  // squares summed far below 2^53).
  constexpr std::int64_t kBlock = 16;
  const Threshold every{-std::numeric_limits<double>::infinity(), false};
  std::vector<Pair> block;
  double sum = 0;
  for (std::int64_t s = 0; s < b.rows(); s += kBlock) {
    block.clear();
    heavy_pairs({a, 0}, {b, 0}, every, PairFilter::All, block, RowRange{s, std::min(b.rows(), s + kBlock)});
    for (const Pair& p : block) sum += p.ip * p.ip;
  }
  const double pairs = static_cast<double>(a.rows()) * static_cast<double>(b.rows());
  return pairs > 0 ? sum / pairs : 0.0;
}

}  // namespace hipi
