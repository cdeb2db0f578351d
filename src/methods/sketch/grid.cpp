#include "methods/sketch/grid.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <cstring>

namespace hipi {

namespace {
constexpr std::int64_t kBatchBytes = std::int64_t{16} << 20;
}

std::int64_t panel_width(std::int64_t rows_of_c, std::int64_t block, GridShape shape, std::int64_t panel_elements) {
  const std::int64_t local_rows_max = block_cyclic_count(rows_of_c, block, 0, shape.rows);
  const std::int64_t blocks =
      std::max<std::int64_t>(1, panel_elements / std::max<std::int64_t>(1, local_rows_max * block));
  return blocks * block * shape.cols;
}

std::vector<GridShape> product_grids(int ranks, std::int64_t groups_a, std::int64_t groups_b, std::int64_t block,
                                     std::int64_t panel_elements) {
  std::vector<std::pair<double, GridShape>> costed;
  for (int rows = ranks; rows >= 1; --rows) {  // taller first: the stable sort keeps ties taller
    if (ranks % rows != 0) continue;
    const GridShape shape{rows, ranks / rows};
    const std::int64_t width = panel_width(groups_a, block, shape, panel_elements);
    const double panels = std::ceil(double(groups_b) / double(width));
    costed.emplace_back(panels * double(groups_a) * (shape.cols - 1) + double(groups_b) * (shape.rows - 1), shape);
  }
  std::stable_sort(costed.begin(), costed.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<GridShape> grids;
  for (const auto& c : costed) grids.push_back(c.second);
  return grids;
}

GridShape product_grid(int ranks, std::int64_t groups_a, std::int64_t groups_b, std::int64_t block,
                       std::int64_t panel_elements) {
  return product_grids(ranks, groups_a, groups_b, block, panel_elements).front();
}

template <class T>
void scatter_to_grid(const Comm& comm, const T* local, std::int64_t first, std::int64_t count, std::int64_t d,
                     bool groups_are_rows, const Descriptor& target, T* out) {
  // Block sizes and process counts along the group and the coordinate dimensions.
  const std::int64_t group_block = groups_are_rows ? target.mb : target.nb;
  const std::int64_t coord_block = groups_are_rows ? target.nb : target.mb;
  const int group_procs = groups_are_rows ? target.grid_rows : target.grid_cols;
  const int coord_procs = groups_are_rows ? target.grid_cols : target.grid_rows;
  // A chunk: (group, first coordinate) and up to coord_block values, all for one process.
  // Coordinate blocks are the outer loop, so a receiver fills the same columns of
  // consecutive rows chunk after chunk (the transposing writes of S_A stay in cache).
  struct Header {
    std::int64_t group, coord;
  };
  const auto chunk_bytes = [&](std::int64_t c0) {
    return static_cast<std::int64_t>(sizeof(Header) + std::min(coord_block, d - c0) * sizeof(T));
  };
  const auto destination = [&](std::int64_t g, std::int64_t c0) {
    const int group_proc = block_cyclic_owner(g, group_block, group_procs);
    const int coord_proc = block_cyclic_owner(c0, coord_block, coord_procs);
    const int row = groups_are_rows ? group_proc : coord_proc, col = groups_are_rows ? coord_proc : group_proc;
    return row * target.grid_cols + col;
  };
  // Batches of groups of about kBatchBytes, through buffers reused from batch to batch:
  // fresh pages cost about 1 GB/s here, and memory stays bounded.
  const std::int64_t per_group = (d + coord_block - 1) / coord_block * static_cast<std::int64_t>(sizeof(Header)) +
                                 d * static_cast<std::int64_t>(sizeof(T));
  const std::int64_t batch = std::max<std::int64_t>(1, kBatchBytes / per_group);
  const std::int64_t batches =
      boost::mpi::all_reduce(comm, (count + batch - 1) / batch, boost::mpi::maximum<std::int64_t>());
  RankedBytes send, got;
  std::vector<std::int64_t> sizes(comm.size()), fill;
  for (std::int64_t b = 0; b < batches; ++b) {
    const std::int64_t k0 = std::min(count, b * batch), k1 = std::min(count, k0 + batch);
    std::fill(sizes.begin(), sizes.end(), 0);
    for (std::int64_t c0 = 0; c0 < d; c0 += coord_block)
      for (std::int64_t k = k0; k < k1; ++k) sizes[destination(first + k, c0)] += chunk_bytes(c0);
    send.resize_parts(sizes);
    fill.assign(send.offsets.begin(), send.offsets.end() - 1);
    for (std::int64_t c0 = 0; c0 < d; c0 += coord_block)
      for (std::int64_t k = k0; k < k1; ++k) {
        const std::int64_t g = first + k, n = std::min(coord_block, d - c0);
        const int to = destination(g, c0);
        char* at = send.data.data() + fill[to];
        const Header h{g, c0};
        std::memcpy(at, &h, sizeof h);
        std::memcpy(at + sizeof h, local + k * d + c0, n * sizeof(T));
        fill[to] += chunk_bytes(c0);
      }

    exchange_ranked(comm, send, got);
    const char* at = got.data.data();
    const char* end = at + got.data.size();
    // S_A's chunks are rows of a column-major matrix: a run of up to kRun chunks bound for
    // consecutive local rows is transposed together, kRun adjacent values per column
    // instead of one value per cache line.
    constexpr int kRun = 16;
    const char* run[kRun];
    while (at < end) {
      Header h;
      std::memcpy(&h, at, sizeof h);
      const std::int64_t n = std::min(coord_block, d - h.coord);
      const std::int64_t lg = block_cyclic_local(h.group, group_block, group_procs);
      const std::int64_t lc = block_cyclic_local(h.coord, coord_block, coord_procs);
      const std::int64_t step = static_cast<std::int64_t>(sizeof h) + n * static_cast<std::int64_t>(sizeof(T));
      if (!groups_are_rows) {
        std::memcpy(&out[lc + lg * target.ld], at + sizeof h, n * sizeof(T));
        at += step;
        continue;
      }
      int count = 0;
      for (Header next = h; count < kRun && next.coord == h.coord &&
                            block_cyclic_local(next.group, group_block, group_procs) == lg + count;) {
        run[count++] = at + sizeof h;
        at += step;
        if (at >= end) break;
        std::memcpy(&next, at, sizeof next);
      }
      for (std::int64_t q = 0; q < n; ++q) {
        T* column = &out[lg + (lc + q) * target.ld];
        for (int r = 0; r < count; ++r) std::memcpy(&column[r], run[r] + q * sizeof(T), sizeof(T));
      }
    }
  }
}

template void scatter_to_grid<float>(const Comm&, const float*, std::int64_t, std::int64_t, std::int64_t, bool,
                                     const Descriptor&, float*);
template void scatter_to_grid<double>(const Comm&, const double*, std::int64_t, std::int64_t, std::int64_t, bool,
                                      const Descriptor&, double*);

}  // namespace hipi
