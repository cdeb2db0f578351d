// Exact multi-index hashing as a method (binary data; hash_solver.hpp): priced by timing
// a sample of real queries on each rank's own index, so crowded buckets cost what they cost.
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <type_traits>

#include "hipi/hash_solver.hpp"
#include "hipi/log.hpp"
#include "hipi/pair_spill.hpp"
#include "hipi/solve_method.hpp"

namespace hipi {

namespace {

class HashMethod : public SolveMethodOf<HashMethod> {
 public:
  Method id() const override { return Method::Hash; }
  std::string name() const override { return "hash"; }
  std::string summary() const override { return "exact multi-index hashing of binary data, fast at high rho"; }

  bool serves(Mode mode) const override { return mode == Mode::Binary; }

  void measure(const MethodInput<BitMatrix>& in, ProblemShape& shape) const override {
    shape.measured_seconds[id()] =
        in.times.time("sample", [&] { return predict_hash_seconds(in.comm, in.a, in.n_a, in.b_or_a(), in.threshold); });
  }

  Pricing price(const ProblemShape& shape, const MachineProfile&, double) const override {
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
      const HashRun run = in.times.time("compute", [&] {
        return hash_solve(in.comm, in.a, in.b, in.threshold, std::move(built),
                          in.spill ? in.spill->holder() : PairHolder{});
      });
      out.local = run.pairs;
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
