#include "core/problem.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "hipi/error.hpp"

namespace hipi {

const char* mode_name(Mode mode) {
  return mode == Mode::Binary ? "binary" : "real";
}

DatasetRef DatasetRef::parse(const std::string& spec, const std::string& default_dataset) {
  // The dataset part starts at the last ":/" so that paths with colons still work.
  const auto colon = spec.rfind(":/");
  if (colon == std::string::npos) return {spec, default_dataset};
  if (colon == 0) throw InputError("'" + spec + "': missing file name before ':'");
  return {spec.substr(0, colon), spec.substr(colon + 1)};
}

Threshold Problem::threshold(std::int64_t d) const {
  // Top-k without a threshold: every pair may be among a row's K best (NaN still never is).
  if (any_score) return {-std::numeric_limits<double>::infinity(), abs, cosine && mode == Mode::Real};
  if (mode == Mode::Real) return {value, abs, cosine};
  return {std::ceil(value * static_cast<double>(d) - 1e-9), abs, false};
}

void Problem::check_threshold() const {
  std::ostringstream why;
  const bool given = !any_score;  // top-k may come without a threshold
  if (top_k < 0 || (any_score && top_k == 0))
    why << "--top-k must be a positive number of rows, got " << top_k;
  else if (top_k > std::numeric_limits<std::int32_t>::max())
    why << "--top-k must be at most " << std::numeric_limits<std::int32_t>::max() << ", got " << top_k;
  else if (given && mode == Mode::Binary && !(value > 0 && value <= 1))
    why << "--rho must be in (0, 1], got " << value;
  else if (given && mode == Mode::Real && !std::isfinite(value))
    why << "--tau must be a finite number, got " << value;
  else if (given && mode == Mode::Real && abs && !(value > 0) && top_k == 0)
    why << "--tau must be > 0 with --abs (every pair would pass), got " << value;
  else if (cosine && mode != Mode::Real)
    why << "--cosine is for real data (--tau): the cosine of two +-1 vectors is <a,b> / d, which --rho already "
           "thresholds";
  else if (given && cosine && !(value >= -1 && value <= 1))
    why << "--tau must be in [-1, 1] with --cosine (a cosine), got " << value;
  else if (skip_zero_rows && !cosine)
    why << "--skip-zero-rows goes with --cosine (only a cosine is undefined for a zero row)";
  if (!why.str().empty()) throw InputError(why.str());
}

void sort_pairs(std::vector<Pair>& pairs) {
  std::sort(pairs.begin(), pairs.end(), pair_key_less);
}

void drop_repeated_pairs(std::vector<Pair>& pairs) {
  const auto same_key = [](const Pair& x, const Pair& y) { return x.i == y.i && x.j == y.j; };
  pairs.erase(std::unique(pairs.begin(), pairs.end(), same_key), pairs.end());
}

void merge_sorted_runs(std::vector<Pair>& pairs, std::vector<std::size_t> bounds) {
  HIPI_ASSERT(!bounds.empty() && bounds.front() == 0 && bounds.back() == pairs.size());
  const auto at = [&](std::size_t k) { return pairs.begin() + static_cast<std::ptrdiff_t>(k); };
  while (bounds.size() > 2) {
    std::vector<std::size_t> merged;
    for (std::size_t r = 0; r + 2 < bounds.size(); r += 2) {
      std::inplace_merge(at(bounds[r]), at(bounds[r + 1]), at(bounds[r + 2]), pair_key_less);
      merged.push_back(bounds[r]);
    }
    if (bounds.size() % 2 == 0) merged.push_back(bounds[bounds.size() - 2]);
    merged.push_back(bounds.back());
    bounds = std::move(merged);
  }
}

}  // namespace hipi
