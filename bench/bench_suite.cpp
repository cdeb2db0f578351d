// hipi auto against brute force and hand-tuned sketches, on a suite of instances described
// in a TOML file (config/bench-suite.toml), all measured in one run:
//
//   mpirun -np 2 build/bench/bench_suite --config config/bench-suite.toml [--dir bench-data]
//
// For each instance: brute force; every hand-tuned sketch configuration (group sizes x z,
// recall control up to max_reps, seed fixed), keeping the fastest that finds every pair
// brute force finds; and auto with a profile calibrated once per d at the start (as a user
// would, with hipi calibrate). Prints times, auto's choice, the ratio of auto to the faster
// of brute force and the best sketch, auto's predicted against measured time, and recall.
#include <toml++/toml.h>

#include <CLI/CLI.hpp>
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/environment.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>

#include "core/random.hpp"
#include "io/generate.hpp"
#include "io/hdf5.hpp"
#include "io/pair_file.hpp"
#include "parallel/log.hpp"
#include "planner/calibrate.hpp"
#include "solve/solver.hpp"

using namespace hipi;
namespace fs = std::filesystem;

namespace {

struct Instance {
  std::string name, kind, file;
  std::int64_t n = 0, d = 0, k = 0, clusters = 0, cluster_size = 0;
  double rho = 0.5, tau = 0, margin = 4.0;
  Mode mode() const { return kind == "real" ? Mode::Real : Mode::Binary; }
  double value() const { return kind == "real" ? tau : rho; }
};

struct Timed {
  double seconds = 0;
  SolveSummary summary;
  std::vector<Pair> pairs;  // rank 0
};

// Binary near-duplicate clusters in A and B: rows c*size .. of both are copies of a base
// row with 8% of coordinates flipped; the rest is random. Written by rank 0.
void write_clustered(const Comm& comm, const Instance& in) {
  if (comm.rank() == 0) {
    RandomStream rng(99, {});
    std::vector<std::int8_t> base(in.clusters * in.d);
    for (auto& v : base) v = rng.below(2) ? 1 : -1;
    h5::File f = h5::File::create(in.file, nullptr);
    for (int side = 0; side < 2; ++side) {
      RandomStream r(99, {static_cast<std::uint64_t>(side + 1)});
      std::vector<std::int8_t> m(in.n * in.d);
      for (auto& v : m) v = r.below(2) ? 1 : -1;
      for (std::int64_t c = 0; c < in.clusters; ++c)
        for (std::int64_t q = 0; q < in.cluster_size; ++q)
          for (std::int64_t k = 0; k < in.d; ++k)
            m[(c * in.cluster_size + q) * in.d + k] = r.below(25) < 2 ? -base[c * in.d + k] : base[c * in.d + k];
      f.write<std::int8_t>(side == 0 ? "/A" : "/B", {in.n, in.d}, m);
    }
    f.close();
  }
  comm.barrier();
}

void make_instance(const Comm& comm, const Instance& in) {
  if (fs::exists(in.file)) return;
  if (in.kind == "clustered") return write_clustered(comm, in);
  GenerateOptions g;
  g.out = in.file;
  g.n = in.n;
  g.d = in.d;
  g.k = in.k;
  g.mode = in.mode();
  g.value = in.value();
  g.seed = 7;
  g.margin = in.margin;
  run_generate(comm, g);
}

Timed run(const Comm& comm, SolveOptions o) {
  comm.barrier();
  const auto start = std::chrono::steady_clock::now();
  Timed t;
  t.summary = run_solve(comm, o);
  t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (comm.rank() == 0) t.pairs = read_pairs_file(o.out);
  return t;
}

bool contains_all(const std::vector<Pair>& got, const std::vector<Pair>& want) {
  std::size_t at = 0;  // both sorted by (i, j)
  for (const Pair& w : want) {
    while (at < got.size() && (got[at].i < w.i || (got[at].i == w.i && got[at].j < w.j))) ++at;
    if (at == got.size() || got[at].i != w.i || got[at].j != w.j) return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv);
  Comm world;
  std::string config = "config/bench-suite.toml", dir = "bench-data", only;
  CLI::App app("hipi bench suite: auto against brute force and hand-tuned sketches");
  app.add_option("--config", config, "Suite description (TOML)")->capture_default_str();
  app.add_option("--dir", dir, "Directory for instances and outputs")->capture_default_str();
  app.add_option("--only", only, "Run only the instance of this name");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return world.rank() == 0 ? app.exit(e) : 1;
  }
  init_logging(world, 0);
  const toml::table suite = toml::parse_file(config);
  std::vector<Instance> instances;
  for (const auto& node : *suite["instance"].as_array()) {
    const auto& t = *node.as_table();
    Instance in;
    in.name = t["name"].value_or(std::string());
    in.kind = t["kind"].value_or(std::string("planted"));
    in.n = t["n"].value_or(std::int64_t{0});
    in.d = t["d"].value_or(std::int64_t{0});
    in.k = t["k"].value_or(std::int64_t{0});
    in.rho = t["rho"].value_or(0.5);
    in.tau = t["tau"].value_or(0.0);
    in.margin = t["margin"].value_or(4.0);
    in.clusters = t["clusters"].value_or(std::int64_t{0});
    in.cluster_size = t["cluster_size"].value_or(std::int64_t{0});
    in.file = dir + "/" + in.name + ".h5";
    if (only.empty() || only == in.name) instances.push_back(in);
  }
  std::vector<std::int64_t> groups;
  std::vector<double> zs;
  for (const auto& v : *suite["sketches"]["group_sizes"].as_array()) groups.push_back(v.value_or(std::int64_t{4}));
  for (const auto& v : *suite["sketches"]["z"].as_array()) zs.push_back(v.value_or(2.0));
  const int max_reps = suite["sketches"]["max_reps"].value_or(16);

  if (world.rank() == 0) fs::create_directories(dir);
  world.barrier();
  std::map<std::int64_t, std::string> profiles;  // calibrated once per d
  if (world.rank() == 0)
    std::printf("%-22s %8s %22s %8s %18s %8s %9s %9s %7s\n", "instance", "brute s", "best sketch (g,z) s", "auto s",
                "auto chose", "auto/min", "predicted", "measured", "recall");
  for (const Instance& in : instances) {
    make_instance(world, in);
    if (!profiles.count(in.d)) {
      profiles[in.d] = dir + "/profile_d" + std::to_string(in.d) + ".toml";
      const MachineProfile m = calibrate(world, in.d, squarest_grid(world.size()));
      if (world.rank() == 0) save_profile(profiles[in.d], m);
      world.barrier();
    }
    SolveOptions base;
    base.problem = {{in.file, "/A"}, DatasetRef{in.file, "/B"}, in.mode(), in.value(), false};
    base.out = dir + "/out.h5";

    SolveOptions brute_o = base;
    brute_o.method = Method::Brute;
    const Timed brute = run(world, brute_o);

    double best = std::numeric_limits<double>::infinity();
    std::string best_name = "none";
    for (std::int64_t g : groups)
      for (double z : zs) {
        SolveOptions s = base;
        s.method = Method::Sketch;
        s.sketch.group_a = s.sketch.group_b = g;
        s.sketch.z = z;
        s.sketch.reps = 1;
        s.sketch.max_reps = max_reps;
        const Timed t = run(world, s);
        bool complete = world.rank() == 0 && contains_all(t.pairs, brute.pairs);
        boost::mpi::broadcast(world, complete, 0);
        if (complete && t.seconds < best) {
          best = t.seconds;
          char name[64];
          std::snprintf(name, sizeof name, "%lld,%.0f", (long long)g, z);
          best_name = name;
        }
      }

    SolveOptions auto_o = base;
    auto_o.method = Method::Auto;
    auto_o.profile = profiles[in.d];
    const Timed chosen = run(world, auto_o);
    if (world.rank() == 0) {
      const auto& cmp = chosen.summary.plan["predicted_vs_measured"]["total"];
      std::string choice = method_name(chosen.summary.method);
      if (choice == "sketch") {
        const auto& p = chosen.summary.plan["chosen"];
        choice += " " + std::to_string(p["group_size_a"].get<std::int64_t>()) + "x" +
                  std::to_string(p["group_size_b"].get<std::int64_t>()) + (p["degree"].get<int>() == 2 ? " d2" : "");
      }
      std::size_t found = 0;
      for (const Pair& p : brute.pairs)
        found += std::binary_search(chosen.pairs.begin(), chosen.pairs.end(), p,
                                    [](const Pair& x, const Pair& y) { return x.i != y.i ? x.i < y.i : x.j < y.j; });
      char best_col[64];
      std::snprintf(best_col, sizeof best_col, "(%s) %.3f", best_name.c_str(), best);
      std::printf("%-22s %8.3f %22s %8.3f %18s %7.2fx %8.3fs %8.3fs %3zu/%-3zu\n", in.name.c_str(), brute.seconds,
                  best_col, chosen.seconds, choice.c_str(), chosen.seconds / std::min(brute.seconds, best),
                  cmp["predicted"].get<double>(), cmp["measured"].get<double>(), found, brute.pairs.size());
      std::fflush(stdout);
    }
  }
  if (world.rank() == 0)
    std::printf(
        "(auto/min: auto's wall time over the faster of brute force and the best complete sketch, same run;\n"
        " predicted/measured: auto's planned stages; recall: auto's pairs among brute force's)\n");
  return 0;
}
