#include "methods/pricing.hpp"

#include <cmath>

namespace hipi {

double pairs_rate(const ProblemShape& s, const MachineProfile& m) {
  return s.mode == Mode::Binary ? m.binary_pairs : m.real_pairs;
}

double bulk_pairs_rate(const ProblemShape& s, const MachineProfile& m) {
  return s.mode == Mode::Real && m.real_bulk_pairs > 0 ? m.real_bulk_pairs : pairs_rate(s, m);
}

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::sqrt(2.0));
}

nlohmann::ordered_json Plan::to_json() const {
  nlohmann::ordered_json stages_json = nlohmann::ordered_json::object();
  for (const auto& s : stages) stages_json[s.stage] = s.seconds;
  nlohmann::ordered_json j = {{"method", method_name(method)}, {"seconds", seconds}, {"stages", stages_json}};
  if (!detail.empty()) j["detail"] = detail;
  if (method == Method::Sketch) {
    j["group_size_a"] = group_a;
    j["group_size_b"] = group_b;
    j["degree"] = degree;
    j["reps"] = reps;
    j["z"] = z;
    j["detect_threshold"] = detect_threshold;
    j["candidates_per_rep"] = candidates_per_rep;
    j["miss_per_rep"] = miss_per_rep;
    j["miss"] = miss;
    j["sketch"] = sketch_kind_name(sketch);
    j["miss_model"] = empirical ? "simulated from the sampled background" : "gaussian";
    j["float32"] = float32;
  }
  return j;
}

}  // namespace hipi
