// hipi as a library: every heavy pair of row blocks held in memory, found on the caller's
// communicator.
//
//   #include <hipi/hipi.hpp>
//   hipi::RowBlock a{data, hipi::ElementType::Float32, my_rows, d, my_first_row};
//   hipi::FindOptions o;
//   o.kind = hipi::ThresholdKind::Tau;
//   o.value = 10.0;
//   hipi::HeavyPairs pairs = hipi::find_heavy_pairs(MPI_COMM_WORLD, a, nullptr, o);
//
// The same pipeline as `hipi solve` (checks, exact copies collapsed, the planner, the
// method, the sorted answer), without files. This header needs MPI and the C++ standard
// library only; link the target hipi::hipi from `find_package(hipi)`.
#pragma once

#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hipi/error.hpp"   // hipi::Error and its kinds (InputError for bad input)
#include "hipi/method.hpp"  // hipi::Method

namespace hipi {

/// How a block's values are stored.
enum class ElementType {
  Int8,        // +-1 values (binary mode) or small integers (real mode)
  PackedBits,  // numpy.packbits(A < 0, axis=1): ceil(d / 8) bytes a row, first coordinate in the high bit
  Float32,
  Float64,  // rounded to float32; inner products are summed in float64
};

/// This rank's block of a matrix: `rows` rows of `cols` values starting at global row
/// `first_row`. The ranks' blocks are contiguous and in rank order (rank 0 from row 0,
/// rank r + 1 where rank r ends); any split, blocks may be empty. The memory is read during
/// the call only.
struct RowBlock {
  const void* data = nullptr;
  ElementType type = ElementType::Float32;
  std::int64_t rows = 0;
  std::int64_t cols = 0;  // the dimension d (packed bits: d, not the bytes)
  std::int64_t first_row = 0;
  std::int64_t row_stride = 0;  // elements (bytes for packed bits) from one row to the next; 0: dense
  // Sparse rows (CSR) when `indptr` is set: rows + 1 offsets, row r's entries at positions
  // [indptr[r] - indptr[0], indptr[r + 1] - indptr[0]) of `indices` (their columns) and of
  // `data` (their values, Float32 or Float64). Each column at most once in a row; any order.
  // indptr[0] >= 0 and never decreasing, or an InputError.
  const std::int64_t* indptr = nullptr;
  const std::int64_t* indices = nullptr;
  // Sparse rows: how many entries `indices` and `data` hold (each), from the one indptr[0]
  // points at. Given (>= 0), offsets past them (indptr[rows] - indptr[0] > nnz) are an
  // InputError before any entry is read; -1 (the default): not given, the offsets are trusted.
  std::int64_t nnz = -1;
};

/// The threshold: rho for +-1 data (<a, b> >= rho d), tau for real data (<a, b> >= tau).
enum class ThresholdKind { Rho, Tau };

/// Where the answer goes: all of it on every rank, or each rank a consecutive slice.
enum class Delivery { EveryRank, Distributed };

struct FindOptions {
  ThresholdKind kind = ThresholdKind::Tau;
  double value = 0;
  bool abs = false;             // |<a, b>| >= threshold
  bool cosine = false;          // tau on <a, b> / (||a|| ||b||); inner_products then hold cosines
  bool skip_zero_rows = false;  // cosine: rows of zeros pair with nothing instead of an InputError
  bool components = false;      // self-join: HeavyPairs::components, each row's smallest row in its component
  // Top-k: each row of A's K best rows of B (ties to the smaller j; j != i in a self-join),
  // with the threshold only those passing it; the pairs then come sorted by (i, score
  // descending, j), the score |value| with abs. 0: every pair past the threshold.
  std::int64_t top_k = 0;
  bool any_score = false;  // top-k without a threshold (`value` unused; `kind` still says +-1 or real rows)
  Method method = Method::Auto;
  std::uint64_t seed = 1;
  double delta = 1e-3;          // auto: allowed miss probability per heavy pair
  std::int64_t memory_mib = 0;  // budget per rank; 0: 80% of the node's memory over its ranks
  Delivery delivery = Delivery::EveryRank;
  std::string profile;  // a machine profile from `hipi calibrate`; empty: cached, or measured now
  int verbosity = 0;    // log to standard error: 0 warnings only, 1 progress (the CLI's default), 2 debug
};

/// The heavy pairs, sorted by (i, j), each once: i a row of A, j a row of B (a self-join:
/// rows of A, i < j), with their exact inner products (the reference kernel's).
struct HeavyPairs {
  std::vector<std::int64_t> i, j;
  std::vector<double> inner_products;
  std::int64_t total = 0;        // pairs over all ranks
  std::int64_t offset = 0;       // Distributed: the index of this rank's first pair in the whole answer
  Method method = Method::Auto;  // the method that ran
  std::string parameters_json;   // what the output file's 'parameters' attribute would hold
  std::string timings_json;      // seconds per stage: {"stage": {"max": .., "mean": ..}}
  std::string kernels_json;      // the kernels that ran, as the CLI report's: {"exact": .., "blas": ..}
  // With FindOptions::components: for rows components_first, components_first + 1, ... (all
  // n_a rows with Delivery::EveryRank, this rank's block with Distributed), the smallest
  // row index in the row's connected component of the heavy-pair graph.
  std::vector<std::int64_t> components;
  std::int64_t components_first = 0;
};

/// Collective over `comm`, which is duplicated inside (never used as is). `b` null: the
/// self-join of A. Throws hipi::InputError on every rank alike for bad input (the CLI's
/// messages); an error only some ranks could see ends the job (MPI_Abort), as in the CLI.
HeavyPairs find_heavy_pairs(MPI_Comm comm, const RowBlock& a, const RowBlock* b, const FindOptions& options);

}  // namespace hipi
