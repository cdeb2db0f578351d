// The GEMM stage against the machine's SGEMM peak, in one run, under MPI:
//
//   mpirun -np 2 build/bench/bench_gemm [--m 8192] [--k 4096] [--seconds 2]
//
// 1. Single-core peak: rank 0 alone runs the system BLAS's sgemm (m/2 x m/2 x k, the
//    shape one rank holds) while the others wait.
// 2. Every rank at once runs its own sgemm of that shape: the machine's peak when all
//    cores work (shared caches, memory and clocks).
// 3. hipi's product stage: p?gemm "N","N" through ScaLAPACK on the squarest grid, m x m x
//    k as in the sketch's C = S_A S_B^T, in GFLOP/s per rank and as a fraction of 1 and 2.
// Prints which BLAS kernels ran (set OPENBLAS_CORETYPE, or source scripts/blas-env.sh).
#include <CLI/CLI.hpp>
#include <boost/mpi/collectives.hpp>
#include <boost/mpi/environment.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "parallel/blacs_grid.hpp"
#include "parallel/scalapack.hpp"

extern "C" void sgemm_(const char* ta, const char* tb, const int* m, const int* n, const int* k, const float* alpha,
                       const float* a, const int* lda, const float* b, const int* ldb, const float* beta, float* c,
                       const int* ldc);

using namespace hipi;
using Clock = std::chrono::steady_clock;

namespace {

// Best GFLOP/s of `call` (flops each) over repetitions filling `seconds`.
template <class F>
double best_gflops(double flops, double seconds, F&& call) {
  call();  // warm up (pages, kernel selection)
  double best = 0;
  const auto start = Clock::now();
  do {
    const auto t0 = Clock::now();
    call();
    best = std::max(best, flops / std::chrono::duration<double>(Clock::now() - t0).count() / 1e9);
  } while (std::chrono::duration<double>(Clock::now() - start).count() < seconds);
  return best;
}

double local_sgemm(int m, int k, double seconds) {
  std::vector<float> a(std::size_t(m) * k, 1.0f), b(std::size_t(k) * m, 1.0f), c(std::size_t(m) * m);
  const float one = 1, zero = 0;
  return best_gflops(2.0 * m * m * k, seconds,
                     [&] { sgemm_("N", "N", &m, &m, &k, &one, a.data(), &m, b.data(), &k, &zero, c.data(), &m); });
}

}  // namespace

int main(int argc, char** argv) {
  boost::mpi::environment env(argc, argv);
  Comm comm;
  std::int64_t m = 8192, k = 4096;
  double seconds = 2;
  CLI::App app("GEMM stage against SGEMM peak");
  app.add_option("--m", m, "Rows and columns of C (groups of A and of B)");
  app.add_option("--k", k, "Inner dimension (d)");
  app.add_option("--seconds", seconds, "Time per measurement");
  std::int64_t nb = 256;
  std::string grid_spec;
  app.add_option("--block-size", nb, "ScaLAPACK block size");
  std::int64_t kb = 0;
  app.add_option("--k-block", kb, "Block size along the inner dimension (default: --block-size)");
  app.add_option("--grid", grid_spec, "BLACS grid PxQ (default: the squarest)");
  CLI11_PARSE(app, argc, argv);
  const int P = comm.size();
  const int local_m = static_cast<int>(m / 2);

  double single = 0;
  if (comm.rank() == 0) single = local_sgemm(local_m, static_cast<int>(k), seconds);
  boost::mpi::broadcast(comm, single, 0);
  comm.barrier();
  const double all_at_once =
      boost::mpi::all_reduce(comm, local_sgemm(local_m, static_cast<int>(k), seconds), boost::mpi::minimum<double>());

  const GridShape shape = grid_spec.empty() ? squarest_grid(P) : parse_grid(grid_spec, P);
  const BlacsGrid grid(comm, shape);
  if (kb <= 0) kb = nb;
  const Descriptor da = describe(grid, m, k, nb, kb), db = describe(grid, k, m, kb, nb),
                   dc = describe(grid, m, m, nb, nb);
  std::vector<float> a(std::max<std::int64_t>(1, da.local_size()), 1.0f),
      b(std::max<std::int64_t>(1, db.local_size()), 1.0f), c(std::max<std::int64_t>(1, dc.local_size()));
  const double pgemm = best_gflops(2.0 * double(m) * double(m) * double(k), seconds,
                                   [&] {
                                     gemm_nn<float>({m, m, k}, {a.data(), da}, {b.data(), db}, 0, {c.data(), dc});
                                     comm.barrier();
                                   }) /
                       P;
  if (comm.rank() == 0) {
    std::printf("BLAS kernels: %s\n", blas_kernels().c_str());
    std::printf("sgemm %d x %d x %lld, one core alone:        %7.1f GFLOP/s  (peak)\n", local_m, local_m, (long long)k,
                single);
    std::printf("sgemm %d x %d x %lld, %d cores at once:      %7.1f GFLOP/s per core (%.0f%% of peak)\n", local_m,
                local_m, (long long)k, P, all_at_once, 100 * all_at_once / single);
    std::printf(
        "p?gemm %lld x %lld x %lld on grid %s, block %lld, k-block %lld: %7.1f GFLOP/s per rank (%.0f%% of peak, "
        "%.0f%% of all-at-once)\n",
        (long long)m, (long long)m, (long long)k, shape.str().c_str(), (long long)nb, (long long)kb, pgemm,
        100 * pgemm / single, 100 * pgemm / all_at_once);
    std::printf(
        "{\"blas\": \"%s\", \"sgemm_peak_gflops\": %.2f, \"sgemm_all_cores_gflops\": %.2f, \"pgemm_per_rank_gflops\": "
        "%.2f}\n",
        blas_kernels().c_str(), single, all_at_once, pgemm);
  }
  return 0;
}
