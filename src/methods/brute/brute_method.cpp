// Exact brute force as a method: the ring of brute.hpp, priced at the exact kernel's
// calibrated rate (with early abandon for binary data), checkpointed in units of work.
#include <fmt/format.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>

#include "answer/pair_spill.hpp"
#include "answer/top_k.hpp"
#include "core/fault.hpp"
#include "methods/brute/brute.hpp"
#include "methods/brute/brute_cost.hpp"
#include "methods/brute/brute_run.hpp"
#include "methods/brute/top_k_ring.hpp"
#include "methods/solve_method.hpp"
#include "runtime/progress.hpp"

namespace hipi {

namespace {

class BruteMethod : public SolveMethodOf<BruteMethod> {
 public:
  Method id() const override { return Method::Brute; }
  std::string name() const override { return "brute"; }
  std::string summary() const override { return "exact all pairs (the baseline; checkpoints and resumes)"; }

  bool checkpoints() const override { return true; }
  bool serves_top_k() const override { return true; }

  Pricing price(const ProblemShape& shape, const MachineProfile& machine, double) const override {
    return {{plan_brute(shape, machine)}, {}};
  }

  template <class Matrix>
  MethodResult run_rows(const MethodInput<Matrix>& in, const Plan*, ResumeState& resume) const {
    return run_ring(in, resume, name());
  }
};

}  // namespace

template <class Matrix>
MethodResult run_ring(const MethodInput<Matrix>& in, ResumeState& resume, const std::string& method,
                      const RealBlockCheck* check) {
  MethodResult out;
  out.grid = "ring of " + std::to_string(in.comm.size());
  // The ring receives the next block of B while it checks the current one: up to two
  // buffers the size of the largest block (one at 2 ranks, none at 1).
  const LocalRows<Matrix>& b = in.b_or_a();
  const std::int64_t largest = boost::mpi::all_reduce(in.comm, b.range.size(), boost::mpi::maximum<std::int64_t>());
  const double row_bytes = Matrix::row_bytes(b.rows.cols());
  const double ring_bytes = std::min(2, in.comm.size() - 1) * row_bytes * static_cast<double>(largest);
  // The check's own buffers (the prefix filter's rotated rows) come on top.
  const double check_bytes = check ? check->bytes(in.a.range.size(), largest) : 0.0;
  // Top-k: this rank's lists, the visiting block's (self-join), and the answer they become.
  // A row has at most n_b partners (n_a - 1 in a self-join): its list holds no more, while
  // the file's table is K wide (FAISS's layout), padded.
  const std::int64_t k = in.options.problem.top_k;
  const std::int64_t held = std::max<std::int64_t>(1, std::min(k, in.b ? in.n_b : in.n_a - 1));
  const double rows_a = double(in.a.range.size());
  const double list_bytes =
      k > 0 ? TopKLists::bytes(in.a.range.size(), held) + (in.b ? 0.0 : TopKLists::bytes(largest, held)) +
                  2.0 * sizeof(Pair) * rows_a * double(held) +
                  (sizeof(double) + sizeof(std::int64_t)) * rows_a * double(k) + row_bytes * double(kTopKSeedRows)
            : 0.0;
  agree(in.comm, [&] {
    in.budget.check(fmt::format("brute force's {} ring buffer(s) of {} rows{}{}", std::min(2, in.comm.size() - 1),
                                largest, check ? fmt::format(" and the {} filter's buffers", method) : "",
                                k > 0 ? fmt::format(" and the {} best of its {} rows", k, in.a.range.size()) : ""),
                    ring_bytes + check_bytes + list_bytes);
  });
  if (in.spill) in.spill->leave_room(in.budget, ring_bytes + check_bytes);
  resume.checkpointer.set_state({{"method", method}, {"plan", resume.plan}});
  BruteSchedule schedule;
  Progress progress("brute", in.comm.rank());
  if (resume.resumed) {
    schedule.skip_units = resume.resumed->units_done;
    schedule.resumed_total = resume.resumed->units_total;
    schedule.damaged = [&](const std::string& what) -> Error { return resume.checkpointer.damaged(what); };
    schedule.resumed_pairs = std::move(resume.resumed->pairs);
    progress.resumed_at(resume.resumed->units_done);
  }
  schedule.at_boundary = [&](std::int64_t done, std::int64_t total, std::vector<Pair>& found) {
    fault_point("unit");
    std::int64_t spilled = 0;
    if (in.spill) {
      // Past this rank's share the pairs went to disk (hold); checkpoints cannot follow them there.
      spilled = in.spill->pairs();
      if (boost::mpi::all_reduce(in.comm, in.spill->spilled(), std::logical_or<bool>()))
        resume.checkpointer.stop_saving("the pairs found passed the memory budget and are spilled to disk");
    } else if (k == 0) {
      // Stop early, not after all the work (top-k's lists were priced before the ring: no sort).
      check_sort_fits(in.comm, in.budget, found.size());
    }
    progress.update(done, total, resume.checkpointer.at_boundary(done, total, found, spilled));
  };
  if (in.spill) schedule.holder = in.spill->holder();
  schedule.real_check = check;
  schedule.saves = resume.checkpointer.enabled();
  // Stop signals wait for the next unit boundary only where a checkpoint can be saved.
  const DeferredStops deferred(resume.checkpointer.enabled());
  out.local = in.times.time("compute", [&] {
    if (k > 0)
      return top_k_ring(in.comm, in.a, in.b, in.threshold, {held, in.threshold.theta, in.options.seed},
                        std::move(schedule));
    return in.b ? brute_force(in.comm, in.a, *in.b, in.threshold, std::move(schedule))
                : brute_force_self(in.comm, in.a, in.threshold, std::move(schedule));
  });
  return out;
}

template MethodResult run_ring(const MethodInput<BitMatrix>&, ResumeState&, const std::string&, const RealBlockCheck*);
template MethodResult run_ring(const MethodInput<RealMatrix>&, ResumeState&, const std::string&, const RealBlockCheck*);

const SolveMethod& brute_method() {
  static const BruteMethod method;
  return method;
}

}  // namespace hipi
