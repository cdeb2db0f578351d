#include "io/sparse_input.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/mpi/collectives.hpp>
#include <cmath>
#include <numeric>

#include "core/fault.hpp"
#include "runtime/progress.hpp"

namespace hipi {

namespace {

// Entries are read in slabs of about this many of them, so a rank's entries are never
// held twice over in their file types.
constexpr std::int64_t kSlabEntries = std::int64_t{1} << 23;

std::string member(const InputMatrix& in, const char* name) {
  return in.ref.dataset + (in.ref.dataset.back() == '/' ? "" : "/") + name;
}

bool is_index_type(h5::DType t) {
  return t == h5::DType::Int32 || t == h5::DType::Int64;
}

// A 1-D dataset of the group, its length checked and its element type returned.
h5::DType one_d(const h5::File& file, const InputMatrix& in, const char* name, std::int64_t length) {
  const std::string path = member(in, name);
  const std::string where = in.ref.file + ":" + path;
  if (!file.has_dataset(path))
    throw InputError(
        fmt::format("{}: a sparse matrix (encoding-type csr_matrix) needs a dataset {}, missing", in.ref.str(), name));
  const h5::DatasetInfo info = file.info(path);
  if (info.dims.size() != 1)
    throw InputError(fmt::format("{}: {} has {} dimensions, a CSR array has 1", where, name, info.dims.size()));
  if (info.dims[0] != length)
    throw InputError(fmt::format("{}: {} has {} elements, {} expected", where, name, info.dims[0], length));
  return info.dtype;
}

}  // namespace

void inspect_sparse_group(const h5::File& file, InputMatrix& in) {
  const std::string& group = in.ref.dataset;
  const auto encoding = file.text_attribute(group, "encoding-type");
  if (!encoding)
    throw InputError(in.ref.str() +
                     ": a group, not a dataset; a sparse matrix is read from a group with attribute "
                     "encoding-type = \"csr_matrix\", shape = [n, d] and datasets data, indices, indptr");
  if (*encoding == "csc_matrix")
    throw InputError(in.ref.str() + ": a CSC matrix; hipi reads rows (CSR): store X.tocsr()");
  if (*encoding != "csr_matrix")
    throw InputError(in.ref.str() + ": encoding-type is \"" + *encoding + "\"; hipi reads \"csr_matrix\"");
  const auto shape = file.int_array_attribute(group, "shape");
  if (!shape || shape->size() != 2)
    throw InputError(in.ref.str() + ": a sparse matrix needs an integer attribute shape = [n, d]");
  in.rows = (*shape)[0];
  in.cols = (*shape)[1];
  if (in.rows < 1 || in.cols < 1)
    throw InputError(fmt::format("{}: shape [{}, {}]: a sparse matrix needs at least one row and one column",
                                 in.ref.str(), in.rows, in.cols));
  // Counts derived from the shape (rows + 1 offsets, rows x columns) must not overflow.
  constexpr std::int64_t kLargest = std::int64_t{1} << 62;
  if (in.rows >= kLargest || in.cols >= kLargest)
    throw InputError(fmt::format("{}: shape [{}, {}] is past 2^62 rows or columns", in.ref.str(), in.rows, in.cols));
  if (!file.has_dataset(member(in, "data")))
    throw InputError(in.ref.str() + ": a sparse matrix (encoding-type csr_matrix) needs a dataset data, missing");
  const h5::DatasetInfo data = file.info(member(in, "data"));
  if (data.dims.size() != 1)
    throw InputError(fmt::format("{}: data has {} dimensions, a CSR array has 1", in.ref.str(), data.dims.size()));
  in.nnz = data.dims[0];
  in.dtype = data.dtype;
  if (in.dtype != h5::DType::Float32 && in.dtype != h5::DType::Float64)
    throw InputError(in.ref.str() + ": data is " + data.dtype_name +
                     "; a sparse matrix's values are float32 or float64");
  const h5::DType indices = one_d(file, in, "indices", in.nnz);
  const h5::DType indptr = one_d(file, in, "indptr", in.rows + 1);
  if (!is_index_type(indices) || !is_index_type(indptr))
    throw InputError(in.ref.str() + ": indices and indptr must be int32 or int64");
  in.sparse = true;
}

namespace {

// What a rank checks of its rows and entries: the first failure, in row order.
struct EntryCheck {
  const InputMatrix& in;
  std::optional<Failure> bad;
  void fail(const std::string& what) {
    if (!bad) bad = Failure{ErrorKind::Input, in.ref.str() + ": " + what};
  }
};

// This rank's offsets [rows.begin, rows.end], checked: from 0, never decreasing, to nnz.
std::vector<std::int64_t> read_offsets(const h5::File& file, const InputMatrix& in, RowRange rows, EntryCheck& check) {
  std::vector<std::int64_t> offsets(static_cast<std::size_t>(rows.size() + 1));
  file.read_rows<std::int64_t>(member(in, "indptr"), {rows.begin, rows.end + 1}, 1, offsets.data(), 1);
  if (rows.begin == 0 && offsets[0] != 0) check.fail(fmt::format("indptr[0] is {}, not 0", offsets[0]));
  if (rows.end == in.rows && offsets.back() != in.nnz)
    check.fail(fmt::format("indptr[{}] is {}, not nnz = {} (the length of data)", in.rows, offsets.back(), in.nnz));
  for (std::int64_t r = 0; r < rows.size(); ++r)
    if (offsets[r + 1] < offsets[r] || offsets[r] < 0 || offsets[r + 1] > in.nnz) {
      check.fail(fmt::format("indptr decreases or leaves [0, nnz] at row {} ({} then {})", rows.begin + r, offsets[r],
                             offsets[r + 1]));
      offsets.assign(offsets.size(), offsets[0] < 0 || offsets[0] > in.nnz ? 0 : offsets[0]);  // read nothing
      break;
    }
  return offsets;
}

// One row's entries, sorted by column and checked; zeros dropped.
void add_row(std::vector<std::pair<std::int64_t, double>>& entries, std::int64_t row, EntryCheck& check,
             SparseMatrix& out) {
  if (!std::is_sorted(entries.begin(), entries.end(), [](auto& x, auto& y) { return x.first < y.first; }))
    std::sort(entries.begin(), entries.end(), [](auto& x, auto& y) { return x.first < y.first; });
  for (std::size_t k = 0; k < entries.size(); ++k) {
    const auto [index, value] = entries[k];
    const float narrow = static_cast<float>(value);
    if (index < 0 || index >= check.in.cols)
      check.fail(fmt::format("row {} has column index {}, outside [0, {})", row, index, check.in.cols));
    else if (k > 0 && entries[k - 1].first == index)
      check.fail(
          fmt::format("row {} has column {} twice (a CSR row holds each column once: X.sum_duplicates())", row, index));
    else if (!std::isfinite(value))
      check.fail(fmt::format("row {}, column {} holds {}; real mode (--tau) needs finite values", row, index, value));
    else if (!std::isfinite(narrow))
      check.fail(
          fmt::format("row {}, column {} holds {}, beyond float32's range (hipi computes in float32, up to "
                      "3.4e38); scale the data",
                      row, index, value));
    else if (narrow != 0)
      out.append(index, narrow);
  }
  out.end_row();
}

// Entries [first, last) of the file's indices and data, in slabs; every rank makes the same
// number of reads (they are collective), some of them empty.
template <class Visit>
void for_each_entry_slab(const Comm& comm, const h5::File& file, const InputMatrix& in, std::int64_t first,
                         std::int64_t last, Visit&& visit) {
  const std::int64_t most = boost::mpi::all_reduce(comm, last - first, boost::mpi::maximum<std::int64_t>());
  const std::int64_t slabs = (most + kSlabEntries - 1) / kSlabEntries;
  std::vector<std::int64_t> indices;
  std::vector<double> values;
  for (std::int64_t k = 0; k < slabs; ++k) {
    const std::int64_t begin = std::min(last, first + k * kSlabEntries), end = std::min(last, begin + kSlabEntries);
    fault_point("read-file");
    heartbeat();
    indices.assign(static_cast<std::size_t>(end - begin), 0);
    values.assign(static_cast<std::size_t>(end - begin), 0.0);
    file.read_rows<std::int64_t>(member(in, "indices"), {begin, end}, 1, indices.empty() ? nullptr : indices.data(), 1);
    file.read_rows<double>(member(in, "data"), {begin, end}, 1, values.empty() ? nullptr : values.data(), 1);
    visit(begin, indices, values);
  }
}

}  // namespace

template <class V>
void convert_sparse_rows(const InputMatrix& in, RowRange rows, const CsrArrays<V>& from, SparseMatrix& out,
                         std::optional<Failure>& bad) {
  const auto [indptr, indices, values] = from;
  EntryCheck check{in, std::nullopt};
  std::vector<std::pair<std::int64_t, double>> entries;
  for (std::int64_t r = 0; r < rows.size(); ++r) {
    if (indptr[r + 1] < indptr[r]) {
      check.fail(fmt::format("indptr decreases at row {} ({} then {})", rows.begin + r, indptr[r], indptr[r + 1]));
      break;
    }
    entries.clear();
    for (std::int64_t k = indptr[r] - indptr[0]; k < indptr[r + 1] - indptr[0]; ++k)
      entries.emplace_back(indices[k], static_cast<double>(values[k]));
    add_row(entries, rows.begin + r, check, out);
  }
  if (check.bad && !bad) bad = check.bad;
}

template void convert_sparse_rows(const InputMatrix&, RowRange, const CsrArrays<float>&, SparseMatrix&,
                                  std::optional<Failure>&);
template void convert_sparse_rows(const InputMatrix&, RowRange, const CsrArrays<double>&, SparseMatrix&,
                                  std::optional<Failure>&);

LocalRows<SparseMatrix> read_sparse_rows(const Comm& comm, const InputMatrix& in, RowRange rows) {
  if (!in.sparse)  // a dense side: its rows without their zeros
    return {rows, SparseMatrix::from_dense(read_real_rows(comm, in, rows).rows)};
  h5::File file = open_input_again(comm, in);
  EntryCheck check{in, std::nullopt};
  const std::vector<std::int64_t> offsets = read_offsets(file, in, rows, check);
  agree_on(comm, check.bad);  // offsets are trusted from here on
  LocalRows<SparseMatrix> out{rows, {}};
  out.rows.clear(in.cols);
  agree(comm, [&] {
    const double bytes = SparseMatrix::bytes_for(rows.size(), offsets.back() - offsets.front());
    try {
      out.rows.reserve(rows.size(), offsets.back() - offsets.front());
    } catch (const std::bad_alloc&) {
      throw InputError(fmt::format("{}: rank {} cannot hold its {} rows ({:.1f} GiB); use more ranks", in.ref.str(),
                                   comm.rank(), rows.size(), bytes / (1 << 30)));
    }
  });
  std::vector<std::pair<std::int64_t, double>> row_entries;
  std::int64_t r = 0;  // the row being gathered
  for_each_entry_slab(
      comm, file, in, offsets.front(), offsets.back(),
      [&](std::int64_t begin, const std::vector<std::int64_t>& indices, const std::vector<double>& values) {
        for (std::size_t k = 0; k < indices.size(); ++k) {
          const std::int64_t entry = begin + static_cast<std::int64_t>(k);
          while (entry >= offsets[r + 1]) {  // rows that end before this entry
            add_row(row_entries, rows.begin + r, check, out.rows);
            row_entries.clear();
            ++r;
          }
          row_entries.emplace_back(indices[k], values[k]);
        }
      });
  for (; r < rows.size(); ++r) {  // the last rows with entries, and empty rows after them
    add_row(row_entries, rows.begin + r, check, out.rows);
    row_entries.clear();
  }
  file.close();
  agree_on(comm, check.bad);
  return out;
}

}  // namespace hipi
