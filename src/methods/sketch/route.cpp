// Routing candidates to their A groups' owners with the rows of their B groups, and
// verifying every pair of each candidate exactly (repetition.hpp).
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "kernels/exact.hpp"
#include "methods/sketch/repetition.hpp"

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

// Every B row received, in one matrix; group h's rows are [first, first + count) of it.
template <class Matrix>
struct ReceivedGroups {
  Matrix rows;
  std::vector<std::int64_t> ids;  // global row of each
  std::unordered_map<std::int64_t, RowRange> group;
};

template <class Matrix>
std::int64_t row_bytes_of(const SketchSide<Matrix>& b) {
  return b.rows.rows.stride() * static_cast<std::int64_t>(sizeof(typename Matrix::value_type));
}

// The replies to the other ranks' requests: per requester, for each group (group, row
// count), then per row (id, values), packed straight from this rank's rows. This rank's own
// groups are not packed: they are copied once, straight into the received rows.
template <class Matrix>
RankedBytes pack_groups(const SketchSide<Matrix>& b, const std::vector<std::vector<std::int64_t>>& asked, int self) {
  const int P = static_cast<int>(asked.size());
  const std::int64_t row_bytes = row_bytes_of(b);
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
  return replies;
}

// The groups in `got` (pack_groups' format) and this rank's own groups `own`, placed in one
// matrix: two passes over the replies, counting the rows, then placing them.
template <class Matrix>
ReceivedGroups<Matrix> place_groups(const SketchSide<Matrix>& b, const RankedBytes& got,
                                    const std::vector<std::int64_t>& own, std::size_t groups_hint) {
  const std::int64_t row_bytes = row_bytes_of(b);
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
  for (std::int64_t h : own) total_rows += b.groups.count(h - b.groups.groups.begin);
  ReceivedGroups<Matrix> received{Matrix(total_rows, b.rows.rows.cols()), std::vector<std::int64_t>(total_rows), {}};
  received.group.reserve(groups_hint);
  std::int64_t next = 0;
  for_each_group([&](std::int64_t h, std::int64_t count, const char* rows) {
    received.group[h] = RowRange{next, next + count};
    for (std::int64_t q = 0; q < count; ++q, ++next) {
      const char* record = rows + q * (static_cast<std::int64_t>(sizeof(std::int64_t)) + row_bytes);
      std::memcpy(&received.ids[next], record, sizeof(std::int64_t));
      std::memcpy(received.rows.row(next), record + sizeof(std::int64_t), row_bytes);
    }
  });
  for (std::int64_t h : own) {
    const std::int64_t k = h - b.groups.groups.begin, count = b.groups.count(k);
    received.group[h] = RowRange{next, next + count};
    for (std::int64_t q = 0; q < count; ++q, ++next) {
      const std::int64_t row = b.groups.members[b.groups.first_member(k) + q];
      received.ids[next] = row;
      std::memcpy(received.rows.row(next), b.rows.rows.row(row - b.rows.range.begin), row_bytes);
    }
  }
  return received;
}

// Collective: the rows of every B group that this rank's candidates `mine` name, each asked
// once of its owner.
template <class Matrix>
ReceivedGroups<Matrix> fetch_groups(const Repetition<Matrix>& rep, const std::vector<Candidate>& mine) {
  const Comm& comm = rep.comm;
  const SketchSide<Matrix>& b = rep.b;
  std::vector<std::vector<std::int64_t>> requests(comm.size());
  for (const Candidate& c : mine) requests[b.grouping.owner_of_group(c.h, b.tiled)].push_back(c.h);
  for (auto& r : requests) {
    std::sort(r.begin(), r.end());
    r.erase(std::unique(r.begin(), r.end()), r.end());
  }
  const auto asked = alltoallv(comm, requests);
  const RankedBytes got = exchange_ranked(comm, pack_groups(b, asked, comm.rank()));
  return place_groups(b, got, asked[comm.rank()], mine.size());
}

// Every pair of each candidate's two groups checked exactly; the heavy ones appended to
// `found` (self-join: i < j, no pair of a row with itself). Returns the candidates with none.
template <class Matrix>
std::int64_t verify_candidates(const Repetition<Matrix>& rep, const std::vector<Candidate>& mine,
                               const ReceivedGroups<Matrix>& received, std::vector<Pair>& found) {
  std::int64_t empty = 0;
  std::vector<std::int64_t> a_ids;
  Matrix a_group;
  std::int64_t current = -1;
  std::vector<Pair> pairs;
  for (const Candidate& c : mine) {
    if (c.g != current) {
      a_group = gather_group(rep.a, c.g - rep.a.groups.groups.begin, a_ids);
      current = c.g;
    }
    pairs.clear();
    heavy_pairs({a_group, 0}, {received.rows, 0}, rep.threshold, PairFilter::All, pairs, received.group.at(c.h));
    std::int64_t kept = 0;
    for (const Pair& p : pairs) {
      std::int64_t i = a_ids[p.i], j = received.ids[p.j];
      if (rep.self_join) {
        if (i == j) continue;
        if (i > j) std::swap(i, j);
      }
      found.push_back({i, j, p.ip});
      ++kept;
    }
    empty += kept == 0;
  }
  return empty;
}

}  // namespace

template <class Matrix>
std::int64_t route_and_verify(const Repetition<Matrix>& rep, const std::vector<std::vector<Candidate>>& outgoing,
                              std::vector<Pair>& found) {
  std::vector<Candidate> mine;
  ReceivedGroups<Matrix> received;
  rep.times.time("route", [&] {
    for (const auto& from : alltoallv(rep.comm, outgoing)) mine.insert(mine.end(), from.begin(), from.end());
    std::sort(mine.begin(), mine.end(), [](auto& x, auto& y) { return x.g != y.g ? x.g < y.g : x.h < y.h; });
    received = fetch_groups(rep, mine);
  });
  std::int64_t empty = 0;
  rep.times.time("verify", [&] { empty = verify_candidates(rep, mine, received, found); });
  return empty;
}

template std::int64_t route_and_verify(const Repetition<BitMatrix>&, const std::vector<std::vector<Candidate>>&,
                                       std::vector<Pair>&);
template std::int64_t route_and_verify(const Repetition<RealMatrix>&, const std::vector<std::vector<Candidate>>&,
                                       std::vector<Pair>&);

}  // namespace hipi
