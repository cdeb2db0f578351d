#include "io/hdf5.hpp"

#include <hdf5.h>

#include <cstring>
#include <type_traits>

namespace hipi::h5 {

static_assert(std::is_same_v<Id, hid_t>, "hipi::h5::Id must be hid_t");

namespace {

// Silences HDF5's own printing once: hipi reports errors through exceptions instead.
struct QuietErrors {
  QuietErrors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }
};
void quiet() {
  static QuietErrors once;
}

// The innermost (most specific) description on HDF5's error stack.
herr_t take_last(unsigned, const H5E_error2_t* e, void* out) {
  if (e->desc && *e->desc) *static_cast<std::string*>(out) = e->desc;
  return 0;
}

[[noreturn]] void fail(const std::string& what) {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, take_last, &detail);
  H5Eclear2(H5E_DEFAULT);
  throw Hdf5Error(what + (detail.empty() ? "" : ": " + detail));
}

Id check(Id id, const std::string& what) {
  if (id < 0) fail(what);
  return id;
}
void check(herr_t rc, const char* what, const std::string& where) {
  if (rc < 0) fail(std::string(what) + " (" + where + ")");
}

Handle property(hid_t cls, const std::string& where) {
  return {check(H5Pcreate(cls), "H5Pcreate (" + where + ")"), H5Pclose};
}

template <class T>
hid_t native_type() {
  if constexpr (std::is_same_v<T, std::int8_t>)
    return H5T_NATIVE_INT8;
  else if constexpr (std::is_same_v<T, std::uint8_t>)
    return H5T_NATIVE_UINT8;
  else if constexpr (std::is_same_v<T, std::int32_t>)
    return H5T_NATIVE_INT32;
  else if constexpr (std::is_same_v<T, std::int64_t>)
    return H5T_NATIVE_INT64;
  else if constexpr (std::is_same_v<T, float>)
    return H5T_NATIVE_FLOAT;
  else if constexpr (std::is_same_v<T, double>)
    return H5T_NATIVE_DOUBLE;
  else
    static_assert(sizeof(T) == 0, "unsupported element type");
}

std::vector<hsize_t> to_hsize(const std::vector<std::int64_t>& dims) {
  return {dims.begin(), dims.end()};
}

// Transfer property list: collective MPI-IO for parallel files.
Handle transfer(bool parallel, const std::string& where) {
  Handle dxpl = property(H5P_DATASET_XFER, where);
  if (parallel) check(H5Pset_dxpl_mpio(dxpl.id(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio", where);
  return dxpl;
}

Handle open_dataset(hid_t file, const std::string& name, const std::string& path) {
  return {check(H5Dopen2(file, name.c_str(), H5P_DEFAULT), "cannot open dataset " + name + " in " + path), H5Dclose};
}

// Selects rows [begin, end) of a 1-D or 2-D dataspace (all columns), or nothing.
void select_rows(hid_t space, RowRange rows, const std::string& where) {
  const int rank = H5Sget_simple_extent_ndims(space);
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space, dims.data(), nullptr);
  if (rows.size() == 0) {
    check(H5Sselect_none(space), "H5Sselect_none", where);
    return;
  }
  std::vector<hsize_t> start(rank, 0), count(dims);
  start[0] = static_cast<hsize_t>(rows.begin);
  count[0] = static_cast<hsize_t>(rows.size());
  check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr), "H5Sselect_hyperslab",
        where);
}

// File access: MPI-IO over `comm` when given, the default (serial) driver otherwise.
Handle file_access(const std::string& path, const Comm* comm) {
  Handle fapl = property(H5P_FILE_ACCESS, path);
  if (comm) check(H5Pset_fapl_mpio(fapl.id(), *comm, MPI_INFO_NULL), "H5Pset_fapl_mpio", path);
  return fapl;
}

}  // namespace

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    close_ = other.close_;
    collective_ = other.collective_;
    other.id_ = -1;
  }
  return *this;
}

void Handle::reset() noexcept {
  if (id_ >= 0 && close_ && !(collective_ && unwinding())) close_(id_);
  id_ = -1;
}

void Handle::close() {
  if (id_ < 0) return;
  const Id id = id_;
  id_ = -1;
  if (close_(id) < 0) fail("closing an HDF5 object failed");
}

std::int64_t open_objects() {
  return static_cast<std::int64_t>(H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_ALL));
}

bool is_hdf5_file(const std::string& path) {
  quiet();
  const htri_t r = H5Fis_hdf5(path.c_str());
  H5Eclear2(H5E_DEFAULT);
  return r > 0;
}

File File::open_read(const std::string& path, const Comm* comm) {
  quiet();
  Handle fapl = file_access(path, comm);
  Handle file(check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.id()), "cannot open " + path), H5Fclose,
              comm != nullptr);
  return File(path, std::move(file), comm != nullptr);
}

File File::open_write(const std::string& path, const Comm* comm) {
  quiet();
  Handle fapl = file_access(path, comm);
  Handle file(check(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.id()), "cannot open " + path + " for writing"), H5Fclose,
              comm != nullptr);
  return File(path, std::move(file), comm != nullptr);
}

File File::create(const std::string& path, const Comm* comm) {
  quiet();
  Handle fapl = file_access(path, comm);
  Handle file(check(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.id()), "cannot create " + path), H5Fclose,
              comm != nullptr);
  return File(path, std::move(file), comm != nullptr);
}

File::Object File::object_type(const std::string& name) const {
  // Walk the path one link at a time: H5Lexists fails on a missing intermediate group.
  if (name.empty() || name[0] != '/') return Object::None;
  if (name == "/") return Object::Group;
  std::string prefix;
  std::size_t pos = 1;
  while (pos <= name.size()) {
    const std::size_t next = name.find('/', pos);
    prefix = name.substr(0, next);
    const htri_t exists = H5Lexists(file_.id(), prefix.c_str(), H5P_DEFAULT);
    H5Eclear2(H5E_DEFAULT);
    if (exists <= 0) return Object::None;
    if (next == std::string::npos) break;
    pos = next + 1;
  }
  H5O_info_t oinfo;
  if (H5Oget_info_by_name2(file_.id(), name.c_str(), &oinfo, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return Object::None;
  }
  return oinfo.type == H5O_TYPE_DATASET ? Object::Dataset
         : oinfo.type == H5O_TYPE_GROUP ? Object::Group
                                        : Object::Other;
}

DatasetInfo File::info(const std::string& name) const {
  Handle dset = open_dataset(file_.id(), name, path_);
  Handle space(check(H5Dget_space(dset.id()), "H5Dget_space " + name), H5Sclose);
  Handle type(check(H5Dget_type(dset.id()), "H5Dget_type " + name), H5Tclose);
  DatasetInfo out;
  const int rank = H5Sget_simple_extent_ndims(space.id());
  std::vector<hsize_t> dims(std::max(rank, 0));
  H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  out.dims.assign(dims.begin(), dims.end());

  const H5T_class_t cls = H5Tget_class(type.id());
  const size_t size = H5Tget_size(type.id());
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type.id()) == H5T_SGN_2;
    out.dtype_name = std::string(is_signed ? "int" : "uint") + std::to_string(8 * size);
    if (is_signed && size == 1) out.dtype = DType::Int8;
    if (!is_signed && size == 1) out.dtype = DType::UInt8;
    if (is_signed && size == 4) out.dtype = DType::Int32;
    if (is_signed && size == 8) out.dtype = DType::Int64;
  } else if (cls == H5T_FLOAT) {
    out.dtype_name = "float" + std::to_string(8 * size);
    if (size == 4) out.dtype = DType::Float32;
    if (size == 8) out.dtype = DType::Float64;
  } else if (cls == H5T_STRING) {
    out.dtype_name = "string";
  } else if (cls == H5T_COMPOUND) {
    out.dtype_name = "compound";
  } else {
    out.dtype_name = "non-numeric";
  }
  return out;
}

template <class T>
void File::create_dataset(const std::string& name, const std::vector<std::int64_t>& dims,
                          std::int64_t growing_chunk_rows) {
  const auto hdims = to_hsize(dims);
  std::vector<hsize_t> most = hdims, chunk = hdims;
  if (growing_chunk_rows > 0) {
    HIPI_ASSERT(!hdims.empty());
    most[0] = H5S_UNLIMITED;
    chunk[0] = static_cast<hsize_t>(growing_chunk_rows);
  }
  Handle space(check(H5Screate_simple(static_cast<int>(hdims.size()), hdims.data(),
                                      growing_chunk_rows > 0 ? most.data() : nullptr),
                     "H5Screate_simple " + name),
               H5Sclose);
  Handle dcpl = property(H5P_DATASET_CREATE, name);
  // Every element is written by some rank: skip HDF5's fill pass (costly in parallel).
  check(H5Pset_fill_time(dcpl.id(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time", name);
  if (growing_chunk_rows > 0)
    check(H5Pset_chunk(dcpl.id(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk", name);
  Handle lcpl = property(H5P_LINK_CREATE, name);
  check(H5Pset_create_intermediate_group(lcpl.id(), 1), "H5Pset_create_intermediate_group", name);
  Handle dset(
      check(H5Dcreate2(file_.id(), name.c_str(), native_type<T>(), space.id(), lcpl.id(), dcpl.id(), H5P_DEFAULT),
            "cannot create dataset " + name + " in " + path_),
      H5Dclose);
  dset.close();
}

void File::extend_rows(const std::string& name, std::int64_t rows) {
  const std::string where = path_ + ":" + name;
  Handle dset = open_dataset(file_.id(), name, path_);
  Handle fspace(check(H5Dget_space(dset.id()), "H5Dget_space " + where), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(fspace.id());
  HIPI_ASSERT(rank == 1 || rank == 2);
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(fspace.id(), dims, nullptr);
  dims[0] = static_cast<hsize_t>(rows);
  check(H5Dset_extent(dset.id(), dims), "cannot grow dataset", where);
}

template <class T>
void File::read_rows(const std::string& name, RowRange rows, std::int64_t cols, T* out, std::int64_t out_stride) const {
  const std::string where = path_ + ":" + name;
  Handle dset = open_dataset(file_.id(), name, path_);
  Handle fspace(check(H5Dget_space(dset.id()), "H5Dget_space " + where), H5Sclose);
  // A dataset of no elements has no storage (HDF5 fails to read it): every rank skips alike.
  if (H5Sget_simple_extent_npoints(fspace.id()) == 0) return;
  select_rows(fspace.id(), rows, where);
  // Memory: rows x out_stride, of which the first `cols` of each row are filled.
  const hsize_t mdims[2] = {static_cast<hsize_t>(std::max<std::int64_t>(rows.size(), 1)),
                            static_cast<hsize_t>(out_stride)};
  Handle mspace(check(H5Screate_simple(2, mdims, nullptr), "H5Screate_simple " + where), H5Sclose);
  if (rows.size() == 0) {
    check(H5Sselect_none(mspace.id()), "H5Sselect_none", where);
  } else {
    const hsize_t start[2] = {0, 0};
    const hsize_t count[2] = {static_cast<hsize_t>(rows.size()), static_cast<hsize_t>(cols)};
    check(H5Sselect_hyperslab(mspace.id(), H5S_SELECT_SET, start, nullptr, count, nullptr), "H5Sselect_hyperslab",
          where);
  }
  Handle dxpl = transfer(parallel_, where);
  T dummy{};
  check(H5Dread(dset.id(), native_type<T>(), mspace.id(), fspace.id(), dxpl.id(), out ? out : &dummy),
        "cannot read rows", where);
}

template <class T>
void File::write_rows(const std::string& name, RowRange rows, const T* data) {
  const std::string where = path_ + ":" + name;
  Handle dset = open_dataset(file_.id(), name, path_);
  Handle fspace(check(H5Dget_space(dset.id()), "H5Dget_space " + where), H5Sclose);
  // A dataset of no elements has no storage (HDF5 fails to write it): every rank skips alike.
  if (H5Sget_simple_extent_npoints(fspace.id()) == 0) return;
  select_rows(fspace.id(), rows, where);
  const hssize_t npoints = H5Sget_select_npoints(fspace.id());
  const hsize_t mdim = static_cast<hsize_t>(std::max<hssize_t>(npoints, 1));
  Handle mspace(check(H5Screate_simple(1, &mdim, nullptr), "H5Screate_simple " + where), H5Sclose);
  if (npoints == 0) check(H5Sselect_none(mspace.id()), "H5Sselect_none", where);
  Handle dxpl = transfer(parallel_, where);
  T dummy{};
  check(H5Dwrite(dset.id(), native_type<T>(), mspace.id(), fspace.id(), dxpl.id(), npoints ? data : &dummy),
        "cannot write rows", where);
}

template <class T>
void File::write(const std::string& name, const std::vector<std::int64_t>& dims, const std::vector<T>& data) {
  create_dataset<T>(name, dims);
  write_rows<T>(name, {0, dims.empty() ? 0 : dims[0]}, data.data());
}

template <class T>
std::vector<T> File::read_all(const std::string& name) const {
  const DatasetInfo meta = info(name);
  std::int64_t count = 1;
  for (auto d : meta.dims) count *= d;
  std::vector<T> out(static_cast<std::size_t>(count));
  if (count == 0) return out;
  Handle dset = open_dataset(file_.id(), name, path_);
  Handle dxpl = transfer(parallel_, path_ + ":" + name);
  check(H5Dread(dset.id(), native_type<T>(), H5S_ALL, H5S_ALL, dxpl.id(), out.data()), "cannot read",
        path_ + ":" + name);
  return out;
}

namespace {
Handle scalar_space(const std::string& name) {
  return {check(H5Screate(H5S_SCALAR), "H5Screate " + name), H5Sclose};
}
Handle new_attribute(hid_t file, const std::string& name, hid_t type, hid_t space) {
  if (H5Aexists(file, name.c_str()) > 0) H5Adelete(file, name.c_str());
  return {
      check(H5Acreate2(file, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), "cannot create attribute " + name),
      H5Aclose};
}
Handle open_attribute(hid_t file, const std::string& name, const std::string& path) {
  return {check(H5Aopen(file, name.c_str(), H5P_DEFAULT), "no attribute " + name + " in " + path), H5Aclose};
}
Handle utf8_string_type(const std::string& name) {
  Handle type(check(H5Tcopy(H5T_C_S1), "H5Tcopy " + name), H5Tclose);
  check(H5Tset_size(type.id(), H5T_VARIABLE), "H5Tset_size", name);
  check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset", name);
  return type;
}
}  // namespace

void File::set_attribute(const std::string& name, const std::string& value) {
  Handle space = scalar_space(name);
  Handle type = utf8_string_type(name);
  Handle attr = new_attribute(file_.id(), name, type.id(), space.id());
  const char* text = value.c_str();
  check(H5Awrite(attr.id(), type.id(), &text), "H5Awrite", name);
}

namespace {
Handle open_object(hid_t file, const std::string& object, const std::string& path) {
  return {check(H5Oopen(file, object.c_str(), H5P_DEFAULT), "cannot open " + object + " in " + path), H5Oclose};
}
}  // namespace

void File::set_object_attribute(const std::string& object, const std::string& name, const std::string& value) {
  Handle target = open_object(file_.id(), object, path_);
  Handle space = scalar_space(name);
  Handle type = utf8_string_type(name);
  Handle attr = new_attribute(target.id(), name, type.id(), space.id());
  const char* text = value.c_str();
  check(H5Awrite(attr.id(), type.id(), &text), "H5Awrite", name);
}

void File::set_object_attribute(const std::string& object, const std::string& name,
                                const std::vector<std::int64_t>& values) {
  Handle target = open_object(file_.id(), object, path_);
  const hsize_t dims[1] = {values.size()};
  Handle space(check(H5Screate_simple(1, dims, nullptr), "H5Screate_simple " + name), H5Sclose);
  Handle attr = new_attribute(target.id(), name, H5T_NATIVE_INT64, space.id());
  check(H5Awrite(attr.id(), H5T_NATIVE_INT64, values.data()), "H5Awrite", name);
}

void File::set_attribute(const std::string& name, double value) {
  Handle space = scalar_space(name);
  Handle attr = new_attribute(file_.id(), name, H5T_NATIVE_DOUBLE, space.id());
  check(H5Awrite(attr.id(), H5T_NATIVE_DOUBLE, &value), "H5Awrite", name);
}

void File::set_attribute(const std::string& name, std::int64_t value) {
  Handle space = scalar_space(name);
  Handle attr = new_attribute(file_.id(), name, H5T_NATIVE_INT64, space.id());
  check(H5Awrite(attr.id(), H5T_NATIVE_INT64, &value), "H5Awrite", name);
}

std::string File::string_attribute(const std::string& name) const {
  Handle attr = open_attribute(file_.id(), name, path_);
  Handle type = utf8_string_type(name);
  char* text = nullptr;
  check(H5Aread(attr.id(), type.id(), &text), "H5Aread", name);
  std::string out = text ? text : "";
  H5free_memory(text);
  return out;
}

double File::double_attribute(const std::string& name) const {
  Handle attr = open_attribute(file_.id(), name, path_);
  double v = 0;
  check(H5Aread(attr.id(), H5T_NATIVE_DOUBLE, &v), "H5Aread", name);
  return v;
}

std::int64_t File::int_attribute(const std::string& name) const {
  Handle attr = open_attribute(file_.id(), name, path_);
  std::int64_t v = 0;
  check(H5Aread(attr.id(), H5T_NATIVE_INT64, &v), "H5Aread", name);
  return v;
}

void File::set_dataset_attribute(const std::string& dataset, const std::string& name, std::int64_t value) {
  Handle dset = open_dataset(file_.id(), dataset, path_);
  Handle space = scalar_space(name);
  Handle attr = new_attribute(dset.id(), name, H5T_NATIVE_INT64, space.id());
  check(H5Awrite(attr.id(), H5T_NATIVE_INT64, &value), "H5Awrite", name);
}

std::optional<std::int64_t> File::dataset_int_attribute(const std::string& dataset, const std::string& name) const {
  Handle dset = open_dataset(file_.id(), dataset, path_);
  const htri_t exists = H5Aexists(dset.id(), name.c_str());
  H5Eclear2(H5E_DEFAULT);
  if (exists <= 0) return std::nullopt;
  Handle attr = open_attribute(dset.id(), name, path_ + ":" + dataset);
  Handle type(check(H5Aget_type(attr.id()), "H5Aget_type " + name), H5Tclose);
  if (H5Tget_class(type.id()) != H5T_INTEGER) return std::nullopt;
  // One integer only: an array read into one integer's room overran it.
  Handle space(check(H5Aget_space(attr.id()), "H5Aget_space " + name), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.id()) != 1) return std::nullopt;
  std::int64_t v = 0;
  check(H5Aread(attr.id(), H5T_NATIVE_INT64, &v), "H5Aread", name);
  return v;
}

#define HIPI_H5_INSTANTIATE(T)                                                                               \
  template void File::create_dataset<T>(const std::string&, const std::vector<std::int64_t>&, std::int64_t); \
  template void File::read_rows<T>(const std::string&, RowRange, std::int64_t, T*, std::int64_t) const;      \
  template void File::write_rows<T>(const std::string&, RowRange, const T*);                                 \
  template void File::write<T>(const std::string&, const std::vector<std::int64_t>&, const std::vector<T>&); \
  template std::vector<T> File::read_all<T>(const std::string&) const;
HIPI_H5_INSTANTIATE(std::int8_t)
HIPI_H5_INSTANTIATE(std::uint8_t)
HIPI_H5_INSTANTIATE(std::int32_t)
HIPI_H5_INSTANTIATE(std::int64_t)
HIPI_H5_INSTANTIATE(float)
HIPI_H5_INSTANTIATE(double)
#undef HIPI_H5_INSTANTIATE

namespace {

// The attribute `name` of the object `object`, open, or an invalid handle when it is absent.
Handle object_attribute(hid_t file, const std::string& object, const std::string& name, const std::string& path) {
  const htri_t exists = H5Aexists_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT);
  H5Eclear2(H5E_DEFAULT);
  if (exists <= 0) return {};
  return {check(H5Aopen_by_name(file, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT),
                "cannot open attribute " + name + " of " + path + ":" + object),
          H5Aclose};
}

}  // namespace

std::optional<std::vector<std::int64_t>> File::int_array_attribute(const std::string& object,
                                                                   const std::string& name) const {
  Handle attr = object_attribute(file_.id(), object, name, path_);
  if (!attr.valid()) return std::nullopt;
  Handle type(check(H5Aget_type(attr.id()), "H5Aget_type " + name), H5Tclose);
  if (H5Tget_class(type.id()) != H5T_INTEGER) return std::nullopt;
  Handle space(check(H5Aget_space(attr.id()), "H5Aget_space " + name), H5Sclose);
  const hssize_t count = H5Sget_simple_extent_npoints(space.id());
  if (count < 0 || H5Sget_simple_extent_ndims(space.id()) > 1) return std::nullopt;
  std::vector<std::int64_t> values(static_cast<std::size_t>(count));
  if (count > 0) check(H5Aread(attr.id(), H5T_NATIVE_INT64, values.data()), "H5Aread", name);
  return values;
}

std::optional<std::string> File::text_attribute(const std::string& object, const std::string& name) const {
  Handle attr = object_attribute(file_.id(), object, name, path_);
  if (!attr.valid()) return std::nullopt;
  Handle type(check(H5Aget_type(attr.id()), "H5Aget_type " + name), H5Tclose);
  if (H5Tget_class(type.id()) != H5T_STRING) return std::nullopt;
  Handle space(check(H5Aget_space(attr.id()), "H5Aget_space " + name), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.id()) != 1) return std::nullopt;
  if (H5Tis_variable_str(type.id()) > 0) {
    Handle memtype(check(H5Tcopy(H5T_C_S1), "H5Tcopy"), H5Tclose);
    check(H5Tset_size(memtype.id(), H5T_VARIABLE), "H5Tset_size", name);
    check(H5Tset_cset(memtype.id(), H5Tget_cset(type.id())), "H5Tset_cset", name);
    char* text = nullptr;
    check(H5Aread(attr.id(), memtype.id(), &text), "H5Aread", name);
    std::string out = text ? text : "";
    H5free_memory(text);
    return out;
  }
  std::string out(H5Tget_size(type.id()), '\0');
  check(H5Aread(attr.id(), type.id(), out.data()), "H5Aread", name);
  out.resize(std::strlen(out.c_str()));  // fixed-length text is padded with NULs
  return out;
}

}  // namespace hipi::h5
