// Connected components of a self-join's heavy-pair graph (--components): for each row, the
// smallest row index in its component (a row without pairs is its own), what a dedup acts
// on (keep one row per component). Built from the pairs as the output is written (each
// rank sees only its slice: nothing gathers the pairs), then merged across ranks by
// hooking larger roots under smaller ones and pointer jumping over labels held by row
// owners (O(log n) rounds of all-to-alls).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "io/pair_file.hpp"
#include "parallel/mpi.hpp"
#include "runtime/memory.hpp"

namespace hipi {

/// This rank's block of the labels: row_block(n, ranks, rank).
struct ComponentLabels {
  std::int64_t n = 0;
  RowRange rows;
  std::vector<std::int64_t> labels;  // labels[k]: the smallest row in the component of rows.begin + k
  std::int64_t groups = 0;           // components of two or more rows, over all ranks
  std::int64_t rows_dropped = 0;     // rows not the smallest of their component: what a dedup drops
};

/// The components of the pairs this rank has seen, as a union-find over the rows they touch
/// (each root the smallest row of its tree).
class ComponentBuilder {
 public:
  explicit ComponentBuilder(std::int64_t rows) : n_(rows) {}
  void add(const Pair* pairs, std::size_t count);
  /// Collective: every rank's trees merged; the labels of this rank's block. What the
  /// merge holds (its edges and exchanges, the labels) is checked against `budget` first
  /// (agreed).
  ComponentLabels finish(const Comm& comm, const MemoryBudget& budget);
  /// Collective, before any pair is added: an agreed InputError when the trees of up to
  /// `pairs` pairs (this rank's), then their merge, would pass `budget`.
  void check_fits(const Comm& comm, const MemoryBudget& budget, std::int64_t pairs) const;

 private:
  std::int64_t find(std::int64_t row);
  std::int64_t n_;
  std::unordered_map<std::int64_t, std::int64_t> parent_;
};

/// The same stream, each piece shown to `builder` as it passes.
PairStream observed(PairStream stream, ComponentBuilder& builder);

/// Collective: adds /components int64 [n] (every rank its block) to the file at `path`,
/// with integer attributes groups and rows_dropped.
void write_components(const Comm& comm, const std::string& path, const ComponentLabels& components);

}  // namespace hipi
