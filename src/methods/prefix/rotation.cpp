#include "methods/prefix/rotation.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>

#include "core/random.hpp"
#include "kernels/exact.hpp"
#include "kernels/lapack.hpp"
#include "parallel/row_exchange.hpp"

namespace hipi {

namespace {

enum Stream : std::uint64_t { kAxes = 41 };

// Collective: rank 0 gets `count` seeded rows of a side (others nothing), as float64,
// normalised when `unit`; appended to `out`.
void sample_side(const Comm& comm, const LocalRows<RealMatrix>& rows, std::int64_t n, std::int64_t count, bool unit,
                 std::vector<double>& out) {
  std::vector<std::int64_t> wanted;
  if (comm.rank() == 0) {
    RandomStream rng(1, {kAxes, static_cast<std::uint64_t>(n)});
    for (std::int64_t k = 0; k < count; ++k) wanted.push_back(static_cast<std::int64_t>(rng.below(n)));
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
  }
  const RealMatrix got = fetch_rows(comm, rows, RowOwners(comm, rows.range), wanted);
  const std::vector<double> norms = row_norms(got, {0, got.rows()});
  for (std::int64_t r = 0; r < got.rows(); ++r) {
    const double scale = unit ? (norms[r] > 0 ? 1 / norms[r] : 0.0) : 1.0;
    for (std::int64_t c = 0; c < got.cols(); ++c) out.push_back(double(got.row(r)[c]) * scale);
  }
}

// ||I - Q^T Q||_F, an upper bound on the 2-norm, doubled and raised by 2^-40 for its own rounding.
double orthogonality_bound(const std::vector<double>& q, std::int64_t d) {
  const std::vector<double> qtq = gram(q.data(), d, d);  // Q^T Q of the column-major Q
  double sum = 0;
  for (std::int64_t i = 0; i < d; ++i)
    for (std::int64_t j = 0; j < d; ++j) {
      const double e = (i == j ? 1.0 : 0.0) - qtq[i * d + j];
      sum += e * e;
    }
  return 2 * std::sqrt(sum) + 0x1p-40;
}

}  // namespace

double Rotation::bytes_on_rank0(std::int64_t sampled_rows, std::int64_t d) {
  const double dd = double(d) * double(d);
  // The sampled rows as fetched (float32) and in float64; the Gram matrix, dsyev's copy of
  // it and its workspace (at most 66 d), Q, and Q^T Q for the orthogonality bound.
  return 12.0 * double(sampled_rows) * double(d) + 8.0 * (4 * dd + 68.0 * double(d));
}

Rotation principal_axes(const MethodInput<RealMatrix>& in, std::int64_t sample_rows) {
  const Comm& comm = in.comm;
  const bool unit = in.threshold.cosine;
  Rotation r;
  r.d = in.a.rows.cols();
  const std::int64_t sampled = std::min(sample_rows, in.n_a) + (in.self_join() ? 0 : std::min(sample_rows, in.n_b));
  agree(comm, [&] {
    in.budget.check(
        comm.rank() == 0 ? "the principal axes (the sample, its Gram matrix and eigenvectors)" : "the principal axes",
        comm.rank() == 0 ? Rotation::bytes_on_rank0(sampled, r.d) : 8.0 * double(r.d) * double(r.d + 1));
  });
  std::vector<double> sample;
  sample_side(comm, in.a, in.n_a, std::min(sample_rows, in.n_a), unit, sample);
  if (!in.self_join()) sample_side(comm, *in.b, in.n_b, std::min(sample_rows, in.n_b), unit, sample);
  r.q.resize(static_cast<std::size_t>(r.d * r.d));
  r.energy.resize(static_cast<std::size_t>(r.d));
  if (comm.rank() == 0) {
    const auto rows = static_cast<std::int64_t>(sample.size()) / r.d;
    r.q = eigenvectors_descending(gram(sample.data(), rows, r.d), r.d, &r.energy);
    r.orthogonality = orthogonality_bound(r.q, r.d);
  }
  boost::mpi::broadcast(comm, r.q.data(), static_cast<int>(r.q.size()), 0);
  boost::mpi::broadcast(comm, r.energy.data(), static_cast<int>(r.energy.size()), 0);
  boost::mpi::broadcast(comm, r.orthogonality, 0);
  return r;
}

}  // namespace hipi
