// HDF5 for hipi: the one place that calls the HDF5 C API.
//
// Handle owns an hid_t and closes it in a non-throwing destructor (as HighFive does);
// every failing HDF5 call becomes a hipi::Hdf5Error carrying the innermost message of
// HDF5's error stack. A File opened with a communicator uses MPI-IO, and its row reads and
// writes are collective: every rank of that communicator must call them, with an empty
// range if it has no rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/matrix_blocks.hpp"
#include "parallel/mpi.hpp"

namespace hipi::h5 {

using Id = std::int64_t;  // hid_t in HDF5 >= 1.10

/// Owns one HDF5 identifier; move-only. A collective handle (a file opened through MPI-IO)
/// is not closed by a destructor that runs while an exception unwinds (see hipi::unwinding).
class Handle {
 public:
  using Closer = int (*)(Id);
  Handle() = default;
  Handle(Id id, Closer close, bool collective = false) : id_(id), close_(close), collective_(collective) {}
  Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_), collective_(other.collective_) {
    other.id_ = -1;
  }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }
  Id id() const { return id_; }
  bool valid() const { return id_ >= 0; }
  /// Closes now, reporting failure (the destructor cannot).
  void close();

 private:
  void reset() noexcept;
  Id id_ = -1;
  Closer close_ = nullptr;
  bool collective_ = false;
};

/// Element types hipi reads and writes.
enum class DType { Int8, UInt8, Int32, Int64, Float32, Float64, Other };

struct DatasetInfo {
  std::vector<std::int64_t> dims;
  DType dtype = DType::Other;
  std::string dtype_name;  // e.g. "int8", "float32", "int32", "string"
};

class File {
 public:
  /// Opens an existing file read-only; with `comm`, through MPI-IO (collective).
  static File open_read(const std::string& path, const Comm* comm);
  /// Opens an existing file for reading and writing; with `comm`, through MPI-IO.
  static File open_write(const std::string& path, const Comm* comm);
  /// Creates (truncates) a file; with `comm`, through MPI-IO (collective).
  static File create(const std::string& path, const Comm* comm);

  const std::string& path() const { return path_; }
  /// What `name` ("/A", "/group/data") names in this file: nothing, a dataset, a group.
  enum class Object { None, Dataset, Group, Other };
  Object object_type(const std::string& name) const;
  bool has_dataset(const std::string& name) const { return object_type(name) == Object::Dataset; }
  DatasetInfo info(const std::string& name) const;

  /// Creates a 2-D or 1-D dataset of T with the given dims (collective when parallel).
  /// With `growing_chunk_rows` > 0 its rows may grow past dims[0] (extend_rows): chunked
  /// storage of that many rows per chunk, for an answer whose size is known only at the end.
  template <class T>
  void create_dataset(const std::string& name, const std::vector<std::int64_t>& dims,
                      std::int64_t growing_chunk_rows = 0);
  /// Sets a growing dataset's rows to `rows` (collective when parallel: every rank the same).
  void extend_rows(const std::string& name, std::int64_t rows);

  /// Reads rows [rows.begin, rows.end) of a 2-D dataset with `cols` columns into `out`
  /// (row-major, `out_stride` elements between rows), converting to T.
  template <class T>
  void read_rows(const std::string& name, RowRange rows, std::int64_t cols, T* out, std::int64_t out_stride) const;
  /// Writes rows [rows.begin, rows.end) of a dataset made by create_dataset (1-D or 2-D).
  template <class T>
  void write_rows(const std::string& name, RowRange rows, const T* data);

  /// Whole-dataset convenience for small data (serial files, or every rank the same data).
  template <class T>
  void write(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<T>& data);
  template <class T>
  std::vector<T> read_all(const std::string& name) const;

  /// Attributes on the root group.
  void set_attribute(const std::string& name, const std::string& value);
  void set_attribute(const std::string& name, double value);
  void set_attribute(const std::string& name, std::int64_t value);
  std::string string_attribute(const std::string& name) const;
  double double_attribute(const std::string& name) const;
  std::int64_t int_attribute(const std::string& name) const;
  /// An integer attribute of a dataset (collective when parallel), and whether one exists
  /// (as an integer: a text or float attribute of that name reads as absent).
  void set_dataset_attribute(const std::string& dataset, const std::string& name, std::int64_t value);
  std::optional<std::int64_t> dataset_int_attribute(const std::string& dataset, const std::string& name) const;

  /// Sets an attribute of the group or dataset `object`: text, or integers (a 1-D array).
  void set_object_attribute(const std::string& object, const std::string& name, const std::string& value);
  void set_object_attribute(const std::string& object, const std::string& name,
                            const std::vector<std::int64_t>& values);
  /// An attribute of the group or dataset `object`, read as integers (a scalar or a 1-D
  /// array) or as text (fixed or variable length); nothing when absent or of another class.
  std::optional<std::vector<std::int64_t>> int_array_attribute(const std::string& object,
                                                               const std::string& name) const;
  std::optional<std::string> text_attribute(const std::string& object, const std::string& name) const;

  /// Closes now (collective when parallel), reporting failure.
  void close() { file_.close(); }

 private:
  File(std::string path, Handle file, bool parallel)
      : path_(std::move(path)), file_(std::move(file)), parallel_(parallel) {}
  std::string path_;
  Handle file_;
  bool parallel_ = false;
};

/// True when `path` exists and is an HDF5 file.
bool is_hdf5_file(const std::string& path);

/// HDF5 objects (files, datasets, attributes, ...) open in this process now: 0 between
/// runs, whatever error ended the last one (tests check that no path leaks a handle).
std::int64_t open_objects();

}  // namespace hipi::h5
