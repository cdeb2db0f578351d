// Exact brute force as a method: the ring of brute.hpp, priced at the exact kernel's
// calibrated rate (with early abandon for binary data), checkpointed in units of work.
#include "hipi/brute.hpp"

#include "hipi/fault.hpp"
#include "hipi/progress.hpp"
#include "hipi/solve_method.hpp"

namespace hipi {

namespace {

class BruteMethod : public SolveMethodOf<BruteMethod> {
 public:
  Method id() const override { return Method::Brute; }
  std::string name() const override { return "brute"; }
  std::string summary() const override { return "exact all pairs (the baseline; checkpoints and resumes)"; }

  bool checkpoints() const override { return true; }

  Pricing price(const ProblemShape& shape, const MachineProfile& machine, double) const override {
    return {{plan_brute(shape, machine)}, {}};
  }

  template <class Matrix>
  MethodResult run_rows(const MethodInput<Matrix>& in, const Plan*, ResumeState& resume) const {
    MethodResult out;
    out.grid = "ring of " + std::to_string(in.comm.size());
    resume.checkpointer.set_state({{"method", name()}, {"plan", resume.plan}});
    BruteSchedule schedule;
    Progress progress("brute", in.comm.rank());
    if (resume.resumed) {
      schedule.skip_units = resume.resumed->units_done;
      schedule.resumed_pairs = std::move(resume.resumed->pairs);
      progress.resumed_at(resume.resumed->units_done);
    }
    schedule.at_boundary = [&](std::int64_t done, std::int64_t total, const std::vector<Pair>& found) {
      fault_point("unit");
      check_sort_fits(in.comm, in.budget, found.size());  // stop early, not after all the work
      progress.update(done, total, resume.checkpointer.at_boundary(done, total, found));
    };
    // Stop signals wait for the next unit boundary only where a checkpoint can be saved.
    const DeferredStops deferred(resume.checkpointer.enabled());
    out.local = in.times.time("compute", [&] {
      return in.b ? brute_force(in.comm, in.a, *in.b, in.threshold, std::move(schedule))
                  : brute_force_self(in.comm, in.a, in.threshold, std::move(schedule));
    });
    return out;
  }
};

}  // namespace

const SolveMethod& brute_method() {
  static const BruteMethod method;
  return method;
}

}  // namespace hipi
