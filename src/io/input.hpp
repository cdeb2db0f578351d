// Folder io/: files: HDF5, the inputs and their checks, atomic output files, the pair file format,
// generated instances.
//
// Reading the user's matrices: checks first, agreed by every rank, then row blocks.
//
// Every check names the file, the dataset and the problem, and is agreed collectively
// (hipi::agree) so that all ranks stop together with the same message and exit status 2.
#pragma once

#include <cstdint>
#include <optional>

#include "core/bit_matrix.hpp"
#include "core/matrix_blocks.hpp"
#include "core/problem.hpp"
#include "io/hdf5.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// Which file a path named, and its state, when it was opened: a file rewritten in place
/// while hipi reads it changes size or modification time (or is another file by then).
struct FileIdentity {
  std::uint64_t device = 0, inode = 0;
  std::int64_t size = 0, modified_ns = 0;
  bool operator==(const FileIdentity&) const = default;
};

/// A checked input: shape and element type; for a sparse input (an HDF5 group in CSR form,
/// io/sparse_input.hpp) its stored entries too.
struct InputMatrix {
  DatasetRef ref;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  h5::DType dtype = h5::DType::Other;  // of the values
  bool sparse = false;
  std::int64_t nnz = 0;
  std::optional<FileIdentity> identity = std::nullopt;  // rank 0: the file when it was inspected
};

/// Collective. Opens `ref` and checks that it exists and is a non-empty 2-D dataset of
/// int8, float32 or float64, or a group holding a sparse matrix in CSR form
/// (sparse_input.hpp). Throws a collective InputError otherwise.
InputMatrix inspect_input(const Comm& comm, const DatasetRef& ref);

/// Collective, after the last read of `input`: an IoError (exit status 1) on every rank
/// when its file is no longer the one inspected or was changed since ("input changed while
/// hipi was reading it"): rows read across a rewrite may mix the old file and the new.
void check_input_unchanged(const Comm& comm, const InputMatrix& input);

/// Collective. Checks that A and B (if any) fit together and with the mode (packed bits
/// are +-1 data: binary mode only; sparse inputs are real data).
void check_inputs_match(const InputMatrix& a, const InputMatrix* b, Mode mode);

/// Rows of an input's values as they sit in memory: rows `rows` of the input (its element
/// type; bytes for packed bits) at `values`, `stride` elements apart.
template <class V>
struct ValueRows {
  RowRange rows;
  const V* values;
  std::int64_t stride = 0;
};

/// Where converted rows go: `matrix`'s rows from `first` on.
template <class Matrix>
struct RowsInto {
  Matrix& matrix;
  std::int64_t first = 0;
};

/// Rows converted from values in memory with the checks reading makes. The first value that
/// fails (not +-1 in binary mode; not finite or past float32 in real mode) goes to `bad`.
void convert_binary_rows(const InputMatrix& in, const ValueRows<void>& from, RowsInto<BitMatrix> to,
                         std::optional<Failure>& bad);
void convert_real_rows(const InputMatrix& in, const ValueRows<void>& from, RowsInto<RealMatrix> to,
                       std::optional<Failure>& bad);

/// Collective: the input's file opened again, by every rank, to read its rows. A failure
/// (the file replaced or truncated since inspect_input) is an agreed IoError naming it.
h5::File open_input_again(const Comm& comm, const InputMatrix& input);

/// Collective. Reads `rows` of `input` (every rank its own range), checks every value
/// (+-1 in binary mode; finite in real mode) and packs binary rows into bits.
LocalRows<BitMatrix> read_binary_rows(const Comm& comm, const InputMatrix& input, RowRange rows);
/// Real rows of a sparse input are densified (each rank its rows, checked as sparse_input.hpp).
LocalRows<RealMatrix> read_real_rows(const Comm& comm, const InputMatrix& input, RowRange rows);

}  // namespace hipi
