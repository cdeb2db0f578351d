// The pair file: /pairs int64 [m, 2] and /inner_products float64 [m] with the run's root
// attributes (DESIGN.md section 5), written by every rank at its slice's offset in
// parallel, the format of the output and of the checkpoint.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

namespace h5 {
class File;
}

/// This rank's slice of the answer after a distributed sort: all ranks' pairs ordered by
/// (i, j) across ranks (rank r's slice comes before rank r + 1's), with repeats of the
/// same (i, j) removed (methods that may verify a pair twice leave them).
struct PairSlice {
  std::vector<Pair> pairs;  // this rank's, sorted
  std::int64_t offset = 0;  // index of pairs[0] in the whole answer
  std::int64_t total = 0;   // pairs in the whole answer, on every rank
};

/// This rank's part of the answer made piece by piece in output order: `count` pairs that go
/// at `offset` of the `total` in the answer; next(piece, max) appends up to `max` of them.
/// The answer need not be held anywhere at once (duplicate rows expand while written).
struct PairStream {
  std::int64_t count = 0, offset = 0, total = 0;
  std::function<void(std::vector<Pair>& piece, std::int64_t max)> next;
  /// A stream over a slice held elsewhere (it must outlive the stream).
  static PairStream over(const PairSlice& slice);
  /// A stream that owns its slice.
  static PairStream owning(PairSlice slice);
};

/// Root attributes of an output file (DESIGN.md section 5).
struct OutputAttributes {
  std::string method;            // the method that ran
  std::string requested_method;  // what the user asked for (auto, brute, ...)
  double threshold = 0;          // the inner-product threshold applied
  std::uint64_t seed = 0;
  std::string grid;                       // process layout, e.g. "ring of 4"
  std::string parameters;                 // JSON object
  std::string inputs;                     // "a.h5:/A b.h5:/B"
  std::string timings;                    // JSON object, seconds per stage
  std::string measure = "inner_product";  // what /inner_products hold: "inner_product" or "cosine"
  std::int64_t rows_a = 0, rows_b = 0;    // the answer's shape: rows of A and of B (A again in a self-join)
};

/// Collective: every rank writes its slice into /pairs int64 [m,2] and /inner_products
/// float64 [m] of a new file at `temp` (through MPI-IO, collective writes at the slices'
/// offsets), with rank 0's `attrs` and `ranks` = the communicator's size; the file is closed and complete on return.
/// Rank 0 commits it once every rank agrees the run succeeded.
void write_pairs_temp(const Comm& comm, const std::string& temp, PairStream& pairs, const OutputAttributes& attrs);

/// The answer in parts, in output order: each call the next part (its offset and total
/// within the part) or nothing when all are done; collective, every rank alike.
using NextPairs = std::function<std::optional<PairStream>()>;

/// A top-k answer's lists as FAISS lays them out (answer/top_k.hpp's KnnTable): this rank's
/// `rows` of the [n_rows, k] tables, row-major.
struct KnnSlice {
  RowRange rows;
  std::int64_t n_rows = 0, k = 0;
  const std::int64_t* indices = nullptr;
  const double* scores = nullptr;
};
/// Collective: adds /knn_indices int64 [n_rows, k] and /knn_scores float64 [n_rows, k], and
/// the root attribute top_k = k, to the file at `temp` written by write_pairs_temp.
void write_knn_temp(const Comm& comm, const std::string& temp, const KnnSlice& knn);

/// Collective: write_pairs_temp for an answer made in parts (SpilledAnswer, pair_spill.hpp):
/// the datasets grow by each part (chunked storage; the same format to a reader). Returns
/// the number of pairs written.
std::int64_t write_pair_parts_temp(const Comm& comm, const std::string& temp, const NextPairs& next,
                                   const OutputAttributes& attrs);

/// Collective: creates /pairs and /inner_products in a file opened in parallel and writes
/// each rank's stream at its offset: the format of the output and of the checkpoint.
void write_pair_slices(const Comm& comm, h5::File& file, PairStream& pairs);

/// Collective: this rank's share (a contiguous block) of the pairs of a file written by
/// write_pair_slices, read in parallel (resuming a checkpoint).
std::vector<Pair> read_pair_share(const Comm& comm, const std::string& path);

/// Reads an output file back (tests, tools): pairs in file order.
std::vector<Pair> read_pairs_file(const std::string& path);

}  // namespace hipi
