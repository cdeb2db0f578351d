#include "methods/hash/hash_solver.hpp"

#include <algorithm>
#include <bit>
#include <boost/mpi/collectives.hpp>
#include <limits>

#include "kernels/exact.hpp"
#include "parallel/ring.hpp"
#include "parallel/row_exchange.hpp"

namespace hipi {

namespace {

// The stream the timed queries are drawn from (parallel/row_exchange.hpp).
constexpr std::uint64_t kQueryStream = 57;

// Probes the index with a batch of rows of a block of A, table by table: one table's
// arrays stay in cache while every query of the batch probes it (all tables together, a
// few hundred MiB at d = 4096, do not: one query probing every table in turn missed the
// cache about three times per probe, 330 ns). Under --abs each query also probes with
// its complement. A candidate found on several substrings is verified each time: sorting
// the batch's candidates to verify each once cost more than the repeats (3x slower at
// d = 64, where a verification is one word). Only a heavy pair is then asked whether this
// was the first probe to find it (first_probe): each is kept once, without a sort.
class BatchProber {
 public:
  BatchProber(const MultiIndex& index, const BitMatrix& indexed, bool abs)
      : index_(index), indexed_(indexed), abs_(abs) {}

  /// Where a probe found a candidate: substring j, with the query or its complement.
  struct Probe {
    int j = 0;
    bool complement = false;
  };

  /// Calls check(r, s, probe) for every row r of `block` in [r0, r1) and indexed row s that
  /// agree within the radius on some substring, once per such substring (and orientation).
  template <class Check>
  void run(const BitMatrix& block, std::int64_t r0, std::int64_t r1, Check&& check) {
    const std::int64_t stride = block.stride();
    if (abs_) {
      complement_.resize(static_cast<std::size_t>((r1 - r0) * stride));
      for (std::int64_t r = r0; r < r1; ++r)
        for (std::int64_t w = 0; w < stride; ++w) complement_[(r - r0) * stride + w] = ~block.row(r)[w];
    }
    for (int j = 0; j < index_.layout().m; ++j)
      for (std::int64_t r = r0; r < r1; ++r) {
        index_.probe_table(j, block.row(r), [&](std::int64_t s) { check(r, s, Probe{j, false}); });
        if (abs_)
          index_.probe_table(j, complement_.data() + (r - r0) * stride, [&](std::int64_t s) {
            check(r, s, Probe{j, true});
          });
      }
  }

  /// True when `probe` is the first of run()'s probes of `query` to find indexed row s:
  /// no earlier substring (nor, for the complement, the query itself on this one) within
  /// the radius. Probes go substring by substring, the query before its complement.
  bool first_probe(const std::uint64_t* query, std::int64_t s, Probe probe) const {
    const SubstringLayout& layout = index_.layout();
    const auto near = [&](int j, bool complement) {
      const auto flips = std::popcount(substring(query, layout.begin(j), layout.length(j)) ^
                                       substring(indexed_.row(s), layout.begin(j), layout.length(j)));
      return (complement ? layout.length(j) - flips : flips) <= layout.radius;
    };
    for (int j = 0; j < probe.j; ++j)
      if (near(j, false) || (abs_ && near(j, true))) return false;
    return !probe.complement || !near(probe.j, false);
  }

 private:
  const MultiIndex& index_;
  const BitMatrix& indexed_;
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
  BatchProber prober(index, indexed.rows, threshold.abs);
  std::int64_t since_hold = 0;
  ring_pass(comm, a, comm.size(), [&](const BitMatrix& block, RowRange range, int) {
    for (std::int64_t r0 = 0; r0 < block.rows(); r0 += kBatchQueries) {
      prober.run(block, r0, std::min(block.rows(), r0 + kBatchQueries),
                 [&](std::int64_t r, std::int64_t s, auto probe) {
                   const std::int64_t i = range.begin + r, j = indexed.range.begin + s;
                   if (!b && j <= i) return;  // a self-join's pair is found by its lower row
                   ++run.candidates;
                   const double ip = static_cast<double>(inner_product(block, r, indexed.rows, s));
                   if (!threshold.passes(ip) || !prober.first_probe(block.row(r), s, probe)) return;
                   run.pairs.push_back({i, j, ip});
                   if (holder && ++since_hold >= holder.every) {
                     holder.hold(run.pairs);
                     since_hold = 0;
                   }
                 });
    }
  });
  return run;
}

HashFootprint hash_footprint(const Comm& comm, const LocalRows<BitMatrix>& a, const LocalRows<BitMatrix>& indexed,
                             const Threshold& threshold) {
  HashFootprint f;
  f.indexed_rows = indexed.range.size();
  const std::int64_t radius = hamming_radius(a.rows.cols(), threshold.theta);
  const SubstringLayout layout = agreed_layout(comm, indexed, radius).layout;
  if (radius >= 0) f.index_bytes = MultiIndex::bytes_for(f.indexed_rows, layout);
  const std::int64_t largest_a = boost::mpi::all_reduce(comm, a.range.size(), boost::mpi::maximum<std::int64_t>());
  f.ring_bytes =
      std::min(2, comm.size() - 1) * largest_a * a.rows.stride() * static_cast<std::int64_t>(sizeof(std::uint64_t));
  return f;
}

double predict_hash_seconds(const Comm& comm, const LocalRows<BitMatrix>& a, std::int64_t n_a,
                            const LocalRows<BitMatrix>& indexed, const Threshold& threshold, std::uint64_t seed,
                            std::shared_ptr<const MultiIndex>* built) {
  const std::int64_t radius = hamming_radius(a.rows.cols(), threshold.theta);
  const auto [layout, most] = agreed_layout(comm, indexed, radius);
  // Where the model already expects a scan of a good part of the index per query, brute
  // force is the better exact method; measuring would cost as much as it would tell.
  if (radius >= 0 && query_cost(layout, most) > 0.25 * static_cast<double>(most))
    return std::numeric_limits<double>::infinity();
  double seconds = 0;
  // Drawn before the timing (collective), the same rows on every rank.
  const BitMatrix queries =
      radius >= 0 ? fetch_sample(comm, a, n_a, kHashSampleQueries, seed, kQueryStream) : BitMatrix();
  if (radius >= 0) {
    const double start = MPI_Wtime();
    const auto kept = std::make_shared<const MultiIndex>(indexed.rows, layout);
    const MultiIndex& index = *kept;
    if (built) *built = kept;
    const double indexed_at = MPI_Wtime();
    BatchProber prober(index, indexed.rows, threshold.abs);
    std::int64_t verified = 0;
    prober.run(queries, 0, queries.rows(), [&](std::int64_t r, std::int64_t s, auto) {
      verified += inner_product(queries, r, indexed.rows, s) >= threshold.theta;
    });
    const double per_query = queries.rows() ? (MPI_Wtime() - indexed_at) / static_cast<double>(queries.rows()) : 0.0;
    // Every row of A visits every rank; the index is built once (here, when it is kept).
    seconds = (built ? 0.0 : indexed_at - start) + per_query * static_cast<double>(n_a);
  }
  return boost::mpi::all_reduce(comm, seconds, boost::mpi::maximum<double>());
}

}  // namespace hipi
