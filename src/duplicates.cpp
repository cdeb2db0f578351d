#include "hipi/duplicates.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>

#include "hipi/verify.hpp"

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

// A 64-bit hash of a row's storage (padding is zero): splitmix64's finalizer over its words.
template <class Matrix>
std::uint64_t row_hash(const Matrix& m, std::int64_t r) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(m.row(r));
  const std::size_t length = static_cast<std::size_t>(m.stride()) * sizeof(Element<Matrix>);
  std::uint64_t h = 0x9E3779B97F4A7C15ull ^ length;
  for (std::size_t k = 0; k + 8 <= length; k += 8) {
    std::uint64_t w;
    std::memcpy(&w, bytes + k, 8);
    h += w;
    h = (h ^ (h >> 30)) * 0xBF58476D1CE4E5B9ull;
    h = (h ^ (h >> 27)) * 0x94D049BB133111EBull;
    h ^= h >> 31;
  }
  return h;
}

template <class Matrix>
bool same_row(const Matrix& x, std::int64_t r, const Matrix& y, std::int64_t s) {
  return std::memcmp(x.row(r), y.row(s), static_cast<std::size_t>(x.stride()) * sizeof(Element<Matrix>)) == 0;
}

// Which rank holds each row: the ranks' blocks, contiguous in rank order.
class RowOwners {
 public:
  RowOwners(const Comm& comm, RowRange mine) { boost::mpi::all_gather(comm, mine, ranges_); }
  int owner(std::int64_t row) const {
    const auto at =
        std::partition_point(ranges_.begin(), ranges_.end(), [&](const RowRange& r) { return r.end <= row; });
    HIPI_ASSERT(at != ranges_.end() && at->contains(row));
    return static_cast<int>(at - ranges_.begin());
  }

 private:
  std::vector<RowRange> ranges_;
};

// Collective: the `wanted` rows (input indices, any order), from the ranks holding them.
template <class Matrix>
Matrix fetch_rows(const Comm& comm, const LocalRows<Matrix>& have, const RowOwners& owners,
                  const std::vector<std::int64_t>& wanted) {
  using T = Element<Matrix>;
  const int P = comm.size();
  const auto stride = static_cast<std::size_t>(have.rows.stride());
  std::vector<std::vector<std::int64_t>> requests(static_cast<std::size_t>(P));
  for (std::int64_t row : wanted) requests[static_cast<std::size_t>(owners.owner(row))].push_back(row);
  const std::vector<std::vector<std::int64_t>> asked = alltoallv(comm, requests);
  std::vector<std::vector<T>> replies(static_cast<std::size_t>(P));
  for (int r = 0; r < P; ++r)
    for (std::int64_t row : asked[static_cast<std::size_t>(r)]) {
      const T* values = have.rows.row(row - have.range.begin);
      replies[static_cast<std::size_t>(r)].insert(replies[static_cast<std::size_t>(r)].end(), values, values + stride);
    }
  const std::vector<std::vector<T>> got = alltoallv(comm, replies);
  Matrix out(static_cast<std::int64_t>(wanted.size()), have.rows.cols());
  std::vector<std::size_t> next(static_cast<std::size_t>(P), 0);
  for (std::size_t k = 0; k < wanted.size(); ++k) {
    const auto o = static_cast<std::size_t>(owners.owner(wanted[k]));
    std::memcpy(out.row(static_cast<std::int64_t>(k)), got[o].data() + next[o]++ * stride, stride * sizeof(T));
  }
  return out;
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

template <class Matrix>
std::optional<LocalRows<Matrix>> relayout_rows(const Comm& comm, const LocalRows<Matrix>& rows, RowRange range) {
  const bool same = boost::mpi::all_reduce(comm, rows.range == range, std::logical_and<bool>());
  if (same) return std::nullopt;
  std::vector<std::int64_t> wanted(static_cast<std::size_t>(range.size()));
  std::iota(wanted.begin(), wanted.end(), range.begin);
  return LocalRows<Matrix>{range, fetch_rows(comm, rows, RowOwners(comm, rows.range), wanted)};
}

// The pairs of input rows that pairs of representatives stand for, row by row of A.
class ExpandedRows {
 public:
  // A pair of representatives, from one side: `from` in A, `to` in B (in a self-join, each
  // pair both ways).
  struct Link {
    std::int64_t from = 0, to = 0;
    double ip = 0;
  };

  ExpandedRows(const Duplicates& a, const Duplicates& b, bool self_join, const Threshold& threshold,
               std::vector<Link> links)
      : a_(a), b_(b), self_join_(self_join), threshold_(threshold), links_(std::move(links)) {
    std::sort(links_.begin(), links_.end(),
              [](const Link& x, const Link& y) { return x.from != y.from ? x.from < y.from : x.to < y.to; });
  }

  // Rows of A that have expanded pairs, sorted.
  std::vector<std::int64_t> rows() const {
    std::vector<std::int64_t> rows;
    for (std::size_t t = 0; t < links_.size(); ++t)
      if (t == 0 || links_[t].from != links_[t - 1].from)
        for (std::int64_t i : members(a_, links_[t].from)) rows.push_back(i);
    if (self_join_)
      for (std::int64_t rep : a_.reps())
        if (copies_pair(rep))
          for (std::int64_t i : a_.members(rep)) rows.push_back(i);
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    return rows;
  }

  // How many pairs row i of A expands to, without making them.
  std::int64_t count(std::int64_t i) const {
    std::int64_t count = 0;
    each_partner_set(
        i, [&](std::span<const std::int64_t> js, double) { count += static_cast<std::int64_t>(after(js, i).size()); });
    return count;
  }

  // Row i's expanded pairs, sorted by j.
  std::vector<Pair> pairs(std::int64_t i) const {
    std::vector<Pair> out;
    each_partner_set(i, [&](std::span<const std::int64_t> js, double ip) {
      for (std::int64_t j : after(js, i)) out.push_back({i, j, ip});
    });
    std::sort(out.begin(), out.end(), pair_key_less);
    return out;
  }

 private:
  const Duplicates& a_;
  const Duplicates& b_;
  bool self_join_;
  Threshold threshold_;
  std::vector<Link> links_;

  static std::span<const std::int64_t> members(const Duplicates& d, const std::int64_t& rep) {
    return d.has_copies(rep) ? d.members(rep) : std::span<const std::int64_t>(&rep, 1);
  }
  // Two copies of one row make a pair (self-join) when the row's product with itself passes.
  bool copies_pair(std::int64_t rep) const { return self_join_ && threshold_.passes(a_.self_product(rep)); }
  // In a self-join only j > i.
  std::span<const std::int64_t> after(std::span<const std::int64_t> js, std::int64_t i) const {
    if (!self_join_) return js;
    return js.subspan(static_cast<std::size_t>(std::upper_bound(js.begin(), js.end(), i) - js.begin()));
  }
  // Calls f(rows of B, inner product) for every set of rows that row i of A pairs with.
  template <class F>
  void each_partner_set(std::int64_t i, F&& f) const {
    const std::int64_t rep = a_.rep_of(i);
    const auto first = std::partition_point(links_.begin(), links_.end(), [&](const Link& l) { return l.from < rep; });
    for (auto l = first; l != links_.end() && l->from == rep; ++l) f(members(b_, l->to), l->ip);
    if (a_.has_copies(rep) && copies_pair(rep)) f(a_.members(rep), a_.self_product(rep));
  }
};

std::vector<Pair> rename_setting_aside_copies(std::vector<Pair>& pairs, const Duplicates& a, const Duplicates& b) {
  std::vector<Pair> with_copies;
  std::size_t kept = 0;
  for (const Pair& collapsed : pairs) {
    const Pair p = renamed(collapsed, a, b);
    if (involves_copies(p, a, b))
      with_copies.push_back(p);
    else
      pairs[kept++] = p;
  }
  pairs.resize(kept);
  return with_copies;
}

CopyExpansion::CopyExpansion(const Comm& comm, const std::vector<Pair>& with_copies, const Duplicates& a,
                             const Duplicates* b, const Threshold& threshold)
    : a_(a), b_(b ? *b : a) {
  // A pair may come twice (in two of a rank's spilled runs): expanded once.
  std::vector<Pair> all = all_gather_vector(comm, with_copies);
  sort_pairs(all);
  drop_repeated_pairs(all);
  std::vector<ExpandedRows::Link> links;
  for (const Pair& p : all) {
    links.push_back({p.i, p.j, p.ip});
    if (!b) links.push_back({p.j, p.i, p.ip});
  }
  rows_ = std::make_shared<const ExpandedRows>(a_, b_, b == nullptr, threshold, std::move(links));
  expanded_rows_ = rows_->rows();
}

PairStream CopyExpansion::window(const Comm& comm, std::vector<Pair> kept, std::int64_t row_begin,
                                 std::int64_t row_end) const {
  // Every rank gets whole rows of A, cut so that each writes about as many pairs: the kept
  // pairs offer their rows as in the sort, the expanded rows (the same on every rank) their counts.
  const std::vector<std::int64_t> rows(std::lower_bound(expanded_rows_.begin(), expanded_rows_.end(), row_begin),
                                       std::lower_bound(expanded_rows_.begin(), expanded_rows_.end(), row_end));
  std::vector<std::int64_t> counts;
  std::vector<SplitterOffer> shared, mine = offers_of(comm, kept);
  for (SplitterOffer& o : mine) o.key = row_key(o.key.i);
  for (std::int64_t i : rows) counts.push_back(rows_->count(i));
  // At most 2^16 shared offers (as the sort's sample): consecutive expanded rows in one
  // offer, keyed by the first of them, weighing their pairs together.
  const std::size_t per_offer = std::max<std::size_t>(1, (rows.size() + 65535) / 65536);
  for (std::size_t t = 0; t < rows.size(); t += per_offer) {
    double weight = 0;
    for (std::size_t u = t; u < std::min(rows.size(), t + per_offer); ++u) weight += static_cast<double>(counts[u]);
    shared.push_back({row_key(rows[t]), weight});
  }
  const std::vector<Pair> splitters = choose_splitters(comm, mine, shared);
  const auto r = static_cast<std::size_t>(comm.rank());
  const std::int64_t lo = r == 0 ? row_begin : (r - 1 < splitters.size() ? splitters[r - 1].i : row_end);
  const std::int64_t hi = r < splitters.size() ? splitters[r].i : row_end;

  struct State {
    std::shared_ptr<const ExpandedRows> expansion;
    std::vector<Pair> kept;            // this rank's pairs of rows without copies, sorted
    std::vector<std::int64_t> rows;    // this rank's expanded rows, sorted
    std::size_t at = 0, next_row = 0;  // next kept pair, next expanded row
    std::vector<Pair> row;             // the current expanded row's pairs
    std::size_t row_at = 0;
  };
  auto state = std::make_shared<State>();
  state->expansion = rows_;
  state->kept = route_sorted(comm, std::move(kept), splitters);
  PairStream stream;
  stream.count = static_cast<std::int64_t>(state->kept.size());
  for (std::size_t t = 0; t < rows.size(); ++t)
    if (rows[t] >= lo && rows[t] < hi) {
      state->rows.push_back(rows[t]);
      stream.count += counts[t];
    }
  stream.offset = boost::mpi::scan(comm, stream.count, std::plus<std::int64_t>()) - stream.count;
  stream.total = boost::mpi::all_reduce(comm, stream.count, std::plus<std::int64_t>());
  // Merges the kept pairs with the expanded rows' pairs, one expanded row held at a time.
  stream.next = [state](std::vector<Pair>& piece, std::int64_t max) {
    State& s = *state;
    for (std::int64_t added = 0; added < max; ++added) {
      while (s.row_at == s.row.size() && s.next_row < s.rows.size()) {
        s.row = s.expansion->pairs(s.rows[s.next_row++]);
        s.row_at = 0;
      }
      const bool kept_left = s.at < s.kept.size(), row_left = s.row_at < s.row.size();
      if (!kept_left && !row_left) return;
      if (row_left && (!kept_left || pair_key_less(s.row[s.row_at], s.kept[s.at])))
        piece.push_back(s.row[s.row_at++]);
      else
        piece.push_back(s.kept[s.at++]);
    }
  };
  return stream;
}

PairStream expand_duplicates(const Comm& comm, PairSlice slice, const Duplicates& a, const Duplicates* b_or_null,
                             const Threshold& threshold) {
  const Duplicates& b = b_or_null ? *b_or_null : a;
  if (a.none() && b.none()) return PairStream::owning(std::move(slice));
  // Pairs of rows without copies stay as they are; the others are shared with every rank.
  const std::vector<Pair> with_copies = rename_setting_aside_copies(slice.pairs, a, b);
  const CopyExpansion expansion(comm, with_copies, a, b_or_null, threshold);
  return expansion.window(comm, std::move(slice.pairs), 0, std::numeric_limits<std::int64_t>::max());
}

template Duplicates find_duplicates(const Comm&, const LocalRows<BitMatrix>&, std::int64_t);
template Duplicates find_duplicates(const Comm&, const LocalRows<RealMatrix>&, std::int64_t);
template LocalRows<BitMatrix> collapse_rows(const Comm&, const LocalRows<BitMatrix>&, const Duplicates&, RowRange);
template LocalRows<RealMatrix> collapse_rows(const Comm&, const LocalRows<RealMatrix>&, const Duplicates&, RowRange);
template std::optional<LocalRows<BitMatrix>> relayout_rows(const Comm&, const LocalRows<BitMatrix>&, RowRange);
template std::optional<LocalRows<RealMatrix>> relayout_rows(const Comm&, const LocalRows<RealMatrix>&, RowRange);

}  // namespace hipi
