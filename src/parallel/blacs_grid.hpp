// A BLACS process grid owned by an object: created from a communicator, exited in the
// destructor (STRUMPACK's BLACSGrid is the model). The grid-shape arithmetic is pure and
// tested without MPI.
#pragma once

#include <string>

#include "parallel/mpi.hpp"

namespace hipi {

struct GridShape {
  int rows = 1;
  int cols = 1;
  friend bool operator==(const GridShape&, const GridShape&) = default;
  std::string str() const { return std::to_string(rows) + "x" + std::to_string(cols); }
};

/// The squarest rows x cols = ranks with rows >= cols (tall: see blacs_grid.cpp).
GridShape squarest_grid(int ranks);
/// Parses "PxQ"; throws InputError unless P*Q == ranks.
GridShape parse_grid(const std::string& text, int ranks);

/// A BLACS context over all ranks of `comm`, laid out row-major: rank r sits at
/// (r / cols, r % cols). Move-only.
class BlacsGrid {
 public:
  BlacsGrid(const Comm& comm, GridShape shape);
  BlacsGrid(BlacsGrid&& other) noexcept;
  BlacsGrid& operator=(BlacsGrid&&) = delete;
  BlacsGrid(const BlacsGrid&) = delete;
  BlacsGrid& operator=(const BlacsGrid&) = delete;
  ~BlacsGrid();

  int context() const { return context_; }
  GridShape shape() const { return shape_; }
  int my_row() const { return my_row_; }
  int my_col() const { return my_col_; }

 private:
  int system_handle_ = -1;
  int context_ = -1;
  GridShape shape_;
  int my_row_ = -1, my_col_ = -1;
};

}  // namespace hipi
