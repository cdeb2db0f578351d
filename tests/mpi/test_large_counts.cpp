// Transfers of any size (issue 13): the all-to-all exchange, the ring and the distributed
// sort of the answer, at their usual limit and with mpi_byte_limit() lowered to a few bytes
// so that every transfer goes in pieces, as one of 2^31 bytes or more would.
#include <gtest/gtest.h>

#include <boost/mpi/collectives.hpp>
#include <map>

#include "answer/sample_sort.hpp"
#include "core/bit_matrix.hpp"
#include "core/random.hpp"
#include "io/hdf5.hpp"
#include "io/pair_file.hpp"
#include "mpi/fixtures.hpp"
#include "parallel/mpi.hpp"
#include "parallel/ring.hpp"

using namespace hipi;
using namespace hipi::test;

namespace {

// The byte at position k of the part rank `from` sends to rank `to`.
char part_byte(int from, int to, std::int64_t k) {
  return static_cast<char>((from * 131 + to * 17 + k * 7) & 0xff);
}

std::int64_t part_size(int from, int to) {
  return (from * 37 + to * 101) % 300;
}  // some empty

RankedBytes exchanged_parts(const Comm& world) {
  const int P = world.size();
  std::vector<std::int64_t> sizes(P);
  for (int to = 0; to < P; ++to) sizes[to] = part_size(world.rank(), to);
  RankedBytes send = RankedBytes::with_sizes(sizes);
  for (int to = 0; to < P; ++to)
    for (std::int64_t k = 0; k < sizes[to]; ++k) send.data[send.offsets[to] + k] = part_byte(world.rank(), to, k);
  return exchange_ranked(world, send);
}

void expect_parts_intact(const Comm& world, const RankedBytes& got) {
  for (int from = 0; from < world.size(); ++from) {
    ASSERT_EQ(got.size(from), part_size(from, world.rank())) << "from rank " << from;
    for (std::int64_t k = 0; k < got.size(from); ++k)
      ASSERT_EQ(got.part(from)[k], part_byte(from, world.rank(), k)) << "from rank " << from << ", byte " << k;
  }
}

// Pairs this rank found: keys spread over a range with repeats on other ranks, and a
// crowd on row 5 (what a cluster of duplicates gives).
std::vector<Pair> found_pairs(const Comm& world, std::int64_t count) {
  RandomStream rng(1000 + world.rank(), {});
  std::vector<Pair> pairs;
  for (std::int64_t k = 0; k < count; ++k) {
    const std::int64_t i = k % 4 == 0 ? 5 : static_cast<std::int64_t>(rng.below(400));
    const std::int64_t j = static_cast<std::int64_t>(rng.below(300));
    pairs.push_back({i, j, static_cast<double>(i * 1000 + j)});  // one value per key
  }
  return pairs;
}

std::vector<Pair> naive_union(const Comm& world, std::int64_t count) {
  std::map<std::pair<std::int64_t, std::int64_t>, double> all;
  for (int r = 0; r < world.size(); ++r) {
    RandomStream rng(1000 + r, {});
    for (std::int64_t k = 0; k < count; ++k) {
      const std::int64_t i = k % 4 == 0 ? 5 : static_cast<std::int64_t>(rng.below(400));
      const std::int64_t j = static_cast<std::int64_t>(rng.below(300));
      all[{i, j}] = static_cast<double>(i * 1000 + j);
    }
  }
  std::vector<Pair> out;
  for (const auto& [key, ip] : all) out.push_back({key.first, key.second, ip});
  return out;
}

void expect_sorted_slices(const Comm& world, std::int64_t count) {
  const PairSlice slice = sort_pairs_across(world, found_pairs(world, count));
  const std::vector<Pair> want = naive_union(world, count);
  EXPECT_EQ(slice.total, static_cast<std::int64_t>(want.size()));
  ASSERT_LE(slice.offset + static_cast<std::int64_t>(slice.pairs.size()), slice.total);
  for (std::size_t k = 0; k < slice.pairs.size(); ++k) {
    ASSERT_EQ(slice.pairs[k], want[slice.offset + k]) << "rank " << world.rank() << ", pair " << k;
  }
  // Contiguous and in rank order: each slice starts where the one before it ended.
  const std::int64_t end = slice.offset + static_cast<std::int64_t>(slice.pairs.size());
  std::vector<std::int64_t> ends;
  boost::mpi::all_gather(world, end, ends);
  EXPECT_EQ(slice.offset, world.rank() == 0 ? 0 : ends[world.rank() - 1]);
  EXPECT_EQ(ends.back(), slice.total);
}

}  // namespace

TEST(LargeCounts, ExchangeDeliversEveryPartWhole) {
  expect_parts_intact(Comm(), exchanged_parts(Comm()));
}

TEST(LargeCounts, ExchangeInPiecesDeliversEveryPartWhole) {
  Comm world;
  const LoweredMpiLimit lowered(7);  // parts of up to 299 bytes: up to 43 pieces each
  expect_parts_intact(world, exchanged_parts(world));
}

TEST(LargeCounts, RingPassesBlocksWholeInPieces) {
  Comm world;
  const LoweredMpiLimit lowered(16);  // two 64-bit words per piece
  const std::int64_t n = 37, d = 200;
  const std::vector<std::int8_t> signs = random_signs(n, d, 77);
  const RowRange mine = row_block(n, world.size(), world.rank());
  const LocalRows<BitMatrix> own{
      mine, BitMatrix::pack(std::span(signs).subspan(mine.begin * d, mine.size() * d), mine.size(), d)};
  int visited = 0;
  ring_pass(world, own, world.size(), [&](const BitMatrix& block, RowRange rows, int) {
    const BitMatrix want = BitMatrix::pack(std::span(signs).subspan(rows.begin * d, rows.size() * d), rows.size(), d);
    ASSERT_EQ(block.rows(), want.rows());
    for (std::size_t w = 0; w < want.storage_size(); ++w) ASSERT_EQ(block.data()[w], want.data()[w]) << "word " << w;
    ++visited;
  });
  EXPECT_EQ(visited, world.size());
}

// Bound checked: with s offers per rank, each standing for m_r / s of that rank's pairs, a
// slice boundary is off by at most sum_r m_r / s = total / s pairs from its quantile, so no
// slice holds more than total / P + 2 total / s (distinct keys, s = 256 up to P = 256).
TEST(LargeCounts, SortedSlicesAreBalanced) {
  Comm world;
  const int P = world.size();
  RandomStream rng(55 + world.rank(), {});
  std::vector<Pair> local;
  for (int k = 0; k < 20000; ++k)  // distinct keys: rank r owns j = r mod P
    local.push_back(
        {static_cast<std::int64_t>(rng.below(1 << 20)), static_cast<std::int64_t>(k) * P + world.rank(), 0});
  const PairSlice slice = sort_pairs_across(world, local);
  EXPECT_EQ(slice.total, 20000 * P);
  EXPECT_LE(static_cast<double>(slice.pairs.size()), slice.total / static_cast<double>(P) + 2.0 * slice.total / 256);
}

TEST(LargeCounts, SortedSlicesHoldTheWholeAnswerOnce) {
  expect_sorted_slices(Comm(), 3000);
}

TEST(LargeCounts, SortedSlicesInPiecesHoldTheWholeAnswerOnce) {
  const LoweredMpiLimit lowered(100);
  expect_sorted_slices(Comm(), 3000);
}

TEST(LargeCounts, SortedSlicesOfAnEmptyAnswer) {
  Comm world;
  const PairSlice slice = sort_pairs_across(world, {});
  EXPECT_EQ(slice.total, 0);
  EXPECT_TRUE(slice.pairs.empty());
}

// Pairs found on one rank only, the rest empty (what a small answer often looks like).
TEST(LargeCounts, SortedSlicesFromOneRank) {
  Comm world;
  std::vector<Pair> local;
  if (world.rank() == world.size() - 1)
    for (int k = 0; k < 500; ++k) local.push_back({499 - k, 3, 1.0});
  const std::vector<Pair> all = gather_answer(world, local);
  if (world.rank() == 0) {
    ASSERT_EQ(all.size(), 500u);
    for (int k = 0; k < 500; ++k) EXPECT_EQ(all[k].i, k);
  }
}

// A checkpoint's pairs, written in slices and read back in shares, empty or not.
TEST(LargeCounts, PairFilesRoundTripInShares) {
  Comm world;
  SharedTempDir dir(world);
  for (const std::int64_t count : {std::int64_t{0}, std::int64_t{777}}) {
    const std::string path = dir.path("pairs" + std::to_string(count) + ".h5");
    const PairSlice slice = sort_pairs_across(world, found_pairs(world, count));
    {
      h5::File file = h5::File::create(path, &world);
      PairStream pairs = PairStream::over(slice);
      write_pair_slices(world, file, pairs);
      file.close();
    }
    const std::vector<Pair> all = gather_answer(world, read_pair_share(world, path));
    if (world.rank() == 0) {
      EXPECT_EQ(all, naive_union(world, count)) << count << " pairs per rank";
    }
  }
}

// all_gather_vector in rounds of a 16-byte limit: every rank's elements, in rank order,
// including ranks with none.
TEST(LargeCounts, AllGatherInRounds) {
  Comm world;
  LoweredMpiLimit lowered(16);
  std::vector<std::int64_t> mine;
  for (std::int64_t k = 0; k < (world.rank() % 2 ? 0 : 37 * (world.rank() + 1)); ++k)
    mine.push_back(1000 * world.rank() + k);
  const std::vector<std::int64_t> all = all_gather_vector(world, mine);
  std::vector<std::int64_t> want;
  for (int r = 0; r < world.size(); ++r)
    for (std::int64_t k = 0; k < (r % 2 ? 0 : 37 * (r + 1)); ++k) want.push_back(1000 * r + k);
  EXPECT_EQ(all, want);
}
