#include "hipi/hash_solver.hpp"

#include <boost/mpi/collectives.hpp>

#include "hipi/ring.hpp"
#include "hipi/verify.hpp"

namespace hipi {

HashRun hash_solve(const Comm& comm, const LocalRows<BitMatrix>& a, const LocalRows<BitMatrix>* b,
                   const Threshold& threshold) {
  const LocalRows<BitMatrix>& indexed = b ? *b : a;
  const std::int64_t d = a.rows.cols();
  const std::int64_t radius = hamming_radius(d, threshold.theta);
  HashRun run;
  // The layout follows the largest block, so every rank cuts the bits alike.
  const std::int64_t most = boost::mpi::all_reduce(comm, indexed.range.size(), boost::mpi::maximum<std::int64_t>());
  run.layout = choose_layout(d, std::max<std::int64_t>(radius, 0), most);
  if (radius < 0) return run;  // theta > d: no pair can pass
  const MultiIndex index(indexed.rows, run.layout);

  std::vector<std::int64_t> seen(static_cast<std::size_t>(indexed.rows.rows()), -1);  // last query per row
  std::vector<std::uint64_t> complement(static_cast<std::size_t>(a.rows.stride()));
  ring_pass(comm, a, comm.size(), [&](const BitMatrix& block, RowRange range, int) {
    for (std::int64_t r = 0; r < block.rows(); ++r) {
      const std::int64_t i = range.begin + r;
      const auto check = [&](std::int64_t s) {
        if (seen[s] == i) return;
        seen[s] = i;
        const std::int64_t j = indexed.range.begin + s;
        if (!b && j <= i) return;  // a self-join's pair is found by its lower row
        ++run.candidates;
        const double ip = static_cast<double>(inner_product(block, r, indexed.rows, s));
        if (threshold.passes(ip)) run.pairs.push_back({i, j, ip});
      };
      index.probe(block.row(r), check);
      if (threshold.abs) {  // |<a,b>| >= theta: b is near the complement of a
        for (std::size_t w = 0; w < complement.size(); ++w) complement[w] = ~block.row(r)[w];
        index.probe(complement.data(), check);
      }
    }
  });
  return run;
}

}  // namespace hipi
