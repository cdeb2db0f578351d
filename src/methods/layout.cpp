#include "methods/layout.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/bit_matrix.hpp"
#include "hipi/error.hpp"
#include "methods/hash/multi_index.hpp"
#include "methods/prefix/prefix_filter.hpp"
#include "methods/sketch/grid.hpp"
#include "methods/sketch/sketches.hpp"
#include "parallel/scalapack.hpp"

namespace hipi {

RowRange auto_rows(std::int64_t n, int parts, int part) {
  const TiledRows tiled{n, balanced_tile(n, parts, 64), parts};
  if (tiled.tiles() >= kTilesPerPart * parts) return tiled.rows(part);
  return row_block(n, parts, part);
}

double Layout::peak_bytes() const {
  double sum = 0;
  for (const LayoutBuffer& b : buffers) sum += b.bytes;
  return sum;
}

double Layout::bytes_of(BufferUse use) const {
  double sum = 0;
  for (const LayoutBuffer& b : buffers)
    if (b.use == use) sum += b.bytes;
  return sum;
}

double Layout::imbalance(const std::vector<RowRange>& rows) {
  std::int64_t total = 0, largest = 0;
  for (const RowRange& r : rows) {
    total += r.size();
    largest = std::max(largest, r.size());
  }
  return total == 0 ? 1.0 : double(largest) * double(rows.size()) / double(total);
}

namespace {

std::int64_t largest_rows(const std::vector<RowRange>& rows) {
  std::int64_t largest = 0;
  for (const RowRange& r : rows) largest = std::max(largest, r.size());
  return largest;
}

double row_bytes(Mode mode, std::int64_t d) {
  return mode == Mode::Binary ? BitMatrix::row_bytes(d) : RealMatrix::row_bytes(d);
}

// The largest local part of an m x n matrix in mb x nb blocks on `grid`: process (0, 0)
// holds the first block of both dimensions, so the most of each.
double largest_local(std::int64_t m, std::int64_t n, std::int64_t mb, std::int64_t nb, GridShape grid) {
  return double(block_cyclic_count(m, mb, 0, grid.rows)) * double(block_cyclic_count(n, nb, 0, grid.cols));
}

// The buffers of the linear sketch's product (products.cpp), and its grid and inner block.
void sketch_buffers(const LayoutQuery& q, Layout& out) {
  const SketchOptions& o = q.sketch;
  const int P = q.ranks;
  const std::int64_t g_a = o.group_a, g_b = q.self_join ? o.group_a : o.group_b;
  const FeatureMap map{o.degree, 0};
  const std::int64_t D = map.dim(q.d);
  const bool float32 = q.mode == Mode::Real || double(g_a) * double(g_b) * std::pow(double(q.d), o.degree) < 16777216.0;
  const double T = float32 ? 4.0 : 8.0;
  const Grouping ga(q.n_a, g_a, o.tile_for(g_a, q.n_a, P), 0, 0, 0);
  const Grouping gb(q.n_b, g_b, o.tile_for(g_b, q.n_b, P), 0, 0, 1);
  const TiledRows ta{q.n_a, ga.tile(), P}, tb{q.n_b, gb.tile(), P};
  const std::int64_t G_A = ga.groups(), G_B = gb.groups();
  std::int64_t local_a = 0, local_b = 0;
  for (int r = 0; r < P; ++r) {
    local_a = std::max(local_a, ga.groups_of(ta, r).size());
    local_b = std::max(local_b, gb.groups_of(tb, r).size());
  }
  const auto panel_elements = static_cast<std::int64_t>(o.panel_mib * 1048576.0 / T);
  const std::int64_t nb = o.block_size;
  const bool two_sides = !q.self_join || o.degree != 1;  // else S_B^T is built from S_A's sketches
  out.buffers.push_back(
      {"sketches built (group-major)", BufferUse::Working, T * D * double(local_a + (two_sides ? local_b : 0))});

  // S_A (G_A x D) and S_B^T (D x G_B) with the inner dimension in blocks of kb. The grid
  // that broadcasts the least, d in one block (S_A on one process column, S_B^T on one
  // process row), while S_A and S_B^T take at most a quarter of the budget; else the next
  // grid in product_grids' order where they do; else d cut in blocks so that both spread
  // over every process row and column (a multiple of 64: p?gemm makes one pass over C per
  // block, so blocks are kept as large as fit), on the first grid where that fits.
  const auto product_parts = [&](GridShape grid, std::int64_t kb) {
    return T * (largest_local(G_A, D, nb, kb, grid) + largest_local(D, G_B, kb, nb, grid));
  };
  const auto spread_block = [&](GridShape grid) {
    const std::int64_t spread = (D + std::max(grid.rows, grid.cols) - 1) / std::max(grid.rows, grid.cols);
    return std::min(std::min(D, o.k_block), (spread + 63) / 64 * 64);
  };
  const std::vector<GridShape> grids =
      o.grid.empty() ? product_grids(P, G_A, G_B, nb, panel_elements) : std::vector<GridShape>{parse_grid(o.grid, P)};
  const std::int64_t whole = std::min(D, o.k_block);
  out.grid = grids.front();
  std::int64_t kb = whole;
  const auto fits = [&](GridShape grid, std::int64_t block) {
    return q.budget_bytes <= 0 || product_parts(grid, block) <= q.budget_bytes / 4;
  };
  if (!fits(out.grid, kb)) {
    const auto whole_fits = std::find_if(grids.begin(), grids.end(), [&](GridShape g) { return fits(g, whole); });
    const auto cut_fits =
        std::find_if(grids.begin(), grids.end(), [&](GridShape g) { return fits(g, spread_block(g)); });
    if (whole_fits != grids.end()) {
      out.grid = *whole_fits;
    } else {
      out.grid = cut_fits != grids.end() ? *cut_fits : grids.front();
      kb = spread_block(out.grid);
    }
  }
  const GridShape grid = out.grid;
  out.k_block = kb;
  out.buffers.push_back({"S_A (G_A x D)", BufferUse::Working, T * largest_local(G_A, D, nb, kb, grid)});
  out.buffers.push_back({"S_B^T (D x G_B)", BufferUse::Working, T * largest_local(D, G_B, kb, nb, grid)});
  const std::int64_t width = panel_width(G_A, nb, grid, panel_elements);
  out.buffers.push_back({"panel of C", BufferUse::Working, T * largest_local(G_A, std::min(width, G_B), nb, nb, grid)});
  // PBLAS copies one inner block of S_A's rows and of the panel's columns per step.
  out.buffers.push_back(
      {"p?gemm's copies of an inner block", BufferUse::Working,
       T * (largest_local(G_A, kb, nb, kb, grid) + largest_local(kb, std::min(width, G_B), kb, nb, grid))});
  if (q.self_join)
    out.buffers.push_back({"self terms (every group, every rank)", BufferUse::Working, 8.0 * double(G_A)});
}

}  // namespace

Layout layout_of(const LayoutQuery& q) {
  HIPI_ASSERT(q.ranks >= 1 && q.n_a >= 0 && q.n_b >= 0 && q.d >= 1);
  const int P = q.ranks;
  Layout out;
  const bool sketch = q.method == Method::Sketch;
  const std::int64_t g_a = q.sketch.group_a, g_b = q.self_join ? q.sketch.group_a : q.sketch.group_b;
  const TiledRows ta{q.n_a, q.sketch.tile_for(g_a, q.n_a, P), P}, tb{q.n_b, q.sketch.tile_for(g_b, q.n_b, P), P};
  for (int r = 0; r < P; ++r) {
    out.rows_a.push_back(sketch ? ta.rows(r) : row_block(q.n_a, P, r));
    out.rows_b.push_back(q.self_join ? out.rows_a.back() : sketch ? tb.rows(r) : row_block(q.n_b, P, r));
  }
  const double bytes = row_bytes(q.mode, q.d);
  const double rows_a = double(largest_rows(out.rows_a)), rows_b = double(largest_rows(out.rows_b));
  out.buffers.push_back({"rows of A", BufferUse::Rows, bytes * rows_a});
  if (!q.self_join) out.buffers.push_back({"rows of B", BufferUse::Rows, bytes * rows_b});

  const int ring = std::min(2, P - 1);  // the next block received while the current one is checked
  if (q.method == Method::Brute || q.method == Method::Prefix)
    out.buffers.push_back({"ring buffers (blocks of B)", BufferUse::Working, ring * bytes * rows_b});
  if (q.method == Method::Prefix) {
    const std::int64_t k = q.prefix_k > 0 ? q.prefix_k : PrefixCheck::k_by_name(q.d);
    out.buffers.push_back({"prefix filter (rotated rows, tiles, rotation)", BufferUse::Working,
                           PrefixCheck::bytes_for(largest_rows(out.rows_a), largest_rows(out.rows_b), q.d, k)});
    out.buffers.push_back({"principal axes (rank 0)", BufferUse::Working,
                           Rotation::bytes_on_rank0(PrefixCheck::kAxisSampleRows * (q.self_join ? 1 : 2), q.d)});
  }
  if (q.method == Method::Hash) {
    // Each rank indexes its rows of B (multi_index.hpp) while blocks of A travel the ring.
    const std::int64_t radius = std::max<std::int64_t>(0, hamming_radius(q.d, q.theta));
    const auto rows = static_cast<std::int64_t>(rows_b);
    out.buffers.push_back({"substring tables of B", BufferUse::Working,
                           static_cast<double>(MultiIndex::bytes_for(rows, choose_layout(q.d, radius, rows)))});
    out.buffers.push_back({"ring buffers (blocks of A)", BufferUse::Working, ring * bytes * rows_a});
  }
  if (sketch) sketch_buffers(q, out);

  // The answer: pairs held (24 bytes each) and the sample sort's two copies and slack
  // (check_sort_fits, memory.hpp).
  const double held = 24.0 * q.pairs / P;
  out.buffers.push_back({"heavy pairs held", BufferUse::Answer, held});
  out.buffers.push_back({"sorting them", BufferUse::Answer, 2.0 * held + 48.0 * 1048576});
  return out;
}

}  // namespace hipi
