#include "planner/calibrate.hpp"

#include <toml++/toml.h>
#include <unistd.h>

#include <boost/mpi/collectives.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>

#include "core/random.hpp"
#include "io/atomic_file.hpp"
#include "kernels/exact.hpp"
#include "methods/sketch/grid.hpp"
#include "methods/sketch/sketches.hpp"
#include "parallel/log.hpp"
#include "parallel/scalapack.hpp"

namespace hipi {

namespace {

using Clock = std::chrono::steady_clock;

// Runs `work` until at least `seconds` have passed; returns seconds per call. Every rank
// runs the same number of calls (the slowest rank decides), so collectives inside line up.
template <class F>
double time_per_call(const Comm& comm, double seconds, F&& work) {
  work();  // warm up
  int calls = 0;
  const auto start = Clock::now();
  bool more = true;
  while (more) {
    work();
    ++calls;
    const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    more = boost::mpi::all_reduce(comm, static_cast<int>(elapsed < seconds), boost::mpi::maximum<int>()) != 0;
  }
  return std::chrono::duration<double>(Clock::now() - start).count() / calls;
}

// How big and how long each measurement is. `hipi calibrate` (Full) times blocks like the
// solver's for a tenth of a second or so; a first solve (Quick) times smaller blocks in short
// bursts, so that it costs a fraction of a second: rates within a few percent of Full here
// (docs/benchmarks.md, fixed costs).
struct Bursts {
  std::int64_t gemm_n;  // C is gemm_n x gemm_n, the inner dimension min(d, gemm_n)
  double gemm_seconds;
  std::int64_t binary_rows;  // binary kernel blocks
  std::int64_t real_rows;    // the reference kernel's small blocks
  std::int64_t bulk_rows;    // the GEMM filter's blocks
  double pairs_seconds;
  double sketch_seconds;       // sketch build
  std::int64_t sketch_groups;  // groups per rank moved into the grid layout
  double move_seconds;         // all-to-all, redistribution
};
constexpr Bursts kFull{2048, 0.15, 512, 128, 1024, 0.1, 0.05, 4096, 0.05};
constexpr Bursts kQuick{1024, 0.04, 256, 64, 512, 0.015, 0.015, 512, 0.03};

template <class T>
double gemm_rate(const Comm& comm, const BlacsGrid& grid, std::int64_t d, const Bursts& bursts) {
  const std::int64_t n = bursts.gemm_n, k = std::min<std::int64_t>(d, bursts.gemm_n), nb = 256;
  // The inner dimension in one block, as the solver lays it out (SketchOptions::k_block).
  const Descriptor da = describe(grid, n, k, nb, k), db = describe(grid, k, n, k, nb),
                   dc = describe(grid, n, n, nb, nb);
  std::vector<T> a(std::max<std::int64_t>(1, da.local_size()), T(1)),
      b(std::max<std::int64_t>(1, db.local_size()), T(1)), c(std::max<std::int64_t>(1, dc.local_size()));
  const double seconds = time_per_call(comm, bursts.gemm_seconds, [&] {
    gemm_nn<T>({n, n, k}, {a.data(), da}, {b.data(), db}, 0, {c.data(), dc});
  });
  return 2.0 * n * n * k / seconds / comm.size();
}

template <class Matrix>
double pairs_rate(const Comm& comm, std::int64_t d, std::int64_t rows, double window) {
  Matrix a(rows, d), b(rows, d);
  std::vector<Pair> out;
  const Threshold never{std::numeric_limits<double>::infinity(), false};
  const double seconds = time_per_call(comm, window, [&] {
    out.clear();
    heavy_pairs({a, 0}, {b, 0}, never, PairFilter::All, out);
  });
  return double(rows) * double(rows) / seconds;
}

double binary_pairs_rate(const Comm& comm, std::int64_t d, const Bursts& bursts) {
  // The full kernel's rate (an unreachable threshold would let early abandon skip most
  // words); the planner scales it by the words read at the problem's threshold.
  const bool abandon = use_early_abandon(false);
  const double rate = pairs_rate<BitMatrix>(comm, d, bursts.binary_rows, bursts.pairs_seconds);
  use_early_abandon(abandon);
  return rate;
}

// Candidate groups are checked by the reference kernel; whole blocks go through the GEMM
// filter (gemm_filter.hpp). Random data: the filter's scan rejects every entry.
double real_pairs_rate(const Comm& comm, std::int64_t d, const Bursts& bursts, bool bulk) {
  const RealKernel kernel = real_kernel();
  if (!bulk || kernel != RealKernel::GemmFilter) use_real_kernel(RealKernel::Reference);
  const double rate = pairs_rate<RealMatrix>(
      comm, d, bulk && kernel == RealKernel::GemmFilter ? bursts.bulk_rows : bursts.real_rows, bursts.pairs_seconds);
  use_real_kernel(kernel);
  return rate;
}

double sketch_rate(const Comm& comm, std::int64_t d, const Bursts& bursts) {
  const std::int64_t rows = 1024;
  BitMatrix m(rows, d);
  const Grouping grouping(rows, 4, 1024, 1, 0, 0);
  const LocalGroups groups(grouping, {0, rows});
  std::vector<float> out(groups.size() * d);
  const double seconds = time_per_call(comm, bursts.sketch_seconds, [&] {
    build_sketches({m, 0}, grouping, groups, out.data(), {1, groups.size()});
  });
  return double(rows) * double(d) / seconds;
}

// Moving float32 sketches of `sketch_groups` groups per rank into the grid layout (scatter_to_grid).
double redistribute_rate(const Comm& comm, const BlacsGrid& grid, std::int64_t d, const Bursts& bursts) {
  const std::int64_t per_rank = bursts.sketch_groups, groups = per_rank * comm.size();
  const Descriptor dst = describe(grid, d, groups, 256, 256);
  std::vector<float> local(per_rank * d, 1.0f), out(std::max<std::int64_t>(1, dst.local_size()));
  const double seconds = time_per_call(comm, bursts.move_seconds, [&] {
    scatter_to_grid<float>(comm, {local.data(), comm.rank() * per_rank, per_rank, d}, {dst, false, out.data()});
  });
  return double(per_rank) * double(d) * sizeof(float) / seconds;
}

double exchange_rate(const Comm& comm, const Bursts& bursts) {
  const std::size_t bytes = 1 << 20;
  std::vector<std::vector<char>> send(comm.size(), std::vector<char>(bytes, 1));
  if (comm.size() > 1) send[comm.rank()].clear();  // what a rank keeps does not travel
  const double seconds = time_per_call(comm, bursts.move_seconds, [&] { exchange_bytes(comm, send); });
  return double(bytes) * std::max(1, comm.size() - 1) / seconds;
}

// One rate, measured (collective).
double measure_rate(Rate rate, const Comm& comm, const BlacsGrid& grid, std::int64_t d, const Bursts& bursts) {
  switch (rate) {
    case Rate::GemmF32:
      return gemm_rate<float>(comm, grid, d, bursts);
    case Rate::GemmF64:
      return gemm_rate<double>(comm, grid, d, bursts);
    case Rate::BinaryPairs:
      return binary_pairs_rate(comm, d, bursts);
    case Rate::RealPairs:
      return real_pairs_rate(comm, d, bursts, false);
    case Rate::RealBulkPairs:
      return real_pairs_rate(comm, d, bursts, true);
    case Rate::SketchCoords:
      return sketch_rate(comm, d, bursts);
    case Rate::Exchange:
      return exchange_rate(comm, bursts);
    case Rate::Redistribute:
      return redistribute_rate(comm, grid, d, bursts);
  }
  HIPI_ASSERT(false);
  return 0;
}

// AVX-512 SGEMM reaches about 150 GFLOP/s per core here, p?gemm about 60% of that per
// rank; the generic x86-64 kernels OpenBLAS falls back to on a misdetected CPU about 32.
bool implausible_gemm(const MachineProfile& m) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && m.gemm_f32_flops < 70e9;
}

void warn_if_slow_gemm(const Comm& comm, const MachineProfile& m) {
  if (comm.rank() == 0 && implausible_gemm(m)) {
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    spdlog::warn(
        "calibrate: float32 GEMM runs at {:.0f} GFLOP/s per rank on a CPU with AVX-512 ({} kernels, "
        "OPENBLAS_CORETYPE={}); OpenBLAS may be running slower kernels than this CPU allows: try "
        "OPENBLAS_CORETYPE=SkylakeX (scripts/blas-env.sh sets it)",
        m.gemm_f32_flops / 1e9, blas_kernels(), coretype ? coretype : "unset");
  }
}

}  // namespace

MachineProfile calibrate(const Comm& comm, std::int64_t d, GridShape shape, RateSet rates, CalibrationDepth depth) {
  MachineProfile m;
  const BlacsGrid grid(comm, shape);
  const Bursts& bursts = depth == CalibrationDepth::Full ? kFull : kQuick;
  for (int r = 0; r < kRateCount; ++r) {
    const Rate rate = static_cast<Rate>(r);
    if (!rates.has(rate)) continue;
    const double start = MPI_Wtime();
    // The slowest rank sets the pace of a collective run.
    rate_of(m, rate) =
        boost::mpi::all_reduce(comm, measure_rate(rate, comm, grid, d, bursts), boost::mpi::minimum<double>());
    spdlog::debug("calibrate: {} = {:.4g} in {:.3f} s", rate_key(rate), rate_of(m, rate), MPI_Wtime() - start);
  }
  m.calibrated_d = d;
  if (rates.has(Rate::GemmF32)) warn_if_slow_gemm(comm, m);
  return m;
}

MachineProfile scaled_to(const MachineProfile& p, std::int64_t d) {
  MachineProfile m = p;
  if (p.calibrated_d <= 0 || p.calibrated_d == d) return m;
  const double words = double((p.calibrated_d + 63) / 64) / double((d + 63) / 64);
  const double floats = double((p.calibrated_d + 7) / 8) / double((d + 7) / 8);
  m.binary_pairs *= words;
  m.real_pairs *= floats;
  m.real_bulk_pairs *= floats;
  m.calibrated_d = d;
  return m;
}

namespace {

// A profile as TOML, with `key` (the cache key) when given: the rates it holds.
std::string profile_text(const MachineProfile& m, const std::string& key = "") {
  toml::table t;
  for (int r = 0; r < kRateCount; ++r)
    if (const Rate rate = static_cast<Rate>(r); rate_of(m, rate) > 0) t.insert(rate_key(rate), rate_of(m, rate));
  t.insert("calibrated_d", m.calibrated_d);
  if (!key.empty()) t.insert("key", key);
  std::ostringstream text;
  text << "# hipi machine profile: rates per rank, measured by `hipi calibrate`\n" << t << "\n";
  return text.str();
}

// The rates of a parsed profile; InputError naming the file and key when one of `required`
// is missing or not a positive number (a rate present must be positive in any case).
MachineProfile profile_of(const toml::table& t, const std::string& path, RateSet required) {
  MachineProfile m;
  for (int r = 0; r < kRateCount; ++r) {
    const Rate rate = static_cast<Rate>(r);
    const auto v = t[rate_key(rate)].value<double>();
    if ((!v && required.has(rate)) || (v && !(*v > 0)))
      throw InputError(path + ": profile key '" + rate_key(rate) + "' is missing or not a positive number");
    rate_of(m, rate) = v.value_or(0.0);
  }
  const auto d = t["calibrated_d"].value<std::int64_t>();
  if (!d || *d <= 0) throw InputError(path + ": profile key 'calibrated_d' is missing or not a positive number");
  m.calibrated_d = *d;
  return m;
}

}  // namespace

void save_profile(const std::string& path, const MachineProfile& m) {
  write_text_atomically(path, profile_text(m), "profile");
}

MachineProfile load_profile(const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    throw InputError(path + ": not a readable TOML profile: " + std::string(e.description()));
  }
  // Profiles from before the GEMM filter have no real_bulk_pairs (priced as real_pairs).
  return profile_of(t, path, RateSet::all().without({Rate::RealBulkPairs}));
}

namespace {

// Where cached profiles live, or "" when no directory is known.
std::string cache_dir() {
  for (const char* var : {"HIPI_CACHE_DIR", "XDG_CACHE_HOME", "HOME"}) {
    const char* v = std::getenv(var);
    if (!v || !*v) continue;
    const std::string base(v);
    if (std::string(var) == "HIPI_CACHE_DIR") return base;
    return base + (std::string(var) == "HOME" ? "/.cache/hipi" : "/hipi");
  }
  return "";
}

// What a profile depends on, as measured on rank 0 (collective: ranks per node).
std::string cache_key(const Comm& comm, GridShape shape) {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::string cpu = "unknown";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  MPI_Comm node;
  HIPI_MPI_CHECK(MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node));
  int per_node = 0;
  MPI_Comm_size(node, &per_node);
  MPI_Comm_free(&node);
  return fmt::format("host={} cpu={} blas={} exact={} ranks={} per_node={} grid={}", host, cpu, blas_kernels(),
                     kernel_name(), comm.size(), per_node, shape.str());
}

}  // namespace

namespace {

// Rank 0's cached profile under `key` at `path`, scaled to d, shared with every rank: the
// rates it holds, none when there is no such file or it cannot be read (a warning).
MachineProfile cached_profile(const Comm& comm, const std::string& path, const std::string& key, std::int64_t d) {
  MachineProfile m;
  if (comm.rank() == 0 && !path.empty() && std::filesystem::exists(path)) {
    try {
      const toml::table t = toml::parse_file(path);
      if (t["key"].value<std::string>() == key) m = scaled_to(profile_of(t, path, {}), d);
    } catch (const std::exception& e) {
      spdlog::warn("calibrate: ignoring the cached profile {}: {}", path, e.what());
    }
  }
  std::vector<double> rates(kRateCount + 1, 0.0);
  for (int r = 0; r < kRateCount; ++r) rates[r] = rate_of(m, static_cast<Rate>(r));
  rates[kRateCount] = static_cast<double>(m.calibrated_d);
  boost::mpi::broadcast(comm, rates.data(), static_cast<int>(rates.size()), 0);
  for (int r = 0; r < kRateCount; ++r) rate_of(m, static_cast<Rate>(r)) = rates[r];
  m.calibrated_d = static_cast<std::int64_t>(rates[kRateCount]);
  return m;
}

}  // namespace

void forget_cached_profile(const Comm& comm, const std::string& why) {
  const std::string key = cache_key(comm, squarest_grid(comm.size()));  // collective: every rank
  const std::string dir = cache_dir();
  if (comm.rank() != 0 || dir.empty()) return;
  const std::string path = fmt::format("{}/profile-{:016x}.toml", dir, std::hash<std::string>{}(key));
  std::error_code ec;
  if (std::filesystem::remove(path, ec))
    spdlog::warn("calibrate: {}: the cached profile {} is dropped, and the next run measures again", why, path);
}

MachineProfile machine_profile(const Comm& comm, const ProfileRequest& request, bool& calibrated) {
  const std::string key = cache_key(comm, request.shape), dir = request.use_cache ? cache_dir() : "";
  const std::string path =
      dir.empty() ? "" : fmt::format("{}/profile-{:016x}.toml", dir, std::hash<std::string>{}(key));
  // Every rank agrees on what the cache holds before any collective measurement starts.
  MachineProfile m = cached_profile(comm, path, key, request.d);
  const RateSet missing = request.rates.without(rates_in(m));
  calibrated = !missing.empty();
  if (!calibrated) {
    if (comm.rank() == 0) spdlog::info("calibrate: using the cached profile {}", path);
    return m;
  }
  // Only the rates this run prices and the cache lacks, in short bursts; the cache keeps
  // everything measured so far, so a later run of another kind measures only its own.
  const MachineProfile measured = calibrate(comm, request.d, request.shape, missing, CalibrationDepth::Quick);
  for (int r = 0; r < kRateCount; ++r)
    if (const Rate rate = static_cast<Rate>(r); missing.has(rate)) rate_of(m, rate) = rate_of(measured, rate);
  m.calibrated_d = request.d;
  // A rate measured while the machine was busy would price every later run: one the
  // calibration flags as implausible is used this once, not cached.
  MachineProfile kept = m;
  if (missing.has(Rate::GemmF32) && implausible_gemm(m)) {
    rate_of(kept, Rate::GemmF32) = 0;
    if (comm.rank() == 0) spdlog::info("calibrate: the float32 GEMM rate is not cached (implausibly slow)");
  }
  if (comm.rank() == 0 && !path.empty()) {
    try {
      std::filesystem::create_directories(dir);
      write_text_atomically(path, profile_text(kept, key), "cached profile");
      spdlog::info("calibrate: profile cached in {}", path);
    } catch (const std::exception& e) {
      spdlog::warn("calibrate: could not cache the profile in {}: {}", dir, e.what());
    }
  }
  return m;
}

}  // namespace hipi
