// What the parts of the sketch solver share (solver.hpp): the run's context, one
// side of the problem in one repetition, the candidates a product detects, and the
// routing of candidates to exact verification. The pipeline per repetition:
//   product (products.hpp: sketches, the product and detection of candidates)
//   -> route_and_verify (here) -> recall control (recall/repetitions.hpp: union, completion,
//   the miss estimate and whether to repeat).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "methods/sketch/sketches.hpp"
#include "methods/sketch/solver.hpp"
#include "parallel/mpi.hpp"
#include "runtime/memory.hpp"
#include "runtime/stage_times.hpp"

namespace hipi {

/// A candidate: group g of A and group h of B, whose sketch product passed T_det.
struct Candidate {
  std::int64_t g, h;
};

/// One side of the problem as the solver sees it in one repetition.
template <class Matrix>
struct SketchSide {
  const LocalRows<Matrix>& rows;
  TiledRows tiled;
  Grouping grouping;
  LocalGroups groups;
};

/// One repetition: both sides under this repetition's groups, and where its stages are timed.
template <class Matrix>
struct Repetition {
  const Comm& comm;
  const SketchSide<Matrix>& a;
  const SketchSide<Matrix>& b;
  bool self_join = false;
  const Threshold& threshold;
  StageTimes& times;
};

/// What one repetition's candidate search did.
struct RepetitionWork {
  std::int64_t candidates = 0, empty = 0;  // this rank's
  int panels = 0;
  double work = 0;        // flops of the GEMM, or sketch pairs compared
  std::string rate_name;  // how the product's speed is reported
  std::string product_stage;
};

/// Collective. Sends each rank's candidates (`outgoing[r]`: those for rank r, the owner of
/// their A group) to their owners, fetches the rows of their B groups from the B owners,
/// and verifies every pair of the two groups exactly, appending the heavy ones to `found`.
/// Three exchanges, whatever the number of candidates. Returns the number of candidates
/// that held no heavy pair.
template <class Matrix>
std::int64_t route_and_verify(const Repetition<Matrix>& rep, const std::vector<std::vector<Candidate>>& outgoing,
                              std::vector<Pair>& found);

/// The product of one kind of sketch (products.hpp): per repetition, finds the
/// candidates and verifies them (route_and_verify), appending the heavy pairs to `pairs`.
template <class Matrix>
class SketchProduct {
 public:
  virtual ~SketchProduct() = default;
  virtual RepetitionWork run(const Repetition<Matrix>& rep, std::vector<Pair>& pairs) = 0;
};

}  // namespace hipi
