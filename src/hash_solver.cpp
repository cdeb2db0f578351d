#include "hipi/hash_solver.hpp"

#include <boost/mpi/collectives.hpp>
#include <limits>

#include "hipi/ring.hpp"
#include "hipi/verify.hpp"

namespace hipi {

namespace {

// Probes the index with row r of `block` (global row i), and its complement under --abs;
// calls check(s) for every indexed row s it returns, each once per query.
class Prober {
 public:
  Prober(const MultiIndex& index, std::int64_t indexed_rows, std::int64_t stride, bool abs)
      : index_(index), seen_(static_cast<std::size_t>(indexed_rows), -1), complement_(stride), abs_(abs) {}
  template <class Check>
  void query(const BitMatrix& block, std::int64_t r, std::int64_t i, Check&& check) {
    const auto once = [&](std::int64_t s) {
      if (seen_[s] == i) return;
      seen_[s] = i;
      check(s);
    };
    index_.probe(block.row(r), once);
    if (!abs_) return;
    for (std::size_t w = 0; w < complement_.size(); ++w) complement_[w] = ~block.row(r)[w];
    index_.probe(complement_.data(), once);  // |<a,b>| >= theta: b is near the complement of a
  }

 private:
  const MultiIndex& index_;
  std::vector<std::int64_t> seen_;  // the last query that reached each indexed row
  std::vector<std::uint64_t> complement_;
  bool abs_;
};

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
                   const Threshold& threshold) {
  const LocalRows<BitMatrix>& indexed = b ? *b : a;
  const std::int64_t radius = hamming_radius(a.rows.cols(), threshold.theta);
  HashRun run;
  run.layout = agreed_layout(comm, indexed, radius).layout;
  if (radius < 0) return run;  // theta > d: no pair can pass
  const MultiIndex index(indexed.rows, run.layout);
  Prober prober(index, indexed.rows.rows(), a.rows.stride(), threshold.abs);
  ring_pass(comm, a, comm.size(), [&](const BitMatrix& block, RowRange range, int) {
    for (std::int64_t r = 0; r < block.rows(); ++r) {
      const std::int64_t i = range.begin + r;
      prober.query(block, r, i, [&](std::int64_t s) {
        const std::int64_t j = indexed.range.begin + s;
        if (!b && j <= i) return;  // a self-join's pair is found by its lower row
        ++run.candidates;
        const double ip = static_cast<double>(inner_product(block, r, indexed.rows, s));
        if (threshold.passes(ip)) run.pairs.push_back({i, j, ip});
      });
    }
  });
  return run;
}

double predict_hash_seconds(const Comm& comm, const LocalRows<BitMatrix>& a, std::int64_t n_a,
                            const LocalRows<BitMatrix>& indexed, const Threshold& threshold) {
  const std::int64_t radius = hamming_radius(a.rows.cols(), threshold.theta);
  const auto [layout, most] = agreed_layout(comm, indexed, radius);
  // Where the model already expects a scan of a good part of the index per query, brute
  // force is the better exact method; measuring would cost as much as it would tell.
  if (radius >= 0 && query_cost(layout, most) > 0.25 * static_cast<double>(most))
    return std::numeric_limits<double>::infinity();
  double seconds = 0;
  if (radius >= 0) {
    const double start = MPI_Wtime();
    const MultiIndex index(indexed.rows, layout);
    const double built = MPI_Wtime();
    Prober prober(index, indexed.rows.rows(), a.rows.stride(), threshold.abs);
    const std::int64_t queries = std::min<std::int64_t>(a.rows.rows(), kHashSampleQueries);
    std::int64_t verified = 0;
    for (std::int64_t r = 0; r < queries; ++r)
      prober.query(a.rows, r, a.range.begin + r,
                   [&](std::int64_t s) { verified += inner_product(a.rows, r, indexed.rows, s) >= threshold.theta; });
    const double per_query = queries ? (MPI_Wtime() - built) / static_cast<double>(queries) : 0.0;
    seconds = (built - start) + per_query * static_cast<double>(n_a);  // every row of A visits every rank
  }
  return boost::mpi::all_reduce(comm, seconds, boost::mpi::maximum<double>());
}

}  // namespace hipi
