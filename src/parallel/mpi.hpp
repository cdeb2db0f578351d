// Folder parallel/: communication: the MPI wrappers and agreement, rank-0 logging, the ring, rows
// fetched by index, the BLACS grid and ScaLAPACK.
//
// MPI for hipi: Boost.MPI's communicator, plus the few things Boost.MPI does not give.
//
// Boost.MPI is the wrapper over the MPI C API; this header adds collective agreement on
// errors, a checked-call macro for the rare raw MPI call, and an abort that ends every rank.
#pragma once

#include <mpi.h>

#include <algorithm>
#include <boost/mpi/collectives/all_gatherv.hpp>
#include <boost/mpi/collectives/all_reduce.hpp>
#include <boost/mpi/communicator.hpp>
#include <boost/mpi/nonblocking.hpp>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "hipi/error.hpp"

namespace hipi {

using Comm = boost::mpi::communicator;

/// What a rank saw go wrong, to be shared with the others.
struct Failure {
  ErrorKind kind;
  std::string message;
};

/// Collective: if any rank passes a failure, every rank throws the failure of the lowest
/// such rank, marked collective. Returns normally when no rank failed.
void agree_on(const Comm& comm, const std::optional<Failure>& local);

/// Collective: runs `check` on every rank and agrees on the outcome (see agree_on). Only
/// hipi::Error is agreed on; anything else escapes uncaught and aborts the job from main.
template <class F>
void agree(const Comm& comm, F&& check) {
  std::optional<Failure> local;
  try {
    check();
  } catch (const Error& e) {
    local = Failure{e.kind(), e.what()};
  }
  agree_on(comm, local);
}

/// The most bytes hipi passes to one MPI call (a message, one rank's part of a collective,
/// a displacement): MPI counts and displacements are int, and some transports fail on
/// messages past 2 GiB well below that. Every larger transfer is split into pieces of at
/// most this size. The tests lower it through the environment variable HIPI_TEST_MPI_LIMIT
/// (bytes) to exercise the split paths at small sizes; nothing else reads that variable.
std::int64_t mpi_byte_limit();

/// Nonblocking point-to-point transfer of `count` elements in pieces of at most
/// mpi_byte_limit() bytes, appended to `requests`. Pieces of one transfer share `tag` and
/// arrive in order (MPI does not let messages of one sender, tag and communicator overtake).
template <class T>
void isend_pieces(const Comm& comm, int dest, int tag, const T* data, std::int64_t count,
                  std::vector<boost::mpi::request>& requests) {
  const std::int64_t piece = std::max<std::int64_t>(1, mpi_byte_limit() / static_cast<std::int64_t>(sizeof(T)));
  for (std::int64_t at = 0; at < count; at += piece)
    requests.push_back(comm.isend(dest, tag, data + at, static_cast<int>(std::min(piece, count - at))));
}
template <class T>
void irecv_pieces(const Comm& comm, int source, int tag, T* data, std::int64_t count,
                  std::vector<boost::mpi::request>& requests) {
  const std::int64_t piece = std::max<std::int64_t>(1, mpi_byte_limit() / static_cast<std::int64_t>(sizeof(T)));
  for (std::int64_t at = 0; at < count; at += piece)
    requests.push_back(comm.irecv(source, tag, data + at, static_cast<int>(std::min(piece, count - at))));
}

/// Bytes laid out by rank: rank r's part is data[offsets[r], offsets[r + 1]).
struct RankedBytes {
  std::vector<char> data;
  std::vector<std::int64_t> offsets;
  /// Offsets for parts of the given sizes (data is sized, not filled).
  static RankedBytes with_sizes(const std::vector<std::int64_t>& sizes);
  /// The same, reusing this object's storage (no new pages when it is large enough).
  void resize_parts(const std::vector<std::int64_t>& sizes);
  const char* part(int r) const { return data.data() + offsets[r]; }
  std::int64_t size(int r) const { return offsets[r + 1] - offsets[r]; }
};

/// Collective all-to-all of variable-length parts without intermediate copies: part r of
/// `send` goes to rank r; part s of the result came from rank s. Parts of any size: past
/// mpi_byte_limit() the exchange goes point to point, in pieces.
RankedBytes exchange_ranked(const Comm& comm, const RankedBytes& send);
/// The same into `received`, reusing its storage.
void exchange_ranked(const Comm& comm, const RankedBytes& send, RankedBytes& received);
/// The same from contiguous parts of `data`: send_sizes[r] bytes to rank r, in rank order.
void exchange_parts(const Comm& comm, const char* data, const std::vector<std::int64_t>& send_sizes,
                    RankedBytes& received);

/// Collective all-to-all of variable-length blocks: send[r] goes to rank r; returns what
/// each rank sent here, indexed by source. One exchange of counts, one of data.
std::vector<std::vector<char>> exchange_bytes(const Comm& comm, const std::vector<std::vector<char>>& send);

/// exchange_bytes for vectors of a trivially copyable type (an MPI_Alltoallv).
template <class T>
std::vector<std::vector<T>> alltoallv(const Comm& comm, const std::vector<std::vector<T>>& send) {
  static_assert(std::is_trivially_copyable_v<T>);
  std::vector<std::vector<char>> bytes(send.size());
  for (std::size_t r = 0; r < send.size(); ++r) {
    const char* p = reinterpret_cast<const char*>(send[r].data());
    bytes[r].assign(p, p + send[r].size() * sizeof(T));
  }
  const auto got = exchange_bytes(comm, bytes);
  std::vector<std::vector<T>> out(got.size());
  for (std::size_t r = 0; r < got.size(); ++r) {
    out[r].resize(got[r].size() / sizeof(T));
    if (!got[r].empty()) std::memcpy(out[r].data(), got[r].data(), got[r].size());
  }
  return out;
}

/// Boost.MPI's all_gatherv binds a reference to the first element of each buffer, so a
/// rank with nothing to send (or receive) must still pass a valid pointer; this wrapper
/// passes a dummy for a null one (UBSan: reference binding to null pointer).
template <class T>
void all_gather_parts(const Comm& comm, const T* in, T* out, const std::vector<int>& sizes) {
  T in_dummy{}, out_dummy{};
  boost::mpi::all_gatherv(comm, in ? in : &in_dummy, out ? out : &out_dummy, sizes);
}
/// Collective: every rank's `bytes` bytes at `data`, on every rank (part r from rank r), in
/// rounds of at most mpi_byte_limit() bytes in all, so any total works.
RankedBytes all_gather_bytes(const Comm& comm, const char* data, std::int64_t bytes);

/// all_gather_bytes for a vector of a trivially copyable type: all ranks' elements in rank order.
template <class T>
std::vector<T> all_gather_vector(const Comm& comm, const std::vector<T>& mine) {
  static_assert(std::is_trivially_copyable_v<T>);
  const RankedBytes got = all_gather_bytes(comm, reinterpret_cast<const char*>(mine.data()),
                                           static_cast<std::int64_t>(mine.size() * sizeof(T)));
  std::vector<T> all(got.data.size() / sizeof(T));
  if (!all.empty()) std::memcpy(all.data(), got.data.data(), got.data.size());
  return all;
}

/// Element-wise reduction of `values` over all ranks, result on every rank. (Boost's
/// inplace() binds a reference to MPI_IN_PLACE, which UBSan rightly flags; one copy instead.)
template <class T, class Op>
void all_reduce_vector(const Comm& comm, std::vector<T>& values, Op op) {
  if (values.empty()) return;
  const std::vector<T> mine = values;
  boost::mpi::all_reduce(comm, mine.data(), static_cast<int>(mine.size()), values.data(), op);
}

/// Ends every rank of the job with `status`, after the caller has reported why.
[[noreturn]] void abort_job(const Comm& comm, int status);

/// Message for an MPI error code.
std::string mpi_error_string(int code);

}  // namespace hipi

/// Calls a raw MPI function and throws hipi::MpiError naming the call if it fails.
#define HIPI_MPI_CHECK(call)                                                                                      \
  do {                                                                                                            \
    int hipi_mpi_rc_ = (call);                                                                                    \
    if (hipi_mpi_rc_ != MPI_SUCCESS)                                                                              \
      throw ::hipi::MpiError(std::string(#call) + " failed: " + ::hipi::mpi_error_string(hipi_mpi_rc_) + " at " + \
                             __FILE__ + ":" + std::to_string(__LINE__));                                          \
  } while (0)
