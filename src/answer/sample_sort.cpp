#include "answer/sample_sort.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cstring>
#include <type_traits>

namespace hipi {

std::int64_t offers_per_rank(const Comm& comm) {
  return std::clamp<std::int64_t>((std::int64_t{1} << 16) / comm.size(), 1, 256);
}

std::vector<SplitterOffer> offers_of(const Comm& comm, const std::vector<Pair>& sorted) {
  const std::int64_t per_rank = offers_per_rank(comm);
  const auto m = static_cast<std::int64_t>(sorted.size());
  const std::int64_t count = std::min(m, per_rank);
  std::vector<SplitterOffer> offers;
  for (std::int64_t k = 0; k < count; ++k)
    offers.push_back({sorted[static_cast<std::size_t>(k * m / count)], static_cast<double>(m) / count});
  return offers;
}

// Every rank offers keys at even steps through its sorted pairs; the weighted quantiles of
// all offers (the same on every rank) cut the answer into P parts of about equal size.
// Up to 2^16 offers in all (at most 1.5 MiB on every rank at any P), plus the shared ones.
std::vector<Pair> choose_splitters(const Comm& comm, const std::vector<SplitterOffer>& mine,
                                   const std::vector<SplitterOffer>& shared) {
  const int P = comm.size();
  std::vector<SplitterOffer> all = all_gather_vector(comm, mine);
  all.insert(all.end(), shared.begin(), shared.end());
  std::sort(all.begin(), all.end(),
            [](const SplitterOffer& x, const SplitterOffer& y) { return pair_key_less(x.key, y.key); });
  double weight = 0;
  for (const SplitterOffer& o : all) weight += o.weight;
  std::vector<Pair> splitters;
  double seen = 0;
  for (const SplitterOffer& o : all) {
    // The part boundary goes before the first offer past the next multiple of weight / P.
    while (static_cast<int>(splitters.size()) < P - 1 && seen >= weight * (splitters.size() + 1) / P)
      splitters.push_back(o.key);
    seen += o.weight;
  }
  return splitters;  // fewer than P - 1: the last ranks' parts are empty
}

std::vector<Pair> route_sorted(const Comm& comm, std::vector<Pair> sorted, const std::vector<Pair>& splitters) {
  // Pair p goes to the rank after the last splitter <= p: equal keys meet on one rank.
  std::vector<std::int64_t> sizes(comm.size(), 0);
  auto from = sorted.begin();
  for (std::size_t r = 0; r < sizes.size(); ++r) {
    const auto to =
        r < splitters.size() ? std::lower_bound(from, sorted.end(), splitters[r], pair_key_less) : sorted.end();
    sizes[r] = static_cast<std::int64_t>((to - from) * sizeof(Pair));
    from = to;
  }
  RankedBytes received;
  exchange_parts(comm, reinterpret_cast<const char*>(sorted.data()), sizes, received);
  sorted = {};
  std::vector<Pair> part(received.data.size() / sizeof(Pair));
  if (!part.empty()) std::memcpy(part.data(), received.data.data(), received.data.size());
  std::vector<std::size_t> bounds;  // each sender's part is sorted
  for (std::int64_t offset : received.offsets) bounds.push_back(static_cast<std::size_t>(offset) / sizeof(Pair));
  received = {};
  merge_sorted_runs(part, std::move(bounds));
  return part;
}

PairSlice sort_pairs_across(const Comm& comm, std::vector<Pair> local) {
  static_assert(std::is_trivially_copyable_v<Pair>);
  // Methods mostly find pairs in order (brute force row by row): check before sorting.
  if (!std::is_sorted(local.begin(), local.end(), pair_key_less)) sort_pairs(local);
  drop_repeated_pairs(local);
  PairSlice slice;
  if (comm.size() == 1) {
    slice.pairs = std::move(local);
  } else {
    const std::vector<Pair> splitters = choose_splitters(comm, offers_of(comm, local));
    slice.pairs = route_sorted(comm, std::move(local), splitters);
    drop_repeated_pairs(slice.pairs);
  }
  const auto mine = static_cast<std::int64_t>(slice.pairs.size());
  slice.offset = boost::mpi::scan(comm, mine, std::plus<std::int64_t>()) - mine;
  slice.total = boost::mpi::all_reduce(comm, mine, std::plus<std::int64_t>());
  return slice;
}

}  // namespace hipi
