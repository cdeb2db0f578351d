// Duplicates: the pure bookkeeping of collapsed rows (which input row each distinct row is,
// whose copy a row is, who a representative stands for), checked against plain loops.
#include <gtest/gtest.h>

#include <map>

#include "answer/duplicates.hpp"

using namespace hipi;

TEST(Duplicates, NoneIsTheIdentity) {
  const Duplicates none(7);
  EXPECT_TRUE(none.none());
  EXPECT_EQ(none.distinct(), 7);
  for (std::int64_t k = 0; k < 7; ++k) {
    EXPECT_EQ(none.original(k), k);
    EXPECT_EQ(none.rep_of(k), k);
    EXPECT_FALSE(none.has_copies(k));
  }
}

TEST(Duplicates, MapsCollapsedRowsToInputRows) {
  // Row r of 40 has value v[r]; each row after the first of its value is a copy.
  const std::int64_t n = 40;
  std::vector<int> value(n);
  for (std::int64_t r = 0; r < n; ++r)
    value[r] = (r % 7 == 3 || r % 11 == 0) ? static_cast<int>(r % 2) : 100 + static_cast<int>(r);
  std::map<int, std::int64_t> first;
  std::vector<Duplicates::Copy> copies;
  std::vector<Duplicates::SelfProduct> self;
  std::vector<std::int64_t> kept;
  for (std::int64_t r = 0; r < n; ++r) {
    const auto [at, inserted] = first.emplace(value[r], r);
    if (inserted) {
      kept.push_back(r);
    } else {
      copies.push_back({r, at->second});
      self.push_back({at->second, 10.0 + at->second});  // repeats are allowed
    }
  }
  const Duplicates dups(n, copies, self);
  ASSERT_EQ(dups.distinct(), static_cast<std::int64_t>(kept.size()));
  EXPECT_EQ(dups.copies(), static_cast<std::int64_t>(copies.size()));
  for (std::size_t k = 0; k < kept.size(); ++k) EXPECT_EQ(dups.original(static_cast<std::int64_t>(k)), kept[k]) << k;
  // originals: the same rows for any block of the collapsed rows, in one pass.
  const auto distinct = static_cast<std::int64_t>(kept.size());
  for (const RowRange block :
       {RowRange{0, distinct}, RowRange{3, 17}, RowRange{distinct - 5, distinct}, RowRange{9, 9}}) {
    const std::vector<std::int64_t> rows = dups.originals(block);
    ASSERT_EQ(static_cast<std::int64_t>(rows.size()), block.size());
    for (std::int64_t k = block.begin; k < block.end; ++k)
      EXPECT_EQ(rows[static_cast<std::size_t>(k - block.begin)], kept[static_cast<std::size_t>(k)]) << k;
  }
  for (std::int64_t r = 0; r < n; ++r) {
    const std::int64_t rep = first.at(value[r]);
    EXPECT_EQ(dups.rep_of(r), rep) << r;
    std::vector<std::int64_t> members;
    for (std::int64_t s = 0; s < n; ++s)
      if (value[s] == value[r]) members.push_back(s);
    EXPECT_EQ(dups.has_copies(rep), members.size() > 1) << r;
    if (members.size() > 1) {
      const auto got = dups.members(rep);
      EXPECT_EQ(std::vector<std::int64_t>(got.begin(), got.end()), members) << r;
      EXPECT_EQ(dups.self_product(rep), 10.0 + rep);
    }
  }
  EXPECT_EQ(dups.reps(), (std::vector<std::int64_t>{0, 3}));  // the first rows of values 0 and 1
}
