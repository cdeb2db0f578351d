// Folder core/: what every other folder works on: the problem, row blocks, bit-packed rows, seeded
// randomness, typed errors, injected faults.
//
// The heavy inner product problem: which inputs, which mode, which threshold, and what an
// answer is (DESIGN.md section 1).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace hipi {

/// Binary: +-1 vectors, heavy means <a,b> >= rho*d. Real: float vectors, <a,b> >= tau.
enum class Mode { Binary, Real };
const char* mode_name(Mode mode);

/// A dataset inside an HDF5 file, written "file.h5:/path" on the command line.
struct DatasetRef {
  std::string file;
  std::string dataset;
  /// Splits "file.h5:/dataset"; without ":/..." the dataset is `default_dataset`.
  static DatasetRef parse(const std::string& spec, const std::string& default_dataset);
  std::string str() const { return file + ":" + dataset; }
};

/// When a pair is heavy. For binary data the threshold is the integer ceil(rho*d): inner
/// products of +-1 vectors are integers, and rounding rho*d up once (tolerating 1e-9 of
/// floating-point error in the product) keeps "ip >= rho*d" exact.
struct Threshold {
  double theta = 0;     // inner-product threshold: ceil(rho*d) or tau
  bool abs = false;     // heavy when |ip| >= theta
  bool cosine = false;  // real data: judged by <a,b> / (||a|| ||b||) instead of <a,b>
  // std::fabs, not a comparison with 0: background inner products are positive or
  // negative at random, and a branch on their sign costs kernels 3x (measured).
  bool passes(double value) const { return (abs ? std::fabs(value) : value) >= theta; }
  /// What a pair is judged by and reported with: its inner product, or with `cosine`
  /// ip / sqrt(self_a self_b), the self products <a,a> and <b,b> the float64 reference
  /// kernel's (kernels/exact.hpp), clamped to [-1, 1]; NaN, which never passes, when a self
  /// product is 0 (a zero row has no cosine). One square root of the product, not a product
  /// of norms: sqrt(x^2) is x exactly, so a row with a copy of itself, or with itself
  /// scaled by a power of two, has cosine exactly 1 (-1 negated), the same in every kernel
  /// that calls this. (float32 rows keep self products far from float64's under- and
  /// overflow: between 2^-298 and 2^256 d.)
  double value(double ip, double self_a, double self_b) const {
    if (!cosine) return ip;
    const double norms = std::sqrt(self_a * self_b);
    return norms > 0 ? std::clamp(ip / norms, -1.0, 1.0) : std::numeric_limits<double>::quiet_NaN();
  }
};

/// What the user asked for. `value` is rho (binary) or tau (real).
struct Problem {
  DatasetRef a;
  std::optional<DatasetRef> b;  // absent: self-join of A (pairs i < j)
  Mode mode = Mode::Binary;
  double value = 0;
  bool abs = false;
  bool cosine = false;          // real mode: threshold on <a,b> / (||a|| ||b||) (--cosine)
  bool skip_zero_rows = false;  // --cosine: rows of zeros pair with nothing, not an input error
  std::int64_t top_k = 0;       // --top-k K: each row of A's K best rows of B (answer/top_k.hpp); 0: all heavy pairs
  bool any_score = false;       // top-k without --tau/--rho: any score may be among the K best
  bool self_join() const { return !b.has_value(); }
  /// The threshold for vectors of dimension d.
  Threshold threshold(std::int64_t d) const;
  /// Throws InputError when rho or tau is out of range (before any file is opened).
  void check_threshold() const;
};

/// One heavy pair: row i of A, row j of B (or of A in a self-join, i < j), exact <a_i,b_j>.
struct Pair {
  std::int64_t i = 0;
  std::int64_t j = 0;
  double ip = 0;
  friend bool operator==(const Pair&, const Pair&) = default;
};

/// The output order: by i, then j.
inline bool pair_key_less(const Pair& x, const Pair& y) {
  return x.i != y.i ? x.i < y.i : x.j < y.j;
}
/// The key that cuts between rows: (i, -1) comes before every pair of row i.
inline Pair row_key(std::int64_t i) {
  return {i, -1, 0};
}

/// Where a method hands the pairs it holds while they grow (the spill, pair_spill.hpp):
/// `hold` may take them away (and empty the vector). Not collective. A method calls it at
/// least once every `every` pairs it finds; never when `hold` is empty.
struct PairHolder {
  std::function<void(std::vector<Pair>& found)> hold;
  std::int64_t every = 0;
  explicit operator bool() const { return static_cast<bool>(hold); }
};

/// Sorts by (i, j), the output order.
void sort_pairs(std::vector<Pair>& pairs);
/// Drops every pair of sorted `pairs` whose (i, j) is the one before it (its first kept).
void drop_repeated_pairs(std::vector<Pair>& pairs);
/// Sorts pairs made of runs already sorted, [bounds[k], bounds[k + 1]) for each k (bounds
/// from 0 to pairs.size()), by merging them pairwise: O(m log runs), not O(m log m).
void merge_sorted_runs(std::vector<Pair>& pairs, std::vector<std::size_t> bounds);

}  // namespace hipi
