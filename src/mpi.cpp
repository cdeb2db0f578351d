#include "hipi/mpi.hpp"

#include <boost/mpi/collectives.hpp>
#include <boost/serialization/string.hpp>

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
