#include "methods/sketch/solver.hpp"

#include <cmath>

#include "methods/sketch/products.hpp"
#include "methods/sketch/sketches.hpp"
#include "parallel/blacs_grid.hpp"

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
SketchRun sketch_solve(const SketchContext<Matrix>& ctx) {
  const SketchOptions& o = ctx.options;
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
  const std::int64_t g_b = ctx.group_b();
  const bool float32 =
      std::is_same_v<Matrix, RealMatrix> ||
      double(o.group_a) * double(g_b) * std::pow(double(ctx.a.rows.cols()), o.degree) < double(1 << 24);
  return float32 ? solve_linear<Matrix, float>(ctx) : solve_linear<Matrix, double>(ctx);
}

template SketchRun sketch_solve(const SketchContext<BitMatrix>&);
template SketchRun sketch_solve(const SketchContext<RealMatrix>&);

}  // namespace hipi
