// Routing candidates to their A groups' owners with the rows of their B groups, and
// verifying every pair of each candidate exactly (sketch_repetition.hpp).
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "methods/sketch/repetition.hpp"
#include "kernels/exact.hpp"

namespace hipi {

namespace {

// Copies the rows of local group k of `side` into a matrix, with their global indices.
template <class Matrix>
Matrix gather_group(const SketchSide<Matrix>& side, std::int64_t k, std::vector<std::int64_t>& ids) {
  const std::int64_t count = side.groups.count(k);
  Matrix m(count, side.rows.rows.cols());
  ids.resize(count);
  for (std::int64_t q = 0; q < count; ++q) {
    const std::int64_t row = side.groups.members[side.groups.first_member(k) + q];
    ids[q] = row;
    const auto* src = side.rows.rows.row(row - side.rows.range.begin);
    std::copy(src, src + m.stride(), m.row(q));
  }
  return m;
}

}  // namespace

template <class Matrix>
std::int64_t route_and_verify(const Repetition<Matrix>& rep, const std::vector<std::vector<Candidate>>& outgoing,
                              std::vector<Pair>& found) {
  const Comm& comm = rep.comm;
  const SketchSide<Matrix>&a = rep.a, &b = rep.b;
  const bool self_join = rep.self_join;
  const Threshold& threshold = rep.threshold;
  StageTimes& times = rep.times;
  using V = typename Matrix::value_type;
  const int P = comm.size();
  const std::int64_t d = a.rows.rows.cols();
  std::vector<Candidate> mine;
  // Every B row received, in one matrix; group h's rows are [first, first + count) of it.
  Matrix received;
  std::vector<std::int64_t> received_ids;
  std::unordered_map<std::int64_t, RowRange> received_group;
  times.time("route", [&] {
    for (const auto& from : alltoallv(comm, outgoing)) mine.insert(mine.end(), from.begin(), from.end());
    std::sort(mine.begin(), mine.end(), [](auto& x, auto& y) { return x.g != y.g ? x.g < y.g : x.h < y.h; });
    // Ask each B owner once for each group it must send.
    std::vector<std::vector<std::int64_t>> requests(P);
    for (const Candidate& c : mine) requests[b.grouping.owner_of_group(c.h, b.tiled)].push_back(c.h);
    for (auto& r : requests) {
      std::sort(r.begin(), r.end());
      r.erase(std::unique(r.begin(), r.end()), r.end());
    }
    const auto asked = alltoallv(comm, requests);
    // Reply per requester: for each group, (group, row count), then per row (id, values),
    // packed straight from this rank's rows. This rank's own groups are not packed: they
    // are copied once, straight into `received`, below.
    const int self = comm.rank();
    const std::int64_t row_bytes = b.rows.rows.stride() * static_cast<std::int64_t>(sizeof(V));
    std::vector<std::int64_t> sizes(P, 0);
    for (int r = 0; r < P; ++r) {
      if (r == self) continue;
      for (std::int64_t h : asked[r])
        sizes[r] +=
            2 * sizeof(std::int64_t) + b.groups.count(h - b.groups.groups.begin) * (sizeof(std::int64_t) + row_bytes);
    }
    RankedBytes replies = RankedBytes::with_sizes(sizes);
    for (int r = 0; r < P; ++r) {
      if (r == self) continue;
      char* at = replies.data.data() + replies.offsets[r];
      for (std::int64_t h : asked[r]) {
        const std::int64_t k = h - b.groups.groups.begin, count = b.groups.count(k);
        std::memcpy(at, &h, sizeof h);
        std::memcpy(at + sizeof h, &count, sizeof count);
        at += 2 * sizeof(std::int64_t);
        for (std::int64_t q = 0; q < count; ++q) {
          const std::int64_t row = b.groups.members[b.groups.first_member(k) + q];
          std::memcpy(at, &row, sizeof row);
          std::memcpy(at + sizeof row, b.rows.rows.row(row - b.rows.range.begin), row_bytes);
          at += sizeof row + row_bytes;
        }
      }
    }
    const RankedBytes got = exchange_ranked(comm, replies);
    // Two passes over the replies: count the rows, then place them.
    const auto for_each_group = [&](auto&& visit) {
      for (const char* at = got.data.data(); at < got.data.data() + got.data.size();) {
        std::int64_t h = 0, count = 0;
        std::memcpy(&h, at, sizeof h);
        std::memcpy(&count, at + sizeof h, sizeof count);
        at += 2 * sizeof(std::int64_t);
        visit(h, count, at);
        at += count * (static_cast<std::int64_t>(sizeof(std::int64_t)) + row_bytes);
      }
    };
    std::int64_t total_rows = 0;
    for_each_group([&](std::int64_t, std::int64_t count, const char*) { total_rows += count; });
    for (std::int64_t h : asked[self]) total_rows += b.groups.count(h - b.groups.groups.begin);
    received = Matrix(total_rows, d);
    received_ids.resize(total_rows);
    received_group.reserve(mine.size());
    std::int64_t next = 0;
    for_each_group([&](std::int64_t h, std::int64_t count, const char* rows) {
      received_group[h] = RowRange{next, next + count};
      for (std::int64_t q = 0; q < count; ++q, ++next) {
        const char* record = rows + q * (static_cast<std::int64_t>(sizeof(std::int64_t)) + row_bytes);
        std::memcpy(&received_ids[next], record, sizeof(std::int64_t));
        std::memcpy(received.row(next), record + sizeof(std::int64_t), row_bytes);
      }
    });
    for (std::int64_t h : asked[self]) {
      const std::int64_t k = h - b.groups.groups.begin, count = b.groups.count(k);
      received_group[h] = RowRange{next, next + count};
      for (std::int64_t q = 0; q < count; ++q, ++next) {
        const std::int64_t row = b.groups.members[b.groups.first_member(k) + q];
        received_ids[next] = row;
        std::memcpy(received.row(next), b.rows.rows.row(row - b.rows.range.begin), row_bytes);
      }
    }
  });
  std::int64_t empty = 0;
  times.time("verify", [&] {
    std::vector<std::int64_t> a_ids;
    Matrix a_group;
    std::int64_t current = -1;
    std::vector<Pair> pairs;
    for (const Candidate& c : mine) {
      if (c.g != current) {
        a_group = gather_group(a, c.g - a.groups.groups.begin, a_ids);
        current = c.g;
      }
      pairs.clear();
      heavy_pairs(a_group, 0, received, 0, threshold, PairFilter::All, pairs, received_group.at(c.h));
      std::int64_t kept = 0;
      for (const Pair& p : pairs) {
        std::int64_t i = a_ids[p.i], j = received_ids[p.j];
        if (self_join) {
          if (i == j) continue;
          if (i > j) std::swap(i, j);
        }
        found.push_back({i, j, p.ip});
        ++kept;
      }
      empty += kept == 0;
    }
  });
  return empty;
}

template std::int64_t route_and_verify(const Repetition<BitMatrix>&, const std::vector<std::vector<Candidate>>&,
                                       std::vector<Pair>&);
template std::int64_t route_and_verify(const Repetition<RealMatrix>&, const std::vector<std::vector<Candidate>>&,
                                       std::vector<Pair>&);

}  // namespace hipi
