// Recall control of the sketch solver (sketch_recall.hpp): repetitions around one product,
// their union, neighbourhood completion, the miss estimate and when to stop.
#include "methods/sketch/recall/repetitions.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <limits>

#include "methods/sketch/recall/completion.hpp"
#include "parallel/log.hpp"
#include "methods/sketch/recall/miss_estimate.hpp"
#include "methods/sketch/sign.hpp"
#include "methods/sketch/recall/background.hpp"

namespace hipi {

namespace {

std::int64_t sum_over(const Comm& comm, std::int64_t v) {
  return boost::mpi::all_reduce(comm, v, std::plus<std::int64_t>());
}

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
}  // namespace

template <class Matrix>
void run_repetitions(const SketchContext<Matrix>& ctx, SketchProduct<Matrix>& product, SketchRun& run) {
  const Comm& comm = ctx.comm;
  const LocalRows<Matrix>&a_rows = ctx.a, &b_rows = ctx.b;
  const std::int64_t n_a = ctx.n_a, n_b = ctx.n_b;
  const bool self_join = ctx.self_join;
  const Threshold& threshold = ctx.threshold;
  const SketchOptions& o = ctx.options;
  const std::uint64_t seed = ctx.seed;
  StageTimes& times = ctx.times;
  const int P = comm.size(), rank = comm.rank();
  const std::int64_t g_a = o.group_a, g_b = self_join ? o.group_a : o.group_b;
  const TiledRows tiled_a{n_a, o.tile_for(g_a, n_a, P), P}, tiled_b{n_b, o.tile_for(g_b, n_b, P), P};
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
    const SketchSide<Matrix> a{a_rows, tiled_a, group_a, LocalGroups(group_a, a_rows.range)};
    const SketchSide<Matrix> b{b_rows, tiled_b, group_b, self_join ? a.groups : LocalGroups(group_b, b_rows.range)};
    const std::int64_t G_A = group_a.groups(), G_B = group_b.groups();
    run.c_elements = G_A * G_B;
    run.pairs.clear();
    const RepetitionWork work = product.run({comm, a, b, self_join, threshold, rep_times}, run.pairs);

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
    // Every verified pair stays to the end (completion and the catch counts need them): a
    // rank they took past the budget stops the run here rather than grow further.
    if (ctx.budget)
      agree(comm, [&] {
        ctx.budget->check_held(fmt::format(
            "the {} heavy pairs the sketch holds on this rank after repetition {} (every pair it verified, to "
            "complete their rows and count their catches; brute force and hashing spill theirs to disk: "
            "--method brute)",
            union_pairs.size(), rep + 1));
      });

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
void set_detect_threshold(const SketchContext<Matrix>& ctx, SketchRun& run) {
  const Comm& comm = ctx.comm;
  const SketchOptions& o = ctx.options;
  const Threshold& threshold = ctx.threshold;
  const std::int64_t g_a = ctx.group_a(), g_b = ctx.group_b();
  const bool sign = o.sketch == SketchKind::Sign;
  if (o.detect_threshold) {
    run.detect_threshold = *o.detect_threshold;
  } else {
    std::vector<std::int64_t> sign_groups;
    if (sign) sign_groups = g_a == g_b ? std::vector<std::int64_t>{g_a} : std::vector<std::int64_t>{g_a, g_b};
    run.background = ctx.times.time("sample", [&] {
      return estimate_background(comm, ctx.a, ctx.n_a, ctx.b, ctx.n_b, ctx.self_join, threshold, o.sample_rows,
                                 ctx.seed, sign_groups);
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

template void run_repetitions(const SketchContext<BitMatrix>&, SketchProduct<BitMatrix>&, SketchRun&);
template void run_repetitions(const SketchContext<RealMatrix>&, SketchProduct<RealMatrix>&, SketchRun&);
template void set_detect_threshold(const SketchContext<BitMatrix>&, SketchRun&);
template void set_detect_threshold(const SketchContext<RealMatrix>&, SketchRun&);

}  // namespace hipi
