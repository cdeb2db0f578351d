#include "hipi/sketch_solver.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <limits>
#include <memory>
#include <unordered_map>

#include "hipi/blacs_grid.hpp"
#include "hipi/completion.hpp"
#include "hipi/log.hpp"
#include "hipi/progress.hpp"
#include "hipi/random.hpp"
#include "hipi/recall.hpp"
#include "hipi/scalapack.hpp"
#include "hipi/sign_sketch.hpp"
#include "hipi/sketch.hpp"
#include "hipi/sketch_layout.hpp"
#include "hipi/stats.hpp"
#include "hipi/verify.hpp"

namespace hipi {

namespace {

struct Candidate {
  std::int64_t g, h;
};

// One side of the problem as the solver sees it in one repetition.
template <class Matrix>
struct Side {
  const LocalRows<Matrix>& rows;
  TiledRows tiled;
  Grouping grouping;
  LocalGroups groups;
};

// Copies the rows of local group k of `side` into a matrix, with their global indices.
template <class Matrix>
Matrix gather_group(const Side<Matrix>& side, std::int64_t k, std::vector<std::int64_t>& ids) {
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

// Sends candidates to the owners of their A groups, fetches the rows of their B groups
// from the B owners, and verifies every pair exactly. Three exchanges, whatever the
// number of candidates. Returns the number of candidates that held no heavy pair.
template <class Matrix>
std::int64_t route_and_verify(const Comm& comm, const std::vector<std::vector<Candidate>>& outgoing,
                              const Side<Matrix>& a, const Side<Matrix>& b, bool self_join, const Threshold& threshold,
                              std::vector<Pair>& found, StageTimes& times) {
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

std::int64_t sum_over(const Comm& comm, std::int64_t v) {
  return boost::mpi::all_reduce(comm, v, std::plus<std::int64_t>());
}

// What one repetition's candidate search did.
struct RepetitionWork {
  std::int64_t candidates = 0, empty = 0;  // this rank's
  int panels = 0;
  double work = 0;        // flops of the GEMM, or sketch pairs compared
  std::string rate_name;  // how the product's speed is reported
  std::string product_stage;
};

// The largest T no greater than t: |x| >= t (in double) implies |x| >= scan_threshold(t).
template <class T>
T scan_threshold(double t) {
  T s = static_cast<T>(t);
  while (static_cast<double>(s) > t) s = std::nextafter(s, -std::numeric_limits<T>::infinity());
  return s;
}

// Whether any of x[0, n) has |x| >= t: a branch-free count the compiler vectorises.
template <class T>
bool any_at_least(const T* x, std::int64_t n, T t) {
  std::int64_t hits = 0;
  for (std::int64_t i = 0; i < n; ++i) hits += std::abs(x[i]) >= t;
  return hits != 0;
}

// Elements of C one panel may hold per rank.
template <class T>
std::int64_t panel_elements(const SketchOptions& o) {
  return static_cast<std::int64_t>(o.panel_mib * 1048576.0 / sizeof(T));
}

// The linear sketch: float sketches, a 2D block-cyclic layout, ScaLAPACK GEMM panel by
// panel, detection on each panel and verification of its candidates.
template <class Matrix, class T>
class LinearProduct {
 public:
  LinearProduct(const Comm& comm, const SketchOptions& o, const GridShape& shape, double detect_threshold)
      : comm_(comm), o_(o), shape_(shape), grid_(comm, shape), t_det_(detect_threshold) {}

  RepetitionWork operator()(const Side<Matrix>& a, const Side<Matrix>& b, bool self_join, const Threshold& threshold,
                            StageTimes& rep_times, std::vector<Pair>& pairs) {
    const int P = comm_.size();
    const std::int64_t nb = o_.block_size;
    const FeatureMap map_a{o_.degree, 0}, map_b{o_.degree, 1};
    const std::int64_t d = map_a.dim(a.rows.rows.cols());  // the inner dimension of the product
    const std::int64_t G_A = a.grouping.groups(), G_B = b.grouping.groups();

    // Local sketches, group-major (each group's d values contiguous), then moved to the 2D
    // layout of the product: S_A as G_A x d, S_B^T as d x G_B.
    std::vector<T> sa_local, sbt_local;
    rep_times.time("sketch", [&] {
      sa_local.resize(std::max<std::int64_t>(1, a.groups.size() * d));
      build_sketches(a.rows.rows, a.rows.range.begin, a.grouping, a.groups, sa_local.data(), d, 1, map_a);
      if (!self_join || o_.degree != 1) {  // degree 2 weighs the two sides differently
        sbt_local.resize(std::max<std::int64_t>(1, b.groups.size() * d));
        build_sketches(b.rows.rows, b.rows.range.begin, b.grouping, b.groups, sbt_local.data(), d, 1, map_b);
      }
    });
    // Descriptors for this repetition; DESCINIT's verdict is agreed so that no rank goes on
    // into a collective ScaLAPACK call that another rank has given up on.
    Descriptor sa_desc, sbt_desc;
    const std::int64_t kb = std::min(d, o_.k_block);
    agree(comm_, [&] {
      sa_desc = describe(grid_, G_A, d, nb, kb);
      sbt_desc = describe(grid_, d, G_B, kb, nb);
    });
    std::vector<T> sa(std::max<std::int64_t>(1, sa_desc.local_size())),
        sbt(std::max<std::int64_t>(1, sbt_desc.local_size()));
    rep_times.time("redistribute", [&] {
      scatter_to_grid(comm_, sa_local.data(), a.groups.groups.begin, a.groups.size(), d, true, sa_desc, sa.data());
      const std::vector<T>& b_local = sbt_local.empty() ? sa_local : sbt_local;  // degree-1 self-join: S_A S_A^T
      scatter_to_grid(comm_, b_local.data(), b.groups.groups.begin, b.groups.size(), d, false, sbt_desc, sbt.data());
      sa_local = {};
      sbt_local = {};
    });

    // Self terms on the diagonal of a self-join, for every group (each rank fills its own).
    std::vector<double> self_terms;
    if (self_join) {
      self_terms.assign(G_A, 0.0);
      const auto mine = group_self_terms(a.rows.rows, a.rows.range.begin, a.groups, o_.degree);
      std::copy(mine.begin(), mine.end(), self_terms.begin() + a.groups.groups.begin);
      all_reduce_vector(comm_, self_terms, std::plus<double>());
    }

    // Column panels of C whose local part fits in panel_mib.
    const std::int64_t width = panel_width(G_A, nb, shape_, panel_elements<T>(o_));

    RepetitionWork work;
    work.work = 2.0 * double(d) * (self_join ? double(G_A) * (G_A + 1) / 2 : double(G_A) * G_B);
    work.rate_name = "gemm_gflops";
    work.product_stage = "gemm";
    // One buffer for every panel, zeroed once: a fresh buffer per panel cost page faults
    // and a memset every time. It only ever holds finite values, so even a GEMM that scales
    // C by beta = 0 before adding leaves no trace of the previous panel.
    // Sized for the largest panel (a self-join's panels grow down to the last).
    std::int64_t c_capacity = 1;
    agree(comm_,
          [&] { c_capacity = std::max(c_capacity, describe(grid_, G_A, std::min(width, G_B), nb, nb).local_size()); });
    std::unique_ptr<T[]> c;
    rep_times.time("panel", [&] { c.reset(new T[c_capacity]()); });
    Progress progress("sketch: GEMM panels", comm_.rank());
    const std::int64_t panels = (G_B + width - 1) / width;
    for (std::int64_t c0 = 0; c0 < G_B; c0 += width, ++work.panels, progress.update(work.panels, panels, -1)) {
      const std::int64_t cols = std::min(width, G_B - c0);
      const std::int64_t rows = self_join ? std::min(G_A, c0 + cols) : G_A;  // a self-join needs G <= H only
      Descriptor c_desc;
      agree(comm_, [&] { c_desc = describe(grid_, rows, cols, nb, nb); });
      HIPI_ASSERT(c_desc.local_size() <= c_capacity);
      largest_panel_ = std::max(largest_panel_, c_desc.local_size());
      rep_times.time("gemm",
                     [&] { gemm_nn(rows, cols, d, sa.data(), sa_desc, sbt.data(), c0, sbt_desc, c.get(), c_desc); });

      std::vector<std::vector<Candidate>> outgoing(P);
      // C column by column, one block of nb local rows (consecutive groups) at a time. Nearly
      // every block holds no candidate and is passed over by a vectorised scan against a
      // threshold no larger than T_det in T; the rest take the exact test entry by entry
      // (in double, with a self-join's diagonal self terms).
      rep_times.time("detect", [&] {
        const T t_scan = scan_threshold<T>(t_det_);
        for (std::int64_t lj = 0; lj < c_desc.local_cols; ++lj) {
          const std::int64_t h = c0 + block_cyclic_global(lj, nb, c_desc.my_col, shape_.cols);
          const T* column = c.get() + lj * c_desc.ld;
          for (std::int64_t li0 = 0; li0 < c_desc.local_rows; li0 += nb) {
            const std::int64_t li1 = std::min(c_desc.local_rows, li0 + nb);
            const std::int64_t g0 = block_cyclic_global(li0, nb, c_desc.my_row, shape_.rows);
            if (self_join && g0 > h) continue;  // below the diagonal: G > H for the whole block
            const bool off_diagonal = !self_join || g0 + (li1 - li0) <= h;
            if (off_diagonal && !any_at_least(column + li0, li1 - li0, t_scan)) continue;
            for (std::int64_t li = li0; li < li1; ++li) {
              const std::int64_t g = g0 + (li - li0);
              if (self_join && g > h) continue;
              double v = static_cast<double>(column[li]);
              if (self_join && g == h) v -= self_terms[g];
              if (std::abs(v) >= t_det_) {
                outgoing[a.grouping.owner_of_group(g, a.tiled)].push_back({g, h});
                ++work.candidates;
              }
            }
          }
        }
      });
      work.empty += route_and_verify(comm_, outgoing, a, b, self_join, threshold, pairs, rep_times);
    }
    return work;
  }

  std::int64_t largest_panel() const { return largest_panel_; }

 private:
  const Comm& comm_;
  const SketchOptions& o_;
  GridShape shape_;
  BlacsGrid grid_;
  double t_det_;
  std::int64_t largest_panel_ = 0;
};

// The sign sketch (binary data, sign_sketch.hpp): majority bits per group, all group pairs
// compared by the brute-force ring with the exact XOR+popcount kernel, |<., .>| >= T_det
// as candidates. In a self-join the pairs inside one group are never compared by the
// sketch, so every group is its own candidate too (n * (g - 1) / 2 exact checks).
class SignProduct {
 public:
  SignProduct(const Comm& comm, double detect_threshold) : comm_(comm), t_det_(detect_threshold) {}

  RepetitionWork operator()(const Side<BitMatrix>& a, const Side<BitMatrix>& b, bool self_join,
                            const Threshold& threshold, StageTimes& rep_times, std::vector<Pair>& pairs) {
    const int P = comm_.size();
    LocalRows<BitMatrix> sa, sb;
    rep_times.time("sketch", [&] {
      sa = {a.groups.groups, build_sign_sketches(a.rows.rows, a.rows.range.begin, a.grouping, a.groups)};
      if (!self_join)
        sb = {b.groups.groups, build_sign_sketches(b.rows.rows, b.rows.range.begin, b.grouping, b.groups)};
    });
    std::vector<Pair> hits;
    const Threshold detect{t_det_, true};
    rep_times.time("product", [&] {
      // The sketch pairs go round the brute-force ring, in units that show progress.
      Progress progress("sketch: sign product", comm_.rank());
      BruteSchedule schedule;
      schedule.at_boundary = [&](std::int64_t done, std::int64_t total, const std::vector<Pair>&) {
        progress.update(done, total, -1);
      };
      hits = self_join ? brute_force_self(comm_, sa, detect, std::move(schedule))
                       : brute_force(comm_, sa, sb, detect, std::move(schedule));
    });
    RepetitionWork work;
    const double G_A = double(a.grouping.groups()), G_B = double(b.grouping.groups());
    work.work = self_join ? G_A * (G_A - 1) / 2 : G_A * G_B;
    work.rate_name = "sketch_pairs_per_second";
    work.product_stage = "product";
    work.panels = 1;
    std::vector<std::vector<Candidate>> outgoing(P);
    for (const Pair& hit : hits) outgoing[a.grouping.owner_of_group(hit.i, a.tiled)].push_back({hit.i, hit.j});
    work.candidates = static_cast<std::int64_t>(hits.size());
    if (self_join)
      for (std::int64_t g = a.groups.groups.begin; g < a.groups.groups.end; ++g)
        if (a.groups.count(g - a.groups.groups.begin) > 1) outgoing[comm_.rank()].push_back({g, g});
    work.empty = route_and_verify(comm_, outgoing, a, b, self_join, threshold, pairs, rep_times);
    return work;
  }

 private:
  const Comm& comm_;
  double t_det_;
};

// Merges the sorted, distinct `fresh` into the sorted, distinct `known`.
void merge_pairs(std::vector<Pair>& known, const std::vector<Pair>& fresh) {
  std::vector<Pair> merged;
  merged.reserve(known.size() + fresh.size());
  std::set_union(known.begin(), known.end(), fresh.begin(), fresh.end(), std::back_inserter(merged),
                 [](const Pair& x, const Pair& y) { return x.i != y.i ? x.i < y.i : x.j < y.j; });
  known = std::move(merged);
}

// How often the repetitions caught each pair directly (before completion), kept beside the
// pairs on the rank that owns row i: sorted by (i, j), merged linearly each repetition.
class CatchCounts {
 public:
  struct Entry {
    std::int64_t i, j;
    int count;
  };
  /// `caught`: one repetition's pairs, sorted by (i, j) and distinct.
  void add(const std::vector<Pair>& caught) {
    std::vector<Entry> merged;
    merged.reserve(entries_.size() + caught.size());
    std::size_t k = 0;
    for (const Pair& p : caught) {
      while (k < entries_.size() && before(entries_[k], p)) merged.push_back(entries_[k++]);
      if (k < entries_.size() && entries_[k].i == p.i && entries_[k].j == p.j)
        merged.push_back({p.i, p.j, entries_[k++].count + 1});
      else
        merged.push_back({p.i, p.j, 1});
    }
    merged.insert(merged.end(), entries_.begin() + static_cast<std::ptrdiff_t>(k), entries_.end());
    entries_ = std::move(merged);
  }
  /// The count of each of `pairs` (sorted by (i, j)), 0 for pairs never caught.
  std::vector<int> of(const std::vector<Pair>& pairs) const {
    std::vector<int> out(pairs.size(), 0);
    std::size_t k = 0;
    for (std::size_t q = 0; q < pairs.size(); ++q) {
      while (k < entries_.size() && before(entries_[k], pairs[q])) ++k;
      if (k < entries_.size() && entries_[k].i == pairs[q].i && entries_[k].j == pairs[q].j) out[q] = entries_[k].count;
    }
    return out;
  }

 private:
  static bool before(const Entry& e, const Pair& p) { return e.i != p.i ? e.i < p.i : e.j < p.j; }
  std::vector<Entry> entries_;
};

// Repetitions with recall control around one product (LinearProduct or SignProduct). After
// each repetition every row of a found pair is completed (completion.hpp), and what can
// still be missing is estimated from the lone pairs (recall.hpp).
template <class Matrix, class Product>
void run_repetitions(const Comm& comm, const LocalRows<Matrix>& a_rows, std::int64_t n_a,
                     const LocalRows<Matrix>& b_rows, std::int64_t n_b, bool self_join, const Threshold& threshold,
                     const SketchOptions& o, std::uint64_t seed, StageTimes& times, Product& product, SketchRun& run) {
  const int P = comm.size(), rank = comm.rank();
  const std::int64_t g_a = o.group_a, g_b = self_join ? o.group_a : o.group_b;
  const TiledRows tiled_a{n_a, o.tile_for(g_a), P}, tiled_b{n_b, o.tile_for(g_b), P};
  HIPI_ASSERT(a_rows.range == tiled_a.rows(rank) && b_rows.range == tiled_b.rows(rank));
  const CompletionContext<Matrix> completion{comm, a_rows, b_rows, tiled_a, tiled_b, self_join, threshold};
  CompletedRows completed(a_rows.range, b_rows.range);

  // Distinct verified pairs so far, sorted, on the rank that owns row i (its tile's owner):
  // the same rank in every repetition, so local sets are exact.
  std::vector<Pair> union_pairs;
  CatchCounts catches;
  const int cap = std::max(o.reps, o.max_reps);
  for (int rep = 0; rep < cap; ++rep) {
    StageTimes rep_times;
    const Grouping group_a(n_a, g_a, tiled_a.tile, seed, rep, 0);
    const Grouping group_b = self_join ? group_a : Grouping(n_b, g_b, tiled_b.tile, seed, rep, 1);
    const Side<Matrix> a{a_rows, tiled_a, group_a, LocalGroups(group_a, a_rows.range)};
    const Side<Matrix> b{b_rows, tiled_b, group_b, self_join ? a.groups : LocalGroups(group_b, b_rows.range)};
    const std::int64_t G_A = group_a.groups(), G_B = group_b.groups();
    run.c_elements = G_A * G_B;
    run.pairs.clear();
    const RepetitionWork work = product(a, b, self_join, threshold, rep_times, run.pairs);

    std::int64_t before = 0, detected = 0;
    rep_times.time("collect", [&] {
      // Self-join pairs (i, j), i < j, were verified by the owner of either row's group: move
      // them to the owner of row i so that every pair has one home across repetitions.
      if (self_join) {
        std::vector<std::vector<Pair>> to(P);
        for (const Pair& pr : run.pairs) to[tiled_a.owner(pr.i)].push_back(pr);
        run.pairs.clear();
        for (const auto& from : alltoallv(comm, to)) run.pairs.insert(run.pairs.end(), from.begin(), from.end());
      }
      sort_pairs(run.pairs);
      run.pairs.erase(
          std::unique(run.pairs.begin(), run.pairs.end(), [](auto& x, auto& y) { return x.i == y.i && x.j == y.j; }),
          run.pairs.end());
      catches.add(run.pairs);
      before = sum_over(comm, static_cast<std::int64_t>(union_pairs.size()));
      merge_pairs(union_pairs, run.pairs);
      detected = sum_over(comm, static_cast<std::int64_t>(union_pairs.size())) - before;
    });

    CompletionWork completed_now;
    if (o.complete)
      rep_times.time("complete", [&] { completed_now = complete_neighbourhoods(completion, completed, union_pairs); });
    const std::int64_t distinct = before + detected + completed_now.new_pairs;

    // What can still be missing: lone pairs no repetition caught (recall.hpp).
    Catches seen;
    seen.reps = rep + 1;
    MissEstimate estimate;
    rep_times.time("recall", [&] {
      const std::vector<char> lone = isolated_pairs(comm, union_pairs, tiled_a, tiled_b, self_join);
      const std::vector<int> caught = catches.of(union_pairs);
      for (std::size_t k = 0; k < union_pairs.size(); ++k) {
        const int c = caught[k];
        if (c == 0) continue;
        ++seen.caught_pairs;
        seen.caught_catches += c;
        if (lone[k]) {
          ++seen.lone_pairs;
          seen.lone_catches += c;
        }
      }
      for (std::int64_t* v : {&seen.lone_pairs, &seen.lone_catches, &seen.caught_pairs, &seen.caught_catches})
        *v = sum_over(comm, *v);
      estimate = estimate_missing(seen, o.model_miss_per_rep);
      // The lone-pair estimate stands for clustered pairs only because completion finds
      // every pair sharing a row with a found one.
      if (!o.complete && seen.caught_pairs > seen.lone_pairs) {
        estimate.bounded = false;
        estimate.basis = "completion is off and heavy pairs share rows: their misses are not bounded";
      }
    });
    run.missing_estimate = estimate.bounded ? estimate.missing : std::numeric_limits<double>::infinity();
    run.miss_bounded = estimate.bounded;
    run.missing_basis = estimate.basis;

    nlohmann::ordered_json stats = {
        {"repetition", rep},
        {"groups", {G_A, G_B}},
        {"panels", work.panels},
        {"candidates", sum_over(comm, work.candidates)},
        {"false_candidates", sum_over(comm, work.empty)},
        {"pairs_verified", sum_over(comm, static_cast<std::int64_t>(run.pairs.size()))},
        {"new_pairs", detected},
        {"completion",
         {{"rows", completed_now.rows},
          {"rounds", completed_now.rounds},
          {"pair_checks", completed_now.pair_checks},
          {"new_pairs", completed_now.new_pairs}}},
        {"distinct_pairs", distinct},
        {"lone_pairs", seen.lone_pairs},
        {"missing_estimate", estimate.bounded ? nlohmann::ordered_json(estimate.missing) : nlohmann::ordered_json()},
        {"times", gather_stage_times(comm, rep_times)}};
    const double product_seconds =
        stats["times"].contains(work.product_stage) ? stats["times"][work.product_stage]["max"].get<double>() : 0.0;
    const double rate = product_seconds > 0 ? work.work / product_seconds : 0.0;
    stats[work.rate_name] = work.rate_name == "gemm_gflops" ? rate / 1e9 : rate;
    spdlog::info(
        "sketch: repetition {}{}: {} x {} groups, {} candidates ({} false), {} pairs detected ({} new), "
        "completion of {} rows added {}, {}",
        rep + 1, rep < o.reps ? fmt::format("/{}", o.reps) : fmt::format(" (recall control, cap {})", cap), G_A, G_B,
        stats["candidates"].get<std::int64_t>(), stats["false_candidates"].get<std::int64_t>(),
        stats["pairs_verified"].get<std::int64_t>(), detected, completed_now.rows, completed_now.new_pairs,
        work.rate_name == "gemm_gflops" ? fmt::format("GEMM {:.1f} GFLOP/s", rate / 1e9)
                                        : fmt::format("{:.3g} sketch pairs/s", rate));
    for (const auto& [stage, seconds] : rep_times.stages()) times.add(stage, seconds);
    run.repetitions.push_back(std::move(stats));
    run.reps_run = rep + 1;
    if (o.expect_k) {
      if (distinct >= *o.expect_k) {
        run.stopped = fmt::format("--expect-k {} reached after {} repetitions", *o.expect_k, rep + 1);
        break;
      }
      continue;  // until K or the cap
    }
    if (rep + 1 < o.reps) continue;
    if (o.max_reps <= o.reps) {
      run.stopped = fmt::format("the planned {} repetition{} ran", o.reps, o.reps == 1 ? "" : "s");
      break;
    }
    // A plan's model alone ends recall control only when the planner chose the plan to meet
    // --delta (auto); otherwise at least two repetitions measure the catch rate.
    if ((rep > 0 || o.plan_meets_delta) && estimate.bounded && estimate.missing < 0.5) {
      run.stopped = fmt::format("{:.2g} heavy pairs estimated missing after {} repetition{} and completion, from {}",
                                estimate.missing, rep + 1, rep == 0 ? "" : "s", estimate.basis);
      break;
    }
  }
  std::int64_t by_completion = 0;  // found only by completion: what the repetitions alone missed
  for (int c : catches.of(union_pairs)) by_completion += c == 0;
  run.found_by_completion = sum_over(comm, by_completion);
  const std::int64_t distinct_total = sum_over(comm, static_cast<std::int64_t>(union_pairs.size()));
  const bool capped = run.stopped.empty();
  if (capped)
    run.stopped = o.expect_k ? fmt::format("repetition cap {} reached with {} of the {} expected heavy pairs", cap,
                                           distinct_total, *o.expect_k)
                             : fmt::format("repetition cap {} reached", cap);
  if (rank == 0) {
    if (capped) spdlog::warn("sketch: {}", run.stopped);
    if (!capped) spdlog::info("sketch: {}", run.stopped);
    if (run.found_by_completion > 0)
      spdlog::info("sketch: completion found {} heavy pairs the repetitions missed", run.found_by_completion);
    if (!run.miss_bounded)
      spdlog::warn("sketch: misses are not bounded ({}); use more repetitions (--max-reps) or --method brute",
                   run.missing_basis);
    else if (run.missing_estimate >= 0.5)
      spdlog::warn("sketch: about {:.1f} heavy pairs may still be missing ({})", run.missing_estimate,
                   run.missing_basis);
  }
  run.pairs = std::move(union_pairs);
}

// T_det: --detect-threshold as given, or the signal less z noise standard deviations, the
// noise measured on a sample of the data (DESIGN.md section 3; sign_sketch.hpp).
template <class Matrix>
void set_detect_threshold(const Comm& comm, const LocalRows<Matrix>& a_rows, std::int64_t n_a,
                          const LocalRows<Matrix>& b_rows, std::int64_t n_b, bool self_join, const Threshold& threshold,
                          const SketchOptions& o, std::uint64_t seed, StageTimes& times, SketchRun& run) {
  const std::int64_t g_a = o.group_a, g_b = self_join ? o.group_a : o.group_b;
  const bool sign = o.sketch == SketchKind::Sign;
  if (o.detect_threshold) {
    run.detect_threshold = *o.detect_threshold;
  } else {
    std::vector<std::int64_t> sign_groups;
    if (sign) sign_groups = g_a == g_b ? std::vector<std::int64_t>{g_a} : std::vector<std::int64_t>{g_a, g_b};
    run.background = times.time("sample", [&] {
      return estimate_background(comm, a_rows, n_a, b_rows, n_b, self_join, threshold, o.sample_rows, seed,
                                 sign_groups);
    });
    double signal = 0, sd = 0;
    if (sign) {
      signal = majority_gain(g_a) * majority_gain(g_b) * threshold.theta;
      sd = std::sqrt(run.background.sign_m2(g_a, g_b));
    } else {
      // Degree 2 multiplies <a,b>^2: the signal is theta^2 and the noise has variance
      // g_A * g_B * E[<a,b>^4].
      signal = o.degree == 1 ? threshold.theta : threshold.theta * threshold.theta;
      sd = std::sqrt(double(g_a) * double(g_b) * (o.degree == 1 ? run.background.m2 : run.background.m4));
    }
    run.detect_threshold = signal - o.z * sd;
  }
  if (run.detect_threshold <= 0 && comm.rank() == 0)  // the same on every rank: said once
    spdlog::warn(
        "sketch: detection threshold {:.4g} <= 0: every group pair is a candidate (the sketch cannot separate "
        "heavy pairs at these group sizes; use smaller groups or --method brute)",
        run.detect_threshold);
}

template <class Matrix, class T>
SketchRun solve_linear(const Comm& comm, const LocalRows<Matrix>& a_rows, std::int64_t n_a,
                       const LocalRows<Matrix>& b_rows, std::int64_t n_b, bool self_join, const Threshold& threshold,
                       const SketchOptions& o, std::uint64_t seed, StageTimes& times) {
  SketchRun run;
  set_detect_threshold(comm, a_rows, n_a, b_rows, n_b, self_join, threshold, o, seed, times, run);
  const std::int64_t g_a = o.group_a, g_b = self_join ? o.group_a : o.group_b;
  const GridShape shape =
      o.grid.empty()
          ? product_grid(comm.size(), Grouping(n_a, g_a, o.tile_for(g_a), seed, 0, 0).groups(),
                         Grouping(n_b, g_b, o.tile_for(g_b), seed, 0, 1).groups(), o.block_size, panel_elements<T>(o))
          : parse_grid(o.grid, comm.size());
  run.grid = shape.str();
  LinearProduct<Matrix, T> product(comm, o, shape, run.detect_threshold);
  run_repetitions(comm, a_rows, n_a, b_rows, n_b, self_join, threshold, o, seed, times, product, run);
  run.largest_panel_elements =
      boost::mpi::all_reduce(comm, product.largest_panel(), boost::mpi::maximum<std::int64_t>());
  return run;
}

SketchRun solve_sign(const Comm& comm, const LocalRows<BitMatrix>& a_rows, std::int64_t n_a,
                     const LocalRows<BitMatrix>& b_rows, std::int64_t n_b, bool self_join, const Threshold& threshold,
                     const SketchOptions& o, std::uint64_t seed, StageTimes& times) {
  SketchRun run;
  set_detect_threshold(comm, a_rows, n_a, b_rows, n_b, self_join, threshold, o, seed, times, run);
  run.grid = "ring of " + std::to_string(comm.size());
  SignProduct product(comm, run.detect_threshold);
  run_repetitions(comm, a_rows, n_a, b_rows, n_b, self_join, threshold, o, seed, times, product, run);
  return run;
}

}  // namespace

void SketchOptions::check(int ranks) const {
  if (group_a < 1 || group_b < 1) throw InputError("--group-size must be >= 1");
  if (reps < 1) throw InputError("--reps must be >= 1");
  if (max_reps < 0) throw InputError("--max-reps must be >= 0 (0: no recall control), got " + std::to_string(max_reps));
  if (!(z >= 0) || !std::isfinite(z)) throw InputError("--z must be a finite number >= 0");
  if (detect_threshold && !std::isfinite(*detect_threshold)) throw InputError("--detect-threshold must be finite");
  if (block_size < 1) throw InputError("--block-size must be >= 1");
  if (k_block < 1) throw InputError("--k-block must be >= 1");
  if (!(panel_mib > 0)) throw InputError("--panel-mib must be > 0");
  if (sample_rows < 1) throw InputError("--sample-rows must be >= 1");
  if (tile_rows < 1) throw InputError("--tile-rows must be >= 1");
  if (degree != 1 && degree != 2) throw InputError("--degree must be 1 or 2");
  if (!grid.empty()) parse_grid(grid, ranks);
}

RowRange sketch_rows(std::int64_t n, std::int64_t group, const SketchOptions& o, int parts, int rank) {
  return TiledRows{n, o.tile_for(group), parts}.rows(rank);
}

template <class Matrix>
SketchRun sketch_solve(const Comm& comm, const LocalRows<Matrix>& a, std::int64_t n_a, const LocalRows<Matrix>* b,
                       std::int64_t n_b, const Threshold& threshold, const SketchOptions& o, std::uint64_t seed,
                       StageTimes& times) {
  const bool self_join = b == nullptr;
  const LocalRows<Matrix>& b_rows = self_join ? a : *b;
  if (o.sketch == SketchKind::Sign) {
    if constexpr (std::is_same_v<Matrix, BitMatrix>) {
      return solve_sign(comm, a, n_a, b_rows, n_b, self_join, threshold, o, seed, times);
    } else {
      throw InputError("--sketch sign is for binary (+-1) data; real data take --sketch linear", true);
    }
  }
  // Binary sketches hold integers: float32 is exact while every |C| <= g_A * g_B * d^degree
  // < 2^24, float64 beyond. Real sketches are float32: their rounding (about 1e-7 of |C|)
  // is far below the sketch noise, and C only selects candidates, which are verified with
  // float64 sums. float32 GEMM runs twice as fast (real, d = 1024: 97 GFLOP/s per rank in
  // float64).
  const std::int64_t g_b = b ? o.group_b : o.group_a;
  const bool float32 = std::is_same_v<Matrix, RealMatrix> ||
                       double(o.group_a) * double(g_b) * std::pow(double(a.rows.cols()), o.degree) < double(1 << 24);
  return float32 ? solve_linear<Matrix, float>(comm, a, n_a, b_rows, n_b, self_join, threshold, o, seed, times)
                 : solve_linear<Matrix, double>(comm, a, n_a, b_rows, n_b, self_join, threshold, o, seed, times);
}

template SketchRun sketch_solve(const Comm&, const LocalRows<BitMatrix>&, std::int64_t, const LocalRows<BitMatrix>*,
                                std::int64_t, const Threshold&, const SketchOptions&, std::uint64_t, StageTimes&);
template SketchRun sketch_solve(const Comm&, const LocalRows<RealMatrix>&, std::int64_t, const LocalRows<RealMatrix>*,
                                std::int64_t, const Threshold&, const SketchOptions&, std::uint64_t, StageTimes&);

}  // namespace hipi
