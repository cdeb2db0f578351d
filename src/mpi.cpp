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

std::vector<std::vector<char>> exchange_bytes(const Comm& comm, const std::vector<std::vector<char>>& send) {
  const int P = comm.size();
  HIPI_ASSERT(static_cast<int>(send.size()) == P);
  std::vector<int> send_counts(P), recv_counts(P), send_offsets(P + 1, 0), recv_offsets(P + 1, 0);
  for (int r = 0; r < P; ++r) {
    HIPI_ASSERT(send[r].size() <= static_cast<std::size_t>(INT_MAX));
    send_counts[r] = static_cast<int>(send[r].size());
  }
  HIPI_MPI_CHECK(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm));
  std::int64_t send_total = 0, recv_total = 0;
  for (int r = 0; r < P; ++r) {
    send_total += send_counts[r];
    recv_total += recv_counts[r];
  }
  if (send_total > INT_MAX || recv_total > INT_MAX)
    throw MpiError("an all-to-all exchange of " + std::to_string(std::max(send_total, recv_total)) +
                   " bytes exceeds MPI's int counts; use smaller panels");
  for (int r = 0; r < P; ++r) {
    send_offsets[r + 1] = send_offsets[r] + send_counts[r];
    recv_offsets[r + 1] = recv_offsets[r] + recv_counts[r];
  }
  std::vector<char> out_flat(static_cast<std::size_t>(recv_total)), in_flat(static_cast<std::size_t>(send_total));
  for (int r = 0; r < P; ++r) std::copy(send[r].begin(), send[r].end(), in_flat.begin() + send_offsets[r]);
  HIPI_MPI_CHECK(MPI_Alltoallv(in_flat.data(), send_counts.data(), send_offsets.data(), MPI_BYTE, out_flat.data(),
                               recv_counts.data(), recv_offsets.data(), MPI_BYTE, comm));
  std::vector<std::vector<char>> out(P);
  for (int r = 0; r < P; ++r)
    out[r].assign(out_flat.begin() + recv_offsets[r], out_flat.begin() + recv_offsets[r + 1]);
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
