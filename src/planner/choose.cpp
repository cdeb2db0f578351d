#include "planner/choose.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "methods/solve_method.hpp"

namespace hipi {

PlanChoice choose_plan(const ProblemShape& s, const MachineProfile& m) {
  PlanChoice c;
  const double inf = std::numeric_limits<double>::infinity();
  // The fastest plan of each method; a method with none is listed with why.
  std::vector<Plan> fronts;
  double ceiling = inf;
  for (const SolveMethod* method : solve_methods()) {
    Pricing pricing =
        s.top_k > 0 && !method->serves_top_k() ? Pricing{{}, "does not serve --top-k"} : method->price(s, m, ceiling);
    if (pricing.plans.empty() || !std::isfinite(pricing.plans.front().seconds)) {
      c.unavailable.push_back(method->name() + ": " + pricing.why_none);
      Plan none;
      none.method = method->id();
      none.seconds = inf;
      fronts.push_back(none);
      continue;
    }
    ceiling = std::min(ceiling, pricing.plans.front().seconds);
    if (method->id() == Method::Brute) c.brute = pricing.plans.front();
    fronts.push_back(pricing.plans.front());
    c.alternatives.insert(c.alternatives.end(), pricing.plans.begin() + 1, pricing.plans.end());
  }
  HIPI_ASSERT(!fronts.empty());
  std::stable_sort(fronts.begin(), fronts.end(), [](const Plan& x, const Plan& y) { return x.seconds < y.seconds; });
  c.best = fronts.front();
  for (const Plan& p : fronts)
    if (std::isfinite(p.seconds)) c.by_method.push_back(p);
  HIPI_ASSERT(std::isfinite(c.best.seconds));  // brute force always has a plan
  if (fronts.size() > 1)
    c.runner_up = fronts[1];
  else
    c.runner_up.seconds = inf;
  std::ostringstream why;
  why << method_name(c.best.method) << " is predicted ";
  if (std::isfinite(c.runner_up.seconds))
    why << c.runner_up.seconds / c.best.seconds << "x faster than " << method_name(c.runner_up.method);
  else
    why << "the only method with a plan";
  for (const std::string& u : c.unavailable) why << "; " << u;
  c.why = why.str();
  return c;
}

}  // namespace hipi
