#include "methods/sketch/recall/completion.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <climits>
#include <unordered_map>

#include "kernels/exact.hpp"

namespace hipi {

namespace {

std::int64_t sum_over(const Comm& comm, std::int64_t v) {
  return boost::mpi::all_reduce(comm, v, std::plus<std::int64_t>());
}

// Every rank's `mine` (row ids and their values) on every rank, in rank order.
template <class Matrix>
Matrix gather_rows(const Comm& comm, const Matrix& local, RowRange local_range, const std::vector<std::int64_t>& mine,
                   std::vector<std::int64_t>& ids) {
  using V = typename Matrix::value_type;
  const auto stride = static_cast<std::size_t>(local.stride());
  ids = all_gather_vector(comm, mine);  // in rounds under mpi_byte_limit(): any number of rows
  std::vector<V> send(mine.size() * stride);
  for (std::size_t k = 0; k < mine.size(); ++k) {
    const V* row = local.row(mine[k] - local_range.begin);
    std::copy(row, row + stride, send.data() + k * stride);
  }
  const std::vector<V> values = all_gather_vector(comm, send);
  Matrix all(static_cast<std::int64_t>(ids.size()), local.cols());
  HIPI_ASSERT(all.storage_size() == values.size());
  if (!values.empty()) std::copy(values.begin(), values.end(), all.data());
  return all;
}

// Checks the rows `frontier` of one side (this rank's, by global id) against every row of
// the other side: all ranks' frontier rows are shared in batches, and each rank checks
// them against the rows it holds. Side 0: rows of A against B (against A in a self-join);
// side 1: rows of B against A.
template <class Matrix>
void check_frontier(const CompletionContext<Matrix>& ctx, int side, const std::vector<std::int64_t>& frontier,
                    std::vector<Pair>& found, CompletionWork& work) {
  const Comm& comm = ctx.comm;
  const LocalRows<Matrix>& own = side == 0 ? ctx.a : ctx.b;
  const LocalRows<Matrix>& other = side == 0 ? (ctx.self_join ? ctx.a : ctx.b) : ctx.a;
  const std::int64_t row_bytes =
      std::max<std::int64_t>(1, own.rows.stride() * static_cast<std::int64_t>(sizeof(typename Matrix::value_type)));
  const std::int64_t per_rank = std::max<std::int64_t>(1, ctx.batch_bytes / comm.size() / row_bytes);
  const std::int64_t batches =
      boost::mpi::all_reduce(comm, static_cast<std::int64_t>((frontier.size() + per_rank - 1) / per_rank),
                             boost::mpi::maximum<std::int64_t>());
  std::vector<Pair> hits;
  for (std::int64_t k = 0; k < batches; ++k) {
    const std::size_t first = std::min(frontier.size(), static_cast<std::size_t>(k * per_rank));
    const std::size_t last = std::min(frontier.size(), static_cast<std::size_t>((k + 1) * per_rank));
    const std::vector<std::int64_t> mine(frontier.begin() + first, frontier.begin() + last);
    std::vector<std::int64_t> ids;
    const Matrix rows = gather_rows(comm, own.rows, own.range, mine, ids);
    work.pair_checks += static_cast<std::int64_t>(ids.size()) * other.range.size();
    hits.clear();
    if (side == 0) {
      heavy_pairs({rows, 0}, {other.rows, other.range.begin}, ctx.threshold, PairFilter::All, hits);
      for (Pair p : hits) {
        p.i = ids[p.i];
        if (ctx.self_join) {
          if (p.i == p.j) continue;
          if (p.i > p.j) std::swap(p.i, p.j);
        }
        found.push_back(p);
      }
    } else {
      heavy_pairs({other.rows, other.range.begin}, {rows, 0}, ctx.threshold, PairFilter::All, hits);
      for (Pair p : hits) {
        p.j = ids[p.j];
        found.push_back(p);
      }
    }
  }
}

}  // namespace

bool CompletedRows::mark(int side, std::int64_t row) {
  const RowRange& range = side == 0 ? a_ : b_;
  std::vector<char>& done = side == 0 ? done_a_ : done_b_;
  HIPI_ASSERT(range.contains(row));
  char& flag = done[row - range.begin];
  if (flag) return false;
  flag = 1;
  ++count_;
  return true;
}

template <class Matrix>
CompletionWork complete_neighbourhoods(const CompletionContext<Matrix>& ctx, CompletedRows& done,
                                       std::vector<Pair>& pairs) {
  const Comm& comm = ctx.comm;
  const int P = comm.size();
  // Row j of a pair belongs to A in a self-join, to B otherwise.
  const int side_j = ctx.self_join ? 0 : 1;
  const TiledRows& owner_j = ctx.self_join ? ctx.tiled_a : ctx.tiled_b;
  CompletionWork work;
  std::vector<Pair> fresh = pairs;  // pairs whose rows may not be completed yet
  for (;;) {
    std::vector<std::int64_t> frontier[2];
    std::vector<std::vector<std::int64_t>> to(P);
    for (const Pair& p : fresh) {
      if (done.mark(0, p.i)) frontier[0].push_back(p.i);  // row i is this rank's
      to[owner_j.owner(p.j)].push_back(p.j);
    }
    for (const auto& from : alltoallv(comm, to))
      for (std::int64_t j : from)
        if (done.mark(side_j, j)) frontier[side_j].push_back(j);
    const std::int64_t rows = sum_over(comm, static_cast<std::int64_t>(frontier[0].size() + frontier[1].size()));
    if (rows == 0) break;
    work.rows += rows;
    ++work.rounds;

    std::vector<Pair> found;
    check_frontier(ctx, 0, frontier[0], found, work);
    if (!ctx.self_join) check_frontier(ctx, 1, frontier[1], found, work);
    // Each pair to the owner of its row i; keep those not known yet.
    std::vector<std::vector<Pair>> route(P);
    for (const Pair& p : found) route[ctx.tiled_a.owner(p.i)].push_back(p);
    fresh.clear();
    for (const auto& from : alltoallv(comm, route)) fresh.insert(fresh.end(), from.begin(), from.end());
    std::sort(fresh.begin(), fresh.end(), pair_key_less);
    drop_repeated_pairs(fresh);
    std::vector<Pair> added;
    std::set_difference(fresh.begin(), fresh.end(), pairs.begin(), pairs.end(), std::back_inserter(added),
                        pair_key_less);
    fresh = std::move(added);
    const std::size_t before = pairs.size();
    pairs.insert(pairs.end(), fresh.begin(), fresh.end());
    std::inplace_merge(pairs.begin(), pairs.begin() + static_cast<std::ptrdiff_t>(before), pairs.end(), pair_key_less);
    work.new_pairs += sum_over(comm, static_cast<std::int64_t>(fresh.size()));
  }
  work.pair_checks = sum_over(comm, work.pair_checks);
  return work;
}

std::vector<char> isolated_pairs(const Comm& comm, const std::vector<Pair>& pairs, const TiledRows& tiled_a,
                                 const TiledRows& tiled_b, bool self_join) {
  const int P = comm.size();
  // Every row of every pair to its owner (B rows as -1 - row, so the sides never meet),
  // which counts them and answers each with its count, in the order asked.
  std::vector<std::vector<std::int64_t>> ask(P);
  for (const Pair& p : pairs) {
    ask[tiled_a.owner(p.i)].push_back(p.i);
    if (self_join)
      ask[tiled_a.owner(p.j)].push_back(p.j);
    else
      ask[tiled_b.owner(p.j)].push_back(-1 - p.j);
  }
  const auto asked = alltoallv(comm, ask);
  std::unordered_map<std::int64_t, std::int64_t> count;
  for (const auto& from : asked)
    for (std::int64_t row : from) ++count[row];
  std::vector<std::vector<std::int64_t>> answer(P);
  for (int r = 0; r < P; ++r)
    for (std::int64_t row : asked[r]) answer[r].push_back(count[row]);
  const auto counts = alltoallv(comm, answer);
  std::vector<std::size_t> next(P, 0);
  std::vector<char> isolated(pairs.size());
  for (std::size_t k = 0; k < pairs.size(); ++k) {
    const Pair& p = pairs[k];
    const int oi = tiled_a.owner(p.i), oj = self_join ? tiled_a.owner(p.j) : tiled_b.owner(p.j);
    const std::int64_t ci = counts[oi][next[oi]++];
    const std::int64_t cj = counts[oj][next[oj]++];
    isolated[k] = ci == 1 && cj == 1;
  }
  return isolated;
}

template CompletionWork complete_neighbourhoods(const CompletionContext<BitMatrix>&, CompletedRows&,
                                                std::vector<Pair>&);
template CompletionWork complete_neighbourhoods(const CompletionContext<RealMatrix>&, CompletedRows&,
                                                std::vector<Pair>&);

}  // namespace hipi
