// Folder library/: libhipi.so, the installed API of include/hipi/hipi.hpp over the solve core.
//
// The library's entry point (hipi.hpp): the caller's row blocks in, the sorted answer out,
// through the same core as `hipi solve` (solve_answer.hpp).
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <boost/mpi/collectives.hpp>
#include <iostream>

#include "answer/components.hpp"
#include "hipi/hipi.hpp"
#include "io/input.hpp"
#include "io/sparse_input.hpp"
#include "kernels/exact.hpp"
#include "parallel/log.hpp"
#include "parallel/row_exchange.hpp"
#include "parallel/scalapack.hpp"
#include "solve/solve_answer.hpp"

namespace hipi {

namespace {

h5::DType dtype_of(ElementType type) {
  switch (type) {
    case ElementType::Int8:
      return h5::DType::Int8;
    case ElementType::PackedBits:
      return h5::DType::UInt8;
    case ElementType::Float32:
      return h5::DType::Float32;
    case ElementType::Float64:
      return h5::DType::Float64;
  }
  return h5::DType::Other;
}

// Elements of one row as stored (bytes for packed bits).
std::int64_t row_elements(const RowBlock& block) {
  return block.type == ElementType::PackedBits ? (block.cols + 7) / 8 : block.cols;
}

// A caller's CSR offsets, checked before any entry is read, as a file's are
// (sparse_input.cpp): never negative, never decreasing, and within the entries the caller
// says it holds. Not collective (inside agree_matrix's agree): each rank checks its block.
void check_sparse_offsets(const RowBlock& block, const std::string& name) {
  if (!block.indptr || block.rows <= 0) return;
  const std::int64_t* indptr = block.indptr;
  if (indptr[0] < 0) throw InputError(fmt::format("{}: indptr[0] is {}, a negative offset", name, indptr[0]));
  for (std::int64_t r = 0; r < block.rows; ++r)
    if (indptr[r + 1] < indptr[r])
      throw InputError(fmt::format("{}: indptr decreases at row {} ({} then {})", name, block.first_row + r, indptr[r],
                                   indptr[r + 1]));
  const std::int64_t spans = indptr[block.rows] - indptr[0];
  if (block.nnz >= 0 && spans > block.nnz)
    throw InputError(
        fmt::format("{}: indptr spans {} entries (indptr[{}] - indptr[0], rows {} to {}), but indices and "
                    "data hold {}",
                    name, spans, block.rows, block.first_row, block.first_row + block.rows - 1, block.nnz));
}

// What every rank knows of one block, gathered to check the split is one matrix.
struct BlockShape {
  std::int64_t first_row = 0, rows = 0, cols = 0;
  int type = 0;
};

// Collective: the matrix the ranks' blocks make together, checked (agreed) as inspect_input
// checks a dataset. `name` is "A" or "B".
InputMatrix agree_matrix(const Comm& comm, const RowBlock& block, const std::string& name) {
  // Sparse blocks count as their own element types: every rank's block must be sparse alike.
  const int type = static_cast<int>(block.type) + (block.indptr ? 16 : 0);
  const BlockShape mine{block.first_row, block.rows, block.cols, type};
  const std::vector<BlockShape> all = all_gather_vector(comm, std::vector<BlockShape>{mine});
  InputMatrix in{{"(array)", name}, 0, block.cols, dtype_of(block.type)};
  agree(comm, [&] {
    if (block.rows < 0 || block.cols < 1)
      throw InputError(fmt::format("{}: {} rows of {} columns", name, block.rows, block.cols));
    if (block.rows > 0 && block.data == nullptr)
      throw InputError(name + ": no data for " + std::to_string(block.rows) + " rows");
    if (block.indptr && (block.type == ElementType::Int8 || block.type == ElementType::PackedBits))
      throw InputError(name + ": sparse rows hold float32 or float64 values");
    if (block.indptr && block.rows > 0 && block.indices == nullptr)
      throw InputError(name + ": sparse rows without indices");
    check_sparse_offsets(block, name);
    if (block.row_stride != 0 && block.row_stride < row_elements(block))
      throw InputError(fmt::format("{}: row_stride {} is shorter than a row ({} elements)", name, block.row_stride,
                                   row_elements(block)));
  });
  // The gathered shapes are the same on every rank: every rank reaches the same verdict.
  std::int64_t next = 0;
  for (std::size_t r = 0; r < all.size(); ++r) {
    if (all[r].first_row != next)
      throw InputError(fmt::format("{}: rank {}'s block starts at row {}, not at row {} where the ranks before it end "
                                   "(blocks must be contiguous in rank order)",
                                   name, r, all[r].first_row, next),
                       true);
    if (all[r].cols != all[0].cols || all[r].type != all[0].type)
      throw InputError(fmt::format("{}: rank {}'s block has {} columns of element type {}, rank 0's {} of type {}: "
                                   "every rank's block must have the same columns and type",
                                   name, r, all[r].cols, all[r].type, all[0].cols, all[0].type),
                       true);
    next += all[r].rows;
  }
  if (next == 0) throw InputError(name + ": no rows on any rank", true);
  in.rows = next;
  in.sparse = block.indptr != nullptr;
  if (in.sparse)
    in.nnz = boost::mpi::all_reduce(comm, block.rows > 0 ? block.indptr[block.rows] - block.indptr[0] : 0,
                                    std::plus<std::int64_t>());
  return in;
}

// This rank's block `range` of the caller's sparse rows (or dense rows without their zeros),
// checked as a file's are, then moved to `range` when that differs.
LocalRows<SparseMatrix> sparse_rows_from(const Comm& comm, const RowBlock& block, const InputMatrix& in,
                                         RowRange range);

// This rank's block `range` of the caller's matrix: its own block converted (with the
// checks reading a file makes), then moved to `range` when that differs.
template <class Matrix>
LocalRows<Matrix> rows_from(const Comm& comm, const RowBlock& block, const InputMatrix& in, RowRange range) {
  if constexpr (std::is_same_v<Matrix, RealMatrix>) {
    if (block.indptr) {  // densified
      const LocalRows<SparseMatrix> sparse = sparse_rows_from(comm, block, in, range);
      LocalRows<RealMatrix> out{range, RealMatrix(range.size(), in.cols)};
      for (std::int64_t r = 0; r < range.size(); ++r)
        for (std::size_t k = 0; k < sparse.rows.indices(r).size(); ++k)
          out.rows.row(r)[sparse.rows.indices(r)[k]] = sparse.rows.values(r)[k];
      return out;
    }
  }
  const RowRange own{block.first_row, block.first_row + block.rows};
  LocalRows<Matrix> mine{own, Matrix(own.size(), in.cols)};
  std::optional<Failure> bad;
  const std::int64_t stride = block.row_stride ? block.row_stride : row_elements(block);
  if (own.size() > 0) {
    if constexpr (std::is_same_v<Matrix, BitMatrix>)
      convert_binary_rows(in, {own, block.data, stride}, {mine.rows, 0}, bad);
    else
      convert_real_rows(in, {own, block.data, stride}, {mine.rows, 0}, bad);
  }
  agree_on(comm, bad);
  std::optional<LocalRows<Matrix>> moved = relayout_rows(comm, mine, range);
  if (moved) return std::move(*moved);
  return mine;
}

LocalRows<SparseMatrix> sparse_rows_from(const Comm& comm, const RowBlock& block, const InputMatrix& in,
                                         RowRange range) {
  if (!block.indptr) {
    const LocalRows<RealMatrix> dense = rows_from<RealMatrix>(comm, block, in, range);
    return {dense.range, SparseMatrix::from_dense(dense.rows)};
  }
  const RowRange own{block.first_row, block.first_row + block.rows};
  LocalRows<SparseMatrix> mine{own, {}};
  mine.rows.clear(in.cols);
  std::optional<Failure> bad;
  if (block.type == ElementType::Float64)
    convert_sparse_rows(in, own, CsrArrays<double>{block.indptr, block.indices, static_cast<const double*>(block.data)},
                        mine.rows, bad);
  else
    convert_sparse_rows(in, own, CsrArrays<float>{block.indptr, block.indices, static_cast<const float*>(block.data)},
                        mine.rows, bad);
  agree_on(comm, bad);
  std::optional<LocalRows<SparseMatrix>> moved = relayout_rows(comm, mine, range);
  if (moved) return std::move(*moved);
  return mine;
}

HeavyPairs find(const Comm& comm, const RowBlock& a, const RowBlock* b, const FindOptions& fo) {
  SolveOptions o;
  o.problem.a = {"(array)", "A"};
  if (b) o.problem.b = DatasetRef{"(array)", "B"};
  o.problem.mode = fo.kind == ThresholdKind::Rho ? Mode::Binary : Mode::Real;
  o.problem.value = fo.value;
  o.problem.abs = fo.abs;
  o.problem.cosine = fo.cosine;
  o.problem.skip_zero_rows = fo.skip_zero_rows;
  o.problem.top_k = fo.top_k;
  o.problem.any_score = fo.any_score;
  o.method = fo.method;
  o.seed = fo.seed;
  o.delta = fo.delta;
  o.memory_mib = fo.memory_mib;
  o.profile = fo.profile;
  o.components = fo.components;
  o.checkpoint_interval = 0;  // no file to checkpoint beside
  agree(comm, [&] { check_solve_options(o, comm.size()); });
  const InputMatrix ia = agree_matrix(comm, a, "A");
  std::optional<InputMatrix> ib;
  if (b) ib = agree_matrix(comm, *b, "B");
  check_inputs_match(ia, ib ? &*ib : nullptr, o.problem.mode);

  const auto block_of = [&](const InputMatrix& in) -> const RowBlock& { return in.ref.dataset == "A" ? a : *b; };
  const RowReaders read{[&](const Comm& c, const InputMatrix& in, RowRange range) {
                          return rows_from<BitMatrix>(c, block_of(in), in, range);
                        },
                        [&](const Comm& c, const InputMatrix& in, RowRange range) {
                          return rows_from<RealMatrix>(c, block_of(in), in, range);
                        },
                        [&](const Comm& c, const InputMatrix& in, RowRange range) {
                          return sparse_rows_from(c, block_of(in), in, range);
                        }};
  const std::unique_ptr<Solved> owned = solve_answer(comm, ia, ib ? &*ib : nullptr, o, read);
  Solved& solved = *owned;

  std::vector<Pair> pairs;
  pairs.reserve(static_cast<std::size_t>(solved.answer.count));
  if (solved.answer.count > 0) solved.answer.next(pairs, solved.answer.count);
  HeavyPairs out;
  out.total = solved.answer.total;
  out.offset = solved.answer.offset;
  if (fo.components) {
    ComponentBuilder builder(ia.rows);
    builder.add(pairs.data(), pairs.size());
    const ComponentLabels labels = builder.finish(comm, solved.budget);
    const bool every = fo.delivery == Delivery::EveryRank;
    out.components = every ? all_gather_vector(comm, labels.labels) : labels.labels;  // blocks in rank order
    out.components_first = every ? 0 : labels.rows.begin;
  }
  if (fo.delivery == Delivery::EveryRank) {
    pairs = all_gather_vector(comm, pairs);  // slices in rank order: the sorted answer
    out.offset = 0;
  }
  out.i.reserve(pairs.size());
  out.j.reserve(pairs.size());
  out.inner_products.reserve(pairs.size());
  for (const Pair& p : pairs) {
    out.i.push_back(p.i);
    out.j.push_back(p.j);
    out.inner_products.push_back(p.ip);
  }
  out.method = solved.outcome.method;
  out.parameters_json = solved.parameters.dump();
  out.timings_json = gather_stage_times(comm, solved.times).dump();
  out.kernels_json = nlohmann::json{{"exact", kernel_name()}, {"blas", blas_kernels()}}.dump();
  return out;
}

}  // namespace

HeavyPairs find_heavy_pairs(MPI_Comm caller, const RowBlock& a, const RowBlock* b, const FindOptions& options) {
  int initialised = 0, finalised = 0;
  MPI_Initialized(&initialised);
  MPI_Finalized(&finalised);
  if (!initialised || finalised) throw InputError("find_heavy_pairs: MPI is not initialised (call MPI_Init first)");
  const Comm comm(caller, boost::mpi::comm_duplicate);  // never the caller's communicator itself
  init_logging(comm, options.verbosity);
  try {
    return find(comm, a, b, options);
  } catch (const Error& e) {
    if (e.collective()) throw;  // every rank throws it: the caller can go on
    std::cerr << "hipi: rank " << comm.rank() << ": " << kind_name(e.kind()) << ": " << e.what() << std::endl;
    abort_job(comm, exit_status(e.kind()));
  } catch (const std::exception& e) {
    // Only this rank knows: the others may be inside a collective call. End them all.
    std::cerr << "hipi: rank " << comm.rank() << ": " << e.what() << std::endl;
    abort_job(comm, 1);
  }
}

}  // namespace hipi
