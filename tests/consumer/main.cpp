// Links the installed hipi and checks find_heavy_pairs against a naive loop on every rank:
// +-1 rows split unevenly over the ranks, the answer on every rank and as slices, real rows
// with copies, and an input error thrown on every rank. Exits non-zero on any mismatch.
#include <mpi.h>

#include <cstdio>
#include <hipi/hipi.hpp>
#include <random>
#include <string>
#include <vector>

namespace {

int failures = 0;
void expect(bool ok, const char* what, int rank) {
  if (!ok) {
    std::fprintf(stderr, "consumer: rank %d: %s\n", rank, what);
    ++failures;
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);

  // The same matrix on every rank (seeded), each passing its block: rank r holds rows
  // [r n / P, (r + 1) n / P) of a 600 x 64 +-1 matrix with 6 planted near-copies.
  const std::int64_t n = 600, d = 64;
  std::mt19937_64 rng(5);
  std::vector<std::int8_t> all(n * d);
  for (auto& v : all) v = (rng() & 1) ? 1 : -1;
  for (int k = 0; k < 6; ++k)
    for (std::int64_t c = 0; c < d; ++c) all[(300 + k) * d + c] = (c < 4 ? -1 : 1) * all[(10 * k) * d + c];
  const std::int64_t lo = rank * n / ranks, hi = (rank + 1) * n / ranks;
  hipi::RowBlock a{all.data() + lo * d, hipi::ElementType::Int8, hi - lo, d, lo};
  hipi::FindOptions o;
  o.kind = hipi::ThresholdKind::Rho;
  o.value = 0.75;  // <a, b> >= 48
  o.method = hipi::Method::Brute;

  std::vector<std::int64_t> want_i, want_j;
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = i + 1; j < n; ++j) {
      long ip = 0;
      for (std::int64_t c = 0; c < d; ++c) ip += all[i * d + c] * all[j * d + c];
      if (ip >= 48) {
        want_i.push_back(i);
        want_j.push_back(j);
      }
    }
  const hipi::HeavyPairs every = hipi::find_heavy_pairs(MPI_COMM_WORLD, a, nullptr, o);
  expect(want_i.size() >= 6, "the planted pairs are heavy", rank);
  expect(every.i == want_i && every.j == want_j, "every rank holds the naive answer", rank);
  expect(every.total == static_cast<std::int64_t>(want_i.size()), "total", rank);

  o.delivery = hipi::Delivery::Distributed;
  o.method = hipi::Method::Auto;
  const hipi::HeavyPairs slice = hipi::find_heavy_pairs(MPI_COMM_WORLD, a, nullptr, o);
  for (std::size_t k = 0; k < slice.i.size(); ++k)
    expect(slice.i[k] == want_i[slice.offset + k] && slice.j[k] == want_j[slice.offset + k], "slice", rank);
  std::int64_t held = static_cast<std::int64_t>(slice.i.size()), sum = 0;
  MPI_Allreduce(&held, &sum, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
  expect(sum == slice.total, "the slices make the answer", rank);

  // Real rows: two copies of one row pair with each other and with nothing else.
  std::vector<float> real(n * 8, 0.0f);
  for (std::int64_t i = 0; i < n; ++i) real[i * 8 + i % 8] = 1.0f;
  for (int c = 0; c < 8; ++c) real[5 * 8 + c] = real[6 * 8 + c] = 3.0f;
  hipi::RowBlock r{real.data() + lo * 8, hipi::ElementType::Float32, hi - lo, 8, lo};
  hipi::FindOptions ro;
  ro.value = 50;  // only <row 5, row 6> = 72 passes
  const hipi::HeavyPairs copies = hipi::find_heavy_pairs(MPI_COMM_WORLD, r, nullptr, ro);
  expect(copies.i == std::vector<std::int64_t>{5} && copies.j == std::vector<std::int64_t>{6} &&
             copies.inner_products == std::vector<double>{72.0},
         "real copies", rank);

  // An input error is thrown on every rank alike, and the job goes on.
  all[lo * d] = 2;
  o.method = hipi::Method::Brute;
  bool refused = false;
  try {
    hipi::find_heavy_pairs(MPI_COMM_WORLD, a, nullptr, o);
  } catch (const hipi::InputError& e) {
    refused = std::string(e.what()).find("needs every value to be +1 or -1") != std::string::npos;
  }
  expect(refused, "a value that is not +-1 is an InputError on every rank", rank);

  int bad = failures, any = 0;
  MPI_Allreduce(&bad, &any, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::printf("consumer: %s (%zu pairs, %d ranks)\n", any ? "FAILED" : "ok", want_i.size(), ranks);
  MPI_Finalize();
  return any ? 1 : 0;
}
