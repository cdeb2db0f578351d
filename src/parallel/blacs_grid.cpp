#include "parallel/blacs_grid.hpp"

#include <cmath>
#include <cstdio>

extern "C" {
int Csys2blacs_handle(MPI_Comm comm);
void Cfree_blacs_system_handle(int handle);
void Cblacs_gridinit(int* context, const char* order, int rows, int cols);
void Cblacs_gridinfo(int context, int* rows, int* cols, int* my_row, int* my_col);
void Cblacs_gridexit(int context);
}

namespace hipi {

GridShape squarest_grid(int ranks) {
  HIPI_ASSERT(ranks > 0);
  int cols = static_cast<int>(std::sqrt(static_cast<double>(ranks)));
  while (ranks % cols != 0) --cols;
  // Tall (rows >= cols): C is computed in column panels, S_A stays in place and each
  // panel of S_B^T is broadcast down the process columns, so the stationary S_A should be
  // spread over the most ranks. 2 ranks, 32768 groups, d = 4096: 2x1 ran p?gemm at 478
  // GFLOP/s and the layout in 1.1 s, 1x2 at 405 GFLOP/s and 2.0 s.
  return {ranks / cols, cols};
}

GridShape parse_grid(const std::string& text, int ranks) {
  // Parsed in 64 bits and checked against the rank count before narrowing: in a 32-bit
  // int, 4294967298 would wrap to 2.
  long long rows = 0, cols = 0;
  char x = 0, extra = 0;
  if (std::sscanf(text.c_str(), "%lld%c%lld%c", &rows, &x, &cols, &extra) != 3 || (x != 'x' && x != 'X') || rows < 1 ||
      cols < 1)
    throw InputError("--grid '" + text + "': expected PxQ, e.g. 2x2");
  if (rows > ranks || cols > ranks)
    throw InputError("--grid '" + text + "': P and Q cannot exceed the job's " + std::to_string(ranks) + " ranks");
  if (rows * cols != ranks)
    throw InputError("--grid " + text + " has " + std::to_string(rows * cols) + " processes but the job has " +
                     std::to_string(ranks) + " ranks");
  return GridShape{static_cast<int>(rows), static_cast<int>(cols)};
}

BlacsGrid::BlacsGrid(const Comm& comm, GridShape shape) : shape_(shape) {
  HIPI_ASSERT(shape.rows * shape.cols == comm.size());
  system_handle_ = Csys2blacs_handle(comm);
  context_ = system_handle_;
  Cblacs_gridinit(&context_, "Row-major", shape.rows, shape.cols);
  int rows = 0, cols = 0;
  Cblacs_gridinfo(context_, &rows, &cols, &my_row_, &my_col_);
  if (context_ < 0 || rows != shape.rows || cols != shape.cols || my_row_ < 0)
    throw ScalapackError("BLACS grid " + shape.str() + " could not be created");
}

BlacsGrid::BlacsGrid(BlacsGrid&& other) noexcept
    : system_handle_(other.system_handle_),
      context_(other.context_),
      shape_(other.shape_),
      my_row_(other.my_row_),
      my_col_(other.my_col_) {
  other.context_ = -1;
  other.system_handle_ = -1;
}

BlacsGrid::~BlacsGrid() {
  if (unwinding()) return;  // gridexit frees communicators: not on a path only this rank took
  if (context_ >= 0) Cblacs_gridexit(context_);
  if (system_handle_ >= 0) Cfree_blacs_system_handle(system_handle_);
}

}  // namespace hipi
