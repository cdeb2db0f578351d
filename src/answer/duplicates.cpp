#include "answer/duplicates.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <boost/mpi/collectives.hpp>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <ranges>

#include "core/hash.hpp"
#include "kernels/exact.hpp"
#include "kernels/sparse_exact.hpp"
#include "parallel/row_exchange.hpp"

namespace hipi {

Duplicates::Duplicates(std::int64_t rows, std::vector<Copy> copies, std::vector<SelfProduct> self) : rows_(rows) {
  std::sort(copies.begin(), copies.end(), [](const Copy& x, const Copy& y) { return x.row < y.row; });
  for (std::size_t t = 0; t < copies.size(); ++t) {
    HIPI_ASSERT(copies[t].rep < copies[t].row && (t == 0 || copies[t - 1].row < copies[t].row));
    removed_.push_back(copies[t].row);
    removed_rep_.push_back(copies[t].rep);
  }
  std::sort(copies.begin(), copies.end(),
            [](const Copy& x, const Copy& y) { return x.rep != y.rep ? x.rep < y.rep : x.row < y.row; });
  std::sort(self.begin(), self.end(), [](const SelfProduct& x, const SelfProduct& y) { return x.rep < y.rep; });
  for (std::size_t t = 0; t < copies.size(); ++t) {
    if (t == 0 || copies[t].rep != copies[t - 1].rep) {
      reps_.push_back(copies[t].rep);
      member_begin_.push_back(static_cast<std::int64_t>(members_.size()));
      members_.push_back(copies[t].rep);
      const auto s = std::lower_bound(self.begin(), self.end(), copies[t].rep,
                                      [](const SelfProduct& x, std::int64_t rep) { return x.rep < rep; });
      HIPI_ASSERT(s != self.end() && s->rep == copies[t].rep);
      self_.push_back(s->ip);
    }
    members_.push_back(copies[t].row);
  }
  member_begin_.push_back(static_cast<std::int64_t>(members_.size()));
}

std::int64_t Duplicates::original(std::int64_t k) const {
  // Row original(k) has k kept rows before it and every copy t with removed_[t] - t <= k
  // (the rows kept before copy t), which does not decrease in t.
  const auto t = std::ranges::partition_point(std::views::iota(std::int64_t{0}, copies()), [&](std::int64_t t) {
    return removed_[static_cast<std::size_t>(t)] - t <= k;
  });
  return k + *t;
}

std::vector<std::int64_t> Duplicates::originals(RowRange collapsed) const {
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(std::max<std::int64_t>(collapsed.size(), 0)));
  if (collapsed.size() <= 0) return out;
  std::int64_t row = original(collapsed.begin);
  auto copy = std::lower_bound(removed_.begin(), removed_.end(), row);
  for (; static_cast<std::int64_t>(out.size()) < collapsed.size(); ++row) {
    if (copy != removed_.end() && *copy == row)
      ++copy;
    else
      out.push_back(row);
  }
  return out;
}

bool Duplicates::has_copies(std::int64_t rep) const {
  return std::binary_search(reps_.begin(), reps_.end(), rep);
}

std::int64_t Duplicates::rep_of(std::int64_t row) const {
  const auto at = std::lower_bound(removed_.begin(), removed_.end(), row);
  return at != removed_.end() && *at == row ? removed_rep_[static_cast<std::size_t>(at - removed_.begin())] : row;
}

std::size_t Duplicates::group_of(std::int64_t rep) const {
  const auto at = std::lower_bound(reps_.begin(), reps_.end(), rep);
  HIPI_ASSERT(at != reps_.end() && *at == rep);
  return static_cast<std::size_t>(at - reps_.begin());
}

std::span<const std::int64_t> Duplicates::members(std::int64_t rep) const {
  const std::size_t g = group_of(rep);
  return {members_.data() + member_begin_[g], static_cast<std::size_t>(member_begin_[g + 1] - member_begin_[g])};
}

double Duplicates::self_product(std::int64_t rep) const {
  return self_[group_of(rep)];
}

namespace {

template <class Matrix>
using Element = typename Matrix::value_type;

// A row's storage, hashed (core/hash.hpp; padding is zero). A collision costs a full
// comparison, never a false copy.
template <class Matrix>
std::uint64_t row_hash(const Matrix& m, std::int64_t r) {
  return hash_bytes(m.row(r), static_cast<std::size_t>(m.stride()) * sizeof(Element<Matrix>));
}

template <class Matrix>
bool same_row(const Matrix& x, std::int64_t r, const Matrix& y, std::int64_t s) {
  return std::memcmp(x.row(r), y.row(s), static_cast<std::size_t>(x.stride()) * sizeof(Element<Matrix>)) == 0;
}

// Sparse rows: the hash of the row's indices and then its values (a row is its entries:
// indices increase and no value is zero, so equal rows have equal entries).
std::uint64_t row_hash(const SparseMatrix& m, std::int64_t r) {
  ByteHash h;
  h.add(m.indices(r).data(), m.indices(r).size_bytes());
  h.add(m.values(r).data(), m.values(r).size_bytes());
  return h.value();
}
bool same_row(const SparseMatrix& x, std::int64_t r, const SparseMatrix& y, std::int64_t s) {
  return std::ranges::equal(x.indices(r), y.indices(s)) &&
         std::ranges::equal(x.values(r), y.values(s), [](float a, float b) {
           return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
         });
}

}  // namespace

namespace {

// A row's hash and the row.
struct Keyed {
  std::uint64_t hash;
  std::int64_t row;
};

// The rank that compares the rows of this hash: its top bits (the low ones sort it there).
int owner_of_hash(std::uint64_t hash, int ranks) {
  return static_cast<int>((static_cast<unsigned __int128>(hash) * static_cast<unsigned>(ranks)) >> 64);
}

bool hash_then_row(const Keyed& x, const Keyed& y) {
  return x.hash != y.hash ? x.hash < y.hash : x.row < y.row;
}

// `count` Keyed at `bytes` (as received), grouped by hash, equal hashes together in
// increasing row order: bucketed by the hash's low bits into buckets of about 8 (one
// counting pass, one scatter), then each bucket sorted, by insertion while it is small.
// About 5x faster than one sort of them all (15 against 84 ms for a million rows in a
// micro-benchmark on this machine).
std::vector<Keyed> grouped_by_hash(const char* bytes, std::size_t count) {
  const auto at = [&](std::size_t k) {
    Keyed key;
    std::memcpy(&key, bytes + k * sizeof(Keyed), sizeof(Keyed));
    return key;
  };
  int bits = 0;
  while (bits < 20 && (std::size_t{8} << bits) < count) ++bits;
  const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
  std::vector<std::size_t> start((std::size_t{1} << bits) + 1, 0);
  for (std::size_t k = 0; k < count; ++k) ++start[(at(k).hash & mask) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<Keyed> out(count);
  std::vector<std::size_t> next(start.begin(), start.end() - 1);
  for (std::size_t k = 0; k < count; ++k) {
    const Keyed key = at(k);
    out[next[key.hash & mask]++] = key;
  }
  for (std::size_t b = 0; b + 1 < start.size(); ++b) {
    Keyed *first = out.data() + start[b], *last = out.data() + start[b + 1];
    if (last - first > 24) {
      std::sort(first, last, hash_then_row);
      continue;
    }
    for (Keyed* i = first + 1; i < last; ++i) {
      const Keyed key = *i;
      Keyed* j = i;
      for (; j > first && hash_then_row(key, j[-1]); --j) *j = j[-1];
      *j = key;
    }
  }
  return out;
}

// Collective: every row's hash sent to the rank its hash names, in one flat exchange;
// what this rank received, grouped by hash.
template <class Matrix>
std::vector<Keyed> hashes_by_owner(const Comm& comm, const LocalRows<Matrix>& rows) {
  const int P = comm.size();
  const std::int64_t m = rows.range.size();
  std::vector<std::uint64_t> hashes(static_cast<std::size_t>(m));
  std::vector<std::int64_t> count(static_cast<std::size_t>(P), 0);
  for (std::int64_t r = 0; r < m; ++r) {
    hashes[static_cast<std::size_t>(r)] = row_hash(rows.rows, r);
    ++count[static_cast<std::size_t>(owner_of_hash(hashes[static_cast<std::size_t>(r)], P))];
  }
  std::vector<std::int64_t> next(static_cast<std::size_t>(P), 0), bytes_to(static_cast<std::size_t>(P));
  std::partial_sum(count.begin(), count.end() - 1, next.begin() + 1);
  for (int r = 0; r < P; ++r)
    bytes_to[static_cast<std::size_t>(r)] = count[static_cast<std::size_t>(r)] * sizeof(Keyed);
  std::vector<Keyed> send(hashes.size());
  for (std::int64_t r = 0; r < m; ++r) {
    const std::uint64_t h = hashes[static_cast<std::size_t>(r)];
    send[static_cast<std::size_t>(next[static_cast<std::size_t>(owner_of_hash(h, P))]++)] = {h, rows.range.begin + r};
  }
  hashes = {};
  RankedBytes received;
  exchange_parts(comm, reinterpret_cast<const char*>(send.data()), bytes_to, received);
  send = {};
  return grouped_by_hash(received.data.data(), received.data.size() / sizeof(Keyed));
}

}  // namespace

template <class Matrix>
Duplicates find_duplicates(const Comm& comm, const LocalRows<Matrix>& rows, std::int64_t n,
                           const MemoryBudget& budget) {
  const int P = comm.size();
  const RowOwners owners(comm, rows.range);
  // Equal rows have equal hashes and meet on the rank their hash names.
  std::vector<Keyed> keyed = hashes_by_owner(comm, rows);
  // Candidates: each row of a run of equal hashes against the run's first row, sent to the
  // rank holding the candidate, which compares the two rows in full.
  std::vector<std::vector<Duplicates::Copy>> candidates(static_cast<std::size_t>(P));
  std::int64_t candidate_count = 0;
  for (std::size_t t = 1, first = 0; t < keyed.size(); ++t) {
    if (keyed[t].hash != keyed[first].hash) {
      first = t;
      continue;
    }
    candidates[static_cast<std::size_t>(owners.owner(keyed[t].row))].push_back({keyed[t].row, keyed[first].row});
    ++candidate_count;
  }
  keyed = {};
  if (boost::mpi::all_reduce(comm, candidate_count, std::plus<std::int64_t>()) == 0) return Duplicates(n);

  std::vector<Duplicates::Copy> mine;
  for (const auto& part : alltoallv(comm, candidates)) mine.insert(mine.end(), part.begin(), part.end());
  std::vector<std::int64_t> reps;
  for (const auto& c : mine) reps.push_back(c.rep);
  std::sort(reps.begin(), reps.end());
  reps.erase(std::unique(reps.begin(), reps.end()), reps.end());
  const Matrix rep_rows = fetch_rows(comm, rows, owners, reps);
  std::vector<Duplicates::Copy> confirmed;
  std::vector<char> used(reps.size(), 0);
  for (const auto& c : mine) {
    const auto k = static_cast<std::int64_t>(std::lower_bound(reps.begin(), reps.end(), c.rep) - reps.begin());
    if (!same_row(rows.rows, c.row - rows.range.begin, rep_rows, k)) continue;  // a hash collision
    confirmed.push_back(c);
    used[static_cast<std::size_t>(k)] = 1;
  }
  std::vector<Duplicates::SelfProduct> self;
  for (std::size_t k = 0; k < reps.size(); ++k)
    if (used[k]) {
      const auto r = static_cast<std::int64_t>(k);
      self.push_back({reps[k], static_cast<double>(inner_product(rep_rows, r, rep_rows, r))});
    }
  // Every rank is to hold every copy: refused on all ranks alike when that passes the budget.
  const auto copies = boost::mpi::all_reduce(comm, std::ssize(confirmed), std::plus<std::int64_t>());
  const auto rep_bound = boost::mpi::all_reduce(comm, std::ssize(self), std::plus<std::int64_t>());
  agree(comm, [&] {
    budget.check(fmt::format("the {} rows that are copies of others, a list every rank holds", copies),
                 Duplicates::held_bytes(copies, rep_bound));
  });
  std::vector<Duplicates::SelfProduct> all_self = all_gather_vector(comm, self);
  std::sort(all_self.begin(), all_self.end(),
            [](const Duplicates::SelfProduct& x, const Duplicates::SelfProduct& y) { return x.rep < y.rep; });
  all_self.erase(
      std::unique(all_self.begin(), all_self.end(),
                  [](const Duplicates::SelfProduct& x, const Duplicates::SelfProduct& y) { return x.rep == y.rep; }),
      all_self.end());
  return Duplicates(n, all_gather_vector(comm, confirmed), std::move(all_self));
}

template <class Matrix>
LocalRows<Matrix> collapse_rows(const Comm& comm, const LocalRows<Matrix>& rows, const Duplicates& dups,
                                RowRange range) {
  const std::vector<std::int64_t> wanted = dups.originals(range);
  return {range, fetch_rows(comm, rows, RowOwners(comm, rows.range), wanted)};
}

template Duplicates find_duplicates(const Comm&, const LocalRows<BitMatrix>&, std::int64_t, const MemoryBudget&);
template Duplicates find_duplicates(const Comm&, const LocalRows<RealMatrix>&, std::int64_t, const MemoryBudget&);
template LocalRows<BitMatrix> collapse_rows(const Comm&, const LocalRows<BitMatrix>&, const Duplicates&, RowRange);
template LocalRows<RealMatrix> collapse_rows(const Comm&, const LocalRows<RealMatrix>&, const Duplicates&, RowRange);
template Duplicates find_duplicates(const Comm&, const LocalRows<SparseMatrix>&, std::int64_t, const MemoryBudget&);
template LocalRows<SparseMatrix> collapse_rows(const Comm&, const LocalRows<SparseMatrix>&, const Duplicates&,
                                               RowRange);

}  // namespace hipi
