#include "answer/duplicates.hpp"

#include <algorithm>
#include <bit>
#include <boost/mpi/collectives.hpp>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>

#include "core/random.hpp"
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
    kept_before_.push_back(copies[t].row - static_cast<std::int64_t>(t));
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
  // Row original(k) has k kept rows before it and every copy t with kept_before_[t] <= k.
  return k + (std::upper_bound(kept_before_.begin(), kept_before_.end(), k) - kept_before_.begin());
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

// splitmix64 of the hash so far plus one word.
std::uint64_t mix(std::uint64_t h, std::uint64_t w) {
  return splitmix64(h + w);
}

// A 64-bit hash of a row's storage (padding is zero): mix over its words.
template <class Matrix>
std::uint64_t row_hash(const Matrix& m, std::int64_t r) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(m.row(r));
  const std::size_t length = static_cast<std::size_t>(m.stride()) * sizeof(Element<Matrix>);
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ length;
  for (std::size_t k = 0; k + 8 <= length; k += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes + k, 8);
    h = mix(h, w);
  }
  return h;
}

template <class Matrix>
bool same_row(const Matrix& x, std::int64_t r, const Matrix& y, std::int64_t s) {
  return std::memcmp(x.row(r), y.row(s), static_cast<std::size_t>(x.stride()) * sizeof(Element<Matrix>)) == 0;
}

// Sparse rows: the same hash over the row's indices and then its values (a row is its
// entries: indices increase and no value is zero, so equal rows have equal entries).
std::uint64_t row_hash(const SparseMatrix& m, std::int64_t r) {
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ m.indices(r).size();
  for (const std::int64_t k : m.indices(r)) h = mix(h, static_cast<std::uint64_t>(k));
  for (const float v : m.values(r)) h = mix(h, std::bit_cast<std::uint32_t>(v));
  return h;
}
bool same_row(const SparseMatrix& x, std::int64_t r, const SparseMatrix& y, std::int64_t s) {
  return std::ranges::equal(x.indices(r), y.indices(s)) &&
         std::ranges::equal(x.values(r), y.values(s), [](float a, float b) {
           return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
         });
}

}  // namespace

template <class Matrix>
Duplicates find_duplicates(const Comm& comm, const LocalRows<Matrix>& rows, std::int64_t n) {
  const int P = comm.size();
  const RowOwners owners(comm, rows.range);
  // Every row's hash goes to the rank it names; equal rows meet there.
  struct Keyed {
    std::uint64_t hash;
    std::int64_t row;
  };
  std::vector<std::vector<Keyed>> by_hash(static_cast<std::size_t>(P));
  for (std::int64_t r = 0; r < rows.range.size(); ++r) {
    const std::uint64_t h = row_hash(rows.rows, r);
    by_hash[h % static_cast<std::uint64_t>(P)].push_back({h, rows.range.begin + r});
  }
  std::vector<Keyed> keyed;
  for (const auto& part : alltoallv(comm, by_hash)) keyed.insert(keyed.end(), part.begin(), part.end());
  by_hash = {};
  std::sort(keyed.begin(), keyed.end(),
            [](const Keyed& x, const Keyed& y) { return x.hash != y.hash ? x.hash < y.hash : x.row < y.row; });
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
  std::vector<std::int64_t> wanted;
  wanted.reserve(static_cast<std::size_t>(range.size()));
  for (std::int64_t k = range.begin; k < range.end; ++k) wanted.push_back(dups.original(k));
  return {range, fetch_rows(comm, rows, RowOwners(comm, rows.range), wanted)};
}

template Duplicates find_duplicates(const Comm&, const LocalRows<BitMatrix>&, std::int64_t);
template Duplicates find_duplicates(const Comm&, const LocalRows<RealMatrix>&, std::int64_t);
template LocalRows<BitMatrix> collapse_rows(const Comm&, const LocalRows<BitMatrix>&, const Duplicates&, RowRange);
template LocalRows<RealMatrix> collapse_rows(const Comm&, const LocalRows<RealMatrix>&, const Duplicates&, RowRange);
template Duplicates find_duplicates(const Comm&, const LocalRows<SparseMatrix>&, std::int64_t);
template LocalRows<SparseMatrix> collapse_rows(const Comm&, const LocalRows<SparseMatrix>&, const Duplicates&,
                                               RowRange);

}  // namespace hipi
