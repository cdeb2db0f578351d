#include "methods/sketch/grid.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <cstring>

#include "core/matrix_blocks.hpp"

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

namespace {

// Where the chunks of the sketches go: a chunk is (group, first coordinate) and up to
// coord_block values, all for one process of the target grid.
template <class T>
class ChunkLayout {
 public:
  struct Header {
    std::int64_t group, coord;
  };

  ChunkLayout(const GridTarget<T>& target, std::int64_t d)
      : d_(d),
        rows_(target.groups_are_rows),
        ld_(target.desc.ld),
        grid_cols_(target.desc.grid_cols),
        // Block sizes and process counts along the group and the coordinate dimensions.
        group_block_(rows_ ? target.desc.mb : target.desc.nb),
        coord_block_(rows_ ? target.desc.nb : target.desc.mb),
        group_procs_(rows_ ? target.desc.grid_rows : target.desc.grid_cols),
        coord_procs_(rows_ ? target.desc.grid_cols : target.desc.grid_rows) {}

  std::int64_t coord_block() const { return coord_block_; }
  std::int64_t values(std::int64_t c0) const { return std::min(coord_block_, d_ - c0); }
  std::int64_t chunk_bytes(std::int64_t c0) const {
    return static_cast<std::int64_t>(sizeof(Header) + values(c0) * sizeof(T));
  }
  // Bytes of one group's chunks.
  std::int64_t group_bytes() const {
    return (d_ + coord_block_ - 1) / coord_block_ * static_cast<std::int64_t>(sizeof(Header)) +
           d_ * static_cast<std::int64_t>(sizeof(T));
  }
  int destination(std::int64_t g, std::int64_t c0) const {
    const int group_proc = block_cyclic_owner(g, group_block_, group_procs_);
    const int coord_proc = block_cyclic_owner(c0, coord_block_, coord_procs_);
    const int row = rows_ ? group_proc : coord_proc, col = rows_ ? coord_proc : group_proc;
    return row * grid_cols_ + col;
  }
  std::int64_t local_group(std::int64_t g) const { return block_cyclic_local(g, group_block_, group_procs_); }
  std::int64_t local_coord(std::int64_t c) const { return block_cyclic_local(c, coord_block_, coord_procs_); }
  // Where value q of a chunk at local group lg, local coordinate lc goes in the target.
  std::int64_t at(std::int64_t lg, std::int64_t lc, std::int64_t q) const {
    return rows_ ? lg + (lc + q) * ld_ : lc + q + lg * ld_;
  }
  bool groups_are_rows() const { return rows_; }

 private:
  std::int64_t d_;
  bool rows_;
  std::int64_t ld_;
  int grid_cols_;
  std::int64_t group_block_, coord_block_;
  int group_procs_, coord_procs_;
};

// Packs groups `batch` of `local` into `send`, one part per rank. Coordinate blocks
// are the outer loop, so a receiver fills the same columns of consecutive rows chunk after
// chunk (the transposing writes of S_A stay in cache).
template <class T>
void pack_batch(const GroupSketches<T>& local, const ChunkLayout<T>& layout, RowRange batch, int ranks,
                RankedBytes& send) {
  using Header = typename ChunkLayout<T>::Header;
  const std::int64_t d = local.d, k0 = batch.begin, k1 = batch.end;
  std::vector<std::int64_t> sizes(ranks, 0);
  for (std::int64_t c0 = 0; c0 < d; c0 += layout.coord_block())
    for (std::int64_t k = k0; k < k1; ++k) sizes[layout.destination(local.first + k, c0)] += layout.chunk_bytes(c0);
  send.resize_parts(sizes);
  std::vector<std::int64_t> fill(send.offsets.begin(), send.offsets.end() - 1);
  for (std::int64_t c0 = 0; c0 < d; c0 += layout.coord_block())
    for (std::int64_t k = k0; k < k1; ++k) {
      const std::int64_t g = local.first + k;
      const int to = layout.destination(g, c0);
      char* at = send.data.data() + fill[to];
      const Header h{g, c0};
      std::memcpy(at, &h, sizeof h);
      std::memcpy(at + sizeof h, local.values + k * d + c0, layout.values(c0) * sizeof(T));
      fill[to] += layout.chunk_bytes(c0);
    }
}

// Writes the received chunks into the target. S_A's chunks are rows of a column-major
// matrix: a run of up to kRun chunks bound for consecutive local rows is transposed
// together, kRun adjacent values per column instead of one value per cache line.
template <class T>
void unpack_chunks(const RankedBytes& got, const ChunkLayout<T>& layout, T* out) {
  using Header = typename ChunkLayout<T>::Header;
  const char* at = got.data.data();
  const char* end = at + got.data.size();
  constexpr int kRun = 16;
  const char* run[kRun];
  while (at < end) {
    Header h;
    std::memcpy(&h, at, sizeof h);
    const std::int64_t n = layout.values(h.coord);
    const std::int64_t lg = layout.local_group(h.group), lc = layout.local_coord(h.coord);
    const std::int64_t step = static_cast<std::int64_t>(sizeof h) + n * static_cast<std::int64_t>(sizeof(T));
    if (!layout.groups_are_rows()) {
      std::memcpy(&out[layout.at(lg, lc, 0)], at + sizeof h, n * sizeof(T));
      at += step;
      continue;
    }
    int count = 0;
    for (Header next = h; count < kRun && next.coord == h.coord && layout.local_group(next.group) == lg + count;) {
      run[count++] = at + sizeof h;
      at += step;
      if (at >= end) break;
      std::memcpy(&next, at, sizeof next);
    }
    for (std::int64_t q = 0; q < n; ++q) {
      T* column = &out[layout.at(lg, lc, q)];
      for (int r = 0; r < count; ++r) std::memcpy(&column[r], run[r] + q * sizeof(T), sizeof(T));
    }
  }
}

}  // namespace

template <class T>
void scatter_to_grid(const Comm& comm, const GroupSketches<T>& local, const GridTarget<T>& target) {
  const ChunkLayout<T> layout(target, local.d);
  // Batches of groups of about kBatchBytes, through buffers reused from batch to batch:
  // fresh pages cost about 1 GB/s here, and memory stays bounded.
  const std::int64_t batch = std::max<std::int64_t>(1, kBatchBytes / layout.group_bytes());
  const std::int64_t count = local.count;
  const std::int64_t batches =
      boost::mpi::all_reduce(comm, (count + batch - 1) / batch, boost::mpi::maximum<std::int64_t>());
  RankedBytes send, got;
  for (std::int64_t b = 0; b < batches; ++b) {
    const std::int64_t k0 = std::min(count, b * batch), k1 = std::min(count, k0 + batch);
    pack_batch(local, layout, RowRange{k0, k1}, comm.size(), send);
    exchange_ranked(comm, send, got);
    unpack_chunks(got, layout, target.out);
  }
}

template void scatter_to_grid<float>(const Comm&, const GroupSketches<float>&, const GridTarget<float>&);
template void scatter_to_grid<double>(const Comm&, const GroupSketches<double>&, const GridTarget<double>&);

}  // namespace hipi
