#include "methods/sketch/solver.hpp"

#include <cmath>

#include "parallel/blacs_grid.hpp"
#include "methods/sketch/sketches.hpp"
#include "methods/sketch/products.hpp"

namespace hipi {

void SketchOptions::check(int ranks) const {
  if (group_a < 1 || group_b < 1) throw InputError("--group-size must be >= 1");
  if (reps < 1) throw InputError("--reps must be >= 1");
  if (max_reps < 0) throw InputError("--max-reps must be >= 0 (0: no recall control), got " + std::to_string(max_reps));
  if (!(z >= 0) || !std::isfinite(z)) throw InputError("--z must be a finite number >= 0");
  if (detect_threshold && !std::isfinite(*detect_threshold)) throw InputError("--detect-threshold must be finite");
  if (block_size < 1) throw InputError("--block-size must be >= 1");
  if (k_block < 1) throw InputError("--k-block must be >= 1");
  if (!(panel_mib > 0)) throw InputError("--panel-mib must be > 0");
  if (sample_rows < 1) throw InputError("--sample-rows must be >= 1");
  if (tile_rows < 0) throw InputError("--tile-rows must be >= 1 (0: automatic)");
  if (degree != 1 && degree != 2) throw InputError("--degree must be 1 or 2");
  if (!grid.empty()) parse_grid(grid, ranks);
}

RowRange sketch_rows(std::int64_t n, std::int64_t group, const SketchOptions& o, int parts, int rank) {
  return TiledRows{n, o.tile_for(group, n, parts), parts}.rows(rank);
}

template <class Matrix>
SketchRun sketch_solve(const Comm& comm, const LocalRows<Matrix>& a, std::int64_t n_a, const LocalRows<Matrix>* b,
                       std::int64_t n_b, const Threshold& threshold, const SketchOptions& o, std::uint64_t seed,
                       StageTimes& times, const MemoryBudget* budget) {
  const bool self_join = b == nullptr;
  const SketchContext<Matrix> ctx{comm, a, n_a, self_join ? a : *b, n_b, self_join, threshold, o, seed, times, budget};
  if (o.sketch == SketchKind::Sign) {
    if constexpr (std::is_same_v<Matrix, BitMatrix>) {
      return solve_sign(ctx);
    } else {
      throw InputError("--sketch sign is for binary (+-1) data; real data take --sketch linear", true);
    }
  }
  // Binary sketches hold integers: float32 is exact while every |C| <= g_A * g_B * d^degree
  // < 2^24, float64 beyond. Real sketches are float32: their rounding (about 1e-7 of |C|)
  // is far below the sketch noise, and C only selects candidates, which are verified with
  // float64 sums. float32 GEMM runs twice as fast (real, d = 1024: 97 GFLOP/s per rank in
  // float64).
  const std::int64_t g_b = b ? o.group_b : o.group_a;
  const bool float32 = std::is_same_v<Matrix, RealMatrix> ||
                       double(o.group_a) * double(g_b) * std::pow(double(a.rows.cols()), o.degree) < double(1 << 24);
  return float32 ? solve_linear<Matrix, float>(ctx) : solve_linear<Matrix, double>(ctx);
}

template SketchRun sketch_solve(const Comm&, const LocalRows<BitMatrix>&, std::int64_t, const LocalRows<BitMatrix>*,
                                std::int64_t, const Threshold&, const SketchOptions&, std::uint64_t, StageTimes&,
                                const MemoryBudget*);
template SketchRun sketch_solve(const Comm&, const LocalRows<RealMatrix>&, std::int64_t, const LocalRows<RealMatrix>*,
                                std::int64_t, const Threshold&, const SketchOptions&, std::uint64_t, StageTimes&,
                                const MemoryBudget*);

}  // namespace hipi
