// The registered methods, in the order the planner prices them: brute force first (it
// always has a plan, and its time bounds the search of the others), the cheap-to-price
// methods next, the sketch search last. A new method adds one line here.
#include <algorithm>
#include <ostream>

#include "hipi/error.hpp"
#include "methods/solve_method.hpp"

namespace hipi {

const SolveMethod& brute_method();
const SolveMethod& hash_method();
const SolveMethod& sketch_method();
const SolveMethod& prefix_method();
const SolveMethod& sparse_method();

const std::vector<const SolveMethod*>& solve_methods() {
  static const std::vector<const SolveMethod*> methods{
      &brute_method(),
      &hash_method(),
      &prefix_method(),
      &sparse_method(),
      &sketch_method(),
  };
  return methods;
}

const SolveMethod& solve_method(Method id) {
  for (const SolveMethod* m : solve_methods())
    if (m->id() == id) return *m;
  throw InternalError("no registered method for " + std::to_string(static_cast<int>(id)));
}

Method parse_method(const std::string& name) {
  if (name == "auto") return Method::Auto;
  std::string known = "auto";
  for (const SolveMethod* m : solve_methods()) {
    if (m->name() == name) return m->id();
    known += ", " + m->name();
  }
  throw InputError("--method " + name + ": unknown method (known: " + known + ")");
}

std::string method_name(Method method) {
  return method == Method::Auto ? "auto" : solve_method(method).name();
}

std::string sketch_kind_name(SketchKind kind) {
  return kind == SketchKind::Sign ? "sign" : "linear";
}

std::ostream& operator<<(std::ostream& out, Method method) {
  return out << method_name(method);
}
std::ostream& operator<<(std::ostream& out, SketchKind kind) {
  return out << sketch_kind_name(kind);
}

// Defaults of the interface.
void SolveMethod::check(const SolveOptions&, int) const {}
RowRange SolveMethod::rows(std::int64_t n, bool, const SolveOptions&, const Comm& comm) const {
  return row_block(n, comm.size(), comm.rank());
}
void SolveMethod::measure(const MethodInput<BitMatrix>&, ProblemShape&) const {}
void SolveMethod::measure(const MethodInput<RealMatrix>&, ProblemShape&) const {}
void SolveMethod::measure(const MethodInput<SparseMatrix>&, ProblemShape&) const {}
MethodResult SolveMethod::run(const MethodInput<SparseMatrix>&, const Plan*, ResumeState&) const {
  throw InternalError("--method " + name() + " got sparse rows");
}

}  // namespace hipi
