// Sparse inputs: a matrix in compressed sparse row form, as AnnData and h5sparse store it.
//
// `--a file.h5:/X` names an HDF5 group with the attributes encoding-type = "csr_matrix" and
// shape = [n, d], holding three 1-D datasets: data (float32 or float64), indices (int32 or
// int64, the column of each entry) and indptr (int32 or int64, n + 1 offsets: row r's
// entries are [indptr[r], indptr[r + 1])). Each rank reads the indptr of its rows and then
// only their entries. Every malformed input is an agreed input error naming the group:
// indptr not starting at 0, decreasing or not ending at nnz, an index out of [0, d), a
// repeated index in a row, a value not finite or past float32.
#pragma once

#include <optional>

#include "core/matrix_blocks.hpp"
#include "core/sparse_matrix.hpp"
#include "io/hdf5.hpp"
#include "io/input.hpp"
#include "parallel/mpi.hpp"

namespace hipi {

/// Not collective (inside inspect_input's agree): checks the group `in.ref.dataset` of
/// `file` and fills `in` (shape, nnz, types). Throws InputError naming what is wrong.
void inspect_sparse_group(const h5::File& file, InputMatrix& in);

/// Rows held as CSR arrays in memory (a library caller's): `indptr` has one offset more than
/// there are rows, into `indices` and `values` (from indptr[0]).
template <class V>
struct CsrArrays {
  const std::int64_t* indptr;
  const std::int64_t* indices;
  const V* values;
};

/// Rows `rows` of CSR arrays, checked as a file's rows are, sorted by column, zeros dropped,
/// appended to `out`; the first failure goes to `bad`.
template <class V>
void convert_sparse_rows(const InputMatrix& in, RowRange rows, const CsrArrays<V>& from, SparseMatrix& out,
                         std::optional<Failure>& bad);

/// Collective. Reads this rank's `rows` of a sparse input, checking every entry; indices
/// are sorted within each row and explicit zeros dropped. A dense input is read and its
/// zeros dropped (a sparse method joining a sparse side with a dense one).
LocalRows<SparseMatrix> read_sparse_rows(const Comm& comm, const InputMatrix& input, RowRange rows);

}  // namespace hipi
