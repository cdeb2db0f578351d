#include "methods/brute/top_k_ring.hpp"

#include <boost/mpi/collectives.hpp>
#include <type_traits>

#include "answer/top_k.hpp"
#include "methods/brute/units.hpp"
#include "parallel/ring.hpp"
#include "parallel/row_exchange.hpp"

namespace hipi {

namespace {

// The block pair's kernel: the schedule's check of real blocks, or top_k_pairs.
template <class Matrix>
void check_block(const BruteSchedule& schedule, RowsAt<Matrix> a, RowsAt<Matrix> b, const Threshold& threshold,
                 PairFilter filter, const TopKTarget& target, RowRange b_rows) {
  if constexpr (std::is_same_v<Matrix, RealMatrix>)
    if (schedule.real_check) return schedule.real_check->top_k(a, b, threshold, filter, target, b_rows);
  top_k_pairs(a, b, threshold, filter, target, b_rows);
}

// Collective: pairs (i, j, value) to the rank whose rows of A hold row i; returns what came here.
std::vector<Pair> to_owners(const Comm& comm, const RowOwners& owners, const std::vector<Pair>& pairs) {
  std::vector<std::vector<Pair>> send(static_cast<std::size_t>(comm.size()));
  for (const Pair& p : pairs) send[static_cast<std::size_t>(owners.owner(p.i))].push_back(p);
  std::vector<Pair> got;
  for (const std::vector<Pair>& part : alltoallv(comm, send)) got.insert(got.end(), part.begin(), part.end());
  return got;
}

// This rank's lists, and the visiting block's (self-join), with what checkpoints and resumes
// do with them.
struct Lists {
  TopKLists local;
  std::optional<TopKLists> remote;
  RowOwners owners;  // which rank holds each row of A

  // Every pair a checkpoint holds goes to its row's owner: the remote lists saved mid-step
  // were bound there anyway, and a pair is offered to a list once, whenever.
  void resume(const Comm& comm, const std::vector<Pair>& saved) { local.offer_all(to_owners(comm, owners, saved)); }
  // What a checkpoint saves: every list's pairs.
  std::vector<Pair> held() const {
    std::vector<Pair> all = local.pairs();
    if (remote) {
      const std::vector<Pair> more = remote->pairs();
      all.insert(all.end(), more.begin(), more.end());
    }
    return all;
  }
};

// Collective: raises each of this rank's rows' floors to its K-th best score against a
// random sample of B (j != i in a self-join): a score the row's final K-th best reaches,
// whatever the rest of B holds, so no pair of the answer falls below it.
template <class Matrix>
void seed_floors(const Comm& comm, const LocalRows<Matrix>& a, const LocalRows<Matrix>& b, bool self_join,
                 const Threshold& threshold, const TopKQuery& query, TopKLists& lists) {
  const std::int64_t n_b = boost::mpi::all_reduce(comm, b.range.size(), std::plus<std::int64_t>());
  constexpr std::uint64_t kSeedStream = 61;
  const std::vector<std::int64_t> ids = sample_row_ids(n_b, kTopKSeedRows, query.seed, kSeedStream);
  const Matrix sample = fetch_sample(comm, b, n_b, kTopKSeedRows, query.seed, kSeedStream);
  TopKLists seeded(a.range, query.k, query.floor, threshold.abs);
  const TopKTarget target{seeded.floors(), nullptr, [&](std::int64_t i, std::int64_t s, double v) {
                            const std::int64_t j = ids[static_cast<std::size_t>(s)];
                            if (!(self_join && i == j)) seeded.offer(i - a.range.begin, j, v);
                          }};
  top_k_pairs({a.rows, a.range.begin}, {sample, 0}, threshold, PairFilter::All, target, {0, sample.rows()});
  lists.raise_floors(std::vector<double>(seeded.floors(), seeded.floors() + a.range.size()));
}

// Collective, at step s of a self-join: this rank's floors to the rank that visits its
// block now; the visiting block's floors, from its owner, start `remote`'s.
void owner_floors(const Comm& comm, int s, const TopKLists& local, TopKLists& remote) {
  constexpr int kFloorsTag = 23;
  const int P = comm.size(), rank = comm.rank();
  std::vector<double> theirs(static_cast<std::size_t>(remote.rows().size()));
  std::vector<boost::mpi::request> requests;
  irecv_pieces(comm, (rank - s + P) % P, kFloorsTag, theirs.data(), remote.rows().size(), requests);
  isend_pieces(comm, (rank + s) % P, kFloorsTag, local.floors(), local.rows().size(), requests);
  boost::mpi::wait_all(requests.begin(), requests.end());
  remote.raise_floors(theirs);
}

// The schedule's boundary sees the lists' pairs, not the kernels' (which keep none), and only
// when a checkpoint may be saved (materialising them costs K pairs a row).
void watch_lists(BruteSchedule& schedule, const Lists& lists, bool saves) {
  auto boundary = std::move(schedule.at_boundary);
  if (!boundary) return;
  schedule.at_boundary = [&lists, saves, boundary](std::int64_t done, std::int64_t total, std::vector<Pair>&) {
    std::vector<Pair> held = saves ? lists.held() : std::vector<Pair>();
    boundary(done, total, held);
  };
}

}  // namespace

template <class Matrix>
std::vector<Pair> top_k_ring(const Comm& comm, const LocalRows<Matrix>& a, const LocalRows<Matrix>* b,
                             const Threshold& threshold, const TopKQuery& query, BruteSchedule schedule) {
  const int P = comm.size(), rank = comm.rank();
  Lists lists{TopKLists(a.range, query.k, query.floor, threshold.abs), std::nullopt, RowOwners(comm, a.range)};
  seed_floors(comm, a, b ? *b : a, b == nullptr, threshold, query, lists.local);
  lists.resume(comm, schedule.resumed_pairs);
  schedule.resumed_pairs.clear();
  watch_lists(schedule, lists, schedule.saves);
  std::vector<Pair> none;  // the kernels offer to the lists: Units' pairs stay empty
  const std::int64_t a_first = a.range.begin;
  if (b) {
    Units units(comm, a, b->range.size(), P, schedule);
    ring_pass(comm, *b, P, [&](const Matrix& block, RowRange range, int s) {
      const TopKTarget target{lists.local.floors(), nullptr,
                              [&](std::int64_t i, std::int64_t j, double v) { lists.local.offer(i - a_first, j, v); }};
      units.run_step(s, RowRange{0, range.size()}, none, [&](RowRange chunk) {
        check_block<Matrix>(schedule, {a.rows, a_first}, {block, range.begin}, threshold, PairFilter::All, target,
                            chunk);
      });
    });
    return lists.local.pairs();
  }
  // Self-join: block pair {x, y} checked once, as brute_force_self splits them.
  const int steps = P / 2 + 1;
  Units units(comm, a, a.range.size(), steps, schedule);
  lists.remote.emplace(RowRange{0, 0}, query.k, query.floor, threshold.abs);
  ring_pass(comm, a, steps, [&](const Matrix& block, RowRange range, int s) {
    const RowRange all{0, range.size()};
    if (s == 0) {
      const TopKTarget target{lists.local.floors(), lists.local.floors(),
                              [&](std::int64_t i, std::int64_t j, double v) {
                                lists.local.offer(i - a_first, j, v);
                                lists.local.offer(j - a_first, i, v);
                              }};
      units.run_step(s, all, none, [&](RowRange chunk) {
        check_block<Matrix>(schedule, {a.rows, a_first}, {block, range.begin}, threshold, PairFilter::Upper, target,
                            chunk);
      });
      return;
    }
    TopKLists& remote = *lists.remote;
    remote.reset(range);
    owner_floors(comm, s, lists.local, remote);
    const auto visit = [&](const Matrix& rows, std::int64_t first, RowRange b_rows) {
      const TopKTarget target{lists.local.floors() + (first - a_first), remote.floors(),
                              [&](std::int64_t i, std::int64_t j, double v) {
                                lists.local.offer(i - a_first, j, v);
                                remote.offer(j - range.begin, i, v);
                              }};
      units.run_step(s, b_rows, none, [&](RowRange chunk) {
        check_block<Matrix>(schedule, {rows, first}, {block, range.begin}, threshold, PairFilter::All, target, chunk);
      });
    };
    if (2 * s == P && rank < P / 2) {
      visit(a.rows, a_first, RowRange{0, range.size() / 2});
    } else if (2 * s == P) {
      const std::int64_t half = a.range.size() / 2;
      visit(row_slice(a.rows, half, a.range.size()), a_first + half, all);
    } else {
      visit(a.rows, a_first, all);
    }
    // The visiting block's lists to its owner; this block's, from the rank that visited it.
    lists.local.offer_all(to_owners(comm, lists.owners, remote.pairs()));
    remote.reset(RowRange{0, 0});
  });
  return lists.local.pairs();
}

template std::vector<Pair> top_k_ring(const Comm&, const LocalRows<BitMatrix>&, const LocalRows<BitMatrix>*,
                                      const Threshold&, const TopKQuery&, BruteSchedule);
template std::vector<Pair> top_k_ring(const Comm&, const LocalRows<RealMatrix>&, const LocalRows<RealMatrix>*,
                                      const Threshold&, const TopKQuery&, BruteSchedule);

}  // namespace hipi
