#include "io/input.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <boost/mpi/collectives.hpp>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <optional>
#include <type_traits>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/fault.hpp"
#include "io/sparse_input.hpp"
#include "runtime/progress.hpp"

namespace hipi {

namespace {

// Reads are done in slabs of about this many bytes, so the unpacked values of a large
// block never sit in memory at once.
constexpr std::int64_t kSlabBytes = std::int64_t{1} << 26;

std::string where(const InputMatrix& in) {
  return in.ref.str();
}

// Calls read_slab(range, slab_index) for consecutive slabs of `rows`; every rank makes the
// same number of calls (collective reads need that), some with empty ranges.
template <class F>
void for_each_slab(const Comm& comm, const InputMatrix& in, RowRange rows, std::int64_t elem_bytes, F&& read_slab) {
  const std::int64_t slab_rows =
      std::max<std::int64_t>(1, kSlabBytes / std::max<std::int64_t>(1, in.cols * elem_bytes));
  const std::int64_t most_rows = boost::mpi::all_reduce(comm, rows.size(), boost::mpi::maximum<std::int64_t>());
  const std::int64_t slabs = (most_rows + slab_rows - 1) / slab_rows;
  for (std::int64_t k = 0; k < slabs; ++k) {
    const std::int64_t begin = std::min(rows.end, rows.begin + k * slab_rows);
    fault_point("read-file");  // between collective reads: the others wait in the next one
    heartbeat();
    read_slab(RowRange{begin, std::min(rows.end, begin + slab_rows)});
  }
}

}  // namespace

namespace {

std::optional<FileIdentity> identify(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileIdentity{static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino),
                      static_cast<std::int64_t>(st.st_size),
                      static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

}  // namespace

void check_input_unchanged(const Comm& comm, const InputMatrix& input) {
  agree(comm, [&] {
    if (comm.rank() != 0 || !input.identity) return;
    const std::optional<FileIdentity> now = identify(input.ref.file);
    if (now && *now == *input.identity) return;
    const std::string what = !now ? "it is gone"
                             : now->inode != input.identity->inode || now->device != input.identity->device
                                 ? "another file has its name"
                             : now->size != input.identity->size
                                 ? fmt::format("its size went from {} to {} bytes", input.identity->size, now->size)
                                 : "it was modified";
    throw IoError(
        fmt::format("{}: input changed while hipi was reading it ({}); no output is written: run again "
                    "once it stays as it is",
                    input.ref.file, what));
  });
}

namespace {

// Collective (agreed): the shape, element type and packed-bits attribute of `ref` in the
// open `file`, into `out`.
void check_dataset(const Comm& comm, const h5::File& file, const DatasetRef& ref, InputMatrix& out) {
  agree(comm, [&] {
    if (file.object_type(ref.dataset) == h5::File::Object::Group) return inspect_sparse_group(file, out);
    if (!file.has_dataset(ref.dataset)) throw InputError(ref.str() + ": no dataset " + ref.dataset + " in " + ref.file);
    const h5::DatasetInfo info = file.info(ref.dataset);
    if (info.dims.size() != 2)
      throw InputError(ref.str() + ": dataset has " + std::to_string(info.dims.size()) +
                       " dimensions; hipi needs a 2-D dataset (rows = vectors)");
    if (info.dtype != h5::DType::Int8 && info.dtype != h5::DType::UInt8 && info.dtype != h5::DType::Float32 &&
        info.dtype != h5::DType::Float64)
      throw InputError(ref.str() + ": element type " + info.dtype_name +
                       " is not supported; use int8, float32, float64, or uint8 packed bits with a 'bits' attribute");
    out.rows = info.dims[0];
    out.cols = info.dims[1];
    out.dtype = info.dtype;
    if (out.rows == 0) throw InputError(ref.str() + ": dataset has zero rows");
    if (out.dtype == h5::DType::UInt8) {
      // Packed bits (numpy.packbits(A < 0, axis=1)): the dimension is the 'bits' attribute.
      const auto bits = file.dataset_int_attribute(ref.dataset, "bits");
      if (!bits)
        throw InputError(ref.str() +
                         ": a uint8 dataset is read as packed bits and needs an integer attribute 'bits' "
                         "(the dimension d, one integer), e.g. f['A'].attrs['bits'] = d");
      if (*bits < 1 || (*bits + 7) / 8 != out.cols)
        throw InputError(fmt::format("{}: attribute bits = {} does not fit {} bytes per row (want {} to {})", ref.str(),
                                     *bits, out.cols, 8 * out.cols - 7, 8 * out.cols));
      out.cols = *bits;
    }
    if (out.cols == 0) throw InputError(ref.str() + ": dataset has zero columns");
  });
}

}  // namespace

InputMatrix inspect_input(const Comm& comm, const DatasetRef& ref) {
  InputMatrix out{ref};
  if (comm.rank() == 0) out.identity = identify(ref.file);
  agree(comm, [&] {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(ref.file, ec)) throw InputError(ref.file + ": no such file");
    if (fs::is_directory(ref.file, ec)) throw InputError(ref.file + ": is a directory, not an HDF5 file");
    if (::access(ref.file.c_str(), R_OK) != 0) throw InputError(ref.file + ": cannot read it: " + std::strerror(errno));
    if (!h5::is_hdf5_file(ref.file)) throw InputError(ref.file + ": not an HDF5 file");
  });
  // All ranks open the file together (MPI-IO); a failure here is agreed like the rest.
  std::optional<h5::File> file;
  agree(comm, [&] {
    try {
      file.emplace(h5::File::open_read(ref.file, &comm));
    } catch (const Hdf5Error& e) {
      throw InputError(ref.file + ": cannot open: " + e.what());
    }
  });
  // The checks fail on every rank alike (agreed), so every rank closes the file, a
  // collective call, before the error goes on: no handle is left open behind it.
  try {
    check_dataset(comm, *file, ref, out);
  } catch (const Error& e) {
    if (e.collective()) file->close();
    throw;
  }
  file->close();
  return out;
}

void check_inputs_match(const InputMatrix& a, const InputMatrix* b, Mode mode) {
  // Pure function of already agreed metadata: every rank reaches the same verdict.
  for (const InputMatrix* in : {&a, b}) {
    if (in && in->sparse && mode == Mode::Binary)
      throw InputError(where(*in) + ": a sparse matrix holds real data; use --tau (real mode), not --rho",
                       /*collective=*/true);
    if (in && in->dtype == h5::DType::UInt8 && mode == Mode::Real)
      throw InputError(where(*in) + ": packed bits hold +-1 data; use --rho (binary mode), not --tau",
                       /*collective=*/true);
  }
  if (b && a.cols != b->cols)
    throw InputError(where(a) + " has " + std::to_string(a.cols) + " columns but " + where(*b) + " has " +
                         std::to_string(b->cols) + ": vectors of A and B must have the same dimension d",
                     /*collective=*/true);
}

namespace {

// The sign bits of `count` <= 64 values V (bit j set for src[j] == -1), and whether each
// value is +1 or -1.
template <class V>
std::uint64_t sign_word(const V* src, int count, bool& all_signs) {
  std::uint64_t bits = 0;
  for (int j = 0; j < count; ++j) {
    bits |= static_cast<std::uint64_t>(src[j] == V(-1)) << j;
    all_signs &= src[j] == V(1) || src[j] == V(-1);
  }
  return bits;
}

#if defined(__SSE2__)
// 64 int8 values, 16 to a compare (SSE2 is x86-64's baseline): the int8 read packs at
// memory speed instead of one value per cycle (0.27 s for the 256 MiB one rank reads of a
// 65536 x 4096 pair of inputs).
std::uint64_t sign_word_int8(const std::int8_t* src, bool& all_signs) {
  const __m128i minus = _mm_set1_epi8(-1), plus = _mm_set1_epi8(1);
  std::uint64_t bits = 0;
  unsigned valid = 0xffff;
  for (int q = 0; q < 4; ++q) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + 16 * q));
    const __m128i negative = _mm_cmpeq_epi8(v, minus);
    bits |= static_cast<std::uint64_t>(static_cast<unsigned>(_mm_movemask_epi8(negative))) << (16 * q);
    valid &= static_cast<unsigned>(_mm_movemask_epi8(_mm_or_si128(negative, _mm_cmpeq_epi8(v, plus))));
  }
  all_signs &= valid == 0xffff;
  return bits;
}
#endif

// Packs rows of values V (+-1), noting the first value that is not +-1.
template <class V>
void pack_signs(const InputMatrix& in, const ValueRows<V>& from, RowsInto<BitMatrix> to, std::optional<Failure>& bad) {
  for (std::int64_t r = 0; r < from.rows.size(); ++r) {
    const V* src = from.values + r * from.stride;
    std::uint64_t* dst = to.matrix.row(to.first + r);
    bool all_signs = true;
    for (std::int64_t k = 0; k < in.cols; k += 64) {
      const int count = static_cast<int>(std::min<std::int64_t>(64, in.cols - k));
#if defined(__SSE2__)
      if constexpr (std::is_same_v<V, std::int8_t>)
        if (count == 64) {
          dst[k / 64] = sign_word_int8(src + k, all_signs);
          continue;
        }
#endif
      dst[k / 64] = sign_word(src + k, count, all_signs);
    }
    if (all_signs || bad) continue;
    for (std::int64_t k = 0; k < in.cols; ++k)
      if (src[k] != V(1) && src[k] != V(-1)) {
        bad =
            Failure{ErrorKind::Input,
                    fmt::format("{}: row {}, column {} holds {}; binary mode (--rho) needs every value to be +1 or -1",
                                where(in), from.rows.begin + r, k, +src[k])};
        break;
      }
  }
}

// Packs slabs of values read as V (int8 for int8 datasets: 4x less to read and convert
// than float).
template <class V>
void read_and_pack(const Comm& comm, const h5::File& file, const InputMatrix& in, RowRange rows, BitMatrix& out,
                   std::optional<Failure>& bad) {
  std::vector<V> values;
  for_each_slab(comm, in, rows, sizeof(V), [&](RowRange slab) {
    // Sized once (the read fills every value it is given): no slab cleared before its read.
    values.resize(std::max(values.size(), static_cast<std::size_t>(slab.size() * in.cols)));
    file.read_rows<V>(in.ref.dataset, slab, in.cols, values.empty() ? nullptr : values.data(), in.cols);
    pack_signs<V>(in, {slab, values.data(), in.cols}, {out, slab.begin - rows.begin}, bad);
  });
}

}  // namespace

namespace {

// This rank's rows, allocated before any read and agreed: a block too large for memory is
// an input error naming the dataset, the rows and the bytes, on every rank, not a
// std::bad_alloc on some.
template <class Matrix>
LocalRows<Matrix> allocate_rows(const Comm& comm, const InputMatrix& in, RowRange rows, double bytes_per_row) {
  LocalRows<Matrix> out{rows, {}};
  agree(comm, [&] {
    const double bytes = static_cast<double>(rows.size()) * bytes_per_row;
    const double node = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    const auto refuse = [&](const std::string& why) {
      return InputError(
          fmt::format("{}: {} x {}: rank {} cannot hold its {} rows ({:.1f} GiB{}); use more ranks (or "
                      "nodes), or split the data",
                      where(in), in.rows, in.cols, comm.rank(), rows.size(), bytes / (1 << 30), why));
    };
    // Past the node's memory a request may still succeed (overcommit) and fail page by page.
    if (node > 0 && bytes > node) throw refuse(fmt::format(", more than this node's {:.1f} GiB", node / (1 << 30)));
    try {
      out.rows = Matrix(rows.size(), in.cols);
    } catch (const std::bad_alloc&) {
      throw refuse("");
    }
  });
  return out;
}

// The bits of byte b in reverse order: packed data puts a row's first coordinate in the
// most significant bit of its byte (numpy.packbits), BitMatrix in the least significant.
constexpr std::array<std::uint8_t, 256> kReversed = [] {
  std::array<std::uint8_t, 256> t{};
  for (int b = 0; b < 256; ++b)
    for (int k = 0; k < 8; ++k)
      if (b & (1 << k)) t[b] |= static_cast<std::uint8_t>(1 << (7 - k));
  return t;
}();

// Packed rows (bit set for -1) straight into BitMatrix words, 8 coordinates per byte;
// padding bits past d must be clear (else two encoders disagree about the data).
void unpack_bits(const InputMatrix& in, const ValueRows<std::uint8_t>& from, RowsInto<BitMatrix> to,
                 std::optional<Failure>& bad) {
  static_assert(std::endian::native == std::endian::little, "BitMatrix words are read as bytes");
  const std::int64_t row_bytes = (in.cols + 7) / 8;
  const std::uint8_t padding = in.cols % 8 ? static_cast<std::uint8_t>(0xff >> (in.cols % 8)) : 0;
  for (std::int64_t r = 0; r < from.rows.size(); ++r) {
    const std::uint8_t* src = from.values + r * from.stride;
    auto* dst = reinterpret_cast<std::uint8_t*>(to.matrix.row(to.first + r));  // little-endian words
    for (std::int64_t j = 0; j < row_bytes; ++j) dst[j] = kReversed[src[j]];
    if ((src[row_bytes - 1] & padding) && !bad)
      bad = Failure{ErrorKind::Input,
                    fmt::format("{}: row {} has padding bits set past bit {} (attribute bits); packed rows must "
                                "be numpy.packbits of exactly d values",
                                where(in), from.rows.begin + r, in.cols)};
  }
}

void read_packed(const Comm& comm, const h5::File& file, const InputMatrix& in, RowRange rows, BitMatrix& out,
                 std::optional<Failure>& bad) {
  const std::int64_t row_bytes = (in.cols + 7) / 8;
  std::vector<std::uint8_t> bytes;
  for_each_slab(comm, {in.ref, in.rows, row_bytes, in.dtype}, rows, 1, [&](RowRange slab) {
    bytes.assign(static_cast<std::size_t>(slab.size() * row_bytes), 0);
    file.read_rows<std::uint8_t>(in.ref.dataset, slab, row_bytes, bytes.empty() ? nullptr : bytes.data(), row_bytes);
    unpack_bits(in, {slab, bytes.data(), row_bytes}, {out, slab.begin - rows.begin}, bad);
  });
}

// Real rows: finite, and within float32's range (float64 values are reported as
// themselves, not as the inf a conversion would make of them).
template <class V>
void convert_reals(const InputMatrix& in, const ValueRows<V>& from, RowsInto<RealMatrix> to,
                   std::optional<Failure>& bad) {
  const std::int64_t first_row = from.rows.begin;
  for (std::int64_t r = 0; r < from.rows.size(); ++r) {
    float* row = to.matrix.row(to.first + r);
    for (std::int64_t k = 0; k < in.cols; ++k) {
      const V v = from.values[r * from.stride + k];
      row[k] = static_cast<float>(v);
      if (std::isfinite(row[k]) || bad) continue;
      bad = Failure{ErrorKind::Input,
                    std::isfinite(v)
                        ? fmt::format("{}: row {}, column {} holds {}, beyond float32's range (hipi computes in "
                                      "float32, up to 3.4e38); scale the data",
                                      where(in), first_row + r, k, v)
                        : fmt::format("{}: row {}, column {} holds {}; real mode (--tau) needs finite values",
                                      where(in), first_row + r, k, v)};
    }
  }
}

}  // namespace

namespace {

// The same rows, as values of type V.
template <class V>
ValueRows<V> as(const ValueRows<void>& from) {
  return {from.rows, static_cast<const V*>(from.values), from.stride};
}

}  // namespace

void convert_binary_rows(const InputMatrix& in, const ValueRows<void>& from, RowsInto<BitMatrix> to,
                         std::optional<Failure>& bad) {
  switch (in.dtype) {
    case h5::DType::UInt8:
      return unpack_bits(in, as<std::uint8_t>(from), to, bad);
    case h5::DType::Int8:
      return pack_signs(in, as<std::int8_t>(from), to, bad);
    case h5::DType::Float32:
      return pack_signs(in, as<float>(from), to, bad);
    case h5::DType::Float64:
      return pack_signs(in, as<double>(from), to, bad);
    default:
      throw InternalError("convert_binary_rows: element type");
  }
}

void convert_real_rows(const InputMatrix& in, const ValueRows<void>& from, RowsInto<RealMatrix> to,
                       std::optional<Failure>& bad) {
  switch (in.dtype) {
    case h5::DType::Float32:
      return convert_reals(in, as<float>(from), to, bad);
    case h5::DType::Float64:
      return convert_reals(in, as<double>(from), to, bad);
    case h5::DType::Int8:
      return convert_reals(in, as<std::int8_t>(from), to, bad);
    default:
      throw InternalError("convert_real_rows: element type");
  }
}

h5::File open_input_again(const Comm& comm, const InputMatrix& input) {
  std::optional<h5::File> file;
  agree(comm, [&] {
    try {
      file.emplace(h5::File::open_read(input.ref.file, &comm));
    } catch (const Hdf5Error& e) {
      throw IoError(fmt::format("{}: cannot open it again to read its rows ({}); was it replaced while hipi ran?",
                                input.ref.file, e.what()));
    }
  });
  return std::move(*file);
}

LocalRows<BitMatrix> read_binary_rows(const Comm& comm, const InputMatrix& in, RowRange rows) {
  LocalRows<BitMatrix> out = allocate_rows<BitMatrix>(comm, in, rows, (in.cols + 511) / 512 * 64.0);
  h5::File file = open_input_again(comm, in);
  std::optional<Failure> bad;
  if (in.dtype == h5::DType::UInt8)
    read_packed(comm, file, in, rows, out.rows, bad);
  else if (in.dtype == h5::DType::Int8)
    read_and_pack<std::int8_t>(comm, file, in, rows, out.rows, bad);
  else
    read_and_pack<float>(comm, file, in, rows, out.rows, bad);
  file.close();
  agree_on(comm, bad);
  return out;
}

LocalRows<RealMatrix> read_real_rows(const Comm& comm, const InputMatrix& in, RowRange rows) {
  LocalRows<RealMatrix> out = allocate_rows<RealMatrix>(comm, in, rows, (in.cols + 15) / 16 * 64.0);
  if (in.sparse) {  // densified: each entry into its place in the zeroed rows
    const LocalRows<SparseMatrix> sparse = read_sparse_rows(comm, in, rows);
    for (std::int64_t r = 0; r < rows.size(); ++r) {
      const auto index = sparse.rows.indices(r);
      const auto value = sparse.rows.values(r);
      for (std::size_t k = 0; k < index.size(); ++k) out.rows.row(r)[index[k]] = value[k];
    }
    return out;
  }
  h5::File file = open_input_again(comm, in);
  std::optional<Failure> bad;
  // float32 is read straight into the rows and checked there; float64 is read as float64
  // and rounded while checked, so a value beyond float32's range is reported as itself.
  std::vector<double> wide;
  const bool float64 = in.dtype == h5::DType::Float64;
  for_each_slab(comm, in, rows, float64 ? sizeof(double) : sizeof(float), [&](RowRange slab) {
    float* dst = slab.size() ? out.rows.row(slab.begin - rows.begin) : nullptr;
    if (!float64) {
      file.read_rows<float>(in.ref.dataset, slab, in.cols, dst, out.rows.stride());
      convert_reals<float>(in, {slab, dst, out.rows.stride()}, {out.rows, slab.begin - rows.begin}, bad);
      return;
    }
    wide.assign(static_cast<std::size_t>(slab.size() * in.cols), 0.0);
    file.read_rows<double>(in.ref.dataset, slab, in.cols, wide.empty() ? nullptr : wide.data(), in.cols);
    convert_reals<double>(in, {slab, wide.data(), in.cols}, {out.rows, slab.begin - rows.begin}, bad);
  });
  file.close();
  agree_on(comm, bad);
  return out;
}

}  // namespace hipi
