// The Python module `hipi._hipi` (the package hipi re-exports it): find_heavy_pairs on numpy arrays, over the C++
// library (hipi/hipi.hpp). MPI comes from mpi4py, imported with the module (it initialises MPI and finalises it at
// exit); a communicator is an mpi4py one, MPI.COMM_WORLD by default.
#include <mpi.h>
#include <mpi4py/mpi4py.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <climits>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "hipi/hipi.hpp"

namespace py = pybind11;

namespace {

// A 2-D numpy array (or a scipy.sparse matrix) as a RowBlock, and the arrays that hold its
// memory.
struct Block {
  py::array array;
  hipi::RowBlock rows;
  py::array indptr, indices;  // sparse rows
};

template <class T>
Block block_of(const py::array& in, hipi::ElementType type, std::int64_t cols) {
  auto a = py::array_t<T, py::array::c_style>::ensure(in);  // a copy only when not C-contiguous
  if (!a) throw py::value_error("could not read the array as C-contiguous");
  Block b{a, {}, {}, {}};
  b.rows.data = a.data();
  b.rows.type = type;
  b.rows.rows = a.shape(0);
  b.rows.cols = cols;
  return b;
}

std::string dtype_name(const py::dtype& dt) {
  return py::str(py::handle(dt)).cast<std::string>();
}

// A sparse matrix's values: float32 as they are, float64, integers and bool as float64.
// Complex values are refused as a dense complex array is: forcecast would keep the real
// part with only a ComplexWarning.
py::array sparse_values(const py::object& data, const char* name) {
  const py::array values = py::array::ensure(data);
  if (!values) throw py::value_error(std::string(name) + ": could not read the sparse matrix's data");
  const char kind = values.dtype().kind();
  if (kind == 'c')
    throw py::value_error(std::string(name) + ": a sparse matrix of complex values (dtype " +
                          dtype_name(values.dtype()) + ") is not supported; hipi's inputs are real numbers");
  if (kind != 'f' && kind != 'i' && kind != 'u' && kind != 'b')
    throw py::value_error(std::string(name) + ": a sparse matrix of dtype " + dtype_name(values.dtype()) +
                          " is not supported; its values must be real numbers");
  if (values.dtype().is(py::dtype::of<float>())) return py::array_t<float, py::array::c_style>::ensure(values);
  return py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(values);
}

// A scipy.sparse matrix or array (CSR, CSC, COO, ...) as CSR rows: int64 offsets and
// columns, float32 values (float64 and integers as float64). The arrays' lengths are
// checked here (scipy checks them only when it builds the matrix, not after an edit); the
// offsets against the entries, in the library, before any entry is read.
Block sparse_block(const py::handle& object, const char* name) {
  const py::object csr = object.attr("tocsr")();
  using Index = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>;
  Block b;
  b.indptr = Index::ensure(csr.attr("indptr"));
  b.indices = Index::ensure(csr.attr("indices"));
  b.array = sparse_values(csr.attr("data"), name);
  if (!b.indptr || !b.indices || !b.array) throw py::value_error("could not read the sparse matrix's arrays");
  if (b.indptr.ndim() != 1 || b.indices.ndim() != 1 || b.array.ndim() != 1)
    throw py::value_error(std::string(name) + ": a CSR matrix's indptr, indices and data are 1-D arrays");
  const auto shape = csr.attr("shape").cast<std::pair<std::int64_t, std::int64_t>>();
  if (b.indptr.size() != shape.first + 1)
    throw py::value_error(std::string(name) + ": indptr has " + std::to_string(b.indptr.size()) + " offsets, " +
                          std::to_string(shape.first + 1) + " expected (one more than the " +
                          std::to_string(shape.first) + " rows)");
  if (b.indices.size() != b.array.size())
    throw py::value_error(std::string(name) + ": the sparse matrix has " + std::to_string(b.array.size()) +
                          " values but " + std::to_string(b.indices.size()) +
                          " column indices (data and indices hold one of each per entry)");
  b.rows.data = b.array.data();
  b.rows.type = b.array.dtype().is(py::dtype::of<float>()) ? hipi::ElementType::Float32 : hipi::ElementType::Float64;
  b.rows.rows = shape.first;
  b.rows.cols = shape.second;
  b.rows.indptr = static_cast<const std::int64_t*>(b.indptr.data());
  b.rows.indices = static_cast<const std::int64_t*>(b.indices.data());
  b.rows.nnz = b.indices.size();
  return b;
}

// int8 (+-1 or small integers), uint8 (numpy.packbits of +-1 rows, `bits` = d), float32, float64;
// other integers and bool as float64 (what numpy makes of a list of ints is int64);
// scipy.sparse matrices and arrays (real data).
Block to_block(const py::handle& object, const char* name, std::optional<std::int64_t> bits) {
  if (py::hasattr(object, "tocsr") && py::hasattr(object, "nnz")) return sparse_block(object, name);
  const py::array in = py::array::ensure(object);
  if (!in) throw py::value_error(std::string(name) + " must be a numpy array");
  if (in.ndim() != 2)
    throw py::value_error(std::string(name) + " must be 2-D (rows x d), got " + std::to_string(in.ndim()) + "-D");
  const py::dtype dt = in.dtype();
  const std::int64_t cols = in.shape(1);
  if (bits && !dt.is(py::dtype::of<std::uint8_t>()))
    throw py::value_error("bits=" + std::to_string(*bits) + " is for uint8 packed rows; " + name + " is " +
                          dtype_name(dt));
  if (dt.is(py::dtype::of<std::int8_t>())) return block_of<std::int8_t>(in, hipi::ElementType::Int8, cols);
  if (dt.is(py::dtype::of<float>())) return block_of<float>(in, hipi::ElementType::Float32, cols);
  if (dt.is(py::dtype::of<double>())) return block_of<double>(in, hipi::ElementType::Float64, cols);
  if (dt.is(py::dtype::of<std::uint8_t>())) {
    const std::int64_t d = bits ? *bits : 8 * cols;
    if (d < 1 || (d + 7) / 8 != cols)
      throw py::value_error(std::string(name) + ": packed bits of " + std::to_string(cols) + " bytes a row hold " +
                            std::to_string(8 * cols - 7) + " to " + std::to_string(8 * cols) +
                            " values, not bits=" + std::to_string(d));
    return block_of<std::uint8_t>(in, hipi::ElementType::PackedBits, d);
  }
  if (dt.kind() == 'i' || dt.kind() == 'u' || dt.kind() == 'b') {
    const py::array wide = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(in);
    return block_of<double>(wide, hipi::ElementType::Float64, cols);
  }
  throw py::value_error(std::string(name) + ": dtype " + dtype_name(dt) +
                        " is not supported; use int8, float32, float64, or uint8 packed bits (numpy.packbits)");
}

MPI_Comm comm_of(const py::object& comm) {
  if (comm.is_none()) return MPI_COMM_WORLD;
  if (!PyObject_TypeCheck(comm.ptr(), &PyMPIComm_Type)) throw py::type_error("comm must be an mpi4py communicator");
  return *PyMPIComm_Get(comm.ptr());
}

// Global index of this rank's first row: the rows of the ranks before it.
std::int64_t first_row(MPI_Comm comm, std::int64_t rows) {
  MPI_Comm dup;
  MPI_Comm_dup(comm, &dup);
  std::int64_t before = 0;
  MPI_Exscan(&rows, &before, 1, MPI_INT64_T, MPI_SUM, dup);
  int rank = 0;
  MPI_Comm_rank(dup, &rank);
  MPI_Comm_free(&dup);
  return rank == 0 ? 0 : before;
}

// Collective: runs `check` here; when it raised a ValueError on any rank, every rank raises
// the lowest such rank's message.
void agree_on_refusal(MPI_Comm comm, const std::function<void()>& check) {
  std::string error;
  try {
    check();
  } catch (const py::value_error& e) {
    error = e.what();
  } catch (py::error_already_set& e) {  // a Python error while reading an argument
    error = e.what();
  }
  MPI_Comm dup;
  MPI_Comm_dup(comm, &dup);
  int rank = 0, first = 0;
  MPI_Comm_rank(dup, &rank);
  const int mine = error.empty() ? INT_MAX : rank;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, dup);
  if (first != INT_MAX) {
    int length = static_cast<int>(error.size());
    MPI_Bcast(&length, 1, MPI_INT, first, dup);
    error.resize(static_cast<std::size_t>(length));
    MPI_Bcast(error.data(), length, MPI_CHAR, first, dup);
  }
  MPI_Comm_free(&dup);
  if (first == INT_MAX) return;
  throw py::value_error(rank == first ? error : "rank " + std::to_string(first) + ": " + error);
}

// The seed as the library takes it. Taken as any Python object so that -1 or 2**64 is a
// ValueError saying what a seed is, not pybind11's list of every argument's type.
std::uint64_t seed_of(const py::object& seed) {
  const std::string refusal = "seed must be a non-negative integer (< 2^64); got " + py::repr(seed).cast<std::string>();
  if (!PyIndex_Check(seed.ptr())) throw py::value_error(refusal);  // numpy's integers pass, floats do not
  const py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(seed.ptr()));
  if (!index) throw py::error_already_set();
  const unsigned long long value = PyLong_AsUnsignedLongLong(index.ptr());
  if (value == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {  // negative, or past 2^64 - 1
    PyErr_Clear();
    throw py::value_error(refusal);
  }
  return value;
}

hipi::Method method_of(const std::string& name) {
  static const std::map<std::string, hipi::Method> methods{
      {"auto", hipi::Method::Auto}, {"brute", hipi::Method::Brute},   {"sketch", hipi::Method::Sketch},
      {"hash", hipi::Method::Hash}, {"prefix", hipi::Method::Prefix}, {"sparse", hipi::Method::Sparse}};
  const auto it = methods.find(name);
  if (it == methods.end())
    throw py::value_error("method must be one of auto, brute, sketch, hash, prefix, sparse; got '" + name + "'");
  return it->second;
}

// Top-k without a threshold (any_score): the kind of rows, +-1 (binary mode) or real, as
// `binary` says; not given, packed bits are +-1 rows and anything else real rows (the CLI's
// rule for --top-k without --rho or --tau).
hipi::ThresholdKind any_score_kind(std::optional<bool> binary, const Block& a) {
  if (binary) return *binary ? hipi::ThresholdKind::Rho : hipi::ThresholdKind::Tau;
  return a.rows.type == hipi::ElementType::PackedBits ? hipi::ThresholdKind::Rho : hipi::ThresholdKind::Tau;
}

py::object find_heavy_pairs(const py::object& a, const py::object& b, std::optional<double> rho,
                            std::optional<double> tau, bool abs, bool cosine, bool skip_zero_rows, bool components,
                            std::int64_t top_k, bool any_score, std::optional<bool> binary, const std::string& method,
                            const py::object& seed, double delta, std::optional<std::int64_t> bits,
                            std::int64_t memory_mib, const std::string& delivery, const py::object& comm, bool info,
                            int verbosity) {
  const MPI_Comm c = comm_of(comm);
  hipi::FindOptions o;
  Block ba;
  std::optional<Block> bb;
  // Arguments and arrays are checked on each rank; a refusal is agreed before any
  // collective call, so one rank's bad block cannot leave the others waiting.
  agree_on_refusal(c, [&] {
    if (top_k < 0 || (any_score && top_k == 0))
      throw py::value_error("top_k must be a positive number of rows (0: every pair past the threshold), got " +
                            std::to_string(top_k));
    if (any_score && (rho || tau))
      throw py::value_error("any_score=True is top-k without a threshold: it takes neither rho= nor tau=");
    if (!any_score && rho.has_value() == tau.has_value())
      throw py::value_error("give exactly one of rho= (+-1 data: <a,b> >= rho*d) and tau= (real data: <a,b> >= tau)");
    if (binary && !any_score)
      throw py::value_error(
          "binary= goes with any_score=True (top-k without a threshold); rho= or tau= says it "
          "otherwise");
    o.top_k = top_k;
    o.any_score = any_score;
    o.value = rho ? *rho : tau ? *tau : 0.0;
    o.abs = abs;
    o.cosine = cosine;
    o.skip_zero_rows = skip_zero_rows;
    o.components = components;
    o.method = method_of(method);
    o.seed = seed_of(seed);
    o.delta = delta;
    o.memory_mib = memory_mib;
    o.verbosity = verbosity;
    if (delivery == "every_rank")
      o.delivery = hipi::Delivery::EveryRank;
    else if (delivery == "distributed")
      o.delivery = hipi::Delivery::Distributed;
    else
      throw py::value_error("delivery must be 'every_rank' or 'distributed'; got '" + delivery + "'");
    ba = to_block(a, "A", bits);
    if (!b.is_none()) bb = to_block(b, "B", bits);
    o.kind = any_score ? any_score_kind(binary, ba) : rho ? hipi::ThresholdKind::Rho : hipi::ThresholdKind::Tau;
  });
  ba.rows.first_row = first_row(c, ba.rows.rows);
  if (bb) bb->rows.first_row = first_row(c, bb->rows.rows);

  hipi::HeavyPairs found;
  {
    py::gil_scoped_release release;  // the arrays stay referenced by ba and bb
    found = hipi::find_heavy_pairs(c, ba.rows, bb ? &bb->rows : nullptr, o);
  }
  const auto m = static_cast<py::ssize_t>(found.i.size());
  py::array_t<std::int64_t> pairs({m, py::ssize_t{2}});
  py::array_t<double> ips(m);
  auto p = pairs.mutable_unchecked<2>();
  auto v = ips.mutable_unchecked<1>();
  for (py::ssize_t k = 0; k < m; ++k) {
    p(k, 0) = found.i[k];
    p(k, 1) = found.j[k];
    v(k) = found.inner_products[k];
  }
  py::list result;
  result.append(pairs);
  result.append(ips);
  if (components) {
    py::array_t<std::int64_t> labels(static_cast<py::ssize_t>(found.components.size()));
    std::copy(found.components.begin(), found.components.end(), labels.mutable_data());
    result.append(labels);
  }
  if (!info) return py::tuple(result);
  const py::module_ json = py::module_::import("json");
  py::dict details;
  details["method"] = hipi::method_name(found.method);
  details["parameters"] = json.attr("loads")(found.parameters_json);
  details["timings"] = json.attr("loads")(found.timings_json);
  details["kernels"] = json.attr("loads")(found.kernels_json);
  details["total"] = found.total;
  details["offset"] = found.offset;
  if (components) details["components_first"] = found.components_first;
  result.append(details);
  return py::tuple(result);
}

}  // namespace

PYBIND11_MODULE(_hipi, m) {
  m.doc() =
      "Exact heavy inner products: every pair of rows of A and B whose inner product passes a threshold, or each "
      "row of A's k best rows of B";
  m.attr("__version__") = HIPI_VERSION;
  py::module_::import("mpi4py.MPI");  // initialises MPI (and finalises it at exit)
  if (import_mpi4py() < 0) throw py::error_already_set();

  py::register_exception_translator([](std::exception_ptr error) {
    try {
      if (error) std::rethrow_exception(error);
    } catch (const hipi::InputError& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    } catch (const hipi::Error& e) {
      PyErr_SetString(PyExc_RuntimeError, e.what());
    }
  });

  m.def("find_heavy_pairs", &find_heavy_pairs, py::arg("A"), py::arg("B") = py::none(), py::kw_only(),
        py::arg("rho") = py::none(), py::arg("tau") = py::none(), py::arg("abs") = false, py::arg("cosine") = false,
        py::arg("skip_zero_rows") = false, py::arg("components") = false, py::arg("top_k") = 0,
        py::arg("any_score") = false, py::arg("binary") = py::none(), py::arg("method") = "auto", py::arg("seed") = 1,
        py::arg("delta") = 1e-3, py::arg("bits") = py::none(), py::arg("memory_mib") = 0,
        py::arg("delivery") = "every_rank", py::arg("comm") = py::none(), py::arg("info") = false,
        py::arg("verbosity") = 0,
        "The solve behind hipi.find_heavy_pairs and hipi.top_k (hipi/pairs.py): returns (pairs, inner_products, "
        "...). top_k > 0: each row of A's top_k best rows of B (FindOptions::top_k), the pairs sorted by (i, score "
        "descending, j); any_score=True: without rho= or tau=, the rows +-1 (binary=True) or real (binary=False; "
        "not given: packed bits are +-1, anything else real).");
}
