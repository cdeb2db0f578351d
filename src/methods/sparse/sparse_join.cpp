#include "methods/sparse/sparse_join.hpp"

#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <limits>

#include "methods/sparse/prober.hpp"
#include "parallel/row_exchange.hpp"
#include "parallel/sparse_ring.hpp"

namespace hipi {

namespace {

// Rows of A timed probing the index when auto prices the method (per rank).
constexpr std::int64_t kSampleProbes = 512;
constexpr std::uint64_t kProbeStream = 59;  // the sample's stream (parallel/row_exchange.hpp)

double probe_norm_max(const Comm& comm, const SparseSides& sides, const Threshold& t) {
  return t.cosine ? 0.0 : largest_norm(comm, sides.a.rows);
}

}  // namespace

double largest_norm(const Comm& comm, const SparseMatrix& rows) {
  double most = 0;
  for (const double n : row_norms(rows, {0, rows.rows()})) most = std::max(most, n);
  return boost::mpi::all_reduce(comm, most, boost::mpi::maximum<double>());
}

SparseJoinRun sparse_join(const Comm& comm, const SparseSides& sides, const Threshold& threshold,
                          const PairHolder& holder, std::shared_ptr<const SparseProber> built) {
  const LocalRows<SparseMatrix>& y = sides.indexed();
  if (!built) built = std::make_shared<const SparseProber>(y, threshold, probe_norm_max(comm, sides, threshold));
  const SparseProber& prober = *built;
  SparseJoinRun run;
  ProbeCounts counts;
  run.indexed = prober.index().indexed();
  const int P = comm.size(), rank = comm.rank();
  const bool self = sides.b == nullptr;
  const std::int64_t all_rows = y.rows.rows();
  std::int64_t since_hold = 0;
  sparse_ring_pass(comm, sides.a, self ? P / 2 + 1 : P, [&](const SparseMatrix& block, RowRange range, int step) {
    RowRange probing{0, block.rows()}, window{0, all_rows};
    if (self && step > 0 && 2 * step == P) {
      // Both ranks meet this pair of blocks: the lower takes the passing block's first
      // half of rows against its index, the higher the rest (its index's second half).
      const int source = (rank - step + P) % P;
      if (rank < source)
        probing.end = block.rows() / 2;
      else
        window.begin = all_rows / 2;
    }
    const std::vector<double> x_self = row_self_products(block, {0, block.rows()});
    for (std::int64_t r = probing.begin; r < probing.end; ++r) {
      if (self && step == 0) window.end = r;  // own block: each row against the rows before it
      prober.run(block, r, x_self[r], window, counts, [&](std::int64_t s, double value) {
        std::int64_t i = range.begin + r, j = y.range.begin + s;
        if (self && i > j) std::swap(i, j);
        run.pairs.push_back({i, j, value});
        if (holder && ++since_hold >= holder.every) {
          holder.hold(run.pairs);
          since_hold = 0;
        }
      });
    }
  });
  run.candidates = counts.candidates;
  run.verified = counts.verified;
  return run;
}

SparseEstimate estimate_sparse_join(const Comm& comm, const SparseSides& sides, const Threshold& threshold,
                                    std::int64_t n_a, std::uint64_t seed) {
  const LocalRows<SparseMatrix>& y = sides.indexed();
  SparseEstimate e;
  e.built = std::make_shared<const SparseProber>(y, threshold, probe_norm_max(comm, sides, threshold));
  const SparseProber& prober = *e.built;
  // Probing rows drawn at random from all of A, the same on every rank for any rank count.
  const SparseMatrix x = fetch_sample(comm, sides.a, n_a, kSampleProbes, seed, kProbeStream);
  const std::int64_t probes = x.rows();
  std::vector<double> x_self(static_cast<std::size_t>(probes));
  for (std::int64_t k = 0; k < probes; ++k) x_self[k] = sparse_dot(x, k, x, k);
  ProbeCounts counts;
  const double start = MPI_Wtime();  // timed from here: the run keeps the index
  for (std::int64_t k = 0; k < probes; ++k)
    prober.run(x, k, x_self[k], {0, y.rows.rows()}, counts, [](std::int64_t, double) {});
  const double per_probe = probes ? (MPI_Wtime() - start) / static_cast<double>(probes) : 0.0;
  // Every row of A probes every rank's index once; a self-join visits each pair once. The
  // index is built already (the run keeps it).
  const double probing_rows = sides.b ? static_cast<double>(n_a) : static_cast<double>(n_a) / 2;
  e.seconds = boost::mpi::all_reduce(comm, per_probe * probing_rows, boost::mpi::maximum<double>());
  e.verified_per_probe = boost::mpi::all_reduce(comm, static_cast<double>(counts.verified), std::plus<double>()) /
                         std::max(1.0, boost::mpi::all_reduce(comm, static_cast<double>(probes), std::plus<double>()));
  return e;
}

}  // namespace hipi
