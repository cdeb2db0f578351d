// The layout of a solve over ranks as pure arithmetic (no MPI): which rows each rank holds
// under each method, the process grid and inner block of the sketch's product, and the
// bytes of every per-rank buffer. The solver reads the rows auto_rows names, the methods
// take theirs from the same functions (row_block, TiledRows), and the sketch takes its
// inner block from layout_of, so what this file computes is what runs; tests evaluate it
// for thousands of ranks and 10^9 rows.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "hipi/method.hpp"
#include "methods/sketch/solver.hpp"
#include "parallel/blacs_grid.hpp"

namespace hipi {

/// The rows rank `part` reads under auto, before the plan exists: whole tiles of
/// balanced_tile(n, parts, 64), which are the sketch's tiles for every group size the
/// planner tries (so a sketch plan runs on the rows as read), when those leave every rank
/// kTilesPerPart tiles; otherwise an even split (row_block), and a sketch plan moves the
/// rows to its tiles (relayout_rows).
RowRange auto_rows(std::int64_t n, int parts, int part);

/// What the layout depends on.
struct LayoutQuery {
  std::int64_t n_a = 0, n_b = 0;  // rows of A and of B (a self-join: B is A)
  std::int64_t d = 0;
  bool self_join = true;
  Mode mode = Mode::Binary;
  Method method = Method::Brute;  // brute, prefix, hash or sketch (linear sketches and ScaLAPACK's product)
  std::int64_t prefix_k = 0;      // prefix: the coordinates kept (0: what the method takes by name)
  int ranks = 1;
  SketchOptions sketch;     // group sizes, tile, blocks, panel, grid
  double theta = 0;         // hashing: the threshold sets the substrings' radius
  double pairs = 0;         // heavy pairs in the answer, held and sorted, spread evenly
  double budget_bytes = 0;  // per rank; 0: no limit
};

/// What a buffer holds: the rows read, a method's working space, or the answer.
enum class BufferUse { Rows, Working, Answer };

/// One buffer: its bytes on the rank where it is largest.
struct LayoutBuffer {
  std::string name;
  BufferUse use = BufferUse::Working;
  double bytes = 0;
};

struct Layout {
  std::vector<RowRange> rows_a, rows_b;  // by rank (rows_b is rows_a in a self-join)
  GridShape grid;                        // sketch: the product's process grid
  std::int64_t k_block = 0;              // sketch: the block along the inner dimension
  std::vector<LayoutBuffer> buffers;
  /// The sum of the buffers, each at its largest: at least any one rank's peak.
  double peak_bytes() const;
  /// The same for the buffers of one use.
  double bytes_of(BufferUse use) const;
  /// Largest rows of a rank over the mean (1 when rows divide evenly).
  double imbalance_a() const { return imbalance(rows_a); }
  double imbalance_b() const { return imbalance(rows_b); }
  static double imbalance(const std::vector<RowRange>& rows);
};

/// The layout of `query`. The sketch keeps the whole inner dimension in one block (p?gemm
/// runs near SGEMM peak that way, sketch/solver.hpp) on the grid that broadcasts the least
/// unless S_A and S_B^T, on one process column and one process row, would then take more
/// than a quarter of the budget: another grid, or the inner dimension cut in blocks so that
/// both spread over the whole grid (layout.cpp).
Layout layout_of(const LayoutQuery& query);

}  // namespace hipi
