#include "answer/components.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <numeric>
#include <utility>

#include "io/hdf5.hpp"
#include "parallel/row_exchange.hpp"

namespace hipi {

std::int64_t ComponentBuilder::find(std::int64_t row) {
  parent_.try_emplace(row, row);
  std::int64_t root = row;
  while (true) {
    const std::int64_t up = parent_.at(root);
    if (up == root) break;
    root = up;
  }
  for (std::int64_t at = row; at != root;) {  // path compression
    std::int64_t& up = parent_.at(at);
    at = std::exchange(up, root);
  }
  return root;
}

namespace {

// Bytes a row the union-find holds: a node of the hash map of parents (key, parent, next
// pointer, allocator rounding) and its bucket.
constexpr double kTreeBytesPerRow = 48 + 16;
// Bytes an edge (a row and its root) holds in one round of the merge: the edge, both ends
// asked for and answered (the request, the owner's copy, the answer, the lookup), the hook
// and the edge kept.
constexpr double kMergeBytesPerEdge = 16 * 8;

}  // namespace

void ComponentBuilder::check_fits(const Comm& comm, const MemoryBudget& budget, std::int64_t pairs) const {
  const double rows = std::min(double(n_), 2.0 * double(pairs));  // the rows the pairs can touch
  const double labels = 16.0 * double(row_block(n_, comm.size(), comm.rank()).size());
  agree(comm, [&] {
    budget.check(fmt::format("the components' union-find over up to {:.0f} rows and its merge", rows),
                 rows * (kTreeBytesPerRow + kMergeBytesPerEdge) + labels);
  });
}

void ComponentBuilder::add(const Pair* pairs, std::size_t count) {
  for (std::size_t k = 0; k < count; ++k) {
    const std::int64_t ri = find(pairs[k].i), rj = find(pairs[k].j);
    if (ri != rj) parent_[std::max(ri, rj)] = std::min(ri, rj);
  }
}

namespace {

// label[row] may fall to `to`.
struct Lowering {
  std::int64_t row, to;
};

// Labels held by row owners: this rank's block of rows, with lookups and lowering by any
// rank through all-to-alls.
class DistributedLabels {
 public:
  DistributedLabels(const Comm& comm, std::int64_t n)
      : comm_(comm), rows_(row_block(n, comm.size(), comm.rank())), owners_(comm, rows_), labels_(rows_.size()) {
    std::iota(labels_.begin(), labels_.end(), rows_.begin);
  }

  // Collective: the labels of `ids` (any rows), in order.
  std::vector<std::int64_t> lookup(const std::vector<std::int64_t>& ids) const {
    std::vector<std::vector<std::int64_t>> ask(comm_.size());
    for (std::int64_t id : ids) ask[owners_.owner(id)].push_back(id);
    std::vector<std::vector<std::int64_t>> asked = alltoallv(comm_, ask);
    for (auto& part : asked)
      for (std::int64_t& id : part) id = labels_[id - rows_.begin];
    const std::vector<std::vector<std::int64_t>> answers = alltoallv(comm_, asked);
    std::vector<std::size_t> next(comm_.size(), 0);
    std::vector<std::int64_t> out(ids.size());
    for (std::size_t k = 0; k < ids.size(); ++k) {
      const int o = owners_.owner(ids[k]);
      out[k] = answers[o][next[o]++];
    }
    return out;
  }

  // Collective: label[row] = min(label[row], to) for every (row, to); true on every rank
  // when some label fell.
  bool lower(const std::vector<Lowering>& moves) {
    std::vector<std::vector<Lowering>> send(comm_.size());
    for (const Lowering& m : moves) send[owners_.owner(m.row)].push_back(m);
    bool fell = false;
    for (const auto& part : alltoallv(comm_, send))
      for (const auto& [row, to] : part) {
        std::int64_t& l = labels_[row - rows_.begin];
        if (to < l) {
          l = to;
          fell = true;
        }
      }
    return boost::mpi::all_reduce(comm_, fell, std::logical_or<bool>());
  }

  // Collective: every label made a root's (label[label[x]] == label[x]) by pointer jumping.
  void jump() {
    while (true) {
      std::vector<std::int64_t> up;
      std::vector<std::size_t> at;
      for (std::size_t k = 0; k < labels_.size(); ++k)
        if (labels_[k] != rows_.begin + static_cast<std::int64_t>(k)) {
          up.push_back(labels_[k]);
          at.push_back(k);
        }
      const std::vector<std::int64_t> above = lookup(up);
      bool moved = false;
      for (std::size_t q = 0; q < at.size(); ++q)
        if (above[q] != labels_[at[q]]) {
          labels_[at[q]] = above[q];
          moved = true;
        }
      if (!boost::mpi::all_reduce(comm_, moved, std::logical_or<bool>())) return;
    }
  }

  RowRange rows() const { return rows_; }
  const std::vector<std::int64_t>& labels() const { return labels_; }
  const RowOwners& owners() const { return owners_; }

 private:
  const Comm& comm_;
  RowRange rows_;
  RowOwners owners_;
  std::vector<std::int64_t> labels_;
};

// Collective: the components of two or more rows (each root counted once, by its owner).
std::int64_t count_groups(const Comm& comm, const DistributedLabels& labels) {
  std::vector<std::vector<std::int64_t>> roots(comm.size());
  const RowRange rows = labels.rows();
  for (std::size_t k = 0; k < labels.labels().size(); ++k)
    if (labels.labels()[k] != rows.begin + static_cast<std::int64_t>(k))
      roots[labels.owners().owner(labels.labels()[k])].push_back(labels.labels()[k]);
  std::vector<std::int64_t> mine;
  for (const auto& part : alltoallv(comm, roots)) mine.insert(mine.end(), part.begin(), part.end());
  std::sort(mine.begin(), mine.end());
  const auto distinct = static_cast<std::int64_t>(std::unique(mine.begin(), mine.end()) - mine.begin());
  return boost::mpi::all_reduce(comm, distinct, std::plus<std::int64_t>());
}

}  // namespace

ComponentLabels ComponentBuilder::finish(const Comm& comm, const MemoryBudget& budget) {
  const RowRange block = row_block(n_, comm.size(), comm.rank());
  agree(comm, [&] {
    budget.check(
        fmt::format("the component labels of {} rows and the merge of {} rows' trees", block.size(), parent_.size()),
        16.0 * double(block.size()) + kMergeBytesPerEdge * double(parent_.size()));
  });
  // This rank's trees as edges (row, its root), then hooking: each edge's two roots, the
  // larger under the smaller, until no edge joins two trees.
  std::vector<std::pair<std::int64_t, std::int64_t>> edges;
  for (auto& [row, up] : parent_)
    if (const std::int64_t root = find(row); root != row) edges.emplace_back(row, root);
  parent_ = {};
  DistributedLabels labels(comm, n_);
  while (true) {
    labels.jump();
    std::vector<std::int64_t> ends;
    for (const auto& [u, v] : edges) {
      ends.push_back(u);
      ends.push_back(v);
    }
    const std::vector<std::int64_t> roots = labels.lookup(ends);
    std::vector<Lowering> hooks;
    std::vector<std::pair<std::int64_t, std::int64_t>> kept;
    for (std::size_t k = 0; k < edges.size(); ++k) {
      const std::int64_t ru = roots[2 * k], rv = roots[2 * k + 1];
      if (ru == rv) continue;  // joined: the edge is done
      hooks.push_back({std::max(ru, rv), std::min(ru, rv)});
      kept.emplace_back(ru, rv);
    }
    edges = std::move(kept);
    if (!labels.lower(hooks)) break;
  }
  ComponentLabels out{n_, block, labels.labels(), count_groups(comm, labels), 0};
  std::int64_t dropped = 0;
  for (std::size_t k = 0; k < out.labels.size(); ++k) dropped += out.labels[k] != block.begin + std::int64_t(k);
  out.rows_dropped = boost::mpi::all_reduce(comm, dropped, std::plus<std::int64_t>());
  return out;
}

PairStream observed(PairStream stream, ComponentBuilder& builder) {
  stream.next = [inner = std::move(stream.next), &builder](std::vector<Pair>& piece, std::int64_t max) {
    const std::size_t before = piece.size();
    inner(piece, max);
    builder.add(piece.data() + before, piece.size() - before);
  };
  return stream;
}

void write_components(const Comm& comm, const std::string& path, const ComponentLabels& c) {
  h5::File file = h5::File::open_write(path, &comm);
  file.create_dataset<std::int64_t>("/components", {c.n});
  file.write_rows<std::int64_t>("/components", c.rows, c.labels.data());
  file.set_dataset_attribute("/components", "groups", c.groups);
  file.set_dataset_attribute("/components", "rows_dropped", c.rows_dropped);
  file.close();
}

}  // namespace hipi
