// The prefix filter as a method (real data): brute force's ring, each block pair checked
// by a float32 GEMM of the first k coordinates on the data's principal axes with an exact
// bound on the rest (prefix_filter.hpp). Auto prices it by timing the filter on a sample
// of this rank's rows for a few k (the survivors depend on the data: real embeddings leave
// about 1% of pairs after 64 of 256 coordinates, isotropic data nearly all), and keeps the
// rotation and the best k for the run.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <chrono>
#include <cmath>
#include <limits>

#include "answer/top_k.hpp"
#include "kernels/top_k.hpp"
#include "methods/brute/brute_cost.hpp"
#include "methods/brute/brute_run.hpp"
#include "methods/prefix/prefix_filter.hpp"
#include "methods/solve_method.hpp"
#include "parallel/row_exchange.hpp"

namespace hipi {

namespace {

// Rows sampled for the axes, and the sample the filter is timed on (every rank the same).
constexpr std::int64_t kAxisSample = PrefixCheck::kAxisSampleRows;
constexpr std::int64_t kTimedRowsA = 1024, kTimedRowsB = 2048;
constexpr std::uint64_t kTimedStreamA = 51, kTimedStreamB = 53;
// Dimensions past this are not rotated (the eigendecomposition costs d^3).
constexpr std::int64_t kMaxD = 2048;

// What the measurement keeps for the run: the rotation and the k it chose.
struct PrefixPlan {
  std::shared_ptr<const Rotation> rotation;
  std::int64_t k = 0;
};

std::vector<std::int64_t> prefix_sizes(std::int64_t d) {
  std::vector<std::int64_t> ks;
  for (std::int64_t k : {16, 32, 64, 96, 128, 192, 256})
    if (2 * k <= d) ks.push_back(k);
  return ks;
}

// Why the tail bound cannot rule pairs out here, or nothing: tau against the sampled
// products of norms (with --cosine, tau itself). Even axes that gathered all but a fraction
// f of the energy leave tails of about f ||a|| ||b||.
std::string hopeless(const MethodInput<RealMatrix>& in) {
  if (in.options.problem.top_k > 0) return {};  // each row's floor is its own: the timed sample judges
  double ratio = in.threshold.theta;
  if (!in.threshold.cosine) {
    const auto rows = std::min<std::int64_t>(in.a.range.size(), 256);
    const std::vector<double> na = row_norms(in.a.rows, {0, rows});
    const LocalRows<RealMatrix>& b = in.b_or_a();
    const std::vector<double> nb = row_norms(b.rows, {0, std::min<std::int64_t>(b.range.size(), 256)});
    double typical = 0;
    for (std::size_t k = 0; k < std::min(na.size(), nb.size()); ++k) typical += na[k] * nb[k];
    typical = boost::mpi::all_reduce(in.comm, typical, std::plus<double>()) /
              std::max<double>(
                  1, boost::mpi::all_reduce(in.comm, double(std::min(na.size(), nb.size())), std::plus<double>()));
    ratio = typical > 0 ? in.threshold.theta / typical : 0;
  }
  if (in.threshold.abs) ratio = std::fabs(ratio);
  if (ratio >= 0.3) return {};
  return fmt::format("tau is {:.2g} of ||a|| ||b||: the tails' bound cannot rule pairs out", ratio);
}

// The filter timed on this rank's first rows, the slowest rank's figures.
struct Timing {
  std::int64_t k = 0;           // the fastest prefix
  double seconds_per_pair = 0;  // GEMM of the prefixes, the bound, the survivors' checks
  double seconds_per_row = 0;   // rotating a row
  double survivors = 0;         // fraction of the timed pairs the bound kept at k
  double brute_per_pair = 0;    // brute force's kernel on the same pairs (the GEMM filter)
  std::string hopeless;         // top-k: why the rows' floors leave the bound nothing to rule out
};

// Top-k: like hopeless() with each row's floor for tau: the median over the timed rows of
// floor / (||a|| ||b||), ||b|| the timed rows' median (cosine floors are that already).
std::string hopeless_floors(const std::vector<double>& floors, const RealMatrix& a, const RealMatrix& b,
                            const Threshold& t) {
  std::vector<double> ratio(floors.size());
  const std::vector<double> na = row_norms(a, {0, a.rows()});
  std::vector<double> nb = row_norms(b, {0, b.rows()});
  std::nth_element(nb.begin(), nb.begin() + nb.size() / 2, nb.end());
  for (std::size_t r = 0; r < floors.size(); ++r) {
    const double scale = t.cosine ? 1.0 : na[r] * nb[nb.size() / 2];
    ratio[r] = scale > 0 ? floors[r] / scale : 0.0;
    if (t.abs) ratio[r] = std::fabs(ratio[r]);
  }
  std::nth_element(ratio.begin(), ratio.begin() + ratio.size() / 2, ratio.end());
  const double median = ratio.empty() ? 0.0 : ratio[ratio.size() / 2];
  if (median >= 0.3) return {};
  return fmt::format("the rows' K-th best are {:.2g} of ||a|| ||b|| (median): the tails' bound cannot rule pairs out",
                     median);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

Timing time_filter(const MethodInput<RealMatrix>& in, const std::shared_ptr<const Rotation>& rotation) {
  const std::int64_t d = in.a.rows.cols();
  // Seeded random rows of the whole of A and of B, the same on every rank for any rank
  // count: the first rows of a file sorted by source or date are no sample of it.
  const std::uint64_t seed = in.options.seed;
  const RealMatrix timed_a = fetch_sample(in.comm, in.a, in.n_a, kTimedRowsA, seed, kTimedStreamA);
  const LocalRows<RealMatrix> b{{0, 0},
                                fetch_sample(in.comm, in.b_or_a(), in.b ? in.n_b : in.n_a, kTimedRowsB, seed,
                                             in.b ? kTimedStreamB : kTimedStreamA + 1)};
  const RowRange timed_b{0, b.rows.rows()};
  const double timed_pairs = std::max<double>(1, double(timed_a.rows()) * double(timed_b.size()));
  const auto slowest = [&](double local) {
    return boost::mpi::all_reduce(in.comm, local, boost::mpi::maximum<double>());
  };
  Timing best;
  auto start = std::chrono::steady_clock::now();
  rotate_rows(b.rows, timed_b, *rotation, d / 4, in.threshold.cosine);
  best.seconds_per_row = slowest(seconds_since(start) / std::max<double>(1, double(timed_b.size())));
  // Top-k: each timed row's floor is its K-th best on the timed rows of B, as the run's rows
  // start (top_k_ring seeds them from a sample as large); they rise from there as lists
  // fill, so this prices the filter on the safe side (on 20000 LSA rows at K 10 the run kept
  // 3.7% of pairs at k 128 where these floors kept 5.1%, the K-th best in all of B 0.8%).
  const std::int64_t k = in.options.problem.top_k;
  std::vector<double> floors;
  if (k > 0) {
    TopKLists seeded({0, timed_a.rows()}, k, in.threshold.theta, in.threshold.abs);
    const TopKTarget target{seeded.floors(), nullptr,
                            [&](std::int64_t i, std::int64_t j, double v) { seeded.offer(i, j, v); }};
    top_k_pairs({timed_a, 0}, {b.rows, 0}, in.threshold, PairFilter::All, target, timed_b);
    floors.assign(seeded.floors(), seeded.floors() + timed_a.rows());
    best.hopeless = hopeless_floors(floors, timed_a, b.rows, in.threshold);
    if (!best.hopeless.empty()) return best;  // every k would be timed for nothing
  }
  const TopKTarget fixed{floors.data(), nullptr, [](std::int64_t, std::int64_t, double) {}};
  const RowsAt<RealMatrix> a_rows{timed_a, 0}, b_rows{b.rows, 0};
  const RowRange warm_up{0, std::min<std::int64_t>(64, timed_b.size())};
  // Brute force's kernel, then the filter at each k, on the same pairs: their ratio prices it.
  const auto brute = [&](RowRange rows) {
    std::vector<Pair> found;
    if (k > 0) return top_k_pairs(a_rows, b_rows, in.threshold, PairFilter::All, fixed, rows);
    heavy_pairs(a_rows, b_rows, in.threshold, PairFilter::All, found, rows);
  };
  brute(warm_up);
  start = std::chrono::steady_clock::now();
  brute(timed_b);
  best.brute_per_pair = slowest(seconds_since(start) / timed_pairs);
  double fastest = std::numeric_limits<double>::infinity();
  for (std::int64_t pk : prefix_sizes(d)) {
    const PrefixCheck check(rotation, pk, in.threshold.cosine);
    const auto filter_pairs = [&](RowRange rows) {
      std::vector<Pair> found;
      if (k > 0) return check.top_k(a_rows, b_rows, in.threshold, PairFilter::All, fixed, rows);
      check.pairs(a_rows, b_rows, in.threshold, PairFilter::All, found, rows);
    };
    filter_pairs(warm_up);
    const std::int64_t warm = check.survivors();  // A rotated and cached, buffers touched
    start = std::chrono::steady_clock::now();
    filter_pairs(timed_b);
    const double filter = std::max(0.0, seconds_since(start) - best.seconds_per_row * double(timed_b.size()));
    const double per_pair = slowest(filter / timed_pairs);
    if (per_pair < fastest) {
      fastest = per_pair;
      best.k = pk;
      best.seconds_per_pair = per_pair;
      best.survivors = double(check.survivors() - warm) / timed_pairs;
    }
  }
  return best;
}

class PrefixMethod : public SolveMethodOf<PrefixMethod> {
 public:
  Method id() const override { return Method::Prefix; }
  std::string name() const override { return "prefix"; }
  std::string summary() const override {
    return "exact prefix bound after a rotation to principal axes (real data: embeddings)";
  }
  bool serves(Mode mode) const override { return mode == Mode::Real; }
  bool checkpoints() const override { return true; }
  bool serves_top_k() const override { return true; }

  void measure(const MethodInput<BitMatrix>&, ProblemShape&) const override {}

  void measure(const MethodInput<RealMatrix>& in, ProblemShape& shape) const override {
    const std::int64_t d = in.a.rows.cols();
    std::string why = d > kMaxD                 ? fmt::format("d = {} is past {} (the rotation costs d^3)", d, kMaxD)
                      : prefix_sizes(d).empty() ? "d is too small to split"
                                                : hopeless(in);
    if (!why.empty()) {
      shape.cannot_run[id()] = why;
      return;
    }
    auto rotation = std::make_shared<const Rotation>(principal_axes(in, kAxisSample));
    const Timing t = time_filter(in, rotation);
    if (!t.hopeless.empty()) {
      shape.cannot_run[id()] = t.hopeless;
      return;
    }
    const double pairs = in.self_join() ? double(in.n_a) * double(in.n_a - 1) / 2 : double(in.n_a) * double(in.n_b);
    // Every rank rotates its rows of A once and every row of B as it passes.
    const double rotated_rows = double(in.n_a) / in.comm.size() + double(in.self_join() ? in.n_a : in.n_b);
    shape.measured_seconds[id()] = pairs / in.comm.size() * t.seconds_per_pair + rotated_rows * t.seconds_per_row;
    if (t.brute_per_pair > 0)
      shape.against_brute[id()] = {t.seconds_per_pair / t.brute_per_pair, rotated_rows * t.seconds_per_row};
    const std::int64_t best_k = t.k;
    const double best_survivors = t.survivors;
    in.scratch.kept[id()] = std::make_shared<const PrefixPlan>(PrefixPlan{rotation, best_k});
    shape.measured_detail[id()] = fmt::format("k = {} of {} coordinates; {:.3g}% of sampled pairs survive the bound",
                                              best_k, d, 100 * best_survivors);
  }

  // Priced against brute force's plan, scaled by the two kernels' times on one sample under
  // one load (the machine profile may have been measured on a quieter machine).
  Pricing price(const ProblemShape& shape, const MachineProfile& machine, double) const override {
    if (shape.mode != Mode::Real) return {{}, "binary data"};
    const auto why = shape.cannot_run.find(id());
    if (why != shape.cannot_run.end()) return {{}, "not priced: " + why->second};
    const auto measured = shape.measured_seconds.find(id());
    if (measured == shape.measured_seconds.end()) return {{}, "not measured"};
    Plan p;
    p.method = id();
    p.seconds = measured->second;
    if (const auto a = shape.against_brute.find(id()); a != shape.against_brute.end())
      p.seconds = plan_brute(shape, machine).seconds * a->second.ratio + a->second.fixed_seconds;
    p.stages = {{"compute", p.seconds}};
    if (const auto d = shape.measured_detail.find(id()); d != shape.measured_detail.end()) p.detail = d->second;
    // Priced from the profile's brute-force rate; the sample's own clock says otherwise
    // when the profile was measured under another load: shown, for the plan and the log.
    if (measured->second > 0 && (p.seconds > 2 * measured->second || measured->second > 2 * p.seconds))
      p.detail += fmt::format(
          "; the sample's own timing predicts {:.3g} s (the machine profile's rates are {:.2g}x "
          "off this load)",
          measured->second, p.seconds / measured->second);
    return {{p}, {}};
  }

  template <class Matrix>
  MethodResult run_rows(const MethodInput<Matrix>& in, const Plan*, ResumeState& resume) const {
    if constexpr (std::is_same_v<Matrix, BitMatrix>) {
      throw InternalError("the prefix filter got binary rows");
    } else {
      const auto kept = in.scratch.kept.find(id());
      PrefixPlan plan;
      if (kept != in.scratch.kept.end()) {
        plan = *std::static_pointer_cast<const PrefixPlan>(kept->second);
      } else {  // asked for by name: the axes, and a quarter of the coordinates (8 at least, d at most)
        plan.rotation = std::make_shared<const Rotation>(principal_axes(in, kAxisSample));
        plan.k = PrefixCheck::k_by_name(in.a.rows.cols());
      }
      const PrefixCheck check(plan.rotation, plan.k, in.threshold.cosine);
      MethodResult out = run_ring(in, resume, name(), &check);
      const std::int64_t survivors = boost::mpi::all_reduce(in.comm, check.survivors(), std::plus<std::int64_t>());
      out.parameters = {{"prefix_coordinates", plan.k},
                        {"axes_energy_in_prefix", energy_share(*plan.rotation, plan.k)},
                        {"survivors", survivors}};
      return out;
    }
  }

 private:
  static double energy_share(const Rotation& r, std::int64_t k) {
    double head = 0, all = 0;
    for (std::int64_t c = 0; c < r.d; ++c) (c < k ? head : all) += r.energy[c];
    all += head;
    return all > 0 ? head / all : 0.0;
  }
};

}  // namespace

const SolveMethod& prefix_method() {
  static const PrefixMethod method;
  return method;
}

}  // namespace hipi
