// `hipi generate`: random instances with planted heavy pairs (DESIGN.md section 5).
//
// Every row is a pure function of (seed, side, row), so the file is identical for a given
// seed whatever the number of ranks; each rank writes its own row block with parallel HDF5.
// Binary: background rows are uniform +-1; a planted b_j is a copy of a_i with exactly
// floor(d*(1-rho)/2) coordinates flipped, so <a_i,b_j> = d - 2*floor(d*(1-rho)/2) >= rho*d.
// Real: background rows are standard normal; a planted b_j = c*a_i + noise with c chosen
// so that <a_i,b_j> >= tau, checked on the stored float32 values: about tau plus `margin`
// standard deviations of the noise term (--margin 0 plants pairs just above tau, the
// hardest case for a sketch).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

struct GenerateOptions {
  std::string out;
  std::int64_t n = 0;    // rows of A
  std::int64_t n_b = 0;  // rows of B (0: same as n)
  std::int64_t d = 0;
  std::int64_t k = 0;  // planted pairs
  Mode mode = Mode::Binary;
  double value = 0.5;  // rho (binary) or tau (real)
  bool self_join = false;
  bool packed = false;  // binary: uint8 rows of numpy.packbits(A < 0, axis=1), attribute bits = d
  std::uint64_t seed = 1;
  double margin = 4.0;  // real: planted <a,b> aims at tau + margin noise sd (0: at tau)

  std::int64_t rows_b() const { return n_b > 0 ? n_b : n; }
  /// Throws InputError for impossible options (the same verdict on every rank).
  void check() const;
};

/// A planted pair: `target` (a row of B, or of A in a self-join) derives from `source` (a
/// row of A).
struct PlantedPair {
  std::int64_t source = 0;
  std::int64_t target = 0;
};

/// The planted pairs of an instance, a pure function of the options.
std::vector<PlantedPair> planted_pairs(const GenerateOptions& options);

/// Row `row` of A (side 0) or B (side 1) before planting: +-1 or standard normal values.
void background_row(const GenerateOptions& options, int side, std::int64_t row, float* out);

/// Row `target` as planted from source row values `source` (planted pair number `pair`).
void planted_row(const GenerateOptions& options, std::int64_t pair, const float* source, float* out);

/// Collective: writes the instance to options.out atomically.
void run_generate(const Comm& comm, const GenerateOptions& options);

/// The planted pairs recorded in a generated file (/truth_pairs, /truth_ip), sorted.
/// Serial: one rank reads.
std::vector<Pair> read_truth(const std::string& path);

}  // namespace hipi
