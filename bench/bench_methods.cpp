// Brute force against the sketch solver on one planted instance, in one run, under MPI:
//
//   mpirun -np 2 build/bench/bench_methods --n 65536 --d 4096 --rho 0.5 --k 32 --group-size 4
//
// Generates the instance (or reuses --data FILE), runs `hipi solve` in-process with each
// method, and prints wall time, the main stages, pairs found, recall of the planted pairs
// and the time ratio to brute force measured in this same run.
#include <CLI/CLI.hpp>
#include <boost/mpi/environment.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "io/generate.hpp"
#include "io/hdf5.hpp"
#include "io/pair_file.hpp"
#include "kernels/exact.hpp"
#include "methods/solve_method.hpp"
#include "parallel/log.hpp"
#include "solve/solver.hpp"

using namespace hipi;

namespace {

struct Measured {
  std::string name;
  double seconds = 0;
  SolveSummary summary;
  std::int64_t planted_found = 0;
};

double stage(const SolveSummary& s, const char* name) {
  return s.timings.contains(name) ? s.timings[name]["max"].get<double>() : 0.0;
}

}  // namespace

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv);
  Comm world;
  GenerateOptions g;
  g.n = 16384;
  g.d = 4096;
  g.k = 32;
  g.value = 0.5;
  g.seed = 11;
  SketchOptions sketch;
  std::string data, dir = "bench-data";
  CLI::App app("hipi methods benchmark: brute force and sketch on one planted binary instance");
  app.add_option("--n", g.n, "Rows of A and of B")->capture_default_str();
  app.add_option("--d", g.d, "Dimension")->capture_default_str();
  app.add_option("--rho", g.value, "Planted and solved threshold")->capture_default_str();
  app.add_option("--k", g.k, "Planted pairs")->capture_default_str();
  app.add_option("--seed", g.seed, "Instance seed")->capture_default_str();
  app.add_option("--group-size", sketch.group_a, "Sketch group size (A and B)")->capture_default_str();
  app.add_option("--z", sketch.z, "Sketch z")->capture_default_str();
  app.add_option("--reps", sketch.reps, "Sketch repetitions")->capture_default_str();
  app.add_option("--block-size", sketch.block_size, "ScaLAPACK block size")->capture_default_str();
  app.add_option("--data", data, "Use this instance file instead of generating one");
  app.add_option("--dir", dir, "Directory for the generated instance and outputs")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return world.rank() == 0 ? app.exit(e) : 1;
  }
  sketch.group_b = sketch.group_a;
  init_logging(world, 0);
  if (world.rank() == 0) std::filesystem::create_directories(dir);
  world.barrier();

  if (data.empty()) {
    data = dir + "/planted_n" + std::to_string(g.n) + "_d" + std::to_string(g.d) + "_k" + std::to_string(g.k) + ".h5";
    g.out = data;
    if (!std::filesystem::exists(data)) run_generate(world, g);
  }
  std::vector<Pair> truth;
  if (world.rank() == 0) truth = read_truth(data);

  std::vector<Measured> results;
  for (const std::string method : {"brute", "sketch"}) {
    SolveOptions o;
    o.problem = {{data, "/A"}, DatasetRef{data, "/B"}, Mode::Binary, g.value, false};
    o.out = dir + "/out_" + method + ".h5";
    o.method = parse_method(method);
    o.sketch = sketch;
    world.barrier();
    const auto start = std::chrono::steady_clock::now();
    Measured m{method, 0, run_solve(world, o)};
    m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (world.rank() == 0) {
      const auto found = read_pairs_file(o.out);
      for (const Pair& t : truth)
        m.planted_found +=
            std::any_of(found.begin(), found.end(), [&](const Pair& p) { return p.i == t.i && p.j == t.j; });
    }
    results.push_back(std::move(m));
  }

  if (world.rank() == 0) {
    const double brute = results[0].seconds;
    const double pairs = double(g.n) * double(g.n);
    std::printf("instance: %s  (%lld x %lld, d = %lld, rho = %.3g, %zu planted), %d ranks, kernel %s\n", data.c_str(),
                (long long)g.n, (long long)g.n, (long long)g.d, g.value, truth.size(), world.size(),
                kernel_name().c_str());
    const char* coretype = std::getenv("OPENBLAS_CORETYPE");
    std::printf("OPENBLAS_CORETYPE=%s (the GEMM kernel OpenBLAS runs; see docs/benchmarks.md)\n",
                coretype ? coretype : "(unset: autodetect)");
    std::printf("sketch: groups %lld x %lld, z = %.3g, reps = %d, block %lld\n", (long long)sketch.group_a,
                (long long)sketch.group_b, sketch.z, sketch.reps, (long long)sketch.block_size);
    std::printf("%-8s %9s %8s %8s %9s %8s %8s %9s %14s %10s\n", "method", "wall s", "read s", "sketch", "gemm s",
                "verify", "pairs", "planted", "ns/pair/core", "vs brute");
    for (const Measured& m : results)
      std::printf("%-8s %9.3f %8.3f %8.3f %9.3f %8.3f %8lld %6lld/%-2zu %14.3f %9.2fx\n", m.name.c_str(), m.seconds,
                  stage(m.summary, "read"), stage(m.summary, "sketch"),
                  m.name == "brute" ? stage(m.summary, "compute") : stage(m.summary, "gemm"),
                  stage(m.summary, "verify"), (long long)m.summary.pairs, (long long)m.planted_found, truth.size(),
                  m.seconds * 1e9 * world.size() / pairs, brute / m.seconds);
    std::printf("(brute's compute column is its whole ring; \"vs brute\" > 1 means faster than brute force)\n");
  }
  return 0;
}
