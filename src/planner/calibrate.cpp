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

template <class T>
double gemm_rate(const Comm& comm, const BlacsGrid& grid, std::int64_t d) {
  const std::int64_t n = 2048, k = std::min<std::int64_t>(d, 2048), nb = 256;
  // The inner dimension in one block, as the solver lays it out (SketchOptions::k_block).
  const Descriptor da = describe(grid, n, k, nb, k), db = describe(grid, k, n, k, nb),
                   dc = describe(grid, n, n, nb, nb);
  std::vector<T> a(std::max<std::int64_t>(1, da.local_size()), T(1)),
      b(std::max<std::int64_t>(1, db.local_size()), T(1)), c(std::max<std::int64_t>(1, dc.local_size()));
  const double seconds = time_per_call(comm, 0.15, [&] {
    gemm_nn<T>({n, n, k}, {a.data(), da}, {b.data(), db}, 0, {c.data(), dc});
  });
  return 2.0 * n * n * k / seconds / comm.size();
}

template <class Matrix>
double pairs_rate(const Comm& comm, std::int64_t d, std::int64_t rows) {
  Matrix a(rows, d), b(rows, d);
  std::vector<Pair> out;
  const Threshold never{std::numeric_limits<double>::infinity(), false};
  const double seconds = time_per_call(comm, 0.1, [&] {
    out.clear();
    heavy_pairs({a, 0}, {b, 0}, never, PairFilter::All, out);
  });
  return double(rows) * double(rows) / seconds;
}

double sketch_rate(const Comm& comm, std::int64_t d) {
  const std::int64_t rows = 1024;
  BitMatrix m(rows, d);
  const Grouping grouping(rows, 4, 1024, 1, 0, 0);
  const LocalGroups groups(grouping, {0, rows});
  std::vector<float> out(groups.size() * d);
  const double seconds = time_per_call(comm, 0.05, [&] {
    build_sketches({m, 0}, grouping, groups, out.data(), {1, groups.size()});
  });
  return double(rows) * double(d) / seconds;
}

// Moving float32 sketches of 4096 groups per rank into the grid layout (scatter_to_grid).
double redistribute_rate(const Comm& comm, const BlacsGrid& grid, std::int64_t d) {
  const std::int64_t per_rank = 4096, groups = per_rank * comm.size();
  const Descriptor dst = describe(grid, d, groups, 256, 256);
  std::vector<float> local(per_rank * d, 1.0f), out(std::max<std::int64_t>(1, dst.local_size()));
  const double seconds = time_per_call(comm, 0.05, [&] {
    scatter_to_grid<float>(comm, {local.data(), comm.rank() * per_rank, per_rank, d}, {dst, false, out.data()});
  });
  return double(per_rank) * double(d) * sizeof(float) / seconds;
}

double exchange_rate(const Comm& comm) {
  const std::size_t bytes = 1 << 20;
  std::vector<std::vector<char>> send(comm.size(), std::vector<char>(bytes, 1));
  if (comm.size() > 1) send[comm.rank()].clear();  // what a rank keeps does not travel
  const double seconds = time_per_call(comm, 0.05, [&] { exchange_bytes(comm, send); });
  return double(bytes) * std::max(1, comm.size() - 1) / seconds;
}

}  // namespace

MachineProfile calibrate(const Comm& comm, std::int64_t d, GridShape shape) {
  MachineProfile m;
  const BlacsGrid grid(comm, shape);
  m.gemm_f32_flops = gemm_rate<float>(comm, grid, d);
  m.gemm_f64_flops = gemm_rate<double>(comm, grid, d);
  {
    // The full kernel's rate (an unreachable threshold would let early abandon skip most
    // words); the planner scales it by the words read at the problem's threshold.
    const bool abandon = use_early_abandon(false);
    m.binary_pairs = pairs_rate<BitMatrix>(comm, d, 512);
    use_early_abandon(abandon);
  }
  {
    // Candidate groups are checked by the reference kernel; whole blocks go through the
    // GEMM filter (gemm_filter.hpp). Random data: the filter's scan rejects every entry.
    const RealKernel kernel = real_kernel();
    use_real_kernel(RealKernel::Reference);
    m.real_pairs = pairs_rate<RealMatrix>(comm, d, 128);
    use_real_kernel(kernel);
    m.real_bulk_pairs = kernel == RealKernel::GemmFilter ? pairs_rate<RealMatrix>(comm, d, 1024) : m.real_pairs;
  }
  m.sketch_coords = sketch_rate(comm, d);
  m.exchange_bytes = exchange_rate(comm);
  m.redistribute_bytes = redistribute_rate(comm, grid, d);
  m.calibrated_d = d;
  // The slowest rank sets the pace of a collective run.
  for (double* rate : {&m.gemm_f32_flops, &m.gemm_f64_flops, &m.binary_pairs, &m.real_pairs, &m.real_bulk_pairs,
                       &m.sketch_coords, &m.exchange_bytes, &m.redistribute_bytes})
    *rate = boost::mpi::all_reduce(comm, *rate, boost::mpi::minimum<double>());

  __builtin_cpu_init();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  // AVX-512 SGEMM reaches about 150 GFLOP/s per core here, p?gemm about 60% of that per
  // rank; the generic x86-64 kernels OpenBLAS falls back to on a misdetected CPU about 32.
  if (comm.rank() == 0 && avx512 && m.gemm_f32_flops < 70e9) {
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    spdlog::warn(
        "calibrate: float32 GEMM runs at {:.0f} GFLOP/s per rank on a CPU with AVX-512 ({} kernels, "
        "OPENBLAS_CORETYPE={}); OpenBLAS may be running slower kernels than this CPU allows: try "
        "OPENBLAS_CORETYPE=SkylakeX (scripts/blas-env.sh sets it)",
        m.gemm_f32_flops / 1e9, blas_kernels(), coretype ? coretype : "unset");
  }
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

// A profile as TOML, with `key` (the cache key) when given.
std::string profile_text(const MachineProfile& m, const std::string& key = "") {
  toml::table t{{"gemm_f32_flops", m.gemm_f32_flops},   {"gemm_f64_flops", m.gemm_f64_flops},
                {"binary_pairs", m.binary_pairs},       {"real_pairs", m.real_pairs},
                {"real_bulk_pairs", m.real_bulk_pairs}, {"sketch_coords", m.sketch_coords},
                {"exchange_bytes", m.exchange_bytes},   {"redistribute_bytes", m.redistribute_bytes},
                {"calibrated_d", m.calibrated_d}};
  if (!key.empty()) t.insert("key", key);
  std::ostringstream text;
  text << "# hipi machine profile: rates per rank, measured by `hipi calibrate`\n" << t << "\n";
  return text.str();
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
  auto get = [&](const char* key) {
    const auto v = t[key].value<double>();
    if (!v || !(*v > 0)) throw InputError(path + ": profile key '" + key + "' is missing or not a positive number");
    return *v;
  };
  MachineProfile m;
  m.gemm_f32_flops = get("gemm_f32_flops");
  m.gemm_f64_flops = get("gemm_f64_flops");
  m.binary_pairs = get("binary_pairs");
  m.real_pairs = get("real_pairs");
  m.real_bulk_pairs = t["real_bulk_pairs"].value_or(0.0);  // profiles from before the GEMM filter: none
  m.sketch_coords = get("sketch_coords");
  m.exchange_bytes = get("exchange_bytes");
  m.redistribute_bytes = get("redistribute_bytes");
  m.calibrated_d = static_cast<std::int64_t>(get("calibrated_d"));
  return m;
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

MachineProfile machine_profile(const Comm& comm, std::int64_t d, GridShape shape, bool use_cache, bool& calibrated) {
  const std::string key = cache_key(comm, shape), dir = use_cache ? cache_dir() : "";
  const std::string path =
      dir.empty() ? "" : fmt::format("{}/profile-{:016x}.toml", dir, std::hash<std::string>{}(key));
  // Rank 0 reads the cache and shares what it found; every rank agrees before any
  // collective calibration starts.
  int found = 0;
  std::vector<double> rates(10, 0.0);
  if (comm.rank() == 0 && !path.empty() && std::filesystem::exists(path)) {
    try {
      const toml::table t = toml::parse_file(path);
      if (t["key"].value<std::string>() == key) {
        const MachineProfile m = load_profile(path);
        rates = {m.gemm_f32_flops, m.gemm_f64_flops, m.binary_pairs,       m.real_pairs,           m.real_bulk_pairs,
                 m.sketch_coords,  m.exchange_bytes, m.redistribute_bytes, double(m.calibrated_d), 0};
        found = 1;
      }
    } catch (const std::exception& e) {
      spdlog::warn("calibrate: ignoring the cached profile {}: {}", path, e.what());
    }
  }
  boost::mpi::broadcast(comm, found, 0);
  calibrated = !found;
  if (found) {
    boost::mpi::broadcast(comm, rates.data(), static_cast<int>(rates.size()), 0);
    MachineProfile m;
    m.gemm_f32_flops = rates[0];
    m.gemm_f64_flops = rates[1];
    m.binary_pairs = rates[2];
    m.real_pairs = rates[3];
    m.real_bulk_pairs = rates[4];
    m.sketch_coords = rates[5];
    m.exchange_bytes = rates[6];
    m.redistribute_bytes = rates[7];
    m.calibrated_d = static_cast<std::int64_t>(rates[8]);
    if (comm.rank() == 0) spdlog::info("calibrate: using the cached profile {}", path);
    return scaled_to(m, d);
  }
  const MachineProfile m = calibrate(comm, d, shape);
  if (comm.rank() == 0 && !path.empty()) {
    try {
      std::filesystem::create_directories(dir);
      write_text_atomically(path, profile_text(m, key), "cached profile");
      spdlog::info("calibrate: profile cached in {}", path);
    } catch (const std::exception& e) {
      spdlog::warn("calibrate: could not cache the profile in {}: {}", dir, e.what());
    }
  }
  return m;
}

}  // namespace hipi
