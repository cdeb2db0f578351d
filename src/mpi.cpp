#include "hipi/mpi.hpp"

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

void exchange_ranked(const Comm& comm, const RankedBytes& send, RankedBytes& out) {
  const int P = comm.size();
  HIPI_ASSERT(static_cast<int>(send.offsets.size()) == P + 1);
  std::vector<int> send_counts(P), recv_counts(P), send_displs(P), recv_displs(P);
  for (int r = 0; r < P; ++r) {
    if (send.offsets[r + 1] > INT_MAX)
      throw MpiError("an all-to-all exchange of " + std::to_string(send.offsets[r + 1]) +
                     " bytes exceeds MPI's int counts; use smaller panels");
    send_counts[r] = static_cast<int>(send.size(r));
    send_displs[r] = static_cast<int>(send.offsets[r]);
  }
  HIPI_MPI_CHECK(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm));
  std::vector<std::int64_t> sizes(recv_counts.begin(), recv_counts.end());
  out.resize_parts(sizes);
  if (out.offsets.back() > INT_MAX)
    throw MpiError("an all-to-all exchange of " + std::to_string(out.offsets.back()) +
                   " bytes exceeds MPI's int counts; use smaller panels");
  for (int r = 0; r < P; ++r) recv_displs[r] = static_cast<int>(out.offsets[r]);
  HIPI_MPI_CHECK(MPI_Alltoallv(send.data.data(), send_counts.data(), send_displs.data(), MPI_BYTE, out.data.data(),
                               recv_counts.data(), recv_displs.data(), MPI_BYTE, comm));
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
