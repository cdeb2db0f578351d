#include "methods/brute/brute_cost.hpp"

#include "kernels/exact.hpp"

namespace hipi {

Plan plan_brute(const ProblemShape& s, const MachineProfile& m) {
  Plan p;
  p.method = Method::Brute;
  const double pairs = s.self_join ? double(s.n_a) * double(s.n_a - 1) / 2 : double(s.n_a) * double(s.n_b);
  // Binary brute force reads only a prefix of most pairs' words at high thresholds.
  const double work = s.mode == Mode::Binary ? early_abandon_work(s.d, Threshold{s.theta, false}) : 1.0;
  p.stages = {{"compute", pairs * work / s.ranks / bulk_pairs_rate(s, m)}};
  p.seconds = p.stages[0].seconds;
  return p;
}

}  // namespace hipi
