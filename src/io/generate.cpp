#include "io/generate.hpp"

#include <unistd.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <boost/serialization/string.hpp>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "core/fault.hpp"
#include "core/matrix_blocks.hpp"
#include "core/random.hpp"
#include "io/atomic_file.hpp"
#include "io/hdf5.hpp"
#include "kernels/exact.hpp"
#include "parallel/log.hpp"

namespace hipi {

namespace {

// Stream names, so that no two uses of the seed share random numbers.
enum Stream : std::uint64_t { kRows = 1, kPlantChoice = 2, kPlantRow = 3 };

// Rows written per collective call, to bound the memory of one slab.
constexpr std::int64_t kSlabBytes = std::int64_t{1} << 26;

std::int64_t flips(const GenerateOptions& o) {
  return static_cast<std::int64_t>(std::floor(static_cast<double>(o.d) * (1.0 - o.value) / 2.0));
}

// `count` distinct values in [0, n), in random order (Floyd's algorithm, then shuffled).
std::vector<std::int64_t> distinct_sample(RandomStream& rng, std::int64_t n, std::int64_t count) {
  std::unordered_set<std::int64_t> chosen;
  std::vector<std::int64_t> out;
  for (std::int64_t j = n - count; j < n; ++j) {
    const auto t = static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(j + 1)));
    const std::int64_t pick = chosen.insert(t).second ? t : j;
    if (pick == j) chosen.insert(j);
    out.push_back(pick);
  }
  for (std::int64_t i = count - 1; i > 0; --i)
    std::swap(out[i], out[static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i + 1)))]);
  return out;
}

double dot(const float* a, const float* b, std::int64_t d) {
  RealMatrix x(1, d), y(1, d);
  std::copy(a, a + d, x.row(0));
  std::copy(b, b + d, y.row(0));
  return inner_product(x, 0, y, 0);  // the exact kernel's value: what solve will compute
}

}  // namespace

void GenerateOptions::check() const {
  if (n <= 0) throw InputError("--n must be positive, got " + std::to_string(n));
  if (n_b < 0) throw InputError("--n-b must be positive, got " + std::to_string(n_b));
  if (d <= 0) throw InputError("--d must be positive, got " + std::to_string(d));
  if (k < 0) throw InputError("--k must be >= 0, got " + std::to_string(k));
  if (self_join && n_b > 0) throw InputError("--n-b cannot be combined with --self-join");
  if (mode == Mode::Binary && !(value > 0 && value <= 1))
    throw InputError("--rho must be in (0, 1], got " + std::to_string(value));
  if (mode == Mode::Real && !(std::isfinite(value) && value > 0))
    throw InputError("--tau must be a positive number for planting, got " + std::to_string(value));
  if (!(margin >= 0) || !std::isfinite(margin)) throw InputError("--margin must be >= 0");
  if (packed && mode != Mode::Binary) throw InputError("--packed writes +-1 data as bits: it needs --type binary");
  const std::int64_t room = self_join ? n / 2 : std::min(n, rows_b());
  if (k > room)
    throw InputError("--k " + std::to_string(k) + " planted pairs need " +
                     (self_join ? "2k rows of A" : "k rows of A and of B") + "; there is room for " +
                     std::to_string(room));
}

std::vector<PlantedPair> planted_pairs(const GenerateOptions& o) {
  RandomStream rng(o.seed, {kPlantChoice});
  std::vector<PlantedPair> pairs(static_cast<std::size_t>(o.k));
  if (o.self_join) {
    const auto rows = distinct_sample(rng, o.n, 2 * o.k);
    for (std::int64_t p = 0; p < o.k; ++p) pairs[p] = {rows[p], rows[o.k + p]};
  } else {
    const auto sources = distinct_sample(rng, o.n, o.k);
    const auto targets = distinct_sample(rng, o.rows_b(), o.k);
    for (std::int64_t p = 0; p < o.k; ++p) pairs[p] = {sources[p], targets[p]};
  }
  return pairs;
}

void background_row(const GenerateOptions& o, int side, std::int64_t row, float* out) {
  RandomStream rng(o.seed, {kRows, static_cast<std::uint64_t>(side), static_cast<std::uint64_t>(row)});
  if (o.mode == Mode::Binary) {
    for (std::int64_t k = 0; k < o.d; k += 64) {
      const std::uint64_t bits = rng.next();
      for (std::int64_t b = 0; b < 64 && k + b < o.d; ++b) out[k + b] = (bits >> b) & 1 ? -1.0f : 1.0f;
    }
  } else {
    for (std::int64_t k = 0; k < o.d; ++k) out[k] = static_cast<float>(rng.normal());
  }
}

void planted_row(const GenerateOptions& o, std::int64_t pair, const float* source, float* out) {
  RandomStream rng(o.seed, {kPlantRow, static_cast<std::uint64_t>(pair)});
  if (o.mode == Mode::Binary) {
    std::copy(source, source + o.d, out);
    for (std::int64_t k : distinct_sample(rng, o.d, flips(o))) out[k] = -out[k];
    return;
  }
  // b = c*a + e, e standard normal: <a,b> = c*|a|^2 + <a,e>, with <a,e> ~ N(0, |a|^2).
  // Aim at tau plus `margin` standard deviations of the noise term, then correct c on the
  // float32 values that will be stored (<a,b> is linear in c) until the pair is heavy.
  std::vector<float> noise(static_cast<std::size_t>(o.d));
  for (auto& e : noise) e = static_cast<float>(rng.normal());
  double norm2 = 0;
  for (std::int64_t k = 0; k < o.d; ++k) norm2 += static_cast<double>(source[k]) * source[k];
  if (norm2 == 0) norm2 = 1;
  double noise_ip = 0;
  for (std::int64_t k = 0; k < o.d; ++k) noise_ip += static_cast<double>(source[k]) * noise[k];
  const double aim = o.value + o.margin * std::sqrt(norm2);
  double c = (aim - (o.margin > 0 ? 0.0 : noise_ip)) / norm2;  // margin 0: cancel this draw's noise
  for (int attempt = 0; attempt < 64; ++attempt) {
    for (std::int64_t k = 0; k < o.d; ++k) out[k] = static_cast<float>(c * source[k] + noise[k]);
    const double ip = dot(source, out, o.d);
    if (ip >= o.value) return;
    c += (o.value - ip) / norm2 + std::abs(o.value) * 1e-6 / norm2 + 1e-9;  // step over tau, barely
  }
  throw InternalError("could not plant a real pair reaching tau");
}

namespace {

// The planted pairs, and which rows of the target side (B, or A in a self-join) they make.
struct Planting {
  std::vector<PlantedPair> pairs;
  int target_side = 1;
  std::unordered_map<std::int64_t, std::int64_t> pair_of_target;

  explicit Planting(const GenerateOptions& o) : pairs(planted_pairs(o)), target_side(o.self_join ? 0 : 1) {
    for (std::int64_t p = 0; p < o.k; ++p) pair_of_target[pairs[p].target] = p;
  }
};

std::int64_t packed_bytes(const GenerateOptions& o) {
  return (o.d + 7) / 8;
}

void create_rows_dataset(h5::File& file, const GenerateOptions& o, const std::string& name, std::int64_t n) {
  if (o.packed) {
    file.create_dataset<std::uint8_t>(name, {n, packed_bytes(o)});
    file.set_dataset_attribute(name, "bits", o.d);
  } else if (o.mode == Mode::Binary) {
    file.create_dataset<std::int8_t>(name, {n, o.d});
  } else {
    file.create_dataset<float>(name, {n, o.d});
  }
}

// The values of rows `slab` of `side`, background or planted.
void fill_slab(const GenerateOptions& o, const Planting& planting, int side, RowRange slab,
               std::vector<float>& values) {
  std::vector<float> source(static_cast<std::size_t>(o.d));
  values.assign(static_cast<std::size_t>(slab.size() * o.d), 0.0f);
  for (std::int64_t row = slab.begin; row < slab.end; ++row) {
    float* dst = values.data() + (row - slab.begin) * o.d;
    const auto planted =
        side == planting.target_side ? planting.pair_of_target.find(row) : planting.pair_of_target.end();
    if (planted == planting.pair_of_target.end()) {
      background_row(o, side, row, dst);
    } else {
      background_row(o, 0, planting.pairs[planted->second].source, source.data());
      planted_row(o, planted->second, source.data(), dst);
    }
  }
}

// Collective: writes rows `slab` in the file's element type.
void write_slab(h5::File& file, const GenerateOptions& o, const std::string& name, RowRange slab,
                const std::vector<float>& values) {
  if (o.packed) {
    // numpy.packbits(row < 0): coordinate k in bit 7 - k % 8 of byte k / 8.
    const std::int64_t bytes = packed_bytes(o);
    std::vector<std::uint8_t> packed(static_cast<std::size_t>(slab.size() * bytes), 0);
    for (std::int64_t r = 0; r < slab.size(); ++r)
      for (std::int64_t k = 0; k < o.d; ++k)
        if (values[r * o.d + k] < 0) packed[r * bytes + k / 8] |= static_cast<std::uint8_t>(0x80 >> (k % 8));
    file.write_rows<std::uint8_t>(name, slab, packed.data());
  } else if (o.mode == Mode::Binary) {
    const std::vector<std::int8_t> ints(values.begin(), values.end());
    file.write_rows<std::int8_t>(name, slab, ints.data());
  } else {
    file.write_rows<float>(name, slab, values.data());
  }
}

// Collective: the rows of one side, each rank its block in slabs of about kSlabBytes (every
// rank makes as many collective writes as the largest block needs).
void write_side(const Comm& comm, h5::File& file, const GenerateOptions& o, const Planting& planting, int side) {
  const std::string name = side == 0 ? "/A" : "/B";
  const std::int64_t n = side == 0 ? o.n : o.rows_b();
  create_rows_dataset(file, o, name, n);
  const RowRange mine = row_block(n, comm.size(), comm.rank());
  const std::int64_t slab_rows = std::max<std::int64_t>(1, kSlabBytes / (4 * o.d));
  const std::int64_t slabs = (row_block(n, comm.size(), 0).size() + slab_rows - 1) / slab_rows;  // block 0 is largest
  std::vector<float> values;
  for (std::int64_t s = 0; s < slabs; ++s) {
    const std::int64_t begin = std::min(mine.end, mine.begin + s * slab_rows);
    const RowRange slab{begin, std::min(mine.end, begin + slab_rows)};
    fill_slab(o, planting, side, slab, values);
    fault_point("generate-write");  // the others wait in this collective write
    write_slab(file, o, name, slab, values);
  }
}

// The truth, computed by every rank from the pure row functions (k rows, cheap), and the
// instance's attributes.
void write_truth(h5::File& file, const GenerateOptions& o, const Planting& planting) {
  std::vector<Pair> truth;
  std::vector<float> a(static_cast<std::size_t>(o.d)), b(static_cast<std::size_t>(o.d));
  for (std::int64_t p = 0; p < o.k; ++p) {
    const PlantedPair& pair = planting.pairs[p];
    background_row(o, 0, pair.source, a.data());
    planted_row(o, p, a.data(), b.data());
    const std::int64_t i = o.self_join ? std::min(pair.source, pair.target) : pair.source;
    const std::int64_t j = o.self_join ? std::max(pair.source, pair.target) : pair.target;
    truth.push_back({i, j, dot(a.data(), b.data(), o.d)});
  }
  sort_pairs(truth);
  std::vector<std::int64_t> ij;
  std::vector<double> ip;
  for (const Pair& pair : truth) {
    ij.push_back(pair.i);
    ij.push_back(pair.j);
    ip.push_back(pair.ip);
  }
  file.write<std::int64_t>("/truth_pairs", {o.k, 2}, ij);
  file.write<double>("/truth_ip", {o.k}, ip);
  file.set_attribute("version", std::string(HIPI_VERSION));
  file.set_attribute("type", std::string(mode_name(o.mode)));
  file.set_attribute(o.mode == Mode::Binary ? "rho" : "tau", o.value);
  file.set_attribute("seed", static_cast<std::int64_t>(o.seed));
  file.set_attribute("self_join", static_cast<std::int64_t>(o.self_join));
}

}  // namespace

void run_generate(const Comm& comm, const GenerateOptions& o) {
  agree(comm, [&] {
    o.check();
    check_output_path(o.out, "--out");
  });
  const Planting planting(o);
  // Rank 0 names the temporary file; every rank writes into it.
  if (comm.rank() == 0) remove_stale_temps(o.out);
  std::string suffix = temp_suffix();
  boost::mpi::broadcast(comm, suffix, 0);
  AtomicPath out(o.out, suffix);
  {
    h5::File file = h5::File::create(out.temp(), &comm);
    for (int side = 0; side < (o.self_join ? 1 : 2); ++side) write_side(comm, file, o, planting, side);
    write_truth(file, o, planting);
    file.close();
  }
  comm.barrier();
  agree(comm, [&] {  // a failed rename or sync is every rank's error, not rank 0's alone
    if (comm.rank() == 0) out.commit();
  });
  spdlog::info("generate: wrote {} ({} x {}{}, d = {}, {} planted pairs)", o.out, o.n, o.self_join ? o.n : o.rows_b(),
               o.self_join ? ", self-join" : "", o.d, o.k);
}

std::vector<Pair> read_truth(const std::string& path) {
  h5::File f = h5::File::open_read(path, nullptr);
  const auto ij = f.read_all<std::int64_t>("/truth_pairs");
  const auto ip = f.read_all<double>("/truth_ip");
  std::vector<Pair> out;
  for (std::size_t k = 0; k < ip.size(); ++k) out.push_back({ij[2 * k], ij[2 * k + 1], ip[k]});
  return out;
}

}  // namespace hipi
