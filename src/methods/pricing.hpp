// What every method prices its plans with (solve_method.hpp): this machine's measured
// rates, the problem's shape and the data's sampled statistics, and a plan with its
// predicted stages. Each method's cost model sits beside its run step (methods/<name>/);
// the planner (planner/choose.hpp) picks the fastest plan over all of them. Pure.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "hipi/method.hpp"

namespace hipi {

/// The background second moment of sign sketches with groups of g_A and g_B rows
/// (binary data; methods/sketch/sign.hpp), sampled.
struct SignNoise {
  std::int64_t group_a = 1, group_b = 1;
  double m2 = 0;
};

/// This machine's rates, per rank (see calibrate.hpp).
struct MachineProfile {
  double gemm_f32_flops = 0;  // p?gemm on the job's grid, flop/s per rank
  double gemm_f64_flops = 0;
  double binary_pairs = 0;        // exact kernel, pairs/s per rank, at the problem's d
  double real_pairs = 0;          // the float64 reference kernel (kernels/exact.hpp), on small blocks
  double real_bulk_pairs = 0;     // real blocks of 1024 x 1024 rows (the GEMM filter); 0: as real_pairs
  double sketch_coords = 0;       // sketch build, row-coordinates/s per rank
  double exchange_bytes = 0;      // all-to-all, bytes/s per rank
  double redistribute_bytes = 0;  // sketches into the 2D layout (scatter_to_grid), bytes/s per rank
  std::int64_t calibrated_d = 0;  // the d the kernel rates were measured at
};

/// The rates of a MachineProfile, each measured on its own (calibrate.hpp): a first run
/// measures only those its plans need.
enum class Rate : unsigned {
  GemmF32,
  GemmF64,
  BinaryPairs,
  RealPairs,
  RealBulkPairs,
  SketchCoords,
  Exchange,
  Redistribute,
};
inline constexpr int kRateCount = 8;

/// A set of rates.
class RateSet {
 public:
  constexpr RateSet() = default;
  constexpr RateSet(std::initializer_list<Rate> rates) {
    for (const Rate r : rates) bits_ |= bit(r);
  }
  static constexpr RateSet all() { return RateSet((1u << kRateCount) - 1); }
  constexpr bool has(Rate r) const { return (bits_ & bit(r)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr RateSet without(RateSet other) const { return RateSet(bits_ & ~other.bits_); }
  constexpr RateSet with(RateSet other) const { return RateSet(bits_ | other.bits_); }

 private:
  constexpr explicit RateSet(unsigned bits) : bits_(bits) {}
  static constexpr unsigned bit(Rate r) { return 1u << static_cast<unsigned>(r); }
  unsigned bits_ = 0;
};

/// The profile's field for a rate, and its key in profile files.
double& rate_of(MachineProfile& profile, Rate rate);
double rate_of(const MachineProfile& profile, Rate rate);
const char* rate_key(Rate rate);
/// The rates a profile holds (those measured: positive).
RateSet rates_in(const MachineProfile& profile);

/// The rates the cost models read in this mode: brute force's kernel, and the sketch's
/// GEMM (float64 only for binary sketches past float32's exact integers), sketch build,
/// redistribution and routing. Hashing, the prefix filter and the sparse join time
/// themselves on the data instead.
RateSet rates_priced(Mode mode);
/// What pricing brute force alone reads (sparse rows against their densified brute force).
RateSet rates_for_brute(Mode mode);

/// The problem's size and what the data look like.
struct ProblemShape {
  std::int64_t n_a = 0, n_b = 0, d = 0;
  bool self_join = false;
  Mode mode = Mode::Binary;
  double theta = 0;        // inner-product threshold
  bool cosine = false;     // judged by <a,b> / (||a|| ||b||) (--cosine)
  std::int64_t top_k = 0;  // --top-k K: each row's K best (only the methods that serve it are priced)
  int ranks = 1;
  double m2 = 0;                                       // mean squared background inner product, sampled
  double m4 = 0;                                       // mean fourth power (the noise of degree-2 sketches)
  const std::vector<double>* background = nullptr;     // sampled inner products, for empirical recall
  double delta = 1e-3;                                 // allowed miss probability per heavy pair
  const std::vector<SignNoise>* sign_noise = nullptr;  // binary data: sign-sketch noise per group sizes
  // Fractions of the rows of A and B with at least one heavy partner (probed, recall/background.hpp):
  // a sketch plan completes those rows against the other side (completion.hpp).
  double partnered_a = 0, partnered_b = 0;
  double heavy_pairs = 0;  // expected heavy pairs in the answer (probed partners per row times rows)
  // Compute time of the methods that price themselves by timing a sample of the work
  // (SolveMethod::measure; multi-index hashing): absent when not measured, infinite where
  // the method cannot beat brute force.
  std::map<Method, double> measured_seconds;
  std::map<Method, std::string> measured_detail;  // what the measurement found, for hipi plan
  // Methods timed against brute force's kernel on the same sample, under the same load
  // (the prefix filter): their compute over brute force's, and what they add whatever the
  // pairs, in seconds.
  struct AgainstBrute {
    double ratio = 1;
    double fixed_seconds = 0;
  };
  std::map<Method, AgainstBrute> against_brute;
  // Methods that found, before measuring, that they cannot run here (their buffers past the
  // memory budget, a size past a 32-bit limit), and why: not priced.
  std::map<Method, std::string> cannot_run;
};

/// Predicted seconds per stage (the slowest rank's, assuming balance).
struct StagePrediction {
  std::string stage;
  double seconds = 0;
};

struct Plan {
  Method method = Method::Brute;
  SketchKind sketch = SketchKind::Linear;  // sketch plans: GEMM, or majority bits and XOR+popcount
  std::int64_t group_a = 1, group_b = 1;
  int degree = 1;  // feature map: 1 identity, 2 <a,b>^2
  int reps = 1;
  double detect_threshold = 0;
  double z = 0;                   // (theta - detect_threshold) / sigma
  double miss_per_rep = 0;        // probability one repetition misses a given heavy pair
  bool empirical = false;         // miss_per_rep simulated from the sampled background
  double miss = 0;                // after all repetitions
  double candidates_per_rep = 0;  // expected
  bool float32 = true;
  std::vector<StagePrediction> stages;  // for all repetitions
  double seconds = 0;
  std::string detail;  // how the method priced it, for hipi plan (optional)
  nlohmann::ordered_json to_json() const;
};

/// Exact checks of candidate groups (small blocks), pairs/s per rank.
double pairs_rate(const ProblemShape& shape, const MachineProfile& machine);
/// Exact checks of whole blocks (brute force, completion), pairs/s per rank: real blocks go
/// through the GEMM filter (kernels/gemm_filter.hpp).
double bulk_pairs_rate(const ProblemShape& shape, const MachineProfile& machine);

/// Standard normal cumulative distribution.
double normal_cdf(double x);

}  // namespace hipi
