#include "methods/sketch/recall/background.hpp"

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <limits>

#include "core/random.hpp"
#include "kernels/exact.hpp"
#include "methods/sketch/sign.hpp"

namespace hipi {

namespace {

enum Stream : std::uint64_t { kSample = 21 };

// Which rows a sample takes: `count` of the side's `n`, drawn from stream `side` of `seed`.
struct SampleDraw {
  std::int64_t n = 0, count = 0;
  std::uint64_t seed = 1;
  int side = 0;
};

// The sampled rows of one side, gathered on every rank in sample order, their ids in `ids`.
template <class Matrix>
Matrix gather_sample(const Comm& comm, const LocalRows<Matrix>& local, const SampleDraw& draw,
                     std::vector<std::int64_t>& ids) {
  const std::int64_t n = draw.n, count = draw.count;
  RandomStream rng(draw.seed, {kSample, static_cast<std::uint64_t>(draw.side)});
  ids.resize(count);
  for (auto& id : ids) id = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(n)));
  using V = typename Matrix::value_type;
  const std::int64_t stride = local.rows.stride();
  std::vector<V> mine;  // (sample position, row) records for the rows this rank holds
  for (std::int64_t k = 0; k < count; ++k)
    if (local.range.contains(ids[k])) {
      mine.push_back(static_cast<V>(k));  // exact: sample positions are small
      const V* row = local.rows.row(ids[k] - local.range.begin);
      mine.insert(mine.end(), row, row + stride);
    }
  // Every rank needs every record: an all-gather (not P copies of an all-to-all), in rounds
  // under mpi_byte_limit().
  const std::vector<V> all = all_gather_vector(comm, mine);
  Matrix sample(count, local.rows.cols());
  for (std::size_t at = 0; at < all.size(); at += 1 + stride)
    std::copy(all.begin() + at + 1, all.begin() + at + 1 + stride, sample.row(static_cast<std::int64_t>(all[at])));
  return sample;
}

}  // namespace

double BackgroundSample::sign_m2(std::int64_t group_a, std::int64_t group_b) const {
  for (const SignNoise& s : sign_noise)
    if (s.group_a == group_a && s.group_b == group_b) return s.m2;
  throw InternalError("sign-sketch noise for groups " + std::to_string(group_a) + "x" + std::to_string(group_b) +
                      " was not sampled");
}

template <class Matrix>
BackgroundSample estimate_background(const SampleSource<Matrix>& source, std::int64_t sample_rows,
                                     const std::vector<std::int64_t>& sign_groups) {
  const bool self_join = source.self_join;
  const Threshold& threshold = source.threshold;
  const std::uint64_t seed = source.seed;
  const std::int64_t n_a = source.n_a, n_b = source.n_b;
  std::vector<std::int64_t> ids_a, ids_b;
  const Matrix sa = gather_sample(source.comm, source.a, {n_a, std::min(sample_rows, n_a), seed, 0}, ids_a);
  const Matrix sb = gather_sample(source.comm, source.b, {n_b, std::min(sample_rows, n_b), seed, 1}, ids_b);
  std::vector<Pair> all;
  heavy_pairs({sa, 0}, {sb, 0}, Threshold{-std::numeric_limits<double>::infinity(), false}, PairFilter::All, all);
  BackgroundSample out;
  double sum2 = 0, sum4 = 0;
  for (const Pair& p : all) {
    if (threshold.passes(p.ip) || (self_join && ids_a[p.i] == ids_b[p.j])) continue;
    sum2 += p.ip * p.ip;
    sum4 += p.ip * p.ip * p.ip * p.ip;
    out.inner_products.push_back(p.ip);
    ++out.pairs;
  }
  out.m2 = out.pairs ? sum2 / static_cast<double>(out.pairs) : 0.0;
  out.m4 = out.pairs ? sum4 / static_cast<double>(out.pairs) : 0.0;
  if constexpr (std::is_same_v<Matrix, BitMatrix>) {
    // In a self-join the two samples can hold the same row, and two sketches sharing a row
    // correlate as no pair of distinct groups does: B's sample keeps only rows not in A's.
    BitMatrix sb_distinct;
    if (self_join) {
      std::vector<std::int64_t> sorted_a = ids_a, keep;
      std::sort(sorted_a.begin(), sorted_a.end());
      for (std::size_t k = 0; k < ids_b.size(); ++k)
        if (!std::binary_search(sorted_a.begin(), sorted_a.end(), ids_b[k]))
          keep.push_back(static_cast<std::int64_t>(k));
      sb_distinct = BitMatrix(static_cast<std::int64_t>(keep.size()), sb.cols());
      for (std::size_t k = 0; k < keep.size(); ++k)
        std::copy(sb.row(keep[k]), sb.row(keep[k]) + sb.stride(), sb_distinct.row(static_cast<std::int64_t>(k)));
    }
    const BitMatrix& sample_b = self_join ? sb_distinct : sb;
    std::vector<BitMatrix> sketches_a, sketches_b;
    for (std::int64_t g : sign_groups) {
      sketches_a.push_back(sample_sign_sketches(sa, g, seed, 0));
      sketches_b.push_back(sample_sign_sketches(sample_b, g, seed, 1));
    }
    for (std::size_t x = 0; x < sign_groups.size(); ++x)
      for (std::size_t y = 0; y < sign_groups.size(); ++y)
        if (!self_join || x == y)
          out.sign_noise.push_back(
              {sign_groups[x], sign_groups[y], mean_square_inner_product(sketches_a[x], sketches_b[y])});
  }
  return out;
}

std::int64_t probe_rows(std::int64_t n) {
  return std::min(n, std::clamp<std::int64_t>(n / 100, 8, 64));
}

namespace {

// probe_rows seeded rows of one side (B when `from_b`; streams 2 and 3, other rows than the
// background sample's) checked against this rank's rows of the other; adds to (partnered,
// partners) summed over ranks.
template <class Matrix>
void probe_side(const SampleSource<Matrix>& source, bool from_b, std::int64_t& partnered, std::int64_t& partners) {
  const Comm& comm = source.comm;
  const LocalRows<Matrix>& from = from_b ? source.b : source.a;
  const LocalRows<Matrix>& against = from_b ? source.a : source.b;
  const std::int64_t n_from = from_b ? source.n_b : source.n_a;
  const bool self_join = source.self_join;
  std::vector<std::int64_t> ids;
  const Matrix probe = gather_sample(comm, from, {n_from, probe_rows(n_from), source.seed, from_b ? 3 : 2}, ids);
  std::vector<Pair> hits;
  heavy_pairs({probe, 0}, {against.rows, against.range.begin}, source.threshold, PairFilter::All, hits);
  std::vector<std::int64_t> count(ids.size(), 0);
  for (const Pair& p : hits)
    if (!(self_join && ids[p.i] == p.j)) ++count[p.i];
  all_reduce_vector(comm, count, std::plus<std::int64_t>());
  for (std::int64_t c : count) {
    partnered += c > 0;
    partners += c;
  }
}

}  // namespace

template <class Matrix>
NeighbourhoodProbe probe_neighbourhoods(const SampleSource<Matrix>& source) {
  NeighbourhoodProbe out;
  out.probed_a = probe_rows(source.n_a);
  probe_side(source, false, out.partnered_a, out.partners_a);
  if (!source.self_join) {
    out.probed_b = probe_rows(source.n_b);
    probe_side(source, true, out.partnered_b, out.partners_b);
  }
  return out;
}

template NeighbourhoodProbe probe_neighbourhoods(const SampleSource<BitMatrix>&);
template NeighbourhoodProbe probe_neighbourhoods(const SampleSource<RealMatrix>&);
template BackgroundSample estimate_background(const SampleSource<BitMatrix>&, std::int64_t,
                                              const std::vector<std::int64_t>&);
template BackgroundSample estimate_background(const SampleSource<RealMatrix>&, std::int64_t,
                                              const std::vector<std::int64_t>&);

}  // namespace hipi
