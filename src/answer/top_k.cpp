#include "answer/top_k.hpp"

#include <algorithm>
#include <cmath>

#include "hipi/error.hpp"

namespace hipi {

TopKLists::TopKLists(RowRange rows, std::int64_t k, double floor, bool abs) : k_(k), floor_(floor), abs_(abs) {
  HIPI_ASSERT(k >= 1 && k <= INT32_MAX);
  reset(rows);
}

void TopKLists::reset(RowRange rows) {
  rows_ = rows;
  const auto n = static_cast<std::size_t>(rows.size());
  entries_.resize(n * static_cast<std::size_t>(k_));
  sizes_.assign(n, 0);
  floors_.assign(n, floor_);
}

double TopKLists::bytes(std::int64_t rows, std::int64_t k) {
  return double(rows) * (double(k) * sizeof(Entry) + sizeof(std::int32_t) + sizeof(double));
}

void TopKLists::sift_down(Entry* heap, std::int64_t size, std::int64_t at) const {
  for (;;) {
    const std::int64_t left = 2 * at + 1, right = left + 1;
    std::int64_t worst = at;
    if (left < size && worse(heap[left], heap[worst])) worst = left;
    if (right < size && worse(heap[right], heap[worst])) worst = right;
    if (worst == at) return;
    std::swap(heap[at], heap[worst]);
    at = worst;
  }
}

void TopKLists::offer(std::int64_t r, std::int64_t j, double value) {
  const auto row = static_cast<std::size_t>(r);
  const double s = score(value);
  if (!(s >= floors_[row])) return;  // NaN too
  Entry* heap = entries_.data() + row * static_cast<std::size_t>(k_);
  std::int32_t& size = sizes_[row];
  const Entry e{value, j};
  if (size < k_) {
    // Sift up from the end.
    std::int64_t at = size++;
    while (at > 0) {
      const std::int64_t parent = (at - 1) / 2;
      if (!worse(e, heap[parent])) break;
      heap[at] = heap[parent];
      at = parent;
    }
    heap[at] = e;
    if (size == k_) floors_[row] = score(heap[0].value);
    return;
  }
  if (!worse(heap[0], e)) return;  // a tie with the worst kept and a larger j
  heap[0] = e;
  sift_down(heap, size, 0);
  floors_[row] = score(heap[0].value);
}

void TopKLists::offer_all(const std::vector<Pair>& pairs) {
  for (const Pair& p : pairs)
    if (rows_.contains(p.i)) offer(p.i - rows_.begin, p.j, p.ip);
}

void TopKLists::raise_floors(const std::vector<double>& floors) {
  HIPI_ASSERT(static_cast<std::int64_t>(floors.size()) == rows_.size());
  for (std::size_t r = 0; r < floors.size(); ++r) {
    if (!(floors[r] > floors_[r])) continue;
    // Pairs already held below the new floor can no longer be among the K best.
    Entry* heap = entries_.data() + r * static_cast<std::size_t>(k_);
    std::int32_t& size = sizes_[r];
    std::int32_t kept = 0;
    for (std::int32_t t = 0; t < size; ++t)
      if (score(heap[t].value) >= floors[r]) heap[kept++] = heap[t];
    size = kept;
    for (std::int64_t at = size / 2 - 1; at >= 0; --at) sift_down(heap, size, at);
    floors_[r] = size == k_ ? score(heap[0].value) : floors[r];
  }
}

std::vector<Pair> TopKLists::pairs() const {
  std::vector<Pair> out;
  std::size_t total = 0;
  for (const std::int32_t size : sizes_) total += static_cast<std::size_t>(size);
  out.reserve(total);
  for (std::int64_t r = 0; r < rows_.size(); ++r) {
    const Entry* heap = entries_.data() + static_cast<std::size_t>(r * k_);
    for (std::int32_t t = 0; t < sizes_[static_cast<std::size_t>(r)]; ++t)
      out.push_back({rows_.begin + r, heap[t].j, heap[t].value});
  }
  return out;
}

void sort_top_k(std::vector<Pair>& pairs, bool abs) {
  const auto score = [abs](double v) { return abs ? std::fabs(v) : v; };
  std::sort(pairs.begin(), pairs.end(), [&](const Pair& x, const Pair& y) {
    if (x.i != y.i) return x.i < y.i;
    const double sx = score(x.ip), sy = score(y.ip);
    if (sx != sy) return sx > sy;
    return x.j < y.j;
  });
}

KnnTable knn_table(const std::vector<Pair>& sorted, RowRange rows, std::int64_t k, bool abs) {
  KnnTable t{rows, k, {}, {}};
  const auto cells = static_cast<std::size_t>(rows.size() * k);
  t.indices.assign(cells, -1);
  t.scores.assign(cells, -std::numeric_limits<double>::infinity());
  std::int64_t row = -1, at = 0;
  for (const Pair& p : sorted) {
    HIPI_ASSERT(rows.contains(p.i));
    if (p.i != row) row = p.i, at = 0;
    HIPI_ASSERT(at < k);
    const auto cell = static_cast<std::size_t>((p.i - rows.begin) * k + at++);
    t.indices[cell] = p.j;
    t.scores[cell] = abs ? std::fabs(p.ip) : p.ip;
  }
  return t;
}

}  // namespace hipi
