// The sparse join as a method (sparse_join.hpp): real data read as sparse rows. Priced by
// building this rank's index and timing a sample of its rows of A probing it; auto weighs
// it against densifying the input (planner/sparse_or_dense.hpp).
#include <fmt/format.h>

#include <boost/mpi/collectives.hpp>
#include <cmath>

#include "answer/pair_spill.hpp"
#include "methods/solve_method.hpp"
#include "methods/sparse/inverted_index.hpp"
#include "methods/sparse/prober.hpp"
#include "methods/sparse/sparse_join.hpp"

namespace hipi {

namespace {

// Collective: bytes this rank holds beyond its rows: the index and two passing blocks of A.
double footprint(const Comm& comm, const MethodInput<SparseMatrix>& in) {
  const SparseMatrix& y = in.b_or_a().rows;
  const double largest_a = boost::mpi::all_reduce(comm, SparseMatrix::bytes_for(in.a.rows.rows(), in.a.rows.nnz()),
                                                  boost::mpi::maximum<double>());
  return InvertedIndex::bytes_for(y.rows(), y.nnz(), y.cols()) + std::min(2, comm.size() - 1) * largest_a;
}

class SparseMethod : public SolveMethod {
 public:
  Method id() const override { return Method::Sparse; }
  std::string name() const override { return "sparse"; }
  std::string summary() const override {
    return "exact inverted index with prefix and norm filters (sparse real data: TF-IDF, bag of words)";
  }
  bool serves(Mode mode) const override { return mode == Mode::Real; }
  bool sparse_rows() const override { return true; }

  // Pairs that share no feature have inner product 0: at a threshold of 0 or below every
  // such pair would be heavy, and no index finds what it does not hold.
  std::string refuses(const Problem& problem) const override {
    if (problem.value > 0) return {};
    return fmt::format(
        "needs --tau > 0 (pairs of rows without a common feature have inner product 0, and would all pass tau = "
        "{}); use --method brute",
        problem.value);
  }

  void measure(const MethodInput<SparseMatrix>& in, ProblemShape& shape) const override {
    const double bytes = footprint(in.comm, in);
    if (!boost::mpi::all_reduce(in.comm, in.budget.fits(bytes), std::logical_and<bool>())) {
      shape.cannot_run[id()] =
          fmt::format("its index and ring buffers ({:.1f} MiB on this rank) would pass the memory budget ({})",
                      bytes / 1048576.0, in.budget.describe());
      return;
    }
    const SparseEstimate e = in.times.time("sample", [&] {
      return estimate_sparse_join(in.comm, {in.a, in.b}, in.threshold, in.n_a, in.options.seed);
    });
    shape.measured_seconds[id()] = e.seconds;
    in.scratch.kept[id()] = e.built;  // the run probes the same index
    shape.measured_detail[id()] =
        fmt::format("index built and probed by sampled rows: {:.3g} exact checks per row", e.verified_per_probe);
  }

  Pricing price(const ProblemShape& shape, const MachineProfile&, double) const override {
    if (const auto why = shape.cannot_run.find(id()); why != shape.cannot_run.end())
      return {{}, "not priced: " + why->second};
    const auto measured = shape.measured_seconds.find(id());
    if (measured == shape.measured_seconds.end()) return {{}, "not measured (dense input)"};
    Plan p;
    p.method = id();
    p.seconds = measured->second;
    p.stages = {{"compute", p.seconds}};
    if (const auto d = shape.measured_detail.find(id()); d != shape.measured_detail.end()) p.detail = d->second;
    return {{p}, {}};
  }

  MethodResult run(const MethodInput<SparseMatrix>& in, const Plan*, ResumeState&) const override {
    const double bytes = footprint(in.comm, in);  // collective: outside the agreed check
    agree(in.comm, [&] {
      in.budget.check(fmt::format("the sparse method's index and ring buffers ({:.1f} MiB)", bytes / 1048576.0), bytes);
    });
    if (in.spill) in.spill->leave_room(in.budget, bytes);
    std::shared_ptr<const SparseProber> built;
    if (const auto kept = in.scratch.kept.find(id()); kept != in.scratch.kept.end())
      built = std::static_pointer_cast<const SparseProber>(kept->second);
    in.scratch.kept.clear();  // the run holds what it needs
    SparseJoinRun run = in.times.time("compute", [&] {
      return sparse_join(in.comm, {in.a, in.b}, in.threshold, in.spill ? in.spill->holder() : PairHolder{},
                         std::move(built));
    });
    MethodResult out;
    out.grid = "ring of " + std::to_string(in.comm.size());
    out.local = std::move(run.pairs);  // not a copy: the pairs may be most of the rank's memory
    const auto total = [&](std::int64_t v) { return boost::mpi::all_reduce(in.comm, v, std::plus<std::int64_t>()); };
    out.parameters["entries"] = total(in.b_or_a().rows.nnz());
    out.parameters["indexed_entries"] = total(run.indexed);
    out.parameters["candidates"] = total(run.candidates);
    out.parameters["verified"] = total(run.verified);
    return out;
  }
  MethodResult run(const MethodInput<BitMatrix>&, const Plan*, ResumeState&) const override {
    throw InternalError("the sparse method got binary rows");
  }
  MethodResult run(const MethodInput<RealMatrix>&, const Plan*, ResumeState&) const override {
    throw InternalError("the sparse method got dense rows (they are read as sparse rows for it)");
  }
};

}  // namespace

const SolveMethod& sparse_method() {
  static const SparseMethod method;
  return method;
}

}  // namespace hipi
