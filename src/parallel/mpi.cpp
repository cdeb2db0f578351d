#include "parallel/mpi.hpp"

#include <boost/mpi/collectives.hpp>
#include <boost/serialization/string.hpp>
#include <climits>
#include <cstdlib>
#include <functional>

namespace hipi {

void agree_on(const Comm& comm, const std::optional<Failure>& local) {
  const int mine = local ? comm.rank() : comm.size();
  const int first = boost::mpi::all_reduce(comm, mine, boost::mpi::minimum<int>());
  if (first == comm.size()) return;

  int kind = local && first == comm.rank() ? static_cast<int>(local->kind) : 0;
  std::string message = local && first == comm.rank() ? local->message : std::string();
  boost::mpi::broadcast(comm, kind, first);
  boost::mpi::broadcast(comm, message, first);
  throw_error(static_cast<ErrorKind>(kind), message, /*collective=*/true);
}

RankedBytes RankedBytes::with_sizes(const std::vector<std::int64_t>& sizes) {
  RankedBytes r;
  r.resize_parts(sizes);
  return r;
}

void RankedBytes::resize_parts(const std::vector<std::int64_t>& sizes) {
  offsets.assign(sizes.size() + 1, 0);
  for (std::size_t k = 0; k < sizes.size(); ++k) offsets[k + 1] = offsets[k] + sizes[k];
  data.resize(static_cast<std::size_t>(offsets.back()));
}

RankedBytes exchange_ranked(const Comm& comm, const RankedBytes& send) {
  RankedBytes out;
  exchange_ranked(comm, send, out);
  return out;
}

std::int64_t mpi_byte_limit() {
  std::int64_t limit = INT_MAX;
  if (const char* lowered = std::getenv("HIPI_TEST_MPI_LIMIT")) {
    const long long bytes = std::atoll(lowered);
    if (bytes > 0 && bytes < limit) limit = bytes;
  }
  return limit;
}

namespace {
constexpr int kExchangeTag = 23;
}

void exchange_ranked(const Comm& comm, const RankedBytes& send, RankedBytes& out) {
  HIPI_ASSERT(static_cast<int>(send.offsets.size()) == comm.size() + 1);
  std::vector<std::int64_t> sizes(comm.size());
  for (int r = 0; r < comm.size(); ++r) sizes[r] = send.size(r);
  exchange_parts(comm, send.data.data(), sizes, out);
}

void exchange_parts(const Comm& comm, const char* data, const std::vector<std::int64_t>& send_sizes, RankedBytes& out) {
  const int P = comm.size(), rank = comm.rank();
  HIPI_ASSERT(static_cast<int>(send_sizes.size()) == P);
  std::vector<std::int64_t> send_offsets(P + 1, 0), recv_sizes(P);
  for (int r = 0; r < P; ++r) send_offsets[r + 1] = send_offsets[r] + send_sizes[r];
  HIPI_MPI_CHECK(MPI_Alltoall(send_sizes.data(), 1, MPI_INT64_T, recv_sizes.data(), 1, MPI_INT64_T, comm));
  out.resize_parts(recv_sizes);
  // One MPI_Alltoallv while every count and displacement fits; otherwise point to point.
  const std::int64_t limit = mpi_byte_limit();
  const int fits_here = send_offsets.back() <= limit && out.offsets.back() <= limit;
  if (boost::mpi::all_reduce(comm, fits_here, boost::mpi::minimum<int>())) {
    std::vector<int> send_counts(P), recv_counts(P), send_displs(P), recv_displs(P);
    for (int r = 0; r < P; ++r) {
      send_counts[r] = static_cast<int>(send_sizes[r]);
      send_displs[r] = static_cast<int>(send_offsets[r]);
      recv_counts[r] = static_cast<int>(recv_sizes[r]);
      recv_displs[r] = static_cast<int>(out.offsets[r]);
    }
    HIPI_MPI_CHECK(MPI_Alltoallv(data, send_counts.data(), send_displs.data(), MPI_BYTE, out.data.data(),
                                 recv_counts.data(), recv_displs.data(), MPI_BYTE, comm));
    return;
  }
  // Peers in a staggered order, so that no rank is every rank's first destination.
  std::vector<boost::mpi::request> requests;
  for (int k = 1; k < P; ++k) {
    const int from = (rank - k + P) % P;
    irecv_pieces(comm, from, kExchangeTag, out.data.data() + out.offsets[from], recv_sizes[from], requests);
  }
  for (int k = 1; k < P; ++k) {
    const int to = (rank + k) % P;
    isend_pieces(comm, to, kExchangeTag, data + send_offsets[to], send_sizes[to], requests);
  }
  std::copy(data + send_offsets[rank], data + send_offsets[rank + 1], out.data.data() + out.offsets[rank]);
  boost::mpi::wait_all(requests.begin(), requests.end());
}

std::vector<std::vector<char>> exchange_bytes(const Comm& comm, const std::vector<std::vector<char>>& send) {
  const int P = comm.size();
  HIPI_ASSERT(static_cast<int>(send.size()) == P);
  std::vector<std::int64_t> sizes(P);
  for (int r = 0; r < P; ++r) sizes[r] = static_cast<std::int64_t>(send[r].size());
  RankedBytes flat = RankedBytes::with_sizes(sizes);
  for (int r = 0; r < P; ++r) std::copy(send[r].begin(), send[r].end(), flat.data.begin() + flat.offsets[r]);
  const RankedBytes got = exchange_ranked(comm, flat);
  std::vector<std::vector<char>> out(P);
  for (int r = 0; r < P; ++r) out[r].assign(got.part(r), got.part(r) + got.size(r));
  return out;
}

RankedBytes all_gather_bytes(const Comm& comm, const char* data, std::int64_t bytes) {
  const int P = comm.size();
  std::vector<std::int64_t> sizes;
  boost::mpi::all_gather(comm, bytes, sizes);
  RankedBytes out = RankedBytes::with_sizes(sizes);
  // Each round every rank sends at most limit / P bytes, so one round's total fits an int.
  const std::int64_t chunk = std::max<std::int64_t>(1, mpi_byte_limit() / P);
  std::int64_t rounds = 0;
  for (std::int64_t s : sizes) rounds = std::max(rounds, (s + chunk - 1) / chunk);
  std::vector<char> round;
  std::vector<int> counts(P);
  for (std::int64_t k = 0; k < rounds; ++k) {
    std::int64_t total = 0;
    for (int r = 0; r < P; ++r) {
      counts[r] = static_cast<int>(std::clamp<std::int64_t>(sizes[r] - k * chunk, 0, chunk));
      total += counts[r];
    }
    round.resize(static_cast<std::size_t>(total));
    const int mine = counts[comm.rank()];
    all_gather_parts(comm, mine ? data + k * chunk : nullptr, round.empty() ? nullptr : round.data(), counts);
    std::int64_t at = 0;
    for (int r = 0; r < P; ++r) {
      std::copy(round.begin() + at, round.begin() + at + counts[r], out.data.begin() + out.offsets[r] + k * chunk);
      at += counts[r];
    }
  }
  return out;
}

void abort_job(const Comm& comm, int status) {
  MPI_Abort(comm, status);
  std::_Exit(status);  // MPI_Abort does not return; this keeps the compiler and reader sure
}

std::string mpi_error_string(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(text, length);
}

}  // namespace hipi
