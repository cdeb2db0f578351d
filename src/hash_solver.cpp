#include "hipi/hash_solver.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <limits>

#include "hipi/ring.hpp"
#include "hipi/verify.hpp"

namespace hipi {

namespace {

// Probes the index with a batch of rows of a block of A, table by table: one table's
// arrays stay in cache while every query of the batch probes it (all tables together, a
// few hundred MiB at d = 4096, do not: one query probing every table in turn missed the
// cache about three times per probe, 330 ns). Under --abs each query also probes with
// its complement. A candidate found on several substrings is verified each time: sorting
// the batch's candidates to verify each once cost more than the repeats (3x slower at
// d = 64, where a verification is one word), and the caller deduplicates the heavy pairs.
class BatchProber {
 public:
  BatchProber(const MultiIndex& index, std::int64_t stride, bool abs) : index_(index), stride_(stride), abs_(abs) {}

  /// Calls check(r, s) for every row r of `block` in [r0, r1) and indexed row s that agree
  /// within the radius on some substring, once per such substring.
  template <class Check>
  void run(const BitMatrix& block, std::int64_t r0, std::int64_t r1, Check&& check) {
    if (abs_) {
      complement_.resize(static_cast<std::size_t>((r1 - r0) * stride_));
      for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t w = 0; w < stride_; ++w) complement_[(r - r0) * stride_ + w] = ~block.row(r)[w];
    }
    for (int j = 0; j < index_.layout().m; ++j)
      for (std::int64_t r = r0; r < r1; ++r) {
        const auto found = [&](std::int64_t s) { check(r, s); };
        index_.probe_table(j, block.row(r), found);
        if (abs_) index_.probe_table(j, complement_.data() + (r - r0) * stride_, found);
      }
  }

 private:
  const MultiIndex& index_;
  std::int64_t stride_;
  bool abs_;
  std::vector<std::uint64_t> complement_;
};

// Queries per batch: enough to reuse each table's cache lines several times.
constexpr std::int64_t kBatchQueries = 16384;

// The cut every rank uses: it follows the largest indexed block (`most` rows).
struct AgreedLayout {
  SubstringLayout layout;
  std::int64_t most = 0;
};
AgreedLayout agreed_layout(const Comm& comm, const LocalRows<BitMatrix>& indexed, std::int64_t radius) {
  const std::int64_t most = boost::mpi::all_reduce(comm, indexed.range.size(), boost::mpi::maximum<std::int64_t>());
  return {choose_layout(indexed.rows.cols(), std::max<std::int64_t>(radius, 0), most), most};
}

}  // namespace

HashRun hash_solve(const Comm& comm, const LocalRows<BitMatrix>& a, const LocalRows<BitMatrix>* b,
                   const Threshold& threshold, std::shared_ptr<const MultiIndex> built, const PairHolder& holder) {
  const LocalRows<BitMatrix>& indexed = b ? *b : a;
  const std::int64_t radius = hamming_radius(a.rows.cols(), threshold.theta);
  HashRun run;
  run.layout = agreed_layout(comm, indexed, radius).layout;
  if (radius < 0) return run;  // theta > d: no pair can pass
  const bool reuse = built && built->layout().m == run.layout.m && built->layout().radius == run.layout.radius &&
                     built->layout().d == run.layout.d;
  if (!reuse) built = std::make_shared<const MultiIndex>(indexed.rows, run.layout);
  const MultiIndex& index = *built;
  BatchProber prober(index, a.rows.stride(), threshold.abs);
  // A pair close on several substrings is found once per substring: each batch's pairs are
  // made distinct before they join the run's (near-duplicate clusters would otherwise
  // hold a copy per substring).
  std::vector<Pair> batch;
  const auto keep_distinct = [&] {
    sort_pairs(batch);
    drop_repeated_pairs(batch);
    run.pairs.insert(run.pairs.end(), batch.begin(), batch.end());
    batch.clear();
  };
  ring_pass(comm, a, comm.size(), [&](const BitMatrix& block, RowRange range, int) {
    for (std::int64_t r0 = 0; r0 < block.rows(); r0 += kBatchQueries) {
      prober.run(block, r0, std::min(block.rows(), r0 + kBatchQueries), [&](std::int64_t r, std::int64_t s) {
        const std::int64_t i = range.begin + r, j = indexed.range.begin + s;
        if (!b && j <= i) return;  // a self-join's pair is found by its lower row
        ++run.candidates;
        const double ip = static_cast<double>(inner_product(block, r, indexed.rows, s));
        if (!threshold.passes(ip)) return;
        batch.push_back({i, j, ip});
        if (holder && static_cast<std::int64_t>(batch.size()) >= holder.every) {
          keep_distinct();  // a repeat in the next part of the batch is dropped by the sort
          holder.hold(run.pairs);
        }
      });
      keep_distinct();
      if (holder) holder.hold(run.pairs);
    }
  });
  return run;
}

double predict_hash_seconds(const Comm& comm, const LocalRows<BitMatrix>& a, std::int64_t n_a,
                            const LocalRows<BitMatrix>& indexed, const Threshold& threshold,
                            std::shared_ptr<const MultiIndex>* built) {
  const std::int64_t radius = hamming_radius(a.rows.cols(), threshold.theta);
  const auto [layout, most] = agreed_layout(comm, indexed, radius);
  // Where the model already expects a scan of a good part of the index per query, brute
  // force is the better exact method; measuring would cost as much as it would tell.
  if (radius >= 0 && query_cost(layout, most) > 0.25 * static_cast<double>(most))
    return std::numeric_limits<double>::infinity();
  double seconds = 0;
  if (radius >= 0) {
    const double start = MPI_Wtime();
    const auto kept = std::make_shared<const MultiIndex>(indexed.rows, layout);
    const MultiIndex& index = *kept;
    if (built) *built = kept;
    const double indexed_at = MPI_Wtime();
    BatchProber prober(index, a.rows.stride(), threshold.abs);
    const std::int64_t queries = std::min<std::int64_t>(a.rows.rows(), kHashSampleQueries);
    std::int64_t verified = 0;
    prober.run(a.rows, 0, queries, [&](std::int64_t r, std::int64_t s) {
      verified += inner_product(a.rows, r, indexed.rows, s) >= threshold.theta;
    });
    const double per_query = queries ? (MPI_Wtime() - indexed_at) / static_cast<double>(queries) : 0.0;
    // Every row of A visits every rank; the index is built once (here, when it is kept).
    seconds = (built ? 0.0 : indexed_at - start) + per_query * static_cast<double>(n_a);
  }
  return boost::mpi::all_reduce(comm, seconds, boost::mpi::maximum<double>());
}

}  // namespace hipi
