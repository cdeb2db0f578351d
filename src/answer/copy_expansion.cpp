#include "answer/copy_expansion.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <span>

#include "answer/sample_sort.hpp"

namespace hipi {

// The pairs of input rows that pairs of representatives stand for, row by row of A.
class ExpandedRows {
 public:
  ExpandedRows(const Duplicates& a, const Duplicates& b, bool self_join, const Threshold& threshold,
               std::vector<CopyExpansion::Link> links)
      : a_(a), b_(b), self_join_(self_join), threshold_(threshold), links_(std::move(links)) {
    // A pair may come twice (in two spilled runs, or from two ranks): expanded once.
    std::sort(links_.begin(), links_.end(), from_then_to);
    links_.erase(std::unique(links_.begin(), links_.end(),
                             [](const auto& x, const auto& y) { return x.from == y.from && x.to == y.to; }),
                 links_.end());
  }

  const std::vector<CopyExpansion::Link>& links() const { return links_; }

  // Rows of A in [lo, hi) that have expanded pairs, sorted: the rows the links' `from` rows
  // stand for, and in a self-join those of every representative whose copies pair among
  // themselves and for which `counted(rep)`.
  template <class Counted>
  std::vector<std::int64_t> rows_in(std::int64_t lo, std::int64_t hi, Counted&& counted) const {
    std::vector<std::int64_t> rows;
    const auto add = [&](std::span<const std::int64_t> members) {
      for (auto i = std::lower_bound(members.begin(), members.end(), lo); i != members.end() && *i < hi; ++i)
        rows.push_back(*i);
    };
    for (std::size_t t = 0; t < links_.size(); ++t)
      if (t == 0 || links_[t].from != links_[t - 1].from) add(members(a_, links_[t].from));
    if (self_join_)
      for (std::int64_t rep : a_.reps())
        if (counted(rep) && copies_pair(rep)) add(a_.members(rep));
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

  // True when a link makes pairs for some row of A at or after i (in a self-join only with
  // rows of B after i).
  bool pairs_past(const CopyExpansion::Link& l, std::int64_t i) const {
    return !self_join_ || members(b_, l.to).back() > i;
  }

  // The rows of A that `from` stands for.
  std::span<const std::int64_t> rows_of(const std::int64_t& from) const { return members(a_, from); }

  static bool from_then_to(const CopyExpansion::Link& x, const CopyExpansion::Link& y) {
    return x.from != y.from ? x.from < y.from : x.to < y.to;
  }

 private:
  const Duplicates& a_;
  const Duplicates& b_;
  bool self_join_;
  Threshold threshold_;
  std::vector<CopyExpansion::Link> links_;  // sorted by (from, to), no repeats

  static std::span<const std::int64_t> members(const Duplicates& d, const std::int64_t& rep) {
    return d.has_copies(rep) ? d.members(rep) : std::span<const std::int64_t>(&rep, 1);
  }
  // A row's value with a copy of itself: its inner product with itself, or with a cosine
  // exactly 1 (Threshold::value of that product over itself, as the kernels judge copies).
  double self_value(std::int64_t rep) const {
    const double ip = a_.self_product(rep);
    return threshold_.value(ip, ip, ip);
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
    const auto first =
        std::partition_point(links_.begin(), links_.end(), [&](const CopyExpansion::Link& l) { return l.from < rep; });
    for (auto l = first; l != links_.end() && l->from == rep; ++l) f(members(b_, l->to), l->ip);
    if (a_.has_copies(rep) && copies_pair(rep)) f(a_.members(rep), self_value(rep));
  }
};

namespace {

// Collective: each rank's `parts[r]` sent to rank r in one flat exchange; what this rank received.
std::vector<CopyExpansion::Link> exchange_links(const Comm& comm, std::vector<std::vector<CopyExpansion::Link>> parts) {
  std::vector<std::int64_t> bytes_to;
  std::size_t total = 0;
  for (const auto& part : parts) total += part.size();
  std::vector<CopyExpansion::Link> flat;
  flat.reserve(total);
  for (auto& part : parts) {  // each part freed once copied: the links are held about once
    flat.insert(flat.end(), part.begin(), part.end());
    bytes_to.push_back(static_cast<std::int64_t>(part.size() * sizeof(CopyExpansion::Link)));
    part = {};
  }
  RankedBytes received;
  exchange_parts(comm, reinterpret_cast<const char*>(flat.data()), bytes_to, received);
  flat = {};
  flat.resize(received.data.size() / sizeof(CopyExpansion::Link));
  if (!flat.empty()) std::memcpy(flat.data(), received.data.data(), received.data.size());
  return flat;
}

// The links of every `from` row of `owned` that rows of [row_begin, row_end) it stands for
// make pairs with, sent to the ranks that write those rows, once each. Row i is written by
// the rank after the last of `cuts` at or before it (as route_sorted).
std::vector<std::vector<CopyExpansion::Link>> links_by_writer(const ExpandedRows& owned, std::int64_t row_begin,
                                                              std::int64_t row_end,
                                                              const std::vector<std::int64_t>& cuts, int ranks) {
  std::vector<std::vector<CopyExpansion::Link>> parts(static_cast<std::size_t>(ranks));
  const std::vector<CopyExpansion::Link>& links = owned.links();
  for (std::size_t t = 0, end = 0; t < links.size(); t = end) {
    while (end < links.size() && links[end].from == links[t].from) ++end;
    const std::span<const std::int64_t> rows = owned.rows_of(links[t].from);
    std::size_t last = parts.size();
    for (auto i = std::lower_bound(rows.begin(), rows.end(), row_begin); i != rows.end() && *i < row_end; ++i)
      if (const auto w = static_cast<std::size_t>(std::upper_bound(cuts.begin(), cuts.end(), *i) - cuts.begin());
          w != last) {
        for (std::size_t u = t; u < end; ++u)  // *i is the writer's first row of them
          if (owned.pairs_past(links[u], *i)) parts[w].push_back(links[u]);
        last = w;
      }
  }
  return parts;
}

}  // namespace

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
    : a_(a), b_(b ? *b : a), self_join_(b == nullptr), threshold_(threshold), ranks_(comm.size()) {
  // Each link goes to the rank that owns its `from` row: there it counts that row's pairs
  // and is sent, window by window, to the ranks that write them. No rank holds them all.
  std::vector<std::vector<Link>> parts(static_cast<std::size_t>(ranks_));
  const auto add = [&](const Link& l) { parts[static_cast<std::size_t>(owner(l.from))].push_back(l); };
  for (const Pair& p : with_copies) {
    add({p.i, p.j, p.ip});
    if (self_join_) add({p.j, p.i, p.ip});
  }
  owned_ = std::make_shared<const ExpandedRows>(a_, b_, self_join_, threshold_, exchange_links(comm, std::move(parts)));
}

int CopyExpansion::owner(std::int64_t row) const {
  // Spread by a hash, not by blocks: representatives are the first of their copies, so
  // they crowd the first rows.
  const std::uint64_t spread = static_cast<std::uint64_t>(row) * 0x9E3779B97F4A7C15ull;
  return static_cast<int>((static_cast<unsigned __int128>(spread) * static_cast<unsigned>(ranks_)) >> 64);
}

PairStream CopyExpansion::window(const Comm& comm, std::vector<Pair> kept, std::int64_t row_begin,
                                 std::int64_t row_end) const {
  // Every rank gets whole rows of A, cut so that each writes about as many pairs: the kept
  // pairs offer their rows as in the sort, and each expanded row its count, offered by the
  // rank that owns its links (consecutive rows in one offer, keyed by the first of them).
  const int rank = comm.rank();
  const std::vector<std::int64_t> owned_rows =
      owned_->rows_in(row_begin, row_end, [&](std::int64_t rep) { return owner(rep) == rank; });
  std::vector<SplitterOffer> offers = offers_of(comm, kept);
  for (SplitterOffer& o : offers) o.key = row_key(o.key.i);
  const std::int64_t per_rank = offers_per_rank(comm);
  const auto per_offer =
      static_cast<std::size_t>(std::max<std::int64_t>(1, (std::ssize(owned_rows) + per_rank - 1) / per_rank));
  for (std::size_t t = 0; t < owned_rows.size(); t += per_offer) {
    double weight = 0;
    for (std::size_t u = t; u < std::min(owned_rows.size(), t + per_offer); ++u)
      weight += static_cast<double>(owned_->count(owned_rows[u]));
    offers.push_back({row_key(owned_rows[t]), weight});
  }
  const std::vector<Pair> splitters = choose_splitters(comm, offers);
  std::vector<std::int64_t> cuts;
  for (const Pair& s : splitters) cuts.push_back(s.i);
  const auto r = static_cast<std::size_t>(rank);
  const std::int64_t lo = r == 0 ? row_begin : (r - 1 < cuts.size() ? cuts[r - 1] : row_end);
  const std::int64_t hi = r < cuts.size() ? cuts[r] : row_end;

  std::vector<std::vector<Link>> parts = links_by_writer(*owned_, row_begin, row_end, cuts, comm.size());

  struct State {
    std::shared_ptr<const ExpandedRows> expansion;  // the links of this rank's rows
    std::vector<Pair> kept;                         // this rank's pairs of rows without copies, sorted
    std::vector<std::int64_t> rows;                 // this rank's expanded rows, sorted
    std::size_t at = 0, next_row = 0;               // next kept pair, next expanded row
    std::vector<Pair> row;                          // the current expanded row's pairs
    std::size_t row_at = 0;
  };
  auto state = std::make_shared<State>();
  state->expansion =
      std::make_shared<const ExpandedRows>(a_, b_, self_join_, threshold_, exchange_links(comm, std::move(parts)));
  state->rows = state->expansion->rows_in(lo, hi, [](std::int64_t) { return true; });
  state->kept = route_sorted(comm, std::move(kept), splitters);
  PairStream stream;
  stream.count = static_cast<std::int64_t>(state->kept.size());
  for (std::int64_t i : state->rows) stream.count += state->expansion->count(i);
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
  // Pairs of rows without copies stay as they are; the others go to the expansion.
  const std::vector<Pair> with_copies = rename_setting_aside_copies(slice.pairs, a, b);
  const CopyExpansion expansion(comm, with_copies, a, b_or_null, threshold);
  return expansion.window(comm, std::move(slice.pairs), 0, std::numeric_limits<std::int64_t>::max());
}

}  // namespace hipi
