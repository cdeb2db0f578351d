// Folder methods/sketch/: the group-sketch solver: sketches, the product and detection, routing and
// verification, its cost model; recall/ holds the repetitions around them.
//
// The group-sketch solver (DESIGN.md section 2): per repetition, sketch each rank's row
// groups, find candidate group pairs with a product of the sketches, route each candidate
// to the rank owning group G of A together with the rows of group H of B (one batched
// exchange per panel), and verify every pair of the two groups exactly with the kernels
// of kernels/exact.hpp; repeat while recall control says pairs may be missing. Its parts, in
// pipeline order:
//   sketches.hpp, sign.hpp  tiles, groups, linear and sign sketches
//   grid.hpp                sketches into the product's 2D block-cyclic layout
//   products.hpp            linear (ScaLAPACK GEMM panels) and sign (XOR+popcount ring) products
//   detect.hpp              candidates from a panel of C
//   repetition.hpp          the context the parts share, routing and verification (route.cpp)
//   recall/repetitions.hpp  T_det, repetitions, union, completion and the miss estimate
//   sketch_cost.hpp         the cost model; sketch_method.cpp the method auto prices and runs
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "hipi/method.hpp"
#include "methods/sketch/recall/background.hpp"
#include "methods/sketch/sketches.hpp"
#include "parallel/mpi.hpp"
#include "runtime/memory.hpp"
#include "runtime/stage_times.hpp"

namespace hipi {

struct MemoryBudget;

struct SketchOptions {
  SketchKind sketch = SketchKind::Linear;
  std::int64_t group_a = 4;                  // rows per group of A
  std::int64_t group_b = 4;                  // rows per group of B (a self-join uses group_a)
  int reps = 1;                              // independent repetitions; their union is the answer
  int max_reps = 0;                          // > reps: recall control may add repetitions up to this
  std::optional<std::int64_t> expect_k;      // stop as soon as this many distinct heavy pairs are verified
  bool plan_meets_delta = false;             // auto: `reps` meet --delta under the plan's model (see check())
  std::optional<double> model_miss_per_rep;  // the plan's miss probability per repetition (miss_estimate.hpp)
  bool complete = true;                      // neighbourhood completion after each repetition (completion.hpp)
  double z = 4.0;                            // T_det = signal - z * noise sd (linear: theta and sqrt(g_A g_B m2))
  int degree = 1;                            // 2: amplify with <a,b>^2 (T_det = theta^2 - z sqrt(gA gB m4))
  std::optional<double> detect_threshold;    // absolute T_det instead of z
  std::string grid;                          // "PxQ"; empty: product_grid (grid.hpp)
  std::int64_t block_size = 256;             // ScaLAPACK block size of the 2D layout (rows and columns of C)
  std::int64_t k_block = 16384;              // block size along the inner dimension d (capped at d): see below
  // Memory for one panel of C per rank. Its pages are faulted in once per repetition: on a
  // 32768-row self-join (d 256, 2 ranks) 256 MiB panels cost 0.34 s more wall than 32 MiB
  // ones (1.60 against 1.26 s, GEMM 0.57 against 0.42 s); on 131072 rows 9.74 against 9.96 s.
  double panel_mib = 64;
  std::int64_t sample_rows = 256;  // rows of A and of B sampled to estimate m2
  // Rows per tile (at least g; a tile's last group is short when g does not divide it).
  // 0: balanced_tile (sketches.hpp), 1024 rows unless fewer keep the ranks' rows balanced.
  std::int64_t tile_rows = 0;

  /// The tile of groups of `group` rows out of `n` on `parts` ranks.
  std::int64_t tile_for(std::int64_t group, std::int64_t n, int parts) const {
    return tile_rows > 0 ? std::max(tile_rows, group) : balanced_tile(n, parts, group);
  }
  /// Throws InputError for impossible values (including a grid that does not match `ranks`).
  /// Recall control: after each repetition, every row of a found pair is completed, and
  /// the heavy pairs still missing are estimated from the lone pairs' catches and the
  /// plan's model (miss_estimate.hpp); repetitions continue past `reps` while that estimate is at
  /// least one half or unbounded, up to `max_reps`. The model alone (one repetition) ends
  /// them only with `plan_meets_delta`.
  void check(int ranks) const;
  // Why k_block is large: ScaLAPACK's p?gemm makes one pass over the local C per inner
  // block, and with 256-wide inner blocks those passes, not the flops, bound it: 137
  // GFLOP/s per rank against 233 with the whole d = 4096 in one block (bench_gemm, SGEMM
  // peak 244). The cost: S_A lives on one process column and S_B^T on one process row.
};

/// What one run did, identical on every rank except `pairs`.
struct SketchRun {
  std::vector<Pair> pairs;  // this rank's verified pairs (may repeat across ranks and repetitions)
  double detect_threshold = 0;
  BackgroundSample background;
  std::string grid;
  std::int64_t largest_panel_elements = 0;  // largest local C buffer any rank allocated
  std::int64_t c_elements = 0;              // entries of the whole C (G_A x G_B)
  int reps_run = 0;
  std::string stopped;                   // why the repetitions stopped
  double missing_estimate = 0;           // heavy pairs estimated still missing (infinite: unbounded)
  bool miss_bounded = false;             // whether anything bounds the misses (miss_estimate.hpp)
  std::string missing_basis;             // what the estimate rests on
  std::int64_t found_by_completion = 0;  // pairs no repetition detected, found by completion
  nlohmann::ordered_json repetitions = nlohmann::ordered_json::array();
};

/// Rows held by `rank` when the sketch solver splits n rows with groups of `group` rows.
RowRange sketch_rows(std::int64_t n, std::int64_t group, const SketchOptions& options, int parts, int rank);

/// One sketch run on this rank: the rows it holds and everything that decides the answer.
template <class Matrix>
struct SketchContext {
  const Comm& comm;
  const LocalRows<Matrix>& a;
  std::int64_t n_a = 0;
  const LocalRows<Matrix>& b;  // `a` again in a self-join
  std::int64_t n_b = 0;
  bool self_join = false;
  const Threshold& threshold;
  const SketchOptions& options;
  std::uint64_t seed = 1;
  StageTimes& times;
  const MemoryBudget* budget = nullptr;  // checked as the pairs found grow (none: unchecked)
  std::int64_t group_a() const { return options.group_a; }
  std::int64_t group_b() const { return self_join ? options.group_a : options.group_b; }
};

/// Collective. ctx.a and ctx.b hold this rank's sketch_rows. With a ctx.budget, the run
/// stops (an agreed InputError) after a repetition whose pairs took a rank past it: every
/// verified pair is held until the end.
template <class Matrix>
SketchRun sketch_solve(const SketchContext<Matrix>& ctx);

}  // namespace hipi
