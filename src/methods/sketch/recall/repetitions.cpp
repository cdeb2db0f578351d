// Recall control of the sketch solver (repetitions.hpp): repetitions around one product,
// their union, neighbourhood completion, the miss estimate and when to stop.
#include "methods/sketch/recall/repetitions.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <limits>

#include "methods/sketch/recall/background.hpp"
#include "methods/sketch/recall/completion.hpp"
#include "methods/sketch/recall/miss_estimate.hpp"
#include "methods/sketch/sign.hpp"
#include "parallel/log.hpp"

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

// What one repetition did, for its statistics and the stopping rule.
struct RepetitionOutcome {
  RepetitionWork work;
  std::int64_t groups_a = 0, groups_b = 0;
  std::int64_t detected = 0;  // new distinct pairs the product found (before completion)
  CompletionWork completed;
  std::int64_t distinct = 0;  // distinct pairs after this repetition and its completion
  Catches seen;
  MissEstimate estimate;
  StageTimes times;
};

// Repetitions with recall control around one product (LinearProduct or SignProduct). After
// each repetition every row of a found pair is completed (completion.hpp), and what can
// still be missing is estimated from the lone pairs (miss_estimate.hpp).
template <class Matrix>
class RepetitionLoop {
 public:
  RepetitionLoop(const SketchContext<Matrix>& ctx, SketchProduct<Matrix>& product, SketchRun& run)
      : ctx_(ctx),
        o_(ctx.options),
        product_(product),
        run_(run),
        g_a_(o_.group_a),
        g_b_(ctx.self_join ? o_.group_a : o_.group_b),
        tiled_a_{ctx.n_a, o_.tile_for(g_a_, ctx.n_a, ctx.comm.size()), ctx.comm.size()},
        tiled_b_{ctx.n_b, o_.tile_for(g_b_, ctx.n_b, ctx.comm.size()), ctx.comm.size()},
        completion_{ctx.comm, ctx.a, ctx.b, tiled_a_, tiled_b_, ctx.self_join, ctx.threshold},
        completed_(ctx.a.range, ctx.b.range),
        cap_(std::max(o_.reps, o_.max_reps)) {
    HIPI_ASSERT(ctx.a.range == tiled_a_.rows(ctx.comm.rank()) && ctx.b.range == tiled_b_.rows(ctx.comm.rank()));
  }

  void run() {
    for (int rep = 0; rep < cap_; ++rep) {
      RepetitionOutcome r;
      product_step(rep, r);
      collect(r);
      if (o_.complete)
        r.times.time("complete", [&] { r.completed = complete_neighbourhoods(completion_, completed_, union_pairs_); });
      r.distinct += r.completed.new_pairs;
      check_budget(rep);
      estimate_missing_pairs(rep, r);
      record(rep, r);
      if (stops_after(rep, r)) break;
    }
    finish();
  }

 private:
  // The product of repetition `rep`: its groups, candidates and verified pairs (run_.pairs).
  void product_step(int rep, RepetitionOutcome& r) {
    const Grouping group_a(ctx_.n_a, g_a_, tiled_a_.tile, ctx_.seed, rep, 0);
    const Grouping group_b = ctx_.self_join ? group_a : Grouping(ctx_.n_b, g_b_, tiled_b_.tile, ctx_.seed, rep, 1);
    const SketchSide<Matrix> a{ctx_.a, tiled_a_, group_a, LocalGroups(group_a, ctx_.a.range)};
    const SketchSide<Matrix> b{ctx_.b, tiled_b_, group_b,
                               ctx_.self_join ? a.groups : LocalGroups(group_b, ctx_.b.range)};
    r.groups_a = group_a.groups();
    r.groups_b = group_b.groups();
    run_.c_elements = r.groups_a * r.groups_b;
    run_.pairs.clear();
    r.work = product_.run({ctx_.comm, a, b, ctx_.self_join, ctx_.threshold, r.times}, run_.pairs);
  }

  // The repetition's pairs, distinct, united with those found before on the rank that owns
  // row i (its tile's owner): the same rank in every repetition, so local sets are exact.
  void collect(RepetitionOutcome& r) {
    const Comm& comm = ctx_.comm;
    std::vector<Pair>& pairs = run_.pairs;
    r.times.time("collect", [&] {
      // Self-join pairs (i, j), i < j, were verified by the owner of either row's group: move
      // them to the owner of row i so that every pair has one home across repetitions.
      if (ctx_.self_join) {
        std::vector<std::vector<Pair>> to(comm.size());
        for (const Pair& pr : pairs) to[tiled_a_.owner(pr.i)].push_back(pr);
        pairs.clear();
        for (const auto& from : alltoallv(comm, to)) pairs.insert(pairs.end(), from.begin(), from.end());
      }
      sort_pairs(pairs);
      pairs.erase(std::unique(pairs.begin(), pairs.end(), [](auto& x, auto& y) { return x.i == y.i && x.j == y.j; }),
                  pairs.end());
      catches_.add(pairs);
      const std::int64_t before = sum_over(comm, static_cast<std::int64_t>(union_pairs_.size()));
      merge_pairs(union_pairs_, pairs);
      r.detected = sum_over(comm, static_cast<std::int64_t>(union_pairs_.size())) - before;
      r.distinct = before + r.detected;
    });
  }

  // Every verified pair stays to the end (completion and the catch counts need them): a
  // rank they took past the budget stops the run here rather than grow further.
  void check_budget(int rep) const {
    if (!ctx_.budget) return;
    agree(ctx_.comm, [&] {
      ctx_.budget->check_held(fmt::format(
          "the {} heavy pairs the sketch holds on this rank after repetition {} (every pair it verified, to "
          "complete their rows and count their catches; brute force and hashing spill theirs to disk: "
          "--method brute)",
          union_pairs_.size(), rep + 1));
    });
  }

  // What can still be missing: lone pairs no repetition caught (miss_estimate.hpp).
  void estimate_missing_pairs(int rep, RepetitionOutcome& r) {
    const Comm& comm = ctx_.comm;
    Catches& seen = r.seen;
    seen.reps = rep + 1;
    r.times.time("recall", [&] {
      const std::vector<char> lone = isolated_pairs(comm, union_pairs_, tiled_a_, tiled_b_, ctx_.self_join);
      const std::vector<int> caught = catches_.of(union_pairs_);
      for (std::size_t k = 0; k < union_pairs_.size(); ++k) {
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
      r.estimate = estimate_missing(seen, o_.model_miss_per_rep);
      // The lone-pair estimate stands for clustered pairs only because completion finds
      // every pair sharing a row with a found one.
      if (!o_.complete && seen.caught_pairs > seen.lone_pairs) {
        r.estimate.bounded = false;
        r.estimate.basis = "completion is off and heavy pairs share rows: their misses are not bounded";
      }
    });
    run_.missing_estimate = r.estimate.bounded ? r.estimate.missing : std::numeric_limits<double>::infinity();
    run_.miss_bounded = r.estimate.bounded;
    run_.missing_basis = r.estimate.basis;
  }

  // The repetition's statistics into run_.repetitions and the log, its times into the run's.
  void record(int rep, const RepetitionOutcome& r) {
    const Comm& comm = ctx_.comm;
    const RepetitionWork& work = r.work;
    nlohmann::ordered_json stats = {{"repetition", rep},
                                    {"groups", {r.groups_a, r.groups_b}},
                                    {"panels", work.panels},
                                    {"candidates", sum_over(comm, work.candidates)},
                                    {"false_candidates", sum_over(comm, work.empty)},
                                    {"pairs_verified", sum_over(comm, static_cast<std::int64_t>(run_.pairs.size()))},
                                    {"new_pairs", r.detected},
                                    {"completion",
                                     {{"rows", r.completed.rows},
                                      {"rounds", r.completed.rounds},
                                      {"pair_checks", r.completed.pair_checks},
                                      {"new_pairs", r.completed.new_pairs}}},
                                    {"distinct_pairs", r.distinct},
                                    {"lone_pairs", r.seen.lone_pairs},
                                    {"missing_estimate", r.estimate.bounded ? nlohmann::ordered_json(r.estimate.missing)
                                                                            : nlohmann::ordered_json()},
                                    {"times", gather_stage_times(comm, r.times)}};
    const double product_seconds =
        stats["times"].contains(work.product_stage) ? stats["times"][work.product_stage]["max"].get<double>() : 0.0;
    const double rate = product_seconds > 0 ? work.work / product_seconds : 0.0;
    stats[work.rate_name] = work.rate_name == "gemm_gflops" ? rate / 1e9 : rate;
    spdlog::info(
        "sketch: repetition {}{}: {} x {} groups, {} candidates ({} false), {} pairs detected ({} new), "
        "completion of {} rows added {}, {}",
        rep + 1, rep < o_.reps ? fmt::format("/{}", o_.reps) : fmt::format(" (recall control, cap {})", cap_),
        r.groups_a, r.groups_b, stats["candidates"].get<std::int64_t>(), stats["false_candidates"].get<std::int64_t>(),
        stats["pairs_verified"].get<std::int64_t>(), r.detected, r.completed.rows, r.completed.new_pairs,
        work.rate_name == "gemm_gflops" ? fmt::format("GEMM {:.1f} GFLOP/s", rate / 1e9)
                                        : fmt::format("{:.3g} sketch pairs/s", rate));
    for (const auto& [stage, seconds] : r.times.stages()) ctx_.times.add(stage, seconds);
    run_.repetitions.push_back(std::move(stats));
    run_.reps_run = rep + 1;
  }

  // The stopping rule: --expect-k reached, the planned repetitions run without recall
  // control, or few enough pairs estimated missing; sets run_.stopped when it stops.
  bool stops_after(int rep, const RepetitionOutcome& r) {
    if (o_.expect_k) {
      if (r.distinct < *o_.expect_k) return false;  // until K or the cap
      run_.stopped = fmt::format("--expect-k {} reached after {} repetitions", *o_.expect_k, rep + 1);
      return true;
    }
    if (rep + 1 < o_.reps) return false;
    if (o_.max_reps <= o_.reps) {
      run_.stopped = fmt::format("the planned {} repetition{} ran", o_.reps, o_.reps == 1 ? "" : "s");
      return true;
    }
    // A plan's model alone ends recall control only when the planner chose the plan to meet
    // --delta (auto); otherwise at least two repetitions measure the catch rate.
    const MissEstimate& e = r.estimate;
    if ((rep > 0 || o_.plan_meets_delta) && e.bounded && e.missing < 0.5) {
      run_.stopped = fmt::format("{:.2g} heavy pairs estimated missing after {} repetition{} and completion, from {}",
                                 e.missing, rep + 1, rep == 0 ? "" : "s", e.basis);
      return true;
    }
    return false;
  }

  // What completion alone found, why the loop ended, its warnings; the united pairs into run_.pairs.
  void finish() {
    const Comm& comm = ctx_.comm;
    std::int64_t by_completion = 0;  // found only by completion: what the repetitions alone missed
    for (int c : catches_.of(union_pairs_)) by_completion += c == 0;
    run_.found_by_completion = sum_over(comm, by_completion);
    const std::int64_t distinct_total = sum_over(comm, static_cast<std::int64_t>(union_pairs_.size()));
    const bool capped = run_.stopped.empty();
    if (capped)
      run_.stopped = o_.expect_k ? fmt::format("repetition cap {} reached with {} of the {} expected heavy pairs", cap_,
                                               distinct_total, *o_.expect_k)
                                 : fmt::format("repetition cap {} reached", cap_);
    if (comm.rank() == 0) log_outcome(capped);
    run_.pairs = std::move(union_pairs_);
  }

  void log_outcome(bool capped) const {
    if (capped) spdlog::warn("sketch: {}", run_.stopped);
    if (!capped) spdlog::info("sketch: {}", run_.stopped);
    if (run_.found_by_completion > 0)
      spdlog::info("sketch: completion found {} heavy pairs the repetitions missed", run_.found_by_completion);
    if (!run_.miss_bounded)
      spdlog::warn("sketch: misses are not bounded ({}); use more repetitions (--max-reps) or --method brute",
                   run_.missing_basis);
    else if (run_.missing_estimate >= 0.5)
      spdlog::warn("sketch: about {:.1f} heavy pairs may still be missing ({})", run_.missing_estimate,
                   run_.missing_basis);
  }

  const SketchContext<Matrix>& ctx_;
  const SketchOptions& o_;
  SketchProduct<Matrix>& product_;
  SketchRun& run_;
  const std::int64_t g_a_, g_b_;
  const TiledRows tiled_a_, tiled_b_;
  const CompletionContext<Matrix> completion_;
  CompletedRows completed_;
  std::vector<Pair> union_pairs_;  // distinct verified pairs so far, sorted, on the owner of row i
  CatchCounts catches_;
  const int cap_;
};

}  // namespace

template <class Matrix>
void run_repetitions(const SketchContext<Matrix>& ctx, SketchProduct<Matrix>& product, SketchRun& run) {
  RepetitionLoop<Matrix>(ctx, product, run).run();
}

// T_det: --detect-threshold as given, or the signal less z noise standard deviations, the
// noise measured on a sample of the data (DESIGN.md section 3; sign.hpp).
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
      return estimate_background<Matrix>({comm, ctx.a, ctx.n_a, ctx.b, ctx.n_b, ctx.self_join, threshold, ctx.seed},
                                         o.sample_rows, sign_groups);
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
