#include "methods/pricing.hpp"

#include <cmath>

namespace hipi {

double pairs_rate(const ProblemShape& s, const MachineProfile& m) {
  return s.mode == Mode::Binary ? m.binary_pairs : m.real_pairs;
}

double bulk_pairs_rate(const ProblemShape& s, const MachineProfile& m) {
  return s.mode == Mode::Real && m.real_bulk_pairs > 0 ? m.real_bulk_pairs : pairs_rate(s, m);
}

namespace {

struct RateField {
  Rate rate;
  const char* key;
  double MachineProfile::*field;
};
constexpr RateField kRateFields[kRateCount] = {
    {Rate::GemmF32, "gemm_f32_flops", &MachineProfile::gemm_f32_flops},
    {Rate::GemmF64, "gemm_f64_flops", &MachineProfile::gemm_f64_flops},
    {Rate::BinaryPairs, "binary_pairs", &MachineProfile::binary_pairs},
    {Rate::RealPairs, "real_pairs", &MachineProfile::real_pairs},
    {Rate::RealBulkPairs, "real_bulk_pairs", &MachineProfile::real_bulk_pairs},
    {Rate::SketchCoords, "sketch_coords", &MachineProfile::sketch_coords},
    {Rate::Exchange, "exchange_bytes", &MachineProfile::exchange_bytes},
    {Rate::Redistribute, "redistribute_bytes", &MachineProfile::redistribute_bytes},
};

const RateField& field_of(Rate rate) {
  return kRateFields[static_cast<unsigned>(rate)];
}

}  // namespace

double& rate_of(MachineProfile& profile, Rate rate) {
  return profile.*field_of(rate).field;
}
double rate_of(const MachineProfile& profile, Rate rate) {
  return profile.*field_of(rate).field;
}
const char* rate_key(Rate rate) {
  return field_of(rate).key;
}

RateSet rates_in(const MachineProfile& profile) {
  RateSet in;
  for (const RateField& f : kRateFields)
    if (profile.*f.field > 0) in = in.with({f.rate});
  return in;
}

RateSet rates_for_brute(Mode mode) {
  return mode == Mode::Binary ? RateSet{Rate::BinaryPairs} : RateSet{Rate::RealPairs, Rate::RealBulkPairs};
}

RateSet rates_priced(Mode mode) {
  const RateSet sketch = mode == Mode::Binary ? RateSet{Rate::GemmF32, Rate::GemmF64} : RateSet{Rate::GemmF32};
  return rates_for_brute(mode).with(sketch).with({Rate::SketchCoords, Rate::Exchange, Rate::Redistribute});
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
