// Folder methods/: the interface every method implements (this file), the pricing types, the rows
// and buffers of each method, the registry; one folder per method.
//
// One interface for every solve method (brute force, sketches, multi-index hashing, ...):
// a cost model the planner prices from measured rates and sampled statistics, and a run
// step on the distributed row blocks. Each method is one folder under src/methods/ and one
// line in src/methods/registry.cpp; solve/ reads, plans and writes for all of them.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "answer/checkpoint.hpp"
#include "core/bit_matrix.hpp"
#include "core/matrix_blocks.hpp"
#include "core/sparse_matrix.hpp"
#include "hipi/method.hpp"
#include "methods/pricing.hpp"
#include "methods/solve_options.hpp"
#include "parallel/mpi.hpp"
#include "runtime/memory.hpp"
#include "runtime/stage_times.hpp"

namespace hipi {

class PairSpill;  // pair_spill.hpp

/// What a method's measurement keeps for its run on the same rows (hashing keeps the index
/// it built), one entry per method; gone when the solve ends.
struct MethodScratch {
  std::map<Method, std::shared_ptr<const void>> kept;
};

/// What a method's steps see on this rank: the rows it holds, the problem and the options.
template <class Matrix>
struct MethodInput {
  const Comm& comm;
  const LocalRows<Matrix>& a;
  const LocalRows<Matrix>* b;  // null in a self-join
  std::int64_t n_a = 0, n_b = 0;
  const Threshold& threshold;
  const SolveOptions& options;
  StageTimes& times;
  MethodScratch& scratch;
  const MemoryBudget& budget;  // per rank: a method that holds a growing answer checks it as it goes
  PairSpill* spill = nullptr;  // where a growing answer may go past the budget (null: nowhere)
  bool self_join() const { return b == nullptr; }
  const LocalRows<Matrix>& b_or_a() const { return b ? *b : a; }
};

/// What resuming needs, for the methods that checkpoint (brute force).
struct ResumeState {
  Checkpointer& checkpointer;
  std::optional<Resumed>& resumed;     // the checkpoint this run resumes, if any
  const nlohmann::ordered_json& plan;  // saved with every checkpoint
};

/// What a run did, on every rank except `local`.
struct MethodResult {
  std::vector<Pair> local;  // this rank's pairs, unsorted; the solver gathers and deduplicates
  std::string grid;         // the process layout it used ("2x1", "ring of 4")
  nlohmann::ordered_json parameters = nlohmann::ordered_json::object();  // recorded in the output
  nlohmann::ordered_json repetitions;                                    // per repetition (sketches)
};

/// A method's candidate plans from the planner's point of view.
struct Pricing {
  std::vector<Plan> plans;  // fastest first; empty when the method cannot serve the problem
  std::string why_none;     // when empty: why
};

class SolveMethod {
 public:
  virtual ~SolveMethod() = default;
  virtual Method id() const = 0;
  /// The name on the command line and in outputs, and one line of help.
  virtual std::string name() const = 0;
  virtual std::string summary() const = 0;
  /// Whether the method can solve problems of this mode (auto prices only those that can).
  virtual bool serves(Mode) const { return true; }
  /// Why the method cannot take this problem's options (--cosine), or nothing when it can:
  /// asked for by name it is refused with this text; auto leaves it out.
  virtual std::string refuses(const Problem&) const { return {}; }
  /// Whether the method finds each row's K best (--top-k, answer/top_k.hpp).
  virtual bool serves_top_k() const { return false; }
  /// refuses(), and --top-k for a method that does not serve it.
  std::string refusal(const Problem& problem) const {
    if (problem.top_k > 0 && !serves_top_k())
      return "does not serve --top-k (each row's K best): it finds the pairs past a threshold; brute force and the "
             "prefix filter (--method brute, prefix, or auto) serve it";
    return refuses(problem);
  }
  /// Whether runs of this method save checkpoints and resume from them (ResumeState).
  virtual bool checkpoints() const { return false; }
  /// Whether the method runs on sparse rows (run with MethodInput<SparseMatrix>): a sparse
  /// input it solves is read as it is; every other method sees it densified.
  virtual bool sparse_rows() const { return false; }
  /// Throws InputError when the method cannot take these options (auto checks every
  /// method that serves the problem's mode; a method asked for by name that does not
  /// serve it is refused before this).
  virtual void check(const SolveOptions& options, int ranks) const;
  /// The rows this rank reads when the method is asked for by name.
  virtual RowRange rows(std::int64_t n, bool side_b, const SolveOptions& options, const Comm& comm) const;
  /// Collective, under auto, before pricing: measures what the cost model needs beyond the
  /// shared sample, into shape.measured_seconds. Default: nothing.
  virtual void measure(const MethodInput<BitMatrix>& in, ProblemShape& shape) const;
  virtual void measure(const MethodInput<RealMatrix>& in, ProblemShape& shape) const;
  virtual void measure(const MethodInput<SparseMatrix>& in, ProblemShape& shape) const;
  /// Pure: the method's plans for this shape and machine, fastest first. `ceiling`: the
  /// fastest plan of another method so far (work that cannot beat it may be skipped).
  virtual Pricing price(const ProblemShape& shape, const MachineProfile& machine, double ceiling) const = 0;
  /// Collective: finds this rank's share of the heavy pairs. `plan` is auto's chosen plan,
  /// null when the method was asked for by name (its options then come from `in.options`).
  virtual MethodResult run(const MethodInput<BitMatrix>& in, const Plan* plan, ResumeState& resume) const = 0;
  virtual MethodResult run(const MethodInput<RealMatrix>& in, const Plan* plan, ResumeState& resume) const = 0;
  /// Sparse rows, for the methods with sparse_rows() (default: InternalError).
  virtual MethodResult run(const MethodInput<SparseMatrix>& in, const Plan* plan, ResumeState& resume) const;
};

/// Forwards both row types to the method's `run_rows<Matrix>` template.
template <class Derived>
class SolveMethodOf : public SolveMethod {
 public:
  using SolveMethod::run;
  MethodResult run(const MethodInput<BitMatrix>& in, const Plan* plan, ResumeState& resume) const override {
    return static_cast<const Derived&>(*this).run_rows(in, plan, resume);
  }
  MethodResult run(const MethodInput<RealMatrix>& in, const Plan* plan, ResumeState& resume) const override {
    return static_cast<const Derived&>(*this).run_rows(in, plan, resume);
  }
};

/// Every method, in the order the planner prices them (registry.cpp).
const std::vector<const SolveMethod*>& solve_methods();
/// The method with this id; Method::Auto has none (InternalError).
const SolveMethod& solve_method(Method id);
/// The method named `name` ("auto" included); InputError for an unknown name.
Method parse_method(const std::string& name);

}  // namespace hipi
