// Exact multi-index hashing as a method (binary data; hash_solver.hpp): priced by timing
// a sample of real queries on each rank's own index, so crowded buckets cost what they cost.
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <type_traits>

#include "answer/pair_spill.hpp"
#include "methods/hash/hash_solver.hpp"
#include "methods/solve_method.hpp"
#include "parallel/log.hpp"

namespace hipi {

namespace {

class HashMethod : public SolveMethodOf<HashMethod> {
 public:
  Method id() const override { return Method::Hash; }
  std::string name() const override { return "hash"; }
  std::string summary() const override { return "exact multi-index hashing of binary data, fast at high rho"; }

  bool serves(Mode mode) const override { return mode == Mode::Binary; }

  void measure(const MethodInput<BitMatrix>& in, ProblemShape& shape) const override {
    // The sample builds the whole index: not where it cannot fit.
    const HashFootprint f = hash_footprint(in.comm, in.a, in.b_or_a(), in.threshold);
    const bool rows_fit =
        boost::mpi::all_reduce(in.comm, f.indexed_rows <= MultiIndex::kMaxRows, std::logical_and<bool>());
    const bool fits = boost::mpi::all_reduce(
        in.comm, in.budget.fits(static_cast<double>(f.index_bytes) + static_cast<double>(f.ring_bytes)),
        std::logical_and<bool>());
    if (!rows_fit || !fits) {
      shape.cannot_run[id()] =
          !rows_fit ? fmt::format("more than {} rows on a rank", MultiIndex::kMaxRows)
                    : fmt::format(
                          "its substring tables and ring buffers ({:.1f} MiB on this rank) would pass the "
                          "memory budget ({})",
                          static_cast<double>(f.index_bytes + f.ring_bytes) / 1048576.0, in.budget.describe());
      return;
    }
    // The sample builds this rank's whole index: kept for the run (which checks that it
    // indexes the same rows), so auto does not build it twice.
    std::shared_ptr<const MultiIndex> built;
    shape.measured_seconds[id()] = in.times.time("sample", [&] {
      return predict_hash_seconds(in.comm, in.a, in.n_a, in.b_or_a(), in.threshold, in.options.seed, &built);
    });
    if (built) in.scratch.kept[id()] = std::move(built);
  }

  Pricing price(const ProblemShape& shape, const MachineProfile&, double) const override {
    if (const auto why = shape.cannot_run.find(id()); why != shape.cannot_run.end())
      return {{}, "not priced: " + why->second};
    const auto measured = shape.measured_seconds.find(id());
    if (measured == shape.measured_seconds.end()) return {{}, "not measured"};
    if (!std::isfinite(measured->second))
      return {{}, "not priced: at this threshold a query would scan much of the index"};
    Plan p;
    p.method = id();
    p.stages = {{"compute", measured->second}};
    p.seconds = measured->second;
    p.detail = fmt::format("timed on {} sampled queries per rank", kHashSampleQueries);
    return {{p}, {}};
  }

  template <class Matrix>
  MethodResult run_rows(const MethodInput<Matrix>& in, const Plan*, ResumeState&) const {
    if constexpr (!std::is_same_v<Matrix, BitMatrix>) {
      throw InternalError("multi-index hashing ran on real data");
    } else {
      MethodResult out;
      out.grid = "ring of " + std::to_string(in.comm.size());
      const auto kept = in.scratch.kept.find(id());
      std::shared_ptr<const MultiIndex> built;
      if (kept != in.scratch.kept.end()) built = std::static_pointer_cast<const MultiIndex>(kept->second);
      in.scratch.kept.clear();  // the run holds what it needs
      // Only an index of these very rows is used (checked by content); another is dropped
      // now, so the budget below counts the index the run will build.
      if (built && built->rows_fingerprint() != MultiIndex::fingerprint(in.b_or_a().rows)) built.reset();
      // Refused before anything is built: the index (unless the sample built it: then it is
      // already held) and the ring's buffers past the budget, or rows past the tables' 32 bits.
      const HashFootprint f = hash_footprint(in.comm, in.a, in.b_or_a(), in.threshold);
      agree(in.comm, [&] {
        if (f.indexed_rows > MultiIndex::kMaxRows)
          throw InputError(
              fmt::format("multi-index hashing indexes at most {} rows on a rank, this rank has {}: "
                          "use more ranks, or --method brute",
                          MultiIndex::kMaxRows, f.indexed_rows));
        in.budget.check(fmt::format("multi-index hashing's substring tables ({:.1f} MiB) and ring buffers ({:.1f} MiB)",
                                    built ? 0.0 : f.index_bytes / 1048576.0, f.ring_bytes / 1048576.0),
                        static_cast<double>(built ? 0 : f.index_bytes) + static_cast<double>(f.ring_bytes));
      });
      if (in.spill)
        in.spill->leave_room(in.budget,
                             static_cast<double>(built ? 0 : f.index_bytes) + static_cast<double>(f.ring_bytes));
      HashRun run = in.times.time("compute", [&] {
        return hash_solve(in.comm, in.a, in.b, in.threshold, std::move(built),
                          in.spill ? in.spill->holder() : PairHolder{});
      });
      out.local = std::move(run.pairs);  // not a copy: the pairs may be most of the rank's memory
      out.parameters["substrings"] = run.layout.m;
      out.parameters["substring_radius"] = run.layout.radius;
      out.parameters["hamming_radius"] = hamming_radius(in.a.rows.cols(), in.threshold.theta);
      out.parameters["candidates"] = boost::mpi::all_reduce(in.comm, run.candidates, std::plus<std::int64_t>());
      return out;
    }
  }
};

}  // namespace

const SolveMethod& hash_method() {
  static const HashMethod method;
  return method;
}

}  // namespace hipi
