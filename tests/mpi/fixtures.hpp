// Shared helpers for MPI tests: a temporary directory every rank sees, small HDF5 files
// written by rank 0, and naive reference answers computed from plain loops.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/problem.hpp"
#include "io/hdf5.hpp"
#include "methods/solve_method.hpp"
#include "parallel/mpi.hpp"
#include "solve/solver.hpp"

namespace hipi::test {

// Under AddressSanitizer freed memory waits in a quarantine and is released later, so the
// resident memory that budgets are set from does not track what a test holds.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kResidentTracksHeld = false;
#else
inline constexpr bool kResidentTracksHeld = true;
#endif

/// A fresh directory made by rank 0 and known to every rank; removed on destruction.
class SharedTempDir {
 public:
  explicit SharedTempDir(const Comm& comm);
  ~SharedTempDir();
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

 private:
  const Comm& comm_;
  std::string dir_;
};

/// Collective: rank 0 adds dataset `name` to `file` (creating the file if `create`).
template <class T>
void write_dataset(const Comm& comm, const std::string& file, const std::string& name,
                   const std::vector<std::int64_t>& dims, const std::vector<T>& values, bool create = false);

/// Random +-1 rows (row-major), some of them near-copies of rows of `like` (if given) so
/// that tests have heavy pairs to find.
std::vector<std::int8_t> random_signs(std::int64_t rows, std::int64_t d, std::uint64_t seed,
                                      const std::vector<std::int8_t>* like = nullptr);
/// Near-duplicate clusters (what real signatures look like): random +-1 rows in which, for
/// each size in `sizes`, that many rows scattered at random positions are copies of one base
/// row with each coordinate flipped with probability `flip` (two members have inner product
/// about d (1 - 2 flip)^2), and `identical` further rows are one base row exactly. Bases
/// depend on `base_seed` only, so two matrices with the same base_seed share clusters.
std::vector<std::int8_t> clustered_signs(std::int64_t rows, std::int64_t d, std::uint64_t seed, std::uint64_t base_seed,
                                         const std::vector<std::int64_t>& sizes, double flip, std::int64_t identical);
std::vector<float> random_normals(std::int64_t rows, std::int64_t d, std::uint64_t seed);

/// Naive all-pairs answer, sorted: pairs (i, j) with threshold.passes(<a_i, b_j>), i < j
/// in a self-join (b == nullptr).
template <class T>
std::vector<Pair> naive_pairs(const std::vector<T>& a, const std::vector<T>* b, std::int64_t d, const Threshold& t);

/// Options for a self-join of file:/A with `method`, writing `out`.
SolveOptions self_join_options(const std::string& file, Mode mode, double value, Method method, const std::string& out);

/// What a solve wrote, read back on rank 0 (empty on the other ranks).
struct Solved {
  std::vector<Pair> pairs;
  std::string method;
  nlohmann::json parameters;
};
/// Collective: runs hipi solve with `o` and reads its output file on rank 0.
Solved solve_and_read(const Comm& comm, const SolveOptions& o);

/// Collective: every rank's pairs, sorted by (i, j) without repeats, on rank 0 (empty on
/// the other ranks): sort_pairs_across, then the slices sent to rank 0 in pieces.
std::vector<Pair> gather_answer(const Comm& comm, std::vector<Pair> local);

/// Sets an environment variable on this rank for its lifetime.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value);
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv();

 private:
  std::string name_;
};

/// Sets HIPI_TEST_MPI_LIMIT (mpi_byte_limit) on this rank for its lifetime.
struct LoweredMpiLimit : ScopedEnv {
  explicit LoweredMpiLimit(std::int64_t bytes) : ScopedEnv("HIPI_TEST_MPI_LIMIT", std::to_string(bytes)) {}
};

/// True when `path` exists.
bool exists(const std::string& path);

}  // namespace hipi::test

namespace hipi::test {
/// Same (i, j) sequence, inner products within `tolerance` (0: exactly equal).
::testing::AssertionResult same_pairs(const std::vector<Pair>& got, const std::vector<Pair>& want,
                                      double tolerance = 0);
}  // namespace hipi::test
