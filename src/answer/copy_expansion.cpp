#include "answer/copy_expansion.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <limits>
#include <memory>

#include "answer/sample_sort.hpp"

namespace hipi {

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
  // A row's value with a copy of itself: its inner product with itself, or with a cosine
  // that over its norm squared, the norm as the kernels take it (the root of that product).
  double self_value(std::int64_t rep) const {
    const double ip = a_.self_product(rep);
    return threshold_.value(ip, std::sqrt(ip), std::sqrt(ip));
  }
  // Two copies of one row make a pair (self-join) when the row's value with itself passes.
  bool copies_pair(std::int64_t rep) const { return self_join_ && threshold_.passes(self_value(rep)); }
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
    if (a_.has_copies(rep) && copies_pair(rep)) f(a_.members(rep), self_value(rep));
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

}  // namespace hipi
